"""The user's own entries: manual accounts and manual transactions (issue 12).

- A **manual account** has no source: a cold wallet the user types in, an OTC desk, a closed exchange.
  It is never scheduled, never disabled and reconciled against nothing (its balance is what its
  entries say). A key, an xpub or an address can be connected to it later (``Engine.connect(...,
  account_id=...)``): the first sync merges the source's history with the typed-in entries.
- A **manual entry** is a transaction the user types into any account, manual or synced (origin
  ``manual``, a stable id). It is validated like every transaction and merged with synced and file
  descriptions of the same event by the same rules (same account, same net deltas, time within the
  match window), so it is never counted twice; an entry that matches nothing stays.

See :class:`ManualLedger` (also reachable through :class:`txsync.engine.Engine`'s ``add_manual_account``
/ ``add_entry`` / ``edit_entry`` / ``remove_entry`` / ``entries``) and ``docs/imports.md``.
"""

from txsync.manual._entries import (
    ENTRIES_STREAM,
    MANUAL_CONNECTOR,
    ManualEntryRecord,
    ManualLedger,
    manual_connection_id,
)

__all__ = ["ENTRIES_STREAM", "MANUAL_CONNECTOR", "ManualEntryRecord", "ManualLedger", "manual_connection_id"]

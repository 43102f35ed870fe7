"""The owner layer: one person's accounts as one ledger.

* transfer linking across the owner's accounts (:class:`Linker`, run after every sync by the engine's
  :class:`OwnerSyncHook`), with the user's link and unlink decisions that survive every re-sync;
* balances explained per account and per owner (:meth:`OwnerLedger.balances`);
* the coverage gaps of every account, always-applicable and detected ones (:meth:`OwnerLedger.gaps`).

The external ids the linker reads are listed in :mod:`txsync.owner.ids`; the rules and the sign
convention are in docs/reconciliation.md.
"""

from __future__ import annotations

from txsync.owner.hook import OwnerSyncHook
from txsync.owner.ledger import OwnerLedger
from txsync.owner.linker import Linker, LinkRules, default_asset_keyer
from txsync.owner.models import (
    AccountGap,
    AccountStatus,
    BalanceRow,
    Explanation,
    ExplanationKind,
    LinkIssue,
    LinkMethod,
    LinkRun,
    TransferLink,
)

__all__ = [
    "AccountGap",
    "AccountStatus",
    "BalanceRow",
    "Explanation",
    "ExplanationKind",
    "LinkIssue",
    "LinkMethod",
    "LinkRules",
    "LinkRun",
    "Linker",
    "OwnerLedger",
    "OwnerSyncHook",
    "TransferLink",
    "default_asset_keyer",
]

"""The ``Store`` protocol: what the engine and host applications need from a ledger backend."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from txsync.merge import MergeCounts, PageBatch
from txsync.models import RawTransaction, TransactionKind
from txsync.schedule import SchedulePolicy
from txsync.store.paging import LedgerOrder, LedgerPage
from txsync.store.records import (
    AccountRecord,
    ConnectionRecord,
    ConnectionState,
    LedgerTransaction,
    Override,
    StoredCredential,
)

__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    """A ledger backend. :class:`~txsync.store.SqliteStore` is the embedded default.

    Implementations must make :meth:`commit_page` atomic: a page's raws, merged transactions and
    cursor are stored together or not at all. User changes (tombstones, overrides) live apart from
    synced data and are applied by the read methods.

    A store that also has ``acquire_lease`` / ``renew_lease`` / ``release_lease`` (as both built-in
    stores do: :class:`~txsync.store.leases.SyncLeases`) gets one sync per connection at a time from
    the engine; a store without them is synced without leases.
    """

    def add_account(
        self, owner_id: str, connector_id: str, *, label: str = "", account_id: str | None = None,
        now: datetime | None = None,
    ) -> AccountRecord:
        """Create an account."""
        ...

    def get_account(self, account_id: str) -> AccountRecord:
        """Read an account."""
        ...

    def add_connection(
        self, account_id: str, connector_id: str | None = None, *, label: str = "",
        options: Mapping[str, Any] | None = None, connection_id: str | None = None,
        now: datetime | None = None,
    ) -> ConnectionRecord:
        """Create a connection reading an account."""
        ...

    def get_connection(self, connection_id: str) -> ConnectionRecord:
        """Read a connection."""
        ...

    def list_connections(self, account_id: str | None = None) -> list[ConnectionRecord]:
        """List connections."""
        ...

    def set_connection_state(
        self, connection_id: str, state: ConnectionState, reason: str | None = None
    ) -> ConnectionRecord:
        """Change a connection's state."""
        ...

    def mark_sync(
        self, connection_id: str, *, attempted_at: datetime, finished_at: datetime | None = None,
        success: bool = False,
    ) -> None:
        """Record a sync attempt."""
        ...

    def touch_owner(self, owner_id: str, at: datetime | None = None) -> None:
        """Record owner activity."""
        ...

    def connections_due(self, now: datetime, policy: SchedulePolicy | None = None) -> list[ConnectionRecord]:
        """Connections due for a scheduled sync."""
        ...

    def get_cursor(self, connection_id: str, stream: str) -> Any:
        """A stream's stored cursor."""
        ...

    def commit_page(
        self, batch: PageBatch, *, tolerance: timedelta = ..., now: datetime | None = None
    ) -> MergeCounts:
        """Atomically store a page and its cursor."""
        ...

    def settle(self) -> None:
        """Bring lazily maintained indexes up to date (the engine calls it when a sync ends)."""
        ...

    def save_sync_run(
        self, connection_id: str, started_at: datetime, finished_at: datetime, ok: bool, report_json: str
    ) -> None:
        """Keep a sync report."""
        ...

    def latest_timestamp(self, account_id: str) -> datetime | None:
        """Newest transaction time of an account."""
        ...

    def delete_transaction(self, transaction_id: str, reason: str | None = None) -> None:
        """Tombstone a transaction."""
        ...

    def restore_transaction(self, transaction_id: str) -> None:
        """Remove a tombstone."""
        ...

    def set_override(
        self, transaction_id: str, *, label: str | None = ..., note: str | None = ...,
        fiat_value: Decimal | None = ..., fiat_currency: str | None = ...,
    ) -> Override:
        """Set label / note / fiat value; fields not given keep their value."""
        ...

    def transactions(
        self, *, account_id: str | None = None, connection_id: str | None = None,
        since: datetime | None = None, until: datetime | None = None,
        kinds: Sequence[TransactionKind | str] | None = None, include_deleted: bool = False,
        batch_size: int = 2000,
    ) -> Iterator[LedgerTransaction]:
        """Query transactions."""
        ...

    def get_transaction(self, transaction_id: str) -> LedgerTransaction:
        """One transaction."""
        ...

    def balances(self, account_id: str, *, include_pending: bool = False) -> dict[str, Decimal]:
        """Balances per asset computed from legs."""
        ...

    def wallet_balances(
        self, account_id: str, *, include_pending: bool = False
    ) -> dict[tuple[str, str | None], Decimal]:
        """Balances per (asset, wallet) computed from legs."""
        ...

    def provenance(self, transaction_id: str) -> list[RawTransaction]:
        """Raw records behind a transaction."""
        ...

    def put_credential(
        self, connection_id: str, connector_id: str, public: Mapping[str, str], sealed: Mapping[str, bytes],
        *, now: datetime | None = None,
    ) -> None:
        """Store (replace) a connection's credential: public fields and vault-sealed secret fields."""
        ...

    def get_credential(self, connection_id: str) -> StoredCredential | None:
        """A connection's stored credential, or ``None``."""
        ...

    def drop_credential(self, connection_id: str) -> None:
        """Forget a connection's stored credential."""
        ...

    def sealed_blobs(self) -> list[tuple[str, str, bytes]]:
        """Every sealed secret as ``(connection_id, field, blob)``."""
        ...

    def replace_sealed(self, connection_id: str, field: str, old: bytes, new: bytes) -> bool:
        """Swap a sealed blob if it is still ``old``."""
        ...

    # -- host API (issue 16): owners' accounts and connections, ledger pages, removal on request ----

    def list_accounts(self, owner_id: str | None = None) -> list[AccountRecord]:
        """Every account, or those of one owner, oldest first."""
        ...

    def connections_of(self, owner_id: str) -> list[ConnectionRecord]:
        """Every connection of an owner's accounts, oldest first."""
        ...

    def ledger_page(
        self, *, owner_id: str | None = None, account_id: str | None = None,
        since: datetime | None = None, until: datetime | None = None,
        kinds: Sequence[TransactionKind | str] | None = None, include_deleted: bool = False,
        limit: int = 100, after: str | None = None, order: LedgerOrder | str = ...,
    ) -> LedgerPage:
        """One keyset-paginated page of transactions in time order (``asc`` or ``desc``)."""
        ...

    def remove_connection(self, connection_id: str) -> None:
        """Remove a connection, its key destroyed; the account's ledger stays."""
        ...

    def remove_account(self, account_id: str) -> None:
        """Erase an account: its connections and keys, its ledger and the user's edits."""
        ...

    def manual_entries(
        self, connection_id: str, entry_ids: Sequence[str] | None = None
    ) -> list[tuple[str, str, str | None]]:
        """A manual connection's entries: (entry id, the entry as stored, its transaction's id)."""
        ...

    def remove_manual_entry(self, account_id: str, connection_id: str, entry_id: str) -> str:
        """Remove a manual entry for good; returns the id of the transaction it belonged to."""
        ...

    def replace_manual_entry(
        self, batch: PageBatch, entry_id: str, *, tolerance: timedelta = ..., now: datetime | None = None
    ) -> MergeCounts:
        """Replace a manual entry by its new version (one description) in one transaction."""
        ...

"""One owner's view of a store: what a host exposes to a signed-in user.

``store.for_owner("user-42")`` gives an :class:`OwnerScope` whose every method reads, changes or deletes
only that owner's accounts, connections, transactions, edits, credentials and reports. An id of another
owner's object behaves exactly like an id that does not exist (the same typed error, the same empty
answer), so a user can neither reach nor detect what is not theirs. A host that passes ids coming from
a web request should go through the scope, never through the store directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from txsync.errors import StoreError, UnknownConnectionError
from txsync.models import RawTransaction, TransactionKind
from txsync.store import schema as t
from txsync.store.paging import LedgerOrder, LedgerPage
from txsync.store.records import AccountRecord, ConnectionRecord, ConnectionState, LedgerTransaction, Override

__all__ = ["OwnerScope"]

_UNSET: Any = object()


class OwnerScope:
    """The store as one owner may use it (see the module docstring)."""

    def __init__(self, store: Any, owner_id: str) -> None:
        if not isinstance(owner_id, str) or not owner_id:
            raise StoreError("an owner scope needs an owner id")
        self.store = store
        self.owner_id = owner_id

    # -- ownership checks ---------------------------------------------------------------------------

    def _account(self, account_id: str) -> AccountRecord:
        try:
            account: AccountRecord = self.store.get_account(account_id)
        except UnknownConnectionError:
            raise UnknownConnectionError(f"no account {account_id!r}") from None
        if account.owner_id != self.owner_id:
            raise UnknownConnectionError(f"no account {account_id!r}")
        return account

    def _connection(self, connection_id: str) -> ConnectionRecord:
        try:
            connection: ConnectionRecord = self.store.get_connection(connection_id)
            self._account(connection.account_id)
        except UnknownConnectionError:
            raise UnknownConnectionError(f"no connection {connection_id!r}") from None
        return connection

    def _owns_transaction(self, transaction_id: str) -> bool:
        tx, acc = t.transactions, t.accounts
        with self.store._read() as conn:
            seq = self.store._seq_of(conn, transaction_id)
            if seq is None:
                return False
            owner = conn.execute(
                select(acc.c.owner_id).join(tx, tx.c.account_seq == acc.c.seq).where(tx.c.seq == seq)
            ).scalar()
        return bool(owner == self.owner_id)

    def _transaction(self, transaction_id: str) -> None:
        if not isinstance(transaction_id, str) or not self._owns_transaction(transaction_id):
            raise StoreError(f"no transaction {transaction_id!r}")

    # -- accounts and connections -------------------------------------------------------------------

    def add_account(
        self, connector_id: str, *, label: str = "", now: datetime | None = None
    ) -> AccountRecord:
        """Create an account of this owner (its id is chosen by the store)."""
        record: AccountRecord = self.store.add_account(self.owner_id, connector_id, label=label, now=now)
        return record

    def accounts(self) -> list[AccountRecord]:
        """This owner's accounts, oldest first."""
        accounts: list[AccountRecord] = self.store.list_accounts(self.owner_id)
        return accounts

    def get_account(self, account_id: str) -> AccountRecord:
        """One of this owner's accounts."""
        return self._account(account_id)

    def connections(self, account_id: str | None = None) -> list[ConnectionRecord]:
        """This owner's connections (of one of its accounts, or all)."""
        if account_id is not None:
            self._account(account_id)
            connections: list[ConnectionRecord] = self.store.list_connections(account_id)
            return connections
        owned = {a.id for a in self.accounts()}
        return [c for c in self.store.list_connections() if c.account_id in owned]

    def get_connection(self, connection_id: str) -> ConnectionRecord:
        """One of this owner's connections."""
        return self._connection(connection_id)

    def set_connection_state(
        self, connection_id: str, state: ConnectionState, reason: str | None = None
    ) -> ConnectionRecord:
        """Pause or resume one of this owner's connections."""
        self._connection(connection_id)
        record: ConnectionRecord = self.store.set_connection_state(connection_id, state, reason)
        return record

    def remove_connection(self, connection_id: str) -> None:
        """Remove one of this owner's connections (its key destroyed; the ledger stays)."""
        self._connection(connection_id)
        self.store.remove_connection(connection_id)

    def remove_account(self, account_id: str) -> None:
        """Erase one of this owner's accounts, its ledger, edits and keys."""
        self._account(account_id)
        self.store.remove_account(account_id)

    def last_sync_run(self, connection_id: str) -> str | None:
        """The newest sync report (JSON) of one of this owner's connections."""
        self._connection(connection_id)
        report: str | None = self.store.last_sync_run(connection_id)
        return report

    # -- credentials --------------------------------------------------------------------------------

    def get_credential(self, connection_id: str) -> Any:
        """The stored (sealed) credential of one of this owner's connections."""
        self._connection(connection_id)
        return self.store.get_credential(connection_id)

    def put_credential(
        self, connection_id: str, connector_id: str, public: Mapping[str, str], sealed: Mapping[str, bytes],
        *, now: datetime | None = None,
    ) -> None:
        """Store the credential of one of this owner's connections."""
        self._connection(connection_id)
        self.store.put_credential(connection_id, connector_id, public, sealed, now=now)

    def drop_credential(self, connection_id: str) -> None:
        """Forget the credential of one of this owner's connections."""
        self._connection(connection_id)
        self.store.drop_credential(connection_id)

    # -- the ledger ---------------------------------------------------------------------------------

    def transactions(
        self, *, account_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
        kinds: Sequence[TransactionKind | str] | None = None, include_deleted: bool = False,
    ) -> Iterator[LedgerTransaction]:
        """This owner's transactions (of one account, or all), in time order."""
        accounts = [self._account(account_id)] if account_id is not None else self.accounts()
        if len(accounts) == 1:
            yield from self.store.transactions(
                account_id=accounts[0].id, since=since, until=until, kinds=kinds,
                include_deleted=include_deleted,
            )
            return
        page: LedgerPage | None = None
        while page is None or page.next_cursor is not None:
            page = self.ledger_page(
                since=since, until=until, kinds=kinds, include_deleted=include_deleted, limit=2000,
                after=None if page is None else page.next_cursor,
            )
            yield from page.items

    def ledger_page(
        self, *, account_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
        kinds: Sequence[TransactionKind | str] | None = None, include_deleted: bool = False,
        limit: int = 100, after: str | None = None, order: LedgerOrder | str = LedgerOrder.ASC,
    ) -> LedgerPage:
        """One keyset page of this owner's transactions (see :meth:`SqlStore.ledger_page`)."""
        if account_id is not None:
            self._account(account_id)
        page: LedgerPage = self.store.ledger_page(
            owner_id=None if account_id is not None else self.owner_id, account_id=account_id, since=since,
            until=until, kinds=kinds, include_deleted=include_deleted, limit=limit, after=after, order=order,
        )
        return page

    def get_transaction(self, transaction_id: str) -> LedgerTransaction:
        """One of this owner's transactions."""
        self._transaction(transaction_id)
        tx: LedgerTransaction = self.store.get_transaction(transaction_id)
        return tx

    def provenance(self, transaction_id: str) -> list[RawTransaction]:
        """The raw records behind one of this owner's transactions."""
        self._transaction(transaction_id)
        raws: list[RawTransaction] = self.store.provenance(transaction_id)
        return raws

    def count_transactions(self, account_id: str | None = None, *, include_deleted: bool = False) -> int:
        """How many transactions this owner has (in one account, or all)."""
        accounts = [self._account(account_id)] if account_id is not None else self.accounts()
        return sum(self.store.count_transactions(a.id, include_deleted=include_deleted) for a in accounts)

    def balances(self, account_id: str, *, include_pending: bool = False) -> dict[str, Decimal]:
        """Balances of one of this owner's accounts."""
        self._account(account_id)
        balances: dict[str, Decimal] = self.store.balances(account_id, include_pending=include_pending)
        return balances

    # -- the user's word ----------------------------------------------------------------------------

    def delete_transaction(self, transaction_id: str, reason: str | None = None) -> None:
        """Delete (tombstone) one of this owner's transactions."""
        self._transaction(transaction_id)
        self.store.delete_transaction(transaction_id, reason)

    def restore_transaction(self, transaction_id: str) -> None:
        """Undo the deletion of one of this owner's transactions."""
        self._transaction(transaction_id)
        self.store.restore_transaction(transaction_id)

    def set_override(
        self, transaction_id: str, *, label: str | None = _UNSET, note: str | None = _UNSET,
        fiat_value: Decimal | None = _UNSET, fiat_currency: str | None = _UNSET,
    ) -> Override:
        """Set the label, note or fiat value of one of this owner's transactions."""
        self._transaction(transaction_id)
        changes = {k: v for k, v in (("label", label), ("note", note), ("fiat_value", fiat_value),
                                     ("fiat_currency", fiat_currency)) if v is not _UNSET}
        override: Override = self.store.set_override(transaction_id, **changes)
        return override

    def get_override(self, transaction_id: str) -> Override | None:
        """The override of one of this owner's transactions."""
        self._transaction(transaction_id)
        override: Override | None = self.store.get_override(transaction_id)
        return override

    # -- valuation ------------------------------------------------------------------------------------

    def valuation_of(self, transaction_id: str) -> Any:
        """The stored valuation (:class:`~txsync.valuation.TransactionValuation`, or ``None``) of one
        of this owner's transactions."""
        self._transaction(transaction_id)
        return self.store.valuation_of(transaction_id)

    def valuation_counts(self, account_id: str | None = None) -> dict[str, int]:
        """How many of this owner's stored valuations (of one account, or all) have each status."""
        if account_id is not None:
            self._account(account_id)
        counts: dict[str, int] = self.store.valuation_counts(owner_id=self.owner_id, account_id=account_id)
        return counts

    def base_currency(self) -> str | None:
        """This owner's base currency, when set."""
        currency: str | None = self.store.base_currency(self.owner_id)
        return currency

    def set_base_currency(self, currency: str) -> None:
        """Set this owner's base currency (the next valuation pass values everything in it)."""
        self.store.set_base_currency(self.owner_id, currency)

    def __repr__(self) -> str:
        return f"OwnerScope({self.owner_id!r})"

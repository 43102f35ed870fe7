"""The ledger store over SQLAlchemy Core: every query, on the layout of :mod:`txsync.store.schema`.

What differs between databases (connecting, locking, upserts) lives in the dialect's module
(:mod:`txsync.store.sqlite`); the ingest path's statements are in :mod:`txsync.store._ledger`.

Reads run in short transactions (a batch of rows each, keyset-paginated), so a reader never holds the
database while the caller works on what it read: iterating the ledger while editing it works, and a
long report never blocks a sync.
"""

from __future__ import annotations

import heapq
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, tuple_, update

from txsync import jsonutil
from txsync.errors import BadResponseError, StoreError, TamperedError, UnknownConnectionError, VaultError
from txsync.merge import ORIGIN_PRIORITY as _PRIORITY
from txsync.merge import MergeCounts, PageBatch, duration_us, from_us, merge_page, to_us
from txsync.models import Leg, LegRole, RawTransaction, SourceRef, TransactionKind, TransactionStatus
from txsync.models.values import exact
from txsync.schedule import SchedulePolicy
from txsync.store import schema as t
from txsync.store._ledger import LedgerBackend, LedgerDialect, flush_ids, legs_value
from txsync.store._links import OwnerTables
from txsync.store._manual import ManualEntryTables
from txsync.store._valuations import ValuationTables
from txsync.store.leases import SyncLeases
from txsync.store.paging import MAX_PAGE_SIZE, LedgerOrder, LedgerPage, decode_cursor, encode_cursor
from txsync.store.records import (
    AccountRecord,
    ConnectionRecord,
    ConnectionState,
    LedgerTransaction,
    Override,
    StoredCredential,
)

if TYPE_CHECKING:
    from txsync.store.scope import OwnerScope

__all__ = ["SqlStore"]

_UNSET: Any = object()
_CHUNK = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _opt_dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


class _Keys:
    """The store's caches of small, stable lookups: account id <-> integer key, stream keys."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._seq: dict[str, int] = {}
        self._id: dict[int, str] = {}
        self._streams: dict[tuple[str, str], int] = {}
        self._upto: int | None = None

    def seq_of(self, account_id: str) -> int:
        seq = self._seq.get(account_id)
        if seq is None:
            with self._store._read() as conn:
                seq = conn.execute(select(t.accounts.c.seq).where(t.accounts.c.id == account_id)).scalar()
            if seq is None:
                raise UnknownConnectionError(f"no account {account_id!r}")
            self._seq[account_id], self._id[seq] = seq, account_id
        return seq

    def id_of(self, account_seq: int) -> str:
        account_id = self._id.get(account_seq)
        if account_id is None:
            with self._store._read() as conn:
                account_id = conn.execute(
                    select(t.accounts.c.id).where(t.accounts.c.seq == account_seq)
                ).scalar()
            if account_id is None:
                raise StoreError(f"no account with key {account_seq}")
            self._seq[account_id], self._id[account_seq] = account_seq, account_id
        return account_id

    def stream(self, cur: Any, connection_id: str, stream: str, *, create: bool) -> int | None:
        """The key of a (connection, stream), through the DB-API cursor of an open transaction."""
        key = (connection_id, stream)
        seq = self._streams.get(key)
        if seq is not None:
            return seq
        row = cur.execute("SELECT seq FROM streams WHERE connection_id = ? AND stream = ?", key).fetchone()
        if row is None and create:
            created: int = cur.execute(
                "INSERT INTO streams (connection_id, stream) VALUES (?, ?) RETURNING seq", key
            ).fetchone()[0]
            return created  # cached only once its transaction commits (see SqlStore.commit_page)
        if row is None:
            return None
        self._streams[key] = int(row[0])
        return int(row[0])

    def remember_stream(self, connection_id: str, stream: str, seq: int) -> None:
        self._streams[(connection_id, stream)] = seq

    def ids_indexed_upto(self, cur: Any) -> int:
        if self._upto is None:
            self._upto = int(
                cur.execute("SELECT value FROM store_state WHERE name = 'ids_indexed_upto'").fetchone()[0]
            )
        return self._upto

    def forget_ids_indexed_upto(self) -> None:
        self._upto = None

    def forget(self) -> None:
        self._seq.clear()
        self._id.clear()
        self._streams.clear()
        self._upto = None


class SqlStore(OwnerTables, ValuationTables, ManualEntryTables, SyncLeases):
    """A ledger in a SQL database. Use a dialect's subclass (:class:`~txsync.store.SqliteStore`)."""

    _engine: Engine
    #: How the ingest path allocates transaction keys and indexes ids on this database.
    _ledger_dialect = LedgerDialect()

    def _init_store(self) -> None:
        self._keys = _Keys(self)

    def for_owner(self, owner_id: str) -> OwnerScope:
        """This store as one owner may use it: every read, change and deletion limited to that
        owner's accounts, connections, transactions, edits, credentials and reports (see
        :class:`~txsync.store.scope.OwnerScope`). What a host exposes to a user goes through it."""
        from txsync.store.scope import OwnerScope

        return OwnerScope(self, owner_id)

    # -- transactions ---------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (the dialect takes the write lock up front)."""
        with self._engine.connect() as conn:
            conn = conn.execution_options(txsync_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _hot_write(self) -> Iterator[Any]:
        """One write transaction on a bare DB-API cursor (the ingest path: no per-statement work in
        SQLAlchemy). Dialects override it to take their write lock."""
        with self._write() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            yield raw.cursor()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """One short read transaction."""
        with self._engine.connect() as conn, conn.begin():
            yield conn

    # -- accounts, connections, owners --------------------------------------------------------------

    def _upsert_owner(self, conn: Connection, owner_id: str, last_active_at: int | None) -> None:
        raise NotImplementedError

    def add_account(
        self, owner_id: str, connector_id: str, *, label: str = "", account_id: str | None = None,
        now: datetime | None = None,
    ) -> AccountRecord:
        """Create an account (an exchange account or a wallet) for ``owner_id``."""
        rec = AccountRecord(
            id=account_id or f"acc_{uuid.uuid4().hex}", owner_id=owner_id, connector_id=connector_id,
            label=label, created_at=now or _now(),
        )
        with self._write() as conn:
            self._upsert_owner(conn, owner_id, None)
            # Never reuse the key of an erased account (caches in other processes may still hold it).
            state = t.store_state
            counter = conn.execute(select(state.c.value).where(state.c.name == "account_seq")).scalar()
            seq = max(counter or 0, conn.execute(select(func.max(t.accounts.c.seq))).scalar() or 0) + 1
            if counter is None:
                conn.execute(insert(state).values(name="account_seq", value=seq))
            else:
                conn.execute(update(state).where(state.c.name == "account_seq").values(value=seq))
            conn.execute(
                insert(t.accounts),
                {"id": rec.id, "owner_id": owner_id, "connector_id": connector_id, "label": label,
                 "created_at": to_us(rec.created_at), "seq": seq},
            )
        return rec

    def get_account(self, account_id: str) -> AccountRecord:
        """The account ``account_id``; :class:`UnknownConnectionError` if there is none."""
        with self._read() as conn:
            row = conn.execute(select(t.accounts).where(t.accounts.c.id == account_id)).mappings().first()
        if row is None:
            raise UnknownConnectionError(f"no account {account_id!r}")
        return _account(row)

    def list_accounts(self, owner_id: str | None = None) -> list[AccountRecord]:
        """Every account, or those of one owner, oldest first."""
        query = select(t.accounts).order_by(t.accounts.c.seq)
        if owner_id is not None:
            query = query.where(t.accounts.c.owner_id == owner_id)
        with self._read() as conn:
            return [_account(row) for row in conn.execute(query).mappings()]

    def add_connection(
        self, account_id: str, connector_id: str | None = None, *, label: str = "",
        options: Mapping[str, Any] | None = None, connection_id: str | None = None,
        now: datetime | None = None,
    ) -> ConnectionRecord:
        """Add a connection (a key, an address, a file source) reading ``account_id``."""
        account = self.get_account(account_id)
        rec = ConnectionRecord(
            id=connection_id or f"con_{uuid.uuid4().hex}", account_id=account_id,
            connector_id=connector_id or account.connector_id, label=label, options=dict(options or {}),
            created_at=now or _now(),
        )
        with self._write() as conn:
            conn.execute(
                insert(t.connections),
                {"id": rec.id, "account_id": account_id, "connector_id": rec.connector_id, "label": label,
                 "state": rec.state.value, "state_reason": None, "options": jsonutil.dumps(rec.options),
                 "created_at": to_us(rec.created_at)},
            )
        return rec

    def get_connection(self, connection_id: str) -> ConnectionRecord:
        """The connection ``connection_id``; :class:`UnknownConnectionError` if there is none."""
        with self._read() as conn:
            row = conn.execute(
                select(t.connections).where(t.connections.c.id == connection_id)
            ).mappings().first()
        if row is None:
            raise UnknownConnectionError(f"no connection {connection_id!r}")
        return _connection(row)

    def list_connections(self, account_id: str | None = None) -> list[ConnectionRecord]:
        """Every connection, or those of one account."""
        query = select(t.connections).order_by(t.connections.c.created_at, t.connections.c.id)
        if account_id is not None:
            query = query.where(t.connections.c.account_id == account_id)
        with self._read() as conn:
            return [_connection(row) for row in conn.execute(query).mappings()]

    def set_connection_state(
        self, connection_id: str, state: ConnectionState, reason: str | None = None
    ) -> ConnectionRecord:
        """Pause, resume (``ACTIVE``) or disable a connection with the reason the user will see."""
        self.get_connection(connection_id)
        with self._write() as conn:
            conn.execute(
                update(t.connections).where(t.connections.c.id == connection_id)
                .values(state=state.value, state_reason=reason if state != ConnectionState.ACTIVE else None)
            )
        return self.get_connection(connection_id)

    def mark_sync(
        self, connection_id: str, *, attempted_at: datetime, finished_at: datetime | None = None,
        success: bool = False,
    ) -> None:
        """Record a sync attempt (and its completion, and whether it succeeded)."""
        values: dict[str, Any] = {"last_attempt_at": to_us(attempted_at)}
        if finished_at is not None:
            values["last_sync_at"] = to_us(finished_at)
            if success:
                values["last_success_at"] = to_us(finished_at)
        with self._write() as conn:
            conn.execute(update(t.connections).where(t.connections.c.id == connection_id).values(**values))

    def touch_owner(self, owner_id: str, at: datetime | None = None) -> None:
        """Record that the owner used the product at ``at`` (drives the scheduling policy)."""
        with self._write() as conn:
            self._upsert_owner(conn, owner_id, to_us(at or _now()))

    def connections_due(self, now: datetime, policy: SchedulePolicy | None = None) -> list[ConnectionRecord]:
        """Active connections whose interval (by owner activity) has passed since the last attempt, or
        whose last sync failed at least ``policy.failed_retry`` ago; most overdue first (in SQL)."""
        policy = policy or SchedulePolicy()
        now_us = to_us(now)
        active_since = now_us - duration_us(policy.active_window)
        owner_active = and_(t.owners.c.last_active_at.is_not(None), t.owners.c.last_active_at >= active_since)
        last = t.connections.c.last_attempt_at
        # The last sync finished (nothing queued or running since) and failed: due again sooner.
        finished, success = t.connections.c.last_sync_at, t.connections.c.last_success_at
        failed = and_(
            finished.is_not(None), finished >= last, or_(success.is_(None), success < finished)
        )
        query = (
            select(t.connections)
            .join(t.accounts, t.accounts.c.id == t.connections.c.account_id)
            .join(t.owners, t.owners.c.id == t.accounts.c.owner_id)
            .where(t.connections.c.state == ConnectionState.ACTIVE.value)
            .where(
                or_(
                    last.is_(None),
                    and_(owner_active, last <= now_us - duration_us(policy.active_interval)),
                    and_(~owner_active, last <= now_us - duration_us(policy.inactive_interval)),
                    and_(failed, last <= now_us - duration_us(policy.failed_retry)),
                )
            )
            .order_by(last.is_not(None), last, t.connections.c.id)
        )
        with self._read() as conn:
            return [_connection(row) for row in conn.execute(query).mappings()]

    # -- sync ---------------------------------------------------------------------------------------

    def get_cursor(self, connection_id: str, stream: str) -> Any:
        """The stored cursor of a stream, ``None`` if it never advanced."""
        with self._read() as conn:
            text = conn.execute(
                select(t.streams.c.cursor).where(
                    t.streams.c.connection_id == connection_id, t.streams.c.stream == stream
                )
            ).scalar()
        return None if text is None else jsonutil.loads(text)

    def commit_page(
        self, batch: PageBatch, *, tolerance: timedelta = timedelta(seconds=2), now: datetime | None = None
    ) -> MergeCounts:
        """Store one page's raws, merged transactions and advanced cursor in ONE transaction."""
        now_us = to_us(now or _now())
        keys = self._keys
        account_seq = keys.seq_of(batch.account_id)
        created_stream: int | None = None
        try:
            with self._hot_write() as cur:
                stream_seq = keys.stream(cur, batch.connection_id, batch.stream, create=False)
                if stream_seq is None:
                    stream_seq = created_stream = keys.stream(
                        cur, batch.connection_id, batch.stream, create=True
                    )
                assert stream_seq is not None
                backend = LedgerBackend(
                    cur, account_seq=account_seq, accounts=keys, stream_seq=stream_seq,
                    streams=lambda c, s: keys.stream(cur, c, s, create=False), now_us=now_us,
                    dialect=self._ledger_dialect,
                )
                counts = merge_page(backend, batch, tolerance=tolerance, now_us=now_us)
                cursor_text = jsonutil.dumps(batch.cursor)  # a failure here rolls the page back too
                cur.execute(
                    "UPDATE streams SET cursor = ?, updated_at = ? WHERE seq = ?",
                    (cursor_text, now_us, stream_seq),
                )
        except BaseException:
            keys.forget()  # what this transaction created is gone: so are the keys cached from it
            raise
        if created_stream is not None:
            keys.remember_stream(batch.connection_id, batch.stream, created_stream)
        return counts

    def settle(self) -> None:
        """Bring the lazily maintained index of transaction ids up to date (the engine calls it when a
        sync ends; lookups by id are right without it, only slower)."""
        if self._ledger_dialect.ids_now:
            return  # indexed as they are written
        with self._hot_write() as cur:
            flush_ids(cur)
        self._keys.forget_ids_indexed_upto()

    def reset_cursors(self, connection_id: str) -> None:
        """Forget a connection's cursors (its data stays)."""
        with self._write() as conn:
            conn.execute(
                update(t.streams).where(t.streams.c.connection_id == connection_id)
                .values(cursor=None, updated_at=None)
            )

    def save_sync_run(
        self, connection_id: str, started_at: datetime, finished_at: datetime, ok: bool, report_json: str
    ) -> None:
        """Keep a sync report."""
        with self._write() as conn:
            conn.execute(
                insert(t.sync_runs),
                {"connection_id": connection_id, "started_at": to_us(started_at),
                 "finished_at": to_us(finished_at), "ok": "true" if ok else "false", "report": report_json},
            )

    def last_sync_run(self, connection_id: str) -> str | None:
        """The JSON of the newest sync report of a connection."""
        with self._read() as conn:
            text: str | None = conn.execute(
                select(t.sync_runs.c.report).where(t.sync_runs.c.connection_id == connection_id)
                .order_by(t.sync_runs.c.id.desc()).limit(1)
            ).scalar()
        return text

    def latest_timestamp(self, account_id: str) -> datetime | None:
        """Time of the newest transaction of the account, from any source."""
        try:
            account_seq = self._keys.seq_of(account_id)
        except UnknownConnectionError:
            return None
        with self._read() as conn:
            us = conn.execute(
                select(func.max(t.transactions.c.ts)).where(t.transactions.c.account_seq == account_seq)
            ).scalar()
        return None if us is None else from_us(us)

    # -- lookups by id ------------------------------------------------------------------------------

    def _seq_of(self, conn: Connection, transaction_id: str) -> int | None:
        """The seq of a transaction by id: the id index, else the rows written since it was filled."""
        seq = conn.execute(
            select(t.transaction_ids.c.seq).where(t.transaction_ids.c.id == transaction_id)
        ).scalar()
        if seq is not None or self._ledger_dialect.ids_now:
            return None if seq is None else int(seq)
        state = t.store_state
        upto = select(state.c.value).where(state.c.name == "ids_indexed_upto").scalar_subquery()
        tx = t.transactions
        seq = conn.execute(select(tx.c.seq).where(tx.c.seq > upto, tx.c.id == transaction_id)).scalar()
        return None if seq is None else int(seq)

    # -- the user's word ----------------------------------------------------------------------------

    def delete_transaction(self, transaction_id: str, reason: str | None = None) -> None:
        """Hide a transaction for good: no re-sync, full re-sync or new key brings it back."""
        self._require_transaction(transaction_id)
        with self._write() as conn:
            conn.execute(delete(t.tombstones).where(t.tombstones.c.transaction_id == transaction_id))
            conn.execute(
                insert(t.tombstones),
                {"transaction_id": transaction_id, "deleted_at": to_us(_now()), "reason": reason},
            )

    def restore_transaction(self, transaction_id: str) -> None:
        """Undo :meth:`delete_transaction`."""
        with self._write() as conn:
            conn.execute(delete(t.tombstones).where(t.tombstones.c.transaction_id == transaction_id))

    def set_override(
        self, transaction_id: str, *, label: str | None = _UNSET, note: str | None = _UNSET,
        fiat_value: Decimal | None = _UNSET, fiat_currency: str | None = _UNSET,
    ) -> Override:
        """Set the user's label, note or fiat value; fields not given keep their current value."""
        self._require_transaction(transaction_id)
        current = self.get_override(transaction_id) or Override()
        merged = Override(
            label=current.label if label is _UNSET else label,
            note=current.note if note is _UNSET else note,
            fiat_value=current.fiat_value if fiat_value is _UNSET else fiat_value,
            fiat_currency=current.fiat_currency if fiat_currency is _UNSET else fiat_currency,
        )
        if merged.fiat_value is not None and not merged.fiat_value.is_finite():
            raise StoreError("a fiat value must be finite")
        with self._write() as conn:
            conn.execute(delete(t.overrides).where(t.overrides.c.transaction_id == transaction_id))
            conn.execute(
                insert(t.overrides),
                {"transaction_id": transaction_id, "label": merged.label, "note": merged.note,
                 "fiat_value": None if merged.fiat_value is None else str(merged.fiat_value),
                 "fiat_currency": merged.fiat_currency, "updated_at": to_us(_now())},
            )
        return merged

    def get_override(self, transaction_id: str) -> Override | None:
        """The user's override of a transaction, if any."""
        with self._read() as conn:
            row = conn.execute(
                select(t.overrides).where(t.overrides.c.transaction_id == transaction_id)
            ).mappings().first()
        return None if row is None else _override(row)

    def _require_transaction(self, transaction_id: str) -> None:
        with self._read() as conn:
            found = self._seq_of(conn, transaction_id)
        if found is None:
            raise StoreError(f"no transaction {transaction_id!r}")

    # -- queries ------------------------------------------------------------------------------------

    def _ledger_query(self) -> Any:
        tx = t.transactions
        return (
            select(
                tx.c.seq, tx.c.id, tx.c.account_seq, tx.c.kind, tx.c.ts, tx.c.status, tx.c.origins,
                tx.c.legs, tx.c.body, t.tombstones.c.transaction_id.label("tomb"), t.overrides.c.label,
                t.overrides.c.note, t.overrides.c.fiat_value, t.overrides.c.fiat_currency,
            )
            .outerjoin(t.tombstones, t.tombstones.c.transaction_id == tx.c.id)
            .outerjoin(t.overrides, t.overrides.c.transaction_id == tx.c.id)
        )

    def transactions(
        self, *, account_id: str | None = None, connection_id: str | None = None,
        since: datetime | None = None, until: datetime | None = None,
        kinds: Sequence[TransactionKind | str] | None = None, include_deleted: bool = False,
        batch_size: int = 2000,
    ) -> Iterator[LedgerTransaction]:
        """Transactions in time order (then id), with tombstones and overrides applied.

        Streams in batches of ``batch_size``, each read in its own short transaction: the caller may
        edit the ledger (delete, override) while iterating.
        """
        if account_id is not None:
            try:
                accounts = [self._keys.seq_of(account_id)]
            except UnknownConnectionError:
                return
        elif connection_id is not None:
            try:
                accounts = [self._keys.seq_of(self.get_connection(connection_id).account_id)]
            except UnknownConnectionError:
                return
        else:
            with self._read() as conn:
                accounts = list(conn.execute(select(t.accounts.c.seq).order_by(t.accounts.c.seq)).scalars())
        filters = _filters(connection_id, since, until, kinds, include_deleted)
        iterators = [self._account_ledger(seq, filters, max(1, batch_size)) for seq in accounts]
        if not iterators:
            return
        merged = iterators[0] if len(iterators) == 1 else heapq.merge(*iterators, key=lambda item: item[0])
        for _, tx in merged:
            yield tx

    def _account_ledger(self, account_seq: int, filters: list[Any], batch: int) -> Iterator[Any]:
        tx = t.transactions
        after: tuple[int, str] | None = None
        while True:
            query = self._ledger_query().where(tx.c.account_seq == account_seq, *filters)
            if after is not None:
                query = query.where(tuple_(tx.c.ts, tx.c.id) > tuple_(*after))
            query = query.order_by(tx.c.ts, tx.c.id).limit(batch)
            with self._read() as conn:
                rows = conn.execute(query).all()
            account_id = self._keys.id_of(account_seq)
            for row in rows:
                yield ((row.ts, row.id), _ledger(row, account_id))
            if len(rows) < batch:
                return
            after = (rows[-1].ts, rows[-1].id)

    def get_transaction(self, transaction_id: str) -> LedgerTransaction:
        """One transaction (deleted ones included, flagged ``deleted``)."""
        with self._read() as conn:
            seq = self._seq_of(conn, transaction_id)
            row = None if seq is None else conn.execute(
                self._ledger_query().where(t.transactions.c.seq == seq)
            ).first()
        if row is None:
            raise StoreError(f"no transaction {transaction_id!r}")
        return _ledger(row, self._keys.id_of(row.account_seq))

    def count_transactions(self, account_id: str | None = None, *, include_deleted: bool = False) -> int:
        """How many transactions (visible ones unless ``include_deleted``)."""
        tx = t.transactions
        query = select(func.count()).select_from(tx)
        if not include_deleted:
            query = query.where(~tx.c.id.in_(select(t.tombstones.c.transaction_id)))
        if account_id is not None:
            try:
                query = query.where(tx.c.account_seq == self._keys.seq_of(account_id))
            except UnknownConnectionError:
                return 0
        with self._read() as conn:
            return int(conn.execute(query).scalar() or 0)

    def balances(self, account_id: str, *, include_pending: bool = False) -> dict[str, Decimal]:
        """Balances per asset from the legs of visible confirmed transactions (exact Decimal sums)."""
        totals: dict[str, Decimal] = defaultdict(Decimal)
        with exact():
            for leg in self._legs(account_id, include_pending):
                totals[leg[0]] += Decimal(leg[1])
        return {k: v for k, v in sorted(totals.items()) if v != 0}

    def wallet_balances(
        self, account_id: str, *, include_pending: bool = False
    ) -> dict[tuple[str, str | None], Decimal]:
        """Balances per (asset, wallet): where inside the account the value sits."""
        totals: dict[tuple[str, str | None], Decimal] = defaultdict(Decimal)
        with exact():
            for leg in self._legs(account_id, include_pending):
                totals[(leg[0], leg[3])] += Decimal(leg[1])
        return {k: v for k, v in sorted(totals.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")) if v != 0}

    def _legs(self, account_id: str, include_pending: bool) -> Iterator[list[Any]]:
        tx = t.transactions
        try:
            account_seq = self._keys.seq_of(account_id)
        except UnknownConnectionError:
            return
        statuses = [TransactionStatus.CONFIRMED.value]
        if include_pending:
            statuses.append(TransactionStatus.PENDING.value)
        after = 0
        while True:
            query = (
                select(tx.c.seq, tx.c.legs)
                .where(tx.c.account_seq == account_seq, tx.c.status.in_(statuses), tx.c.seq > after)
                .where(~tx.c.id.in_(select(t.tombstones.c.transaction_id)))
                .order_by(tx.c.seq)
                .limit(20_000)
            )
            with self._read() as conn:
                rows = conn.execute(query).all()
            for _, legs in rows:
                yield from legs_value(legs)
            if len(rows) < 20_000:
                return
            after = rows[-1][0]

    def provenance(self, transaction_id: str) -> list[RawTransaction]:
        """The raw records a transaction was built from, as received."""
        raw, streams, cons = t.raw_transactions, t.streams, t.connections
        with self._read() as conn:
            seq = self._seq_of(conn, transaction_id)
            if seq is None:
                return []
            rows = conn.execute(
                select(streams.c.connection_id, cons.c.account_id, streams.c.stream, raw.c.source_id,
                       raw.c.payload, raw.c.fetched_at)
                .join(streams, streams.c.seq == raw.c.stream_seq)
                .join(cons, cons.c.id == streams.c.connection_id)
                .where(raw.c.tx_seq == seq)
                .order_by(streams.c.connection_id, streams.c.stream, raw.c.source_id)
            ).all()
        return [
            RawTransaction(
                connection_id=c, account_id=a, stream=s, source_id=sid, payload=jsonutil.loads(payload),
                fetched_at=from_us(fetched),
            )
            for c, a, s, sid, payload, fetched in rows
        ]

    def count_raws(self, connection_id: str | None = None) -> int:
        """How many raw records are stored."""
        query = select(func.count()).select_from(t.raw_transactions)
        if connection_id is not None:
            query = query.where(
                t.raw_transactions.c.stream_seq.in_(
                    select(t.streams.c.seq).where(t.streams.c.connection_id == connection_id)
                )
            )
        with self._read() as conn:
            return int(conn.execute(query).scalar() or 0)

    # -- sealed credentials -------------------------------------------------------------------------

    def put_credential(
        self, connection_id: str, connector_id: str, public: Mapping[str, str], sealed: Mapping[str, bytes],
        *, now: datetime | None = None,
    ) -> None:
        """Store (replacing any previous one) a connection's credential: public fields and sealed
        secret fields, in one transaction."""
        self.get_connection(connection_id)
        with self._write() as conn:
            conn.execute(delete(t.sealed_secrets).where(t.sealed_secrets.c.connection_id == connection_id))
            conn.execute(delete(t.credentials).where(t.credentials.c.connection_id == connection_id))
            conn.execute(insert(t.credentials), {
                "connection_id": connection_id, "connector_id": connector_id,
                "public": jsonutil.dumps(dict(public)), "updated_at": to_us(now or _now()),
            })
            if sealed:
                conn.execute(insert(t.sealed_secrets), [
                    {"connection_id": connection_id, "field": field, "blob": bytes(blob)}
                    for field, blob in sealed.items()
                ])

    def get_credential(self, connection_id: str) -> StoredCredential | None:
        """A connection's stored credential, or ``None``. A row that is not what the vault wrote
        (a blob of another SQL type, public fields that are not a JSON object of strings) raises a
        vault error naming the connection."""
        with self._read() as conn:
            row = conn.execute(
                select(t.credentials).where(t.credentials.c.connection_id == connection_id)
            ).mappings().first()
            if row is None:
                return None
            blobs = conn.execute(
                select(t.sealed_secrets.c.field, t.sealed_secrets.c.blob)
                .where(t.sealed_secrets.c.connection_id == connection_id)
            ).all()
        try:
            public = jsonutil.loads(row["public"]) if isinstance(row["public"], str) else None
        except (ValueError, BadResponseError):  # not JSON, NaN, nested too deep
            public = None
        if not isinstance(public, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in public.items()
        ):
            raise VaultError(f"the stored public fields of connection {connection_id!r} are garbled")
        return StoredCredential(
            connection_id=connection_id, connector_id=row["connector_id"], public=public,
            sealed={f: _blob(connection_id, f, b) for f, b in blobs},
        )

    def drop_credential(self, connection_id: str) -> None:
        """Forget a connection's stored credential."""
        with self._write() as conn:
            conn.execute(delete(t.sealed_secrets).where(t.sealed_secrets.c.connection_id == connection_id))
            conn.execute(delete(t.credentials).where(t.credentials.c.connection_id == connection_id))

    def sealed_blobs(self) -> list[tuple[str, str, bytes]]:
        """Every sealed secret: ``(connection_id, field, blob)``, for rotation and key reports."""
        with self._read() as conn:
            rows = conn.execute(
                select(t.sealed_secrets.c.connection_id, t.sealed_secrets.c.field, t.sealed_secrets.c.blob)
                .order_by(t.sealed_secrets.c.connection_id, t.sealed_secrets.c.field)
            ).all()
        return [(c, f, _blob(c, f, b)) for c, f, b in rows]

    def replace_sealed(self, connection_id: str, field: str, old: bytes, new: bytes) -> bool:
        """Swap one sealed blob for another if it is still ``old`` (False when it changed meanwhile)."""
        with self._write() as conn:
            result = conn.execute(
                update(t.sealed_secrets)
                .where(t.sealed_secrets.c.connection_id == connection_id, t.sealed_secrets.c.field == field,
                       t.sealed_secrets.c.blob == bytes(old))
                .values(blob=bytes(new))
            )
            return bool(result.rowcount)


    # =================================================================================================
    # Host API (issue 16): owners' accounts and connections, ledger pages, removal on request.
    # Kept in one section so it merges apart from the rest of the store.
    # =================================================================================================

    def connections_of(self, owner_id: str) -> list[ConnectionRecord]:
        """Every connection of an owner's accounts: by account (oldest first), then oldest first."""
        query = (
            select(t.connections)
            .join(t.accounts, t.accounts.c.id == t.connections.c.account_id)
            .where(t.accounts.c.owner_id == owner_id)
            .order_by(t.accounts.c.seq, t.connections.c.created_at, t.connections.c.id)
        )
        with self._read() as conn:
            return [_connection(row) for row in conn.execute(query).mappings()]

    def ledger_page(
        self, *, owner_id: str | None = None, account_id: str | None = None,
        since: datetime | None = None, until: datetime | None = None,
        kinds: Sequence[TransactionKind | str] | None = None, include_deleted: bool = False,
        limit: int = 100, after: str | None = None, order: LedgerOrder | str = LedgerOrder.ASC,
    ) -> LedgerPage:
        """One page of at most ``limit`` transactions (of one account, one owner's accounts, or all),
        in time order (``order``: ``"asc"`` oldest first, ``"desc"`` newest first; ties by id), with
        tombstones and overrides applied. ``after`` is the ``next_cursor`` of the previous page.

        Keyset pagination: each page is one indexed range read per account, whatever its depth.
        Raises :class:`~txsync.errors.StoreError` for a limit outside 1..10,000 or a foreign cursor.
        """
        order = LedgerOrder(order)
        if isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE_SIZE:
            raise StoreError(f"a ledger page holds 1 to {MAX_PAGE_SIZE} transactions, not {limit}")
        key = None if after is None else decode_cursor(after, order)
        if account_id is not None:
            if owner_id is not None and self.get_account(account_id).owner_id != owner_id:
                return LedgerPage()
            try:
                accounts = [self._keys.seq_of(account_id)]
            except UnknownConnectionError:
                return LedgerPage()
        else:
            query = select(t.accounts.c.seq).order_by(t.accounts.c.seq)
            if owner_id is not None:
                query = query.where(t.accounts.c.owner_id == owner_id)
            with self._read() as conn:
                accounts = [int(seq) for seq in conn.execute(query).scalars()]
        filters = _filters(None, since, until, kinds, include_deleted)
        tx = t.transactions
        descending = order == LedgerOrder.DESC
        rows: list[Any] = []
        with self._read() as conn:
            for account_seq in accounts:
                query = self._ledger_query().where(tx.c.account_seq == account_seq, *filters)
                if key is not None:
                    bound = tuple_(*key)
                    query = query.where(
                        tuple_(tx.c.ts, tx.c.id) < bound if descending else tuple_(tx.c.ts, tx.c.id) > bound
                    )
                ordering = (tx.c.ts.desc(), tx.c.id.desc()) if descending else (tx.c.ts, tx.c.id)
                rows.extend(conn.execute(query.order_by(*ordering).limit(limit + 1)).all())
        rows.sort(key=lambda row: (row.ts, row.id), reverse=descending)
        more = len(rows) > limit
        rows = rows[:limit]
        items = [_ledger(row, self._keys.id_of(row.account_seq)) for row in rows]
        cursor = encode_cursor(rows[-1].ts, rows[-1].id, order) if more and rows else None
        return LedgerPage(items=items, next_cursor=cursor)

    def remove_connection(self, connection_id: str) -> None:
        """Remove a connection on the user's request: its credential is destroyed (every sealed blob,
        each holding its own wrapped data key, deleted and its pages overwritten), its cursors, raw
        records and sync reports go with it. The account and its ledger stay (the transactions it
        brought, the user's edits); another key can be connected to the account later.
        :class:`~txsync.errors.UnknownConnectionError` if there is no such connection."""
        self.get_connection(connection_id)
        with self._erasing() as conn:
            self._drop_connection_rows(conn, connection_id)
        self._keys.forget()
        self._after_erase()

    def remove_account(self, account_id: str) -> None:
        """Erase an account on the user's request (right to erasure): its connections and their keys,
        raw records, cursors and reports, every transaction of its ledger and the user's edits of them
        (tombstones, overrides), and the owner's record when it was their last account.
        :class:`~txsync.errors.UnknownConnectionError` if there is no such account."""
        account = self.get_account(account_id)
        account_seq = self._keys.seq_of(account_id)
        tx = t.transactions
        with self._erasing() as conn:
            for (connection_id,) in conn.execute(
                select(t.connections.c.id).where(t.connections.c.account_id == account_id)
            ).all():
                self._drop_connection_rows(conn, connection_id)
            ids = select(tx.c.id).where(tx.c.account_seq == account_seq)
            seqs = select(tx.c.seq).where(tx.c.account_seq == account_seq)
            conn.execute(delete(t.tombstones).where(t.tombstones.c.transaction_id.in_(ids)))
            conn.execute(delete(t.overrides).where(t.overrides.c.transaction_id.in_(ids)))
            conn.execute(delete(t.transaction_ids).where(t.transaction_ids.c.seq.in_(seqs)))
            conn.execute(delete(t.key_aliases).where(t.key_aliases.c.account_seq == account_seq))
            conn.execute(delete(t.match_keys).where(t.match_keys.c.account_seq == account_seq))
            conn.execute(delete(t.raw_transactions).where(t.raw_transactions.c.tx_seq.in_(seqs)))
            conn.execute(delete(tx).where(tx.c.account_seq == account_seq))
            conn.execute(delete(t.account_origins).where(t.account_origins.c.account_id == account_id))
            # The owner layer: the account's halves, links, gaps and reported balances go; the owner's
            # other halves are dropped too, so the next linking run reads every account again and
            # re-links what was linked to this one.
            links = t.owner_links
            conn.execute(
                delete(links).where(
                    (links.c.withdrawal_account == account_id) | (links.c.deposit_account == account_id)
                )
            )
            conn.execute(delete(t.owner_halves).where(t.owner_halves.c.owner_id == account.owner_id))
            conn.execute(delete(t.owner_link_state).where(t.owner_link_state.c.owner_id == account.owner_id))
            conn.execute(delete(t.owner_account_gaps).where(t.owner_account_gaps.c.account_id == account_id))
            conn.execute(
                delete(t.owner_balance_snapshots).where(t.owner_balance_snapshots.c.account_id == account_id)
            )
            conn.execute(delete(t.accounts).where(t.accounts.c.id == account_id))
            left = conn.execute(
                select(func.count()).select_from(t.accounts).where(t.accounts.c.owner_id == account.owner_id)
            ).scalar()
            if not left:
                conn.execute(delete(t.owners).where(t.owners.c.id == account.owner_id))
            self._erase_valuations(conn, account_id=account_id, owner_gone=None if left else account.owner_id)
        self._keys.forget()
        self._after_erase()

    def _drop_connection_rows(self, conn: Connection, connection_id: str) -> None:
        streams = select(t.streams.c.seq).where(t.streams.c.connection_id == connection_id)
        conn.execute(delete(t.sealed_secrets).where(t.sealed_secrets.c.connection_id == connection_id))
        conn.execute(delete(t.credentials).where(t.credentials.c.connection_id == connection_id))
        conn.execute(delete(t.raw_transactions).where(t.raw_transactions.c.stream_seq.in_(streams)))
        conn.execute(delete(t.streams).where(t.streams.c.connection_id == connection_id))
        conn.execute(delete(t.sync_runs).where(t.sync_runs.c.connection_id == connection_id))
        conn.execute(delete(t.sync_leases).where(t.sync_leases.c.connection_id == connection_id))
        conn.execute(delete(t.connections).where(t.connections.c.id == connection_id))

    @contextmanager
    def _erasing(self) -> Iterator[Connection]:
        """A write transaction whose deletions overwrite the freed pages (SQLite's ``secure_delete``),
        so a destroyed key or an erased ledger is not left readable in the file's free space."""
        with self._write() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                conn.exec_driver_sql("PRAGMA secure_delete=ON")
            try:
                yield conn
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA secure_delete=OFF")

    def _after_erase(self) -> None:
        """Copy the erased pages back into the database file now (SQLite's WAL holds them until a
        checkpoint), so the old page images do not linger in the write-ahead log."""
        with self._engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# -- helpers -----------------------------------------------------------------------------------------

_MAX_BLOB = 1 << 20


def _blob(connection_id: str, field: str, value: Any) -> bytes:
    """A sealed blob as stored; anything but bytes (text, a number, a huge integer) was not written by
    the vault: tampered."""
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) <= _MAX_BLOB:
        return bytes(value)
    raise TamperedError(
        f"sealed secret {field!r} of connection {connection_id!r} is not a vault blob "
        f"(stored as {type(value).__name__}): restore it from a backup or connect the key again"
    )


def _filters(
    connection_id: str | None, since: datetime | None, until: datetime | None,
    kinds: Sequence[TransactionKind | str] | None, include_deleted: bool,
) -> list[Any]:
    tx = t.transactions
    filters: list[Any] = []
    if connection_id is not None:
        filters.append(
            tx.c.seq.in_(
                select(t.raw_transactions.c.tx_seq).where(
                    t.raw_transactions.c.stream_seq.in_(
                        select(t.streams.c.seq).where(t.streams.c.connection_id == connection_id)
                    )
                )
            )
        )
    if since is not None:
        filters.append(tx.c.ts >= to_us(since))
    if until is not None:
        filters.append(tx.c.ts < to_us(until))
    if kinds is not None:
        filters.append(tx.c.kind.in_([str(k) for k in kinds]))
    if not include_deleted:
        filters.append(t.tombstones.c.transaction_id.is_(None))
    return filters


def _account(row: Any) -> AccountRecord:
    return AccountRecord(
        id=row["id"], owner_id=row["owner_id"], connector_id=row["connector_id"], label=row["label"],
        created_at=from_us(row["created_at"]),
    )


def _connection(row: Any) -> ConnectionRecord:
    return ConnectionRecord(
        id=row["id"], account_id=row["account_id"], connector_id=row["connector_id"], label=row["label"],
        state=ConnectionState(row["state"]), state_reason=row["state_reason"],
        options=jsonutil.loads(row["options"]), created_at=from_us(row["created_at"]),
        last_attempt_at=_opt_dt(row["last_attempt_at"]), last_sync_at=_opt_dt(row["last_sync_at"]),
        last_success_at=_opt_dt(row["last_success_at"]),
    )


def _override(row: Any) -> Override:
    return Override(
        label=row["label"], note=row["note"],
        fiat_value=None if row["fiat_value"] is None else Decimal(row["fiat_value"]),
        fiat_currency=row["fiat_currency"],
    )


def _ledger(row: Any, account_id: str) -> LedgerTransaction:
    parts: dict[str, dict[str, Any]] = jsonutil.loads_stored(row.body)["parts"]
    origins = row.origins.split(",")
    eff_origin = origins[0] if len(origins) == 1 else next(
        o for o in (*_PRIORITY, *origins) if o in origins
    )
    primary = next(p for p in parts.values() if p["origin"] == eff_origin)
    external: dict[str, str] = {}
    sources: list[SourceRef] = []
    flags: set[str] = set()
    for part in parts.values():
        external.update(part.get("external_ids", {}))
        flags.update(part.get("flags", ()))
        sources.extend(
            SourceRef(connection_id=s[0], stream=s[1], source_id=s[2]) for s in part["sources"]
        )
    legs = tuple(
        Leg(asset=leg[0], amount=Decimal(leg[1]), role=LegRole(leg[2]), wallet=leg[3])
        for leg in legs_value(row.legs)
    )
    return LedgerTransaction.model_construct(
        id=row.id, account_id=account_id, kind=TransactionKind(row.kind),
        timestamp=from_us(row.ts), status=TransactionStatus(row.status), legs=legs,
        origins=tuple(origins), external_ids=external, sources=tuple(sources),
        description=primary.get("description"), flags=frozenset(flags), meta=primary.get("meta", {}),
        parts=len(parts), label=row.label, note=row.note,
        fiat_value=None if row.fiat_value is None else Decimal(row.fiat_value),
        fiat_currency=row.fiat_currency, deleted=row.tomb is not None,
    )


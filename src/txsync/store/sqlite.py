"""The embedded default store: SQLite through SQLAlchemy Core, WAL, versioned migrations.

Zero configuration: ``SqliteStore()`` opens (and creates, and migrates) the file at
:func:`default_store_path`. Every write runs in one ``BEGIN IMMEDIATE`` transaction, so a page's
raws, transactions and cursor are stored together or not at all.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from txsync import jsonutil
from txsync.errors import StoreError, UnknownConnectionError
from txsync.merge import (
    MergeCounts,
    MergeWrites,
    PageBatch,
    StoredRaw,
    StoredTransaction,
    duration_us,
    effective,
    from_us,
    merge_page,
    to_us,
)
from txsync.models import Leg, LegRole, RawTransaction, SourceRef, TransactionKind, TransactionStatus
from txsync.models.values import exact
from txsync.schedule import SchedulePolicy
from txsync.store import schema as t
from txsync.store.records import (
    AccountRecord,
    ConnectionRecord,
    ConnectionState,
    LedgerTransaction,
    Override,
    StoredCredential,
)

__all__ = ["SqliteStore", "default_store_path"]

_CHUNK = 500  # SQL variables per IN (...) query
_UNSET: Any = object()


def default_store_path() -> Path:
    """``$TXSYNC_HOME/txsync.sqlite3``, else ``$XDG_DATA_HOME/txsync/...``, else ``~/.local/share``."""
    home = os.environ.get("TXSYNC_HOME")
    if home:
        return Path(home) / "txsync.sqlite3"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "txsync" / "txsync.sqlite3"


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (SQLite gives its WAL and shared-memory
    files the same mode): a ledger is private financial history."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _now() -> datetime:
    return datetime.now(UTC)


def _opt_dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _loads_body(text: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return body


class SqliteStore:
    """The ledger in one SQLite file (or ``":memory:"`` for tests)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, echo: bool = False) -> None:
        self.path = ":memory:" if path == ":memory:" else Path(path or default_store_path())
        if self.path == ":memory:":
            self._engine: Engine = create_engine(
                "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}, echo=echo
            )
        else:
            assert isinstance(self.path, Path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(self.path)
            self._engine = create_engine(
                f"sqlite:///{self.path}", connect_args={"check_same_thread": False}, echo=echo
            )
        event.listen(self._engine, "connect", _on_connect)
        event.listen(self._engine, "begin", _on_begin)
        try:
            self._migrate()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the store at {self.path}: {type(exc).__name__}") from exc

    # -- lifecycle ---------------------------------------------------------------------------------

    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", "txsync.store:migrations")
        return cfg

    def _migrate(self) -> None:
        cfg = self._alembic_config()
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with self._engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        with self._engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def schema_version(self) -> str | None:
        """The applied migration revision."""
        with self._engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def close(self) -> None:
        """Release the database."""
        self._engine.dispose()

    def _write(self) -> Any:
        return self._engine.begin()

    def _read(self) -> Any:
        return self._engine.connect()

    # -- accounts, connections, owners --------------------------------------------------------------

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
            conn.execute(insert(t.owners).prefix_with("OR IGNORE"), {"id": owner_id, "last_active_at": None})
            conn.execute(
                insert(t.accounts),
                {"id": rec.id, "owner_id": owner_id, "connector_id": connector_id, "label": label,
                 "created_at": to_us(rec.created_at)},
            )
        return rec

    def get_account(self, account_id: str) -> AccountRecord:
        """The account ``account_id``; :class:`UnknownConnectionError` if there is none."""
        with self._read() as conn:
            row = conn.execute(select(t.accounts).where(t.accounts.c.id == account_id)).mappings().first()
        if row is None:
            raise UnknownConnectionError(f"no account {account_id!r}")
        return AccountRecord(
            id=row["id"], owner_id=row["owner_id"], connector_id=row["connector_id"], label=row["label"],
            created_at=from_us(row["created_at"]),
        )

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
        us = to_us(at or _now())
        with self._write() as conn:
            conn.execute(
                sqlite_insert(t.owners).values(id=owner_id, last_active_at=us)
                .on_conflict_do_update(index_elements=["id"], set_={"last_active_at": us})
            )

    def connections_due(self, now: datetime, policy: SchedulePolicy | None = None) -> list[ConnectionRecord]:
        """Active connections whose interval (by owner activity) has passed since the last attempt."""
        policy = policy or SchedulePolicy()
        now_us = to_us(now)
        active_since = now_us - duration_us(policy.active_window)
        owner_active = and_(t.owners.c.last_active_at.is_not(None), t.owners.c.last_active_at >= active_since)
        last = t.connections.c.last_attempt_at
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
                select(t.cursors.c.cursor).where(
                    t.cursors.c.connection_id == connection_id, t.cursors.c.stream == stream
                )
            ).scalar()
        return None if text is None else jsonutil.loads(text)

    def commit_page(
        self, batch: PageBatch, *, tolerance: timedelta = timedelta(seconds=2), now: datetime | None = None
    ) -> MergeCounts:
        """Store one page's raws, merged transactions and advanced cursor in ONE transaction."""
        now_us = to_us(now or _now())
        with self._write() as conn:
            counts = merge_page(_Backend(conn), batch, tolerance=tolerance, now_us=now_us)
            cursor_text = jsonutil.dumps(batch.cursor)  # a failure here rolls the page back too
            conn.execute(
                sqlite_insert(t.cursors)
                .values(connection_id=batch.connection_id, stream=batch.stream, cursor=cursor_text,
                        updated_at=now_us)
                .on_conflict_do_update(
                    index_elements=["connection_id", "stream"],
                    set_={"cursor": cursor_text, "updated_at": now_us},
                )
            )
        return counts

    def reset_cursors(self, connection_id: str) -> None:
        """Forget a connection's cursors (its data stays)."""
        with self._write() as conn:
            conn.execute(delete(t.cursors).where(t.cursors.c.connection_id == connection_id))

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
        with self._read() as conn:
            us = conn.execute(
                select(func.max(t.transactions.c.ts)).where(t.transactions.c.account_id == account_id)
            ).scalar()
        return None if us is None else from_us(us)

    # -- the user's word ----------------------------------------------------------------------------

    def delete_transaction(self, transaction_id: str, reason: str | None = None) -> None:
        """Hide a transaction for good: no re-sync, full re-sync or new key brings it back."""
        self._require_transaction(transaction_id)
        with self._write() as conn:
            conn.execute(
                insert(t.tombstones).prefix_with("OR REPLACE"),
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
            conn.execute(
                insert(t.overrides).prefix_with("OR REPLACE"),
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
            found = conn.execute(
                select(t.transactions.c.id).where(t.transactions.c.id == transaction_id)
            ).scalar()
        if found is None:
            raise StoreError(f"no transaction {transaction_id!r}")

    # -- queries ------------------------------------------------------------------------------------

    def transactions(
        self, *, account_id: str | None = None, connection_id: str | None = None,
        since: datetime | None = None, until: datetime | None = None,
        kinds: Sequence[TransactionKind | str] | None = None, include_deleted: bool = False,
        batch_size: int = 2000,
    ) -> Iterator[LedgerTransaction]:
        """Transactions in time order (then id), with tombstones and overrides applied. Streams."""
        tx = t.transactions
        query = (
            select(tx, t.tombstones.c.transaction_id.label("tomb"), t.overrides)
            .outerjoin(t.tombstones, t.tombstones.c.transaction_id == tx.c.id)
            .outerjoin(t.overrides, t.overrides.c.transaction_id == tx.c.id)
            .order_by(tx.c.ts, tx.c.id)
        )
        if account_id is not None:
            query = query.where(tx.c.account_id == account_id)
        if connection_id is not None:
            query = query.where(
                tx.c.id.in_(
                    select(t.raw_transactions.c.transaction_id)
                    .where(t.raw_transactions.c.connection_id == connection_id)
                )
            )
        if since is not None:
            query = query.where(tx.c.ts >= to_us(since))
        if until is not None:
            query = query.where(tx.c.ts < to_us(until))
        if kinds is not None:
            query = query.where(tx.c.kind.in_([str(k) for k in kinds]))
        if not include_deleted:
            query = query.where(t.tombstones.c.transaction_id.is_(None))
        with self._read() as conn:
            result = conn.execution_options(yield_per=batch_size).execute(query).mappings()
            for row in result:
                yield _ledger(row)

    def get_transaction(self, transaction_id: str) -> LedgerTransaction:
        """One transaction (deleted ones included, flagged ``deleted``)."""
        tx = t.transactions
        query = (
            select(tx, t.tombstones.c.transaction_id.label("tomb"), t.overrides)
            .outerjoin(t.tombstones, t.tombstones.c.transaction_id == tx.c.id)
            .outerjoin(t.overrides, t.overrides.c.transaction_id == tx.c.id)
            .where(tx.c.id == transaction_id)
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise StoreError(f"no transaction {transaction_id!r}")
        return _ledger(row)

    def count_transactions(self, account_id: str | None = None, *, include_deleted: bool = False) -> int:
        """How many transactions (visible ones unless ``include_deleted``)."""
        tx = t.transactions
        query = select(func.count()).select_from(tx)
        if not include_deleted:
            query = query.where(~tx.c.id.in_(select(t.tombstones.c.transaction_id)))
        if account_id is not None:
            query = query.where(tx.c.account_id == account_id)
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
        statuses = [TransactionStatus.CONFIRMED.value]
        if include_pending:
            statuses.append(TransactionStatus.PENDING.value)
        query = (
            select(tx.c.body)
            .where(tx.c.account_id == account_id, tx.c.status.in_(statuses))
            .where(~tx.c.id.in_(select(t.tombstones.c.transaction_id)))
        )
        with self._read() as conn:
            for (body,) in conn.execution_options(yield_per=5000).execute(query):
                yield from effective(_loads_body(body)["parts"]).legs

    def provenance(self, transaction_id: str) -> list[RawTransaction]:
        """The raw records a transaction was built from, as received."""
        raw = t.raw_transactions
        with self._read() as conn:
            rows = conn.execute(
                select(raw).where(raw.c.transaction_id == transaction_id)
                .order_by(raw.c.connection_id, raw.c.stream, raw.c.source_id)
            ).mappings().all()
        return [
            RawTransaction(
                connection_id=r["connection_id"], account_id=r["account_id"], stream=r["stream"],
                source_id=r["source_id"], payload=jsonutil.loads(r["payload"]),
                fetched_at=from_us(r["fetched_at"]),
            )
            for r in rows
        ]

    def count_raws(self, connection_id: str | None = None) -> int:
        """How many raw records are stored."""
        query = select(func.count()).select_from(t.raw_transactions)
        if connection_id is not None:
            query = query.where(t.raw_transactions.c.connection_id == connection_id)
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
        """A connection's stored credential, or ``None``."""
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
        return StoredCredential(
            connection_id=connection_id, connector_id=row["connector_id"],
            public=jsonutil.loads(row["public"]), sealed={f: bytes(b) for f, b in blobs},
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
        return [(c, f, bytes(b)) for c, f, b in rows]

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

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"


# -- helpers -----------------------------------------------------------------------------------------


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit transactions are off).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
    finally:
        cur.close()


def _on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _connection(row: Mapping[str, Any]) -> ConnectionRecord:
    return ConnectionRecord(
        id=row["id"], account_id=row["account_id"], connector_id=row["connector_id"], label=row["label"],
        state=ConnectionState(row["state"]), state_reason=row["state_reason"],
        options=jsonutil.loads(row["options"]), created_at=from_us(row["created_at"]),
        last_attempt_at=_opt_dt(row["last_attempt_at"]), last_sync_at=_opt_dt(row["last_sync_at"]),
        last_success_at=_opt_dt(row["last_success_at"]),
    )


def _override(row: Mapping[str, Any]) -> Override:
    return Override(
        label=row["label"], note=row["note"],
        fiat_value=None if row["fiat_value"] is None else Decimal(row["fiat_value"]),
        fiat_currency=row["fiat_currency"],
    )


def _ledger(row: Mapping[str, Any]) -> LedgerTransaction:
    parts: dict[str, dict[str, Any]] = _loads_body(row["body"])["parts"]
    eff = effective(parts)
    primary = next(p for p in parts.values() if p["origin"] == eff.origin)
    external: dict[str, str] = {}
    sources: list[SourceRef] = []
    flags: set[str] = set()
    for part in parts.values():
        external.update(part.get("external_ids", {}))
        flags.update(part.get("flags", ()))
        sources.extend(
            SourceRef.model_construct(connection_id=s[0], stream=s[1], source_id=s[2])
            for s in part["sources"]
        )
    legs = tuple(
        Leg.model_construct(asset=leg[0], amount=Decimal(leg[1]), role=LegRole(leg[2]), wallet=leg[3])
        for leg in eff.legs
    )
    return LedgerTransaction.model_construct(
        id=row["id"], account_id=row["account_id"], kind=TransactionKind(eff.kind),
        timestamp=from_us(eff.ts), status=TransactionStatus(eff.status), legs=legs,
        origins=tuple(eff.origins.split(",")), external_ids=external, sources=tuple(sources),
        description=primary.get("description"), flags=frozenset(flags), meta=primary.get("meta", {}),
        parts=len(parts), label=row["label"], note=row["note"],
        fiat_value=None if row["fiat_value"] is None else Decimal(row["fiat_value"]),
        fiat_currency=row["fiat_currency"], deleted=row["tomb"] is not None,
    )


class _Backend:
    """The merge's view of the store inside one write transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def load_raws(self, connection_id: str, stream: str, source_ids: Sequence[str]) -> dict[str, StoredRaw]:
        raw = t.raw_transactions
        found: dict[str, StoredRaw] = {}
        for chunk in _chunks(list(source_ids)):
            rows = self.conn.execute(
                select(raw.c.source_id, raw.c.payload, raw.c.transaction_id).where(
                    raw.c.connection_id == connection_id, raw.c.stream == stream, raw.c.source_id.in_(chunk)
                )
            )
            for sid, payload, tid in rows:
                found[sid] = StoredRaw(payload, tid)
        return found

    def load_raw_links(self, refs: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
        for con, stream, sid in refs:
            grouped[(con, stream)].append(sid)
        links: dict[tuple[str, str, str], str] = {}
        for (con, stream), sids in grouped.items():
            for sid, stored in self.load_raws(con, stream, sids).items():
                if stored.transaction_id is not None:
                    links[(con, stream, sid)] = stored.transaction_id
        return links

    def load_transactions(self, ids: Sequence[str]) -> dict[str, StoredTransaction]:
        tx = t.transactions
        found: dict[str, StoredTransaction] = {}
        for chunk in _chunks(list(ids)):
            rows = self.conn.execute(
                select(tx.c.id, tx.c.account_id, tx.c.body, tx.c.created_at).where(tx.c.id.in_(chunk))
            )
            for tid, account_id, body, created in rows:
                found[tid] = StoredTransaction(tid, account_id, _loads_body(body)["parts"], body, created)
        return found

    def account_origins(self, account_id: str) -> set[str]:
        rows = self.conn.execute(
            select(t.account_origins.c.origin).where(t.account_origins.c.account_id == account_id)
        )
        return {origin for (origin,) in rows}

    def match_candidates(
        self, account_id: str, signature: str, ts_from: int, ts_to: int
    ) -> list[StoredTransaction]:
        tx = t.transactions
        rows = self.conn.execute(
            select(tx.c.id, tx.c.account_id, tx.c.body, tx.c.created_at).where(
                tx.c.account_id == account_id, tx.c.signature == signature, tx.c.ts.between(ts_from, ts_to)
            )
        )
        return [
            StoredTransaction(tid, acc, _loads_body(body)["parts"], body, created)
            for tid, acc, body, created in rows
        ]

    def window_candidates(
        self, account_id: str, ts_from: int, ts_to: int, limit: int
    ) -> list[StoredTransaction]:
        # Group matching (txsync.merge.WindowBackend): any signature, nearest the middle first.
        tx = t.transactions
        middle = (ts_from + ts_to) // 2
        rows = self.conn.execute(
            select(tx.c.id, tx.c.account_id, tx.c.body, tx.c.created_at)
            .where(tx.c.account_id == account_id, tx.c.ts.between(ts_from, ts_to))
            .order_by(func.abs(tx.c.ts - middle), tx.c.id)
            .limit(limit)
        )
        return [
            StoredTransaction(tid, acc, _loads_body(body)["parts"], body, created)
            for tid, acc, body, created in rows
        ]

    def write(self, writes: MergeWrites) -> None:
        # The hot path: plain executemany with named parameters (no per-row statement processing).
        conn = self.conn
        if writes.raws:
            conn.exec_driver_sql(_UPSERT_RAW, writes.raws)
        if writes.new_transactions:
            conn.exec_driver_sql(_INSERT_TX, writes.new_transactions)
        if writes.changed_transactions:
            conn.exec_driver_sql(_UPDATE_TX, writes.changed_transactions)
        if writes.origins:
            conn.execute(
                insert(t.account_origins).prefix_with("OR IGNORE"),
                [{"account_id": a, "origin": o} for a, o in sorted(writes.origins)],
            )


_UPSERT_RAW = (
    "INSERT INTO raw_transactions (connection_id, stream, source_id, account_id, transaction_id, payload, "
    "fetched_at) VALUES (:connection_id, :stream, :source_id, :account_id, :transaction_id, :payload, "
    ":fetched_at) ON CONFLICT (connection_id, stream, source_id) DO UPDATE SET "
    "account_id = excluded.account_id, transaction_id = excluded.transaction_id, "
    "payload = excluded.payload, fetched_at = excluded.fetched_at"
)
_INSERT_TX = (
    "INSERT INTO transactions (id, account_id, kind, ts, status, origins, signature, body, created_at, "
    "updated_at) VALUES (:id, :account_id, :kind, :ts, :status, :origins, :signature, :body, :created_at, "
    ":updated_at)"
)
_UPDATE_TX = (
    "UPDATE transactions SET kind = :kind, ts = :ts, status = :status, origins = :origins, "
    "signature = :signature, body = :body, updated_at = :updated_at WHERE id = :id"
)

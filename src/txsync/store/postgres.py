"""The PostgreSQL store: the same schema and migrations as SQLite, for hosts that outgrow one process.

``PostgresStore("postgresql+psycopg://user@host/db")`` (or :func:`txsync.store.open_store` with that URL)
connects through a connection pool, applies the migrations under an advisory lock (several workers may
start at once) and serves the same API as :class:`~txsync.store.SqliteStore`. What differs:

- transaction keys come from a sequence, and new ids are indexed as they are written (several writers
  commit in any order, so the bulk id index SQLite fills at the end of a sync does not apply);
- effective legs are JSONB, and balances are summed in SQL as NUMERIC (exact);
- every statement of the ingest path runs on the pooled connection's psycopg cursor, in one
  transaction per page, exactly as on SQLite.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from txsync import jsonutil
from txsync.errors import ConfigurationError, StoreError, UnknownConnectionError
from txsync.models import TransactionStatus
from txsync.store import schema as t
from txsync.store._ledger import LedgerDialect
from txsync.store._sql import SqlStore

__all__ = ["PostgresStore"]

#: The advisory lock key under which migrations run (any constant; "txsync" in ASCII).
_MIGRATION_LOCK = 0x747873796E63


def _allocate(cur: Any, n: int) -> list[int]:
    """``n`` new transaction keys from the sequence (increasing within one call)."""
    rows = cur.execute("SELECT nextval('transaction_seq') FROM generate_series(1, ?)", (n,)).fetchall()
    return sorted(int(r[0]) for r in rows)


class _QmarkCursor:
    """A psycopg cursor that takes the ingest path's ``?`` placeholders (translated once per text)."""

    __slots__ = ("_cur",)
    _texts: dict[str, str] = {}

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    @classmethod
    def _pg(cls, sql: str) -> str:
        converted = cls._texts.get(sql)
        if converted is None:
            converted = cls._texts[sql] = sql.replace("%", "%%").replace("?", "%s")
        return converted

    def execute(self, sql: str, params: Any = ()) -> _QmarkCursor:
        self._cur.execute(self._pg(sql), params)
        return self

    def executemany(self, sql: str, rows: Any) -> _QmarkCursor:
        rows = list(rows)
        if rows:
            self._cur.executemany(self._pg(sql), rows)
        return self

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> Any:
        return self._cur.fetchall()


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # JSONB comes back parsed exactly (non-integral numbers as Decimal), as txsync's own JSON.
    from psycopg.types.json import set_json_loads

    set_json_loads(jsonutil.loads_stored, dbapi_connection)


class PostgresStore(SqlStore):
    """The ledger in a PostgreSQL database (``postgresql+psycopg://...``)."""

    _ledger_dialect = LedgerDialect(_allocate, ids_now=True)

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 5, max_overflow: int = 10) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ConfigurationError("not a database URL (expected postgresql+psycopg://...)") from None
        if parsed.get_backend_name() != "postgresql":
            backend = parsed.get_backend_name()
            raise ConfigurationError(f"PostgresStore needs a postgresql URL, not {backend!r}")
        if parsed.get_driver_name() not in ("psycopg", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed
        self._engine = create_engine(
            parsed, echo=echo, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True,
        )
        event.listen(self._engine, "connect", _on_connect)
        self._init_store()
        try:
            self._migrate()
        except SQLAlchemyError as exc:
            self._engine.dispose()
            shown = parsed.render_as_string(hide_password=True)
            raise StoreError(f"cannot open the store at {shown}: {type(exc).__name__}") from exc

    # -- lifecycle ---------------------------------------------------------------------------------

    def _migrate(self) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", "txsync.store:migrations")
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with self._read() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        with self._write() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            if MigrationContext.configure(conn).get_current_revision() != head:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        self._keys.forget()

    def schema_version(self) -> str | None:
        """The applied migration revision."""
        with self._read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def close(self) -> None:
        """Release the pooled connections."""
        self._engine.dispose()

    @contextmanager
    def _hot_write(self) -> Iterator[Any]:
        with self._engine.connect() as conn, conn.begin():
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                yield _QmarkCursor(cur)

    def _upsert_owner(self, conn: Connection, owner_id: str, last_active_at: int | None) -> None:
        stmt = pg_insert(t.owners).values(id=owner_id, last_active_at=last_active_at)
        if last_active_at is None:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))
        else:
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["id"], set_={"last_active_at": last_active_at})
            )

    # -- balances in SQL ----------------------------------------------------------------------------

    def _sum_legs(self, account_id: str, include_pending: bool, by_wallet: bool) -> list[Any]:
        try:
            account_seq = self._keys.seq_of(account_id)
        except UnknownConnectionError:
            return []
        statuses = [TransactionStatus.CONFIRMED.value]
        if include_pending:
            statuses.append(TransactionStatus.PENDING.value)
        wallet = ", leg->>3" if by_wallet else ""
        query = text(
            f"SELECT leg->>0 AS asset{wallet}, SUM((leg->>1)::numeric) AS amount "  # noqa: S608 - constant
            "FROM transactions t CROSS JOIN LATERAL jsonb_array_elements(t.legs) AS leg "
            "WHERE t.account_seq = :a AND t.status = ANY(:statuses) "
            "AND NOT EXISTS (SELECT 1 FROM tombstones s WHERE s.transaction_id = t.id) "
            f"GROUP BY leg->>0{wallet}"
        )
        with self._read() as conn:
            return list(conn.execute(query, {"a": account_seq, "statuses": statuses}).all())

    def balances(self, account_id: str, *, include_pending: bool = False) -> dict[str, Decimal]:
        """Balances per asset, summed in SQL as NUMERIC over the visible confirmed transactions."""
        rows = self._sum_legs(account_id, include_pending, by_wallet=False)
        return {asset: Decimal(amount) for asset, amount in sorted(rows) if amount != 0}

    def wallet_balances(
        self, account_id: str, *, include_pending: bool = False
    ) -> dict[tuple[str, str | None], Decimal]:
        """Balances per (asset, wallet), summed in SQL."""
        totals: dict[tuple[str, str | None], Decimal] = defaultdict(Decimal)
        for asset, wallet, amount in self._sum_legs(account_id, include_pending, by_wallet=True):
            totals[(asset, wallet)] += Decimal(amount)
        return {
            k: v for k, v in sorted(totals.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")) if v != 0
        }

    def __repr__(self) -> str:
        return f"PostgresStore({self.url.render_as_string(hide_password=True)!r})"

"""Stores of either backend for the tests: SQLite files, and PostgreSQL databases cloned from a migrated
template (``CREATE DATABASE ... TEMPLATE``: ~50 ms each instead of running the migrations again).

PostgreSQL runs when ``TXSYNC_TEST_POSTGRES_URL`` names a server (a maintenance database of it, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, with the right to create databases); the tests
that need it are skipped, saying so, when it is unset. Set but unreachable is an error, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PG_ENV = "TXSYNC_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgres")
SKIP_POSTGRES = f"PostgreSQL store tests: set {PG_ENV}=postgresql+psycopg://USER@HOST:PORT/postgres to run them"


def postgres_url() -> str | None:
    """The server's maintenance database URL, or None when the PostgreSQL tests are not to run."""
    return os.environ.get(PG_ENV) or None


def _psycopg_dsn(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates a migrated template database once, then one database per store, dropped at the end."""

    def __init__(self, url: str) -> None:
        import psycopg

        from txsync.store import PostgresStore

        self.url = url
        self._admin = psycopg.connect(_psycopg_dsn(url), autocommit=True)
        self.template = f"txsync_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._admin.execute(f'CREATE DATABASE "{self.template}"')
        store = PostgresStore(_psycopg_dsn(url, self.template).replace("postgresql://", "postgresql+psycopg://"))
        store.close()
        self._made: list[str] = []

    def url_of(self, database: str) -> str:
        return _psycopg_dsn(self.url, database).replace("postgresql://", "postgresql+psycopg://")

    def new_database(self) -> str:
        name = f"txsync_t_{uuid.uuid4().hex[:16]}"
        self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self._made.append(name)
        return name

    def new_store(self) -> Any:
        from txsync.store import PostgresStore

        return PostgresStore(self.url_of(self.new_database()), pool_size=2, max_overflow=4)

    def drop(self, name: str) -> None:
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._made:
            self._made.remove(name)

    def close(self) -> None:
        for name in [*self._made, self.template]:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin.close()


def make_store_factory(backend: str, tmp_path: Path, databases: Callable[[], PostgresDatabases]) -> tuple[
    Callable[[], Any], Callable[[], None]
]:
    """``(make, cleanup)``: ``make()`` opens a fresh empty store of ``backend``."""
    from txsync.store import SqliteStore

    made: list[Any] = []

    def make() -> Any:
        if backend == "sqlite":
            store: Any = SqliteStore(tmp_path / f"ledger-{len(made)}.sqlite3")
        else:
            store = databases().new_store()
        made.append(store)
        return store

    def cleanup() -> None:
        for store in made:
            store.close()
            if backend == "postgres":
                databases().drop(store.url.database)

    return make, cleanup


def require_postgres() -> str:
    """The URL, or skip the test saying which variable to set."""
    url = postgres_url()
    if url is None:
        pytest.skip(SKIP_POSTGRES)
    return url


def database_bytes(store: Any) -> bytes:
    """Everything the store's database holds, as bytes to search: a SQLite file with its write-ahead
    log, or every row of every table of a PostgreSQL database (bytea values raw)."""
    if getattr(store, "path", None) is not None:
        path = Path(str(store.path))
        data = path.read_bytes()
        wal = Path(f"{path}-wal")
        return data + (wal.read_bytes() if wal.exists() else b"")
    from sqlalchemy import inspect, text

    chunks: list[bytes] = []
    with store._engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 - table names
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        chunks.append(bytes(value))
                    elif value is not None:
                        chunks.append(str(value).encode())
    return b"\n".join(chunks)


def schema_head() -> str:
    """The newest migration revision (what a freshly opened store is at)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "txsync.store:migrations")
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head

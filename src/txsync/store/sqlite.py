"""The embedded default store: SQLite through SQLAlchemy Core, WAL, versioned migrations.

Zero configuration: ``SqliteStore()`` opens (and creates, and migrates) the file at
:func:`default_store_path`. Every write runs in one ``BEGIN IMMEDIATE`` transaction, so a page's
raws, transactions and cursor are stored together or not at all; reads run in short deferred
transactions, which under WAL never block a writer. A writer waits for another writer up to the busy
timeout, then fails with :class:`~txsync.errors.StoreBusyError`.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from txsync.errors import StoreBusyError, StoreError
from txsync.store import schema as t
from txsync.store._sql import SqlStore

__all__ = ["SqliteStore", "default_store_path"]

#: How long a write waits for another writer before giving up (seconds).
DEFAULT_BUSY_TIMEOUT = 10.0
#: Page cache per connection (KiB): the ingest path's indexes stay in memory up to millions of rows.
_CACHE_KIB = 64 * 1024
_PAGE_SIZE = 8192
#: Checkpoint the write-ahead log every 32 MiB (not SQLite's 4 MiB): fewer copies of hot pages.
_WAL_CHECKPOINT_PAGES = 4000
#: How often a pending erasure tries again to empty the write-ahead log (seconds).
_ERASE_RETRY_SECONDS = 1.0


def default_store_path() -> Path:
    """``$TXSYNC_HOME/txsync.sqlite3``, else ``$XDG_DATA_HOME/txsync/...``, else ``~/.local/share``."""
    home = os.environ.get("TXSYNC_HOME")
    if home:
        return Path(home) / "txsync.sqlite3"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "txsync" / "txsync.sqlite3"


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (SQLite gives its WAL and shared-memory
    files the same mode): a ledger is private financial history. An existing file readable by others is
    made private, or refused if that is not possible."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)
        return
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            try:
                os.chmod(candidate, mode & 0o700)
            except OSError as exc:
                raise StoreError(
                    f"the ledger {candidate} is readable by other users (mode {mode:o}) and cannot be made "
                    f"private ({exc.strerror}): chmod 600 it"
                ) from None


class SqliteStore(SqlStore):
    """The ledger in one SQLite file (or ``":memory:"`` for tests)."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, echo: bool = False,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.path: Path | str = ":memory:" if path == ":memory:" else Path(path or default_store_path())
        self.busy_timeout = busy_timeout
        # An erasure whose write-ahead log could not be emptied yet (a reader held an older snapshot),
        # and when it may be tried again (monotonic seconds).
        self._erase_pending = False
        self._erase_retry_at = 0.0
        if self.path == ":memory:":
            self._engine: Engine = create_engine(
                "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}, echo=echo
            )
        else:
            assert isinstance(self.path, Path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(self.path)
            self._engine = create_engine(
                f"sqlite:///{self.path}",
                connect_args={"check_same_thread": False, "timeout": busy_timeout},
                echo=echo,
            )
        event.listen(self._engine, "connect", self._on_connect)
        event.listen(self._engine, "begin", _on_begin)
        self._init_store()
        try:
            self._migrate()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the store at {self.path}: {type(exc).__name__}") from exc

    # -- lifecycle ---------------------------------------------------------------------------------

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit transactions are off).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            # 8 KiB pages for a new file (13 % less CPU per ingested row than 4 KiB: fewer splits of the
            # big transaction rows); an existing file keeps its page size.
            cur.execute(f"PRAGMA page_size={_PAGE_SIZE}")
            if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute(f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}")
        finally:
            cur.close()

    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", "txsync.store:migrations")
        return cfg

    def _migrate(self) -> None:
        cfg = self._alembic_config()
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with self._read() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return  # nothing to write: opening a current store never takes the write lock
        with self._write() as conn:
            cfg.attributes["connection"] = conn
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            command.upgrade(cfg, "head")
        self._keys.forget()

    def schema_version(self) -> str | None:
        """The applied migration revision."""
        with self._read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def close(self) -> None:
        """Release the database (emptying the write-ahead log of an erasure first, if it can)."""
        if self._erase_pending:
            self._after_erase()
        self._engine.dispose()

    def _after_erase(self) -> None:
        """Copy erased pages into the file and empty the write-ahead log, without waiting.

        A ``TRUNCATE`` checkpoint waits for every reader of an older snapshot and holds off every
        writer meanwhile: one long reader in another process made an erasure block all writes for
        the busy timeout, and a concurrent sync fail with "database is locked". So it runs without a
        busy handler: when a reader (or a writer) is in the way it copies what it can now and the
        erasure stays pending, retried after later writes (at most once a second: each attempt
        copies pages and syncs the file) and on :meth:`close` until the log is empty. (The reader
        itself still sees its snapshot, erased data included, until it ends.)"""
        if self.path == ":memory:":
            return
        with self._engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            cur = raw.cursor()
            try:
                cur.execute("PRAGMA busy_timeout=0")
                busy = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.OperationalError:
                busy = 1
            finally:
                cur.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
                cur.close()
        self._erase_pending = busy != 0
        self._erase_retry_at = time.monotonic() + _ERASE_RETRY_SECONDS

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with super()._write() as conn:
                yield conn
        except OperationalError as exc:
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise StoreBusyError(
                    f"the ledger {self.path} stayed locked by another writer for {self.busy_timeout:g} s"
                ) from None
            raise
        if self._erase_pending and time.monotonic() >= self._erase_retry_at:
            self._after_erase()

    @contextmanager
    def _hot_write(self) -> Iterator[Any]:
        with self._engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            cur = raw.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                cur.close()
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreBusyError(
                        f"the ledger {self.path} stayed locked by another writer for {self.busy_timeout:g} s"
                    ) from None
                raise
            try:
                yield cur
            except BaseException:
                if raw.in_transaction:
                    raw.rollback()
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()
        if self._erase_pending and time.monotonic() >= self._erase_retry_at:
            self._after_erase()

    def _upsert_owner(self, conn: Connection, owner_id: str, last_active_at: int | None) -> None:
        stmt = sqlite_insert(t.owners).values(id=owner_id, last_active_at=last_active_at)
        if last_active_at is None:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))
        else:
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["id"], set_={"last_active_at": last_active_at})
            )

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"


def _on_begin(conn: Connection) -> None:
    # Writes take the write lock up front (no deadlock between two readers upgrading); reads are
    # deferred and, under WAL, never block a writer.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("txsync_write") else "BEGIN")

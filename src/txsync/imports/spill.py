"""An external sort for import rows: what does not fit in memory goes to a private temporary file.

Built on SQLite (in the standard library): a private temporary database (deleted when closed) whose
page cache is capped, so sorting a file of any size takes a bounded amount of memory; SQLite's sorter
spills to disk beyond the cache. Rows are (sort key, payload) pairs; keys compare as bytes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

__all__ = ["Spill"]

_BATCH = 2000
_CACHE_KIB = 8 * 1024


class Spill:
    """Rows added in any order, read back sorted by key (ties in insertion order).

    ``table`` names let one spill hold several sorts (the txsync template sorts rows, then groups).
    Not for concurrent use; it may be handed from thread to thread (one user at a time).
    """

    def __init__(self) -> None:
        # "" = a private temporary on-disk database, removed when the connection closes.
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        self._db.execute("PRAGMA temp_store = FILE")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._pending: dict[str, list[tuple[bytes, str]]] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _ensure(self, table: str) -> None:
        if table not in self._counts:
            if not table.isidentifier():
                raise ValueError(f"bad spill table name {table!r}")
            self._db.execute(f"CREATE TABLE {table} (k BLOB NOT NULL, v TEXT NOT NULL)")
            self._counts[table] = 0
            self._pending[table] = []

    def add(self, key: bytes, value: str, table: str = "rows") -> None:
        """Add one row."""
        self._ensure(table)
        pending = self._pending[table]
        pending.append((key, value))
        self._counts[table] += 1
        if len(pending) >= _BATCH:
            self._flush(table)

    def _flush(self, table: str) -> None:
        pending = self._pending.get(table)
        if pending:
            with self._lock:
                self._db.execute("BEGIN")
                self._db.executemany(f"INSERT INTO {table} (k, v) VALUES (?, ?)", pending)  # noqa: S608
                self._db.execute("COMMIT")
            pending.clear()

    def count(self, table: str = "rows") -> int:
        """Rows added to ``table``."""
        return self._counts.get(table, 0)

    def sorted(self, table: str = "rows") -> Iterator[tuple[bytes, str]]:
        """Every row of ``table`` by key (an iterator: the rows are read as they are consumed)."""
        if table not in self._counts:
            return
        self._flush(table)
        cursor = self._db.execute(f"SELECT k, v FROM {table} ORDER BY k, rowid")  # noqa: S608
        try:
            while True:
                with self._lock:
                    batch = cursor.fetchmany(_BATCH)
                if not batch:
                    return
                yield from batch
        finally:
            if not self._closed:  # a reader abandoned after the import ended needs no cleanup
                cursor.close()

    def query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Run a read-only query over the spill (duplicate checks and the like)."""
        for table in self._counts:
            self._flush(table)
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    def drop(self, table: str) -> None:
        """Forget ``table`` (its disk space is reused)."""
        if table in self._counts:
            with self._lock:
                self._db.execute(f"DROP TABLE {table}")
            del self._counts[table]
            del self._pending[table]

    def close(self) -> None:
        """Delete the spill (readers still open end with it)."""
        self._closed = True
        self._db.close()

    def __repr__(self) -> str:
        return f"<Spill {self._counts}>"

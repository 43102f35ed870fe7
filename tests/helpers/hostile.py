"""Helpers of the hostile-input tests: what a store holds, read straight from its SQLite file."""

from __future__ import annotations

import sqlite3
from typing import Any

from txsync import jsonutil
from txsync.store import SqliteStore


def stored_raws(store: SqliteStore, connection_id: str | None = None) -> dict[tuple[str, str], Any]:
    """Every raw record in the store: ``{(stream, source_id): payload}``."""
    db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        query = "SELECT stream, source_id, payload FROM raw_transactions"
        args: tuple[str, ...] = ()
        if connection_id is not None:
            query += " WHERE connection_id = ?"
            args = (connection_id,)
        return {(stream, sid): jsonutil.loads(payload) for stream, sid, payload in db.execute(query, args)}
    finally:
        db.close()


def source_ids(store: SqliteStore, connection_id: str, stream: str) -> set[str]:
    """The source ids of one stream's raws."""
    return {sid for (name, sid) in stored_raws(store, connection_id) if name == stream}

"""Shared fixtures."""

from __future__ import annotations

import pytest

from txsync.store import SqliteStore


@pytest.fixture
def store(tmp_path: object) -> SqliteStore:
    """A fresh on-disk SQLite store (WAL, migrations applied)."""
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    s = SqliteStore(tmp_path / "ledger.sqlite3")
    yield s  # type: ignore[misc]
    s.close()

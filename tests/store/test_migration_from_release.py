"""A ledger written by release 0.1.0 (schema 0002) opens under the ingest layout (0003) with every
ledger, edit, tombstone, credential and cursor kept, and syncs on as if nothing happened."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from helpers.backends import schema_head
from helpers.demo import demo_engine
from txsync.engine import SyncMode
from txsync.store import SqliteStore
from txsync.testing.demo_sandbox import DemoSandbox

FIXTURES = Path(__file__).parent / "fixtures"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_release_db", FIXTURES / "make_release_db.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteStore:
    gen = _generator()
    monkeypatch.setenv("TXSYNC_MASTER_KEY", gen.FIXTURE_MASTER_KEY)
    path = tmp_path / "ledger.sqlite3"
    con = sqlite3.connect(path)
    con.executescript((FIXTURES / "release_0_1_0.sql").read_text())
    con.close()
    path.chmod(0o600)
    store = SqliteStore(path)
    yield store  # type: ignore[misc]
    store.close()


def test_every_ledger_edit_credential_and_cursor_survives_the_upgrade(migrated: SqliteStore) -> None:
    expected: dict[str, Any] = json.loads((FIXTURES / "release_0_1_0.json").read_text())
    assert expected.pop("schema_version") == "0002"
    got = _generator().describe(migrated)
    assert got.pop("schema_version") == schema_head()
    got = json.loads(json.dumps(got, sort_keys=True))
    for key in sorted(expected):
        assert got[key] == expected[key], key


def test_the_upgraded_ledger_syncs_on_without_changes(migrated: SqliteStore) -> None:
    sandbox = DemoSandbox()
    engine = demo_engine(migrated, sandbox)
    before = [(tx.id, tx.label, tx.note, tx.deleted) for tx in migrated.transactions(
        account_id="acc-demo", include_deleted=True)]
    for mode in (SyncMode.INCREMENTAL, SyncMode.FULL):
        report = asyncio.run(engine.sync("con-demo", mode))
        assert report.ok, report.errors
        assert (report.total("new"), report.total("updated")) == (0, 0), mode
    after = [(tx.id, tx.label, tx.note, tx.deleted) for tx in migrated.transactions(
        account_id="acc-demo", include_deleted=True)]
    assert after == before
    deleted = [tx for tx in after if tx[3]]
    assert len(deleted) == 1 and deleted[0][2] == "deleted but annotated"
    # lookups by id work (the id index was filled in bulk by the migration)
    for tx_id, *_ in before[:20]:
        assert migrated.get_transaction(tx_id).id == tx_id

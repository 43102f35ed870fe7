"""Corrupt credential rows are typed vault errors (issue 11, item 5).

Someone with write access to the database (or a bad restore) can put anything in the credential
tables: a sealed blob stored as text, a float or a huge integer (SQLite columns take any type), public
fields that are not JSON. Opening such a credential raises :class:`TamperedError` or a
:class:`VaultError` naming the connection, never ``TypeError`` / ``MemoryError`` / a "bad response",
and a sync reports it without touching the ledger.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from helpers.demo import demo_engine
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.errors import TamperedError, VaultError
from txsync.models import Credential
from txsync.store import SqliteStore
from txsync.store import schema as t
from txsync.vault import LocalKMS, VaultCredentials


def _vault(store: Any, tmp_path: Path) -> VaultCredentials:
    # A key file of the test's own on either backend (the database server's tests set no other).
    return VaultCredentials(store, LocalKMS.from_file(tmp_path / "master.key", create=True))


def _credential() -> Credential:
    return Credential(
        connector_id="demo", public={"label": "main"},
        secrets={"api_key": "k-0123456789", "api_secret": "s-0123456789"},
    )


def _connected(store: Any, vault: VaultCredentials) -> Any:
    account = store.add_account("alice", "demo")
    connection = store.add_connection(account.id)
    vault.put(connection, _credential())
    return connection


# A blob of another SQL type, written behind the store's back (SQLite columns take any type).
_WRONG_TYPES: dict[str, object] = {
    "text": "c2VjcmV0",
    "float": 1.5,
    "integer": 42,
    "largest integer": 2**63 - 1,
    "huge integer (stored as real)": 1e29,
    "oversized blob": bytes(2_000_000),
}


@pytest.mark.parametrize("value", list(_WRONG_TYPES.values()), ids=list(_WRONG_TYPES))
def test_a_sealed_blob_of_another_sql_type_is_tampered(tmp_path: Path, value: object) -> None:
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    vault = _vault(store, tmp_path)
    connection = _connected(store, vault)
    with sqlite3.connect(tmp_path / "ledger.sqlite3") as db:
        db.execute("UPDATE sealed_secrets SET blob = ? WHERE field = 'api_secret'", (value,))
    with pytest.raises(TamperedError, match=f"connection {connection.id!r}") as caught:
        vault.open(connection)
    assert "api_secret" in str(caught.value) and "s-0123456789" not in str(caught.value)
    with pytest.raises(TamperedError):
        store.sealed_blobs()  # rotation and key reports read every blob the same way
    store.close()


_GARBLED_PUBLIC = {
    "not JSON": "{label: main",
    "a JSON list": '["main"]',
    "a number in a field": '{"label": 1}',
    "NaN": '{"label": NaN}',
    "nested too deep": "[" * 200 + "]" * 200,
    "empty": "",
}


@pytest.mark.parametrize("text", list(_GARBLED_PUBLIC.values()), ids=list(_GARBLED_PUBLIC))
def test_garbled_public_fields_are_a_vault_error_naming_the_connection(
    store_factory: Callable[[], Any], tmp_path: Path, text: str
) -> None:
    store = store_factory()
    vault = _vault(store, tmp_path)
    connection = _connected(store, vault)
    with store._write() as conn:
        conn.execute(update(t.credentials).values(public=text))
    with pytest.raises(VaultError, match=f"connection {connection.id!r}"):
        vault.open(connection)
    with pytest.raises(VaultError):
        store.get_credential(connection.id)


async def test_a_sync_with_a_tampered_blob_reports_it_and_stores_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    vault = _vault(store, tmp_path)
    engine = demo_engine(store, DemoSandbox(), credentials=vault)
    connection = _connected(store, vault)
    with sqlite3.connect(tmp_path / "ledger.sqlite3") as db:
        db.execute("UPDATE sealed_secrets SET blob = 'x' WHERE field = 'api_key'")
    report = await engine.sync(connection.id)
    assert not report.ok and report.errors[0].startswith("TamperedError")
    assert store.count_transactions() == 0 and store.count_raws() == 0
    store.close()

"""The vault in the engine: only sealed secrets reach the database, keys are opened just in time,
read-only rights are enforced before a key is saved and re-checked on every sync, and no secret
shows up anywhere (logs at DEBUG, reports, reprs, errors, pickles, the SQLite file and its WAL)."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

from helpers.demo import demo_engine
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.engine import ReadOnlyPolicy
from txsync.errors import AuthError, PermissionDeniedError, TxsyncError
from txsync.models import Credential
from txsync.store import ConnectionState, SqliteStore
from txsync.vault import LocalKMS, VaultCredentials, open_blob, seal
from txsync.vault.envelope import SealContext

SENTINEL_KEY = "sentinel-key-7c1e0b9a4f3d2e8b"
SENTINEL = "SENTINEL-SECRET-d41d8cd98f00b204e980"


def sentinel_credential() -> Credential:
    return Credential(connector_id="demo", secrets={"api_key": SENTINEL_KEY, "api_secret": SENTINEL})


def sandbox(**kw: Any) -> DemoSandbox:
    return DemoSandbox(api_key=SENTINEL_KEY, secret=SENTINEL, **kw)


@pytest.fixture
def file_store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "ledger.sqlite3")


def vaulted(store: SqliteStore, tmp_path: Path) -> VaultCredentials:
    return VaultCredentials(store, LocalKMS.from_file(tmp_path / "master.key", create=True))


def scan_database(tmp_path: Path, *needles: str) -> list[str]:
    found = []
    for path in tmp_path.glob("ledger.sqlite3*"):
        data = path.read_bytes()
        found += [f"{path.name}: {needle[:4]}..." for needle in needles if needle.encode() in data]
    return found


async def test_syncs_with_sealed_credentials_leave_no_secret_in_the_database(
    file_store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    box = sandbox(faults={3: "500", 6: "429-0", 9: "truncated"})
    engine = demo_engine(file_store, box, credentials=vaulted(file_store, tmp_path))
    connection, warnings = await engine.connect_verified("alice", sentinel_credential())
    assert warnings == []
    first = await engine.sync(connection.id)
    second = await engine.sync(connection.id)
    assert first.ok and second.ok and file_store.count_transactions(connection.account_id) > 100
    # the WAL is still there (not checkpointed) while the store is open: scan it too
    assert scan_database(tmp_path, SENTINEL, SENTINEL_KEY) == []
    stored = file_store.get_credential(connection.id)
    assert stored is not None and set(stored.sealed) == {"api_key", "api_secret"}
    assert SENTINEL not in repr(stored) and SENTINEL not in str(stored.model_dump())
    file_store.close()
    assert scan_database(tmp_path, SENTINEL, SENTINEL_KEY) == []
    for text in (caplog.text, first.model_dump_json(), second.model_dump_json(), repr(engine.credentials)):
        assert SENTINEL not in text and SENTINEL_KEY not in text


async def test_a_key_that_can_withdraw_or_transfer_is_never_saved(file_store: SqliteStore, tmp_path: Path) -> None:
    for right in ("canWithdraw", "canTransfer"):
        box = sandbox()
        box.permissions[right] = True
        engine = demo_engine(file_store, box, credentials=vaulted(file_store, tmp_path))
        with pytest.raises(PermissionDeniedError):
            await engine.connect_verified("alice", sentinel_credential())
    assert file_store.list_connections() == [] and file_store.sealed_blobs() == []


async def test_trading_keys_are_saved_only_when_the_host_allows_them(file_store: SqliteStore, tmp_path: Path) -> None:
    box = sandbox()
    box.permissions["canTrade"] = True
    strict = demo_engine(file_store, box, credentials=vaulted(file_store, tmp_path))
    with pytest.raises(PermissionDeniedError, match="can trade"):
        await strict.connect_verified("alice", sentinel_credential())
    lenient = demo_engine(
        file_store, box, credentials=vaulted(file_store, tmp_path), permissions=ReadOnlyPolicy(allow_trading=True)
    )
    connection, _ = await lenient.connect_verified("alice", sentinel_credential())
    assert (await lenient.sync(connection.id)).ok


async def test_a_wrong_key_is_never_saved(file_store: SqliteStore, tmp_path: Path) -> None:
    engine = demo_engine(file_store, sandbox(), credentials=vaulted(file_store, tmp_path))
    wrong = Credential(connector_id="demo", secrets={"api_key": SENTINEL_KEY, "api_secret": "wrong-secret-123456"})
    with pytest.raises(AuthError) as caught:
        await engine.connect_verified("alice", wrong)
    assert "wrong-secret-123456" not in str(caught.value)
    assert file_store.list_connections() == []


async def test_no_ip_restriction_is_a_warning_at_connect_time(file_store: SqliteStore, tmp_path: Path) -> None:
    box = sandbox()
    box.permissions["ipRestrict"] = False
    engine = demo_engine(file_store, box, credentials=vaulted(file_store, tmp_path))
    _, warnings = await engine.connect_verified("alice", sentinel_credential())
    assert any("IP restriction" in w for w in warnings)


async def test_rights_widened_later_disable_the_connection_on_the_next_sync(
    file_store: SqliteStore, tmp_path: Path
) -> None:
    box = sandbox()
    engine = demo_engine(file_store, box, credentials=vaulted(file_store, tmp_path))
    connection, _ = await engine.connect_verified("alice", sentinel_credential())
    assert (await engine.sync(connection.id)).ok
    box.permissions["canWithdraw"] = True  # the user edited the key on the exchange
    before = box.requests
    report = await engine.sync(connection.id)
    assert report.state == ConnectionState.DISABLED and "withdraw" in (report.state_reason or "")
    assert box.requests == before + 1  # only the permission check: nothing synced with that key
    # a replaced read-only key brings it back; a refused replacement keeps the old (disabled) state
    box.permissions["canWithdraw"] = False
    again, _ = await engine.replace_credential_verified(connection.id, sentinel_credential())
    assert again.state == ConnectionState.ACTIVE


async def test_a_credential_copied_to_another_connection_does_not_open(
    file_store: SqliteStore, tmp_path: Path
) -> None:
    vault = vaulted(file_store, tmp_path)
    engine = demo_engine(file_store, sandbox(), credentials=vault)
    first = engine.connect("alice", sentinel_credential(), verify=False)
    second = engine.connect("alice", sentinel_credential(), verify=False)
    stolen = file_store.get_credential(first.id)
    assert stolen is not None
    file_store.put_credential(second.id, "demo", {}, stolen.sealed)  # an attacker with SQL access
    report = await engine.sync(second.id)
    assert not report.ok and "TamperedError" in report.errors[0]
    assert file_store.count_transactions() == 0  # nothing synced, nothing stored
    assert SENTINEL not in report.model_dump_json()


async def test_a_lost_master_key_is_a_clear_sync_error(file_store: SqliteStore, tmp_path: Path) -> None:
    engine = demo_engine(file_store, sandbox(), credentials=vaulted(file_store, tmp_path))
    connection = engine.connect("alice", sentinel_credential(), verify=False)
    other_key = LocalKMS.from_file(tmp_path / "other.key", create=True)
    engine.credentials = VaultCredentials(file_store, other_key)
    report = await engine.sync(connection.id)
    assert not report.ok and "wrong or replaced master key" in report.errors[0]
    assert file_store.get_connection(connection.id).state == ConnectionState.ACTIVE


async def test_every_object_holding_a_credential_hides_it(file_store: SqliteStore, tmp_path: Path) -> None:
    credential = sentinel_credential()
    vault = vaulted(file_store, tmp_path)
    engine = demo_engine(file_store, sandbox(), credentials=vault)
    connection = engine.connect("alice", credential, verify=False)
    context = engine._context(connection)
    from txsync.connectors.demo import DemoExchange

    connector = DemoExchange(context)
    holders: list[Any] = [credential, context, connector, vault, vault.kms, engine, getattr(connector, "http", None)]
    for holder in holders:
        if holder is None:
            continue
        for text in (repr(holder), str(holder), f"{holder}", format(holder, "")):
            assert SENTINEL not in text and SENTINEL_KEY not in text, type(holder).__name__
    assert SENTINEL not in json.dumps(credential.model_dump(mode="json"))
    assert SENTINEL not in credential.model_dump_json() and SENTINEL not in str(credential.model_dump())
    for holder in (credential, vault, vault.kms):
        with pytest.raises(TypeError):
            pickle.dumps(holder)
    await connector.aclose()


async def test_a_forced_exception_path_leaks_nothing(
    file_store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    box = sandbox(faults={4: "401"})
    engine = demo_engine(file_store, box, credentials=vaulted(file_store, tmp_path))
    connection = engine.connect("alice", sentinel_credential(), verify=False)
    report = await engine.sync(connection.id)
    assert report.state == ConnectionState.DISABLED
    errors: list[str] = []
    try:
        seal(vaulted(file_store, tmp_path).kms, SENTINEL.encode(), SealContext("a", "b", "c", "d"))
        open_blob(LocalKMS.from_file(tmp_path / "x.key", create=True), b"TXSV\x01\x01" + SENTINEL.encode(), SealContext("a", "b", "c", "d"))
    except TxsyncError as exc:
        errors.append(f"{exc!r} {exc}")
    assert errors
    for text in (caplog.text, report.model_dump_json(), *errors):
        assert SENTINEL not in text and SENTINEL_KEY not in text

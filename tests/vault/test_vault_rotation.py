"""Rotation: a new primary version, every data key re-wrapped without touching a payload, old blobs
readable until then, the old version retired, and a blob that still needs it failing closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from txsync.cli import main
from txsync.errors import ConfigurationError, KeyUnavailableError
from txsync.models import Credential
from txsync.store import SqliteStore
from txsync.vault import LocalKMS, VaultCredentials, key_usage, read_header, retire_version, rewrap_all


def setup(tmp_path: Path, connections: int = 3) -> tuple[SqliteStore, LocalKMS, list[str]]:
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    kms = LocalKMS.from_file(tmp_path / "master.key", create=True)
    vault = VaultCredentials(store, kms)
    ids = []
    for n in range(connections):
        connection = store.add_connection(store.add_account(f"owner{n}", "demo").id)
        vault.put(connection, Credential(
            connector_id="demo", secrets={"api_key": f"key-{n}-abcdef", "api_secret": f"secret-{n}-abcdef"}
        ))
        ids.append(connection.id)
    return store, kms, ids


def versions(store: SqliteStore) -> dict[str, int]:
    return {ref.version: count for ref, count in key_usage(store).items()}


def test_full_rotation(tmp_path: Path) -> None:
    store, kms, ids = setup(tmp_path)
    vault = VaultCredentials(store, kms)
    assert versions(store) == {"1": 6}
    payloads_before = {(c, f): b[read_header(b).body_offset - 12:] for c, f, b in store.sealed_blobs()}

    assert kms.add_version().version == "2"
    # old blobs stay readable; new seals use version 2
    assert vault.open(store.get_connection(ids[0])).secret("api_secret") == "secret-0-abcdef"
    extra = store.add_connection(store.add_account("late", "demo").id)
    vault.put(extra, Credential(connector_id="demo", secrets={"api_key": "late-key-123"}))
    assert versions(store) == {"1": 6, "2": 1}

    with pytest.raises(ConfigurationError, match="still protects 6 sealed secret"):
        retire_version(store, kms, "1")

    report = rewrap_all(store, kms)
    assert (report.rewrapped, report.already_primary, report.failed) == (6, 1, [])
    assert versions(store) == {"2": 7}
    payloads_after = {(c, f): b[read_header(b).body_offset - 12:] for c, f, b in store.sealed_blobs()}
    for where, payload in payloads_before.items():
        assert payloads_after[where] == payload  # nonce, ciphertext and tag untouched

    retire_version(store, kms, "1")
    reopened = LocalKMS.from_file(tmp_path / "master.key")  # the retirement is on disk
    assert [(v.key.version, v.primary, v.retired) for v in reopened.versions()] == [("2", True, False), ("1", False, True)]
    assert "key" not in (tmp_path / "master.key").read_text().split('"1"')[1].split("}")[0]  # material gone
    for connection_id in ids:
        assert VaultCredentials(store, reopened).open(store.get_connection(connection_id)).has("api_secret")
    store.close()


def test_a_blob_still_under_a_retired_version_fails_closed(tmp_path: Path) -> None:
    store, kms, ids = setup(tmp_path, connections=1)
    kms.add_version()
    retire_version(store, kms, "1", force=True)
    with pytest.raises(KeyUnavailableError, match="retired"):
        VaultCredentials(store, kms).open(store.get_connection(ids[0]))
    report = rewrap_all(store, kms)  # cannot re-wrap what cannot be unwrapped: reported, not raised
    assert report.rewrapped == 0 and len(report.failed) == 2
    store.close()


def test_the_primary_version_cannot_be_retired(tmp_path: Path) -> None:
    store, kms, _ = setup(tmp_path, connections=0)
    with pytest.raises(ConfigurationError, match="primary"):
        kms.retire("1")
    store.close()


def test_vault_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TXSYNC_MASTER_KEY", raising=False)
    monkeypatch.delenv("TXSYNC_MASTER_KEY_FILE", raising=False)
    store, _, _ = setup(tmp_path, connections=2)
    store.close()
    db = str(tmp_path / "ledger.sqlite3")
    assert main(["vault", "status", "--db", db]) == 0
    assert "version 1     primary       4 sealed secrets" in capsys.readouterr().out
    assert main(["vault", "retire", "1", "--db", db]) == 1
    assert "still protects 4 sealed secret" in capsys.readouterr().out
    assert main(["vault", "rotate", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Re-wrapped 4 data keys" in out and "version 1     active        0 sealed secrets" in out
    assert main(["vault", "retire", "1", "--db", db]) == 0
    assert "version 1     retired       0 sealed secrets" in capsys.readouterr().out

"""The local KMS: a private key file created atomically, the environment variable, the OS keyring,
and clear errors for a missing, wrong or exposed master key."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest

from txsync.errors import ConfigurationError, KeyUnavailableError, MasterKeyError
from txsync.models import Credential
from txsync.store import SqliteStore
from txsync.vault import (
    ENV_MASTER_KEY,
    LocalKMS,
    SealContext,
    VaultCredentials,
    generate_master_key,
    local_kms,
    open_blob,
    seal,
)

CTX = SealContext("alice", "con_1", "demo", "api_secret")


def test_the_key_file_is_created_with_mode_0600_from_its_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        opened.append((str(path), flags, mode))
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", spy)
    old_umask = os.umask(0)  # the most permissive umask: the file must still be private
    try:
        kms = LocalKMS.from_file(tmp_path / "keys" / "master.key", create=True)
    finally:
        os.umask(old_umask)
    key_file = tmp_path / "keys" / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    creates = [(p, m) for p, f, m in opened if f & os.O_CREAT]
    assert creates and all(m == 0o600 for _, m in creates)
    assert all(f & os.O_EXCL for p, f, m in opened if f & os.O_CREAT)
    assert not [p for p in (tmp_path / "keys").iterdir() if p.name.endswith(".tmp")]
    assert kms.primary().version == "1"


def test_an_existing_key_file_is_never_replaced_by_create(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    first = LocalKMS.from_file(path, create=True)
    blob = seal(first, b"secret", CTX)
    second = LocalKMS.from_file(path, create=True)
    assert open_blob(second, blob, CTX) == b"secret"


def test_a_missing_key_file_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="does not exist"):
        LocalKMS.from_file(tmp_path / "nope.key")
    assert not (tmp_path / "nope.key").exists()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    LocalKMS.from_file(path, create=True)
    path.chmod(0o644)
    with pytest.raises(MasterKeyError, match="accessible to other users"):
        LocalKMS.from_file(path)


def test_a_garbled_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text('{"format": "something else"}')
    path.chmod(0o600)
    with pytest.raises(MasterKeyError, match="not a txsync master keyring"):
        LocalKMS.from_file(path)
    path.write_text("not base64 !!")
    with pytest.raises(MasterKeyError, match="not base64"):
        LocalKMS.from_file(path)


def test_a_wrong_master_key_says_so(tmp_path: Path) -> None:
    blob = seal(LocalKMS.from_file(tmp_path / "a.key", create=True), b"secret", CTX)
    other = LocalKMS.from_file(tmp_path / "b.key", create=True)
    with pytest.raises(KeyUnavailableError, match="wrong or replaced master key"):
        open_blob(other, blob, CTX)


def test_the_environment_variable_holds_a_bare_key() -> None:
    key = generate_master_key()
    kms = LocalKMS.from_env(environ={ENV_MASTER_KEY: key})
    blob = seal(kms, b"secret", CTX)
    again = LocalKMS.from_env(environ={ENV_MASTER_KEY: key})  # a new process, the same key
    assert open_blob(again, blob, CTX) == b"secret"
    with pytest.raises(MasterKeyError, match="not set"):
        LocalKMS.from_env(environ={})
    with pytest.raises(MasterKeyError, match="32 bytes"):
        LocalKMS.from_env(environ={ENV_MASTER_KEY: "c2hvcnQ="})
    with pytest.raises(ConfigurationError, match="cannot rewrite"):
        kms.add_version()


def test_the_environment_variable_may_hold_a_whole_keyring(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    kms = LocalKMS.from_file(path, create=True)
    kms.add_version()
    blob = seal(kms, b"secret", CTX)
    from_env = LocalKMS.from_env(environ={ENV_MASTER_KEY: path.read_text()})
    assert from_env.primary() == kms.primary()
    assert open_blob(from_env, blob, CTX) == b"secret"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory OS keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def test_the_os_keyring_holds_the_keyring_document() -> None:
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        with pytest.raises(MasterKeyError, match="holds no master key"):
            LocalKMS.from_keyring()
        kms = LocalKMS.from_keyring(create=True)
        blob = seal(kms, b"secret", CTX)
        kms.add_version()
        again = LocalKMS.from_keyring()
        assert again.primary().version == "2"
        assert open_blob(again, blob, CTX) == b"secret"
        assert len(backend.items) == 1
    finally:
        keyring.set_keyring(previous)


def test_local_kms_for_a_store_creates_a_key_only_while_no_credential_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_MASTER_KEY, raising=False)
    monkeypatch.delenv("TXSYNC_MASTER_KEY_FILE", raising=False)
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    kms = local_kms(store)
    assert (tmp_path / "master.key").exists()
    account = store.add_account("alice", "demo")
    connection = store.add_connection(account.id)
    VaultCredentials(store, kms).put(
        connection, Credential(connector_id="demo", secrets={"api_key": "k" * 12, "api_secret": "s" * 12})
    )
    (tmp_path / "master.key").unlink()  # lost: a new key would orphan the stored credential
    with pytest.raises(MasterKeyError, match="does not exist"):
        local_kms(store)
    assert not (tmp_path / "master.key").exists()
    store.close()


def test_no_key_material_in_repr_and_no_pickling(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    kms = LocalKMS.from_file(path, create=True)
    import json

    material = json.loads(path.read_text())["versions"]["1"]["key"]
    assert material not in repr(kms)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(kms)


def test_a_master_key_may_be_standard_or_url_safe_base64() -> None:
    import base64

    key = os.urandom(32)
    standard = LocalKMS.from_env(environ={ENV_MASTER_KEY: base64.b64encode(key).decode()})
    url_safe = LocalKMS.from_env(environ={ENV_MASTER_KEY: base64.urlsafe_b64encode(key).decode().rstrip("=")})
    assert open_blob(url_safe, seal(standard, b"secret", CTX), CTX) == b"secret"

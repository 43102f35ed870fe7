"""The local KMS, the embedded default: master key versions in a private key file, an environment
variable, or the OS keyring.

A *keyring* is a small JSON document: a random keyring id, the primary version, and each version's
32-byte AES key (or the time it was retired). Data keys are wrapped with AES-256-GCM under a version's
key, bound to the keyring id, the version and the encryption context.

The key file is created atomically with mode 0600 (opened with that mode, never widened, then linked
into place), and refused when group or others can read it. It is never created silently where
credentials already exist: the caller says whether creating one is allowed
(:func:`txsync.vault.open_vault` allows it only while the store holds no sealed credential).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from txsync import jsonutil
from txsync.errors import ConfigurationError, KeyUnavailableError, MasterKeyError, TamperedError
from txsync.vault.kms import KeyRef, KeyVersionInfo, WrappedKey

__all__ = [
    "ENV_MASTER_KEY",
    "KEYRING_SERVICE",
    "LocalKMS",
    "generate_master_key",
]

#: Environment variable holding the master key (base64 of 32 bytes) or a whole keyring document.
ENV_MASTER_KEY = "TXSYNC_MASTER_KEY"
#: Service name under which the keyring document is kept in the OS keyring.
KEYRING_SERVICE = "txsync"
_KEYRING_USER = "master-keyring"
_DOC_TAG = "txsync-master-keyring"
_WRAP_TAG = b"txsync-local-wrap\x00"
_NONCE = 12


def generate_master_key() -> str:
    """A new random master key, base64-encoded (what :data:`ENV_MASTER_KEY` may hold)."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


def _decode_key(text: str, where: str) -> bytes:
    # Standard or URL-safe base64, padded or not ("-_" are read as "+/", which stay valid).
    stripped = text.strip()
    try:
        raw = base64.b64decode(stripped + "=" * (-len(stripped) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"the master key in {where} is not base64") from None
    if len(raw) != 32:
        raise MasterKeyError(f"the master key in {where} must be 32 bytes (base64 of 32 random bytes)")
    return raw


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Keyring:
    """The parsed keyring document."""

    def __init__(self, keyring_id: str, primary: str, keys: dict[str, bytes], retired: dict[str, str],
                 created: dict[str, str]) -> None:
        self.keyring_id = keyring_id
        self.primary = primary
        self.keys = keys
        self.retired = retired
        self.created = created

    @classmethod
    def new(cls) -> _Keyring:
        return cls(uuid.uuid4().hex, "1", {"1": AESGCM.generate_key(bit_length=256)}, {}, {"1": _now_text()})

    @classmethod
    def single(cls, key: bytes) -> _Keyring:
        # A bare key always gets the same id, so the same key opens the same blobs.
        keyring_id = "k" + hashlib.sha256(b"txsync-keyring-id\x00" + key).hexdigest()[:24]
        return cls(keyring_id, "1", {"1": key}, {}, {})

    @classmethod
    def parse(cls, text: str, where: str) -> _Keyring:
        stripped = text.strip()
        if not stripped.startswith("{"):
            return cls.single(_decode_key(stripped, where))
        try:
            doc = json.loads(stripped)
            if doc.get("format") != _DOC_TAG or doc.get("version") != 1:
                raise MasterKeyError(f"{where} is not a txsync master keyring (format 1)")
            versions = doc["versions"]
            keys = {str(v): _decode_key(item["key"], where) for v, item in versions.items() if "key" in item}
            retired = {
                str(v): str(item["retired_at"]) for v, item in versions.items() if "retired_at" in item
            }
            created = {str(v): str(item.get("created_at", "")) for v, item in versions.items()}
            keyring = cls(str(doc["keyring_id"]), str(doc["primary"]), keys, retired, created)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise MasterKeyError(f"{where} is not a valid txsync master keyring") from None
        if keyring.primary not in keyring.keys:
            raise MasterKeyError(f"{where}: the primary key version {keyring.primary} has no key")
        return keyring

    def dump(self) -> str:
        versions: dict[str, dict[str, str]] = {}
        for version in sorted({*self.keys, *self.retired}, key=_version_order):
            item = {"created_at": self.created.get(version, "")}
            if version in self.keys:
                item["key"] = base64.b64encode(self.keys[version]).decode()
            else:
                item["retired_at"] = self.retired[version]
            versions[version] = item
        doc = {"format": _DOC_TAG, "version": 1, "keyring_id": self.keyring_id, "primary": self.primary,
               "versions": versions}
        return json.dumps(doc, indent=2) + "\n"


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (1 << 62, version)


def _write_private(path: Path, text: str, *, exclusive: bool) -> bool:
    """Write ``text`` to ``path`` with mode 0600 from the first byte; atomically replace (or, when
    ``exclusive``, only create: False if another writer got there first)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask: owner read/write only
        data = text.encode()
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if exclusive:
            try:
                os.link(tmp, path)  # fails if the file appeared meanwhile: never clobber a key
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def _read_private(path: Path) -> str:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise MasterKeyError(f"master key file {path} does not exist") from None
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MasterKeyError(
            f"master key file {path} is accessible to other users (mode {stat.S_IMODE(info.st_mode):o}): "
            f"chmod 600 it (and consider the key exposed)"
        )
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MasterKeyError(f"master key file {path} cannot be read: {exc.strerror}") from None


class LocalKMS:
    """The embedded KMS (backend id ``"local"``); key ids are keyring ids, versions ``"1"``, ``"2"``...

    Build it with :meth:`from_file`, :meth:`from_env` or :meth:`from_keyring`. Key material never
    appears in its repr, and it refuses to be pickled.
    """

    backend_id = "local"

    def __init__(self, keyring: _Keyring, *, source: str, save: Callable[[str], None] | None = None) -> None:
        self._keyring = keyring
        self._source = source
        self._save = save
        self._lock = threading.Lock()

    # -- sources ------------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, create: bool = False) -> LocalKMS:
        """The keyring in ``path``; with ``create``, a new one is made if (and only if) none exists."""
        target = Path(path)
        if not target.exists():
            if not create:
                raise MasterKeyError(
                    f"master key file {target} does not exist: restore it (or set {ENV_MASTER_KEY}); "
                    "a new key would not open the credentials already stored"
                )
            _write_private(target, _Keyring.new().dump(), exclusive=True)

        def save(text: str) -> None:
            _write_private(target, text, exclusive=False)

        return cls(_Keyring.parse(_read_private(target), str(target)), source=f"file {target}", save=save)

    @classmethod
    def from_env(cls, name: str = ENV_MASTER_KEY, environ: Mapping[str, str] | None = None) -> LocalKMS:
        """The key (or keyring document) in the environment variable ``name``. Its versions cannot be
        rotated in place: rotate with a key file or the OS keyring, or replace the variable."""
        env = os.environ if environ is None else environ
        value = env.get(name)
        if not value:
            raise MasterKeyError(f"environment variable {name} is not set")
        return cls(_Keyring.parse(value, f"${name}"), source=f"environment variable {name}")

    @classmethod
    def from_keyring(
        cls, *, service: str = KEYRING_SERVICE, username: str = _KEYRING_USER, create: bool = False
    ) -> LocalKMS:
        """The keyring document kept in the OS keyring (the ``keyring`` extra)."""
        try:
            import keyring
            import keyring.errors
        except ImportError:
            raise ConfigurationError(
                "the OS keyring needs the keyring extra: pip install 'txsync[keyring]'"
            ) from None
        where = f"OS keyring entry {service}/{username}"
        try:
            value = keyring.get_password(service, username)
            if value is None:
                if not create:
                    raise MasterKeyError(f"{where} holds no master key")
                value = _Keyring.new().dump()
                keyring.set_password(service, username, value)
        except keyring.errors.KeyringError as exc:
            raise MasterKeyError(f"{where} cannot be used: {type(exc).__name__}") from None

        def save(text: str) -> None:
            keyring.set_password(service, username, text)

        return cls(_Keyring.parse(value, where), source=where, save=save)

    # -- the KMS protocol -----------------------------------------------------------------------------

    def _ref(self, version: str) -> KeyRef:
        return KeyRef(self.backend_id, self._keyring.keyring_id, version)

    @staticmethod
    def _aad(ref: KeyRef, context: Mapping[str, str]) -> bytes:
        encoded = jsonutil.dumps(dict(sorted(context.items()))).encode()
        return _WRAP_TAG + ref.key_id.encode() + b"\x00" + ref.version.encode() + b"\x00" + encoded

    def primary(self) -> KeyRef:
        """The version new data keys are wrapped with."""
        return self._ref(self._keyring.primary)

    def wrap(self, data_key: bytes, context: Mapping[str, str]) -> WrappedKey:
        """Wrap ``data_key`` under the primary version, bound to ``context``."""
        with self._lock:
            ref = self.primary()
            key = self._keyring.keys[ref.version]
        nonce = os.urandom(_NONCE)
        return WrappedKey(ref, nonce + AESGCM(key).encrypt(nonce, bytes(data_key), self._aad(ref, context)))

    def _key_for(self, ref: KeyRef) -> bytes:
        if ref.backend != self.backend_id:
            raise KeyUnavailableError(f"blob was sealed by the {ref.backend!r} KMS, not the local one")
        if ref.key_id != self._keyring.keyring_id:
            raise KeyUnavailableError(
                f"blob was sealed under local master keyring {ref.key_id}, but the configured one "
                f"({self._source}) is {self._keyring.keyring_id}: wrong or replaced master key?"
            )
        if ref.version in self._keyring.retired:
            raise KeyUnavailableError(
                f"blob needs master key version {ref.version}, "
                f"retired at {self._keyring.retired[ref.version]}"
            )
        try:
            return self._keyring.keys[ref.version]
        except KeyError:
            raise KeyUnavailableError(f"master key version {ref.version} is not in {self._source}") from None

    def unwrap(self, wrapped: WrappedKey, context: Mapping[str, str]) -> bytes:
        """The data key wrapped in ``wrapped`` (fails closed on a missing or retired version)."""
        with self._lock:
            key = self._key_for(wrapped.key)
        blob = wrapped.blob
        if len(blob) < _NONCE + 16:
            raise TamperedError("wrapped data key is truncated")
        try:
            return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], self._aad(wrapped.key, context))
        except InvalidTag:
            raise TamperedError(
                "wrapped data key failed authentication: altered, or sealed for another connection or field"
            ) from None

    def rewrap(self, wrapped: WrappedKey, context: Mapping[str, str]) -> WrappedKey:
        """Unwrap with the version it needs and wrap under the primary one."""
        return self.wrap(self.unwrap(wrapped, context), context)

    def versions(self) -> list[KeyVersionInfo]:
        """Every version, primary first."""
        with self._lock:
            names = sorted({*self._keyring.keys, *self._keyring.retired}, key=_version_order)
            primary = self._keyring.primary
            retired = set(self._keyring.retired)
        names.sort(key=lambda v: v != primary)
        return [KeyVersionInfo(self._ref(v), v == primary, v in retired) for v in names]

    # -- managing versions ----------------------------------------------------------------------------

    def _persist(self) -> None:
        if self._save is None:
            raise ConfigurationError(
                f"the master key comes from the {self._source}, which txsync cannot rewrite: "
                "rotate with a key file or the OS keyring"
            )
        self._save(self._keyring.dump())

    def add_version(self, *, make_primary: bool = True) -> KeyRef:
        """Create a new key version, saved before it is used (and made primary unless told not to)."""
        with self._lock:
            known = [int(v) for v in (*self._keyring.keys, *self._keyring.retired) if v.isdigit()]
            version = str(max(known, default=0) + 1)
            old_primary = self._keyring.primary
            self._keyring.keys[version] = AESGCM.generate_key(bit_length=256)
            self._keyring.created[version] = _now_text()
            if make_primary:
                self._keyring.primary = version
            try:
                self._persist()
            except BaseException:
                del self._keyring.keys[version]
                self._keyring.primary = old_primary
                raise
            return self._ref(version)

    def make_primary(self, version: str) -> None:
        """Wrap new data keys under ``version`` from now on."""
        with self._lock:
            if version not in self._keyring.keys:
                raise KeyUnavailableError(f"master key version {version} is not available")
            old, self._keyring.primary = self._keyring.primary, version
            try:
                self._persist()
            except BaseException:
                self._keyring.primary = old
                raise

    def retire(self, version: str) -> None:
        """Destroy ``version``'s key material (the primary version cannot be retired)."""
        with self._lock:
            if version == self._keyring.primary:
                raise ConfigurationError(
                    "the primary master key version cannot be retired: add a new one first"
                )
            if version not in self._keyring.keys:
                raise KeyUnavailableError(f"master key version {version} is not available")
            key = self._keyring.keys.pop(version)
            self._keyring.retired[version] = _now_text()
            try:
                self._persist()
            except BaseException:
                self._keyring.keys[version] = key
                del self._keyring.retired[version]
                raise

    # -- hygiene --------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"LocalKMS(source={self._source!r}, keyring={self._keyring.keyring_id}, "
            f"primary={self._keyring.primary})"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError("LocalKMS holds master key material and cannot be pickled")

    def __getstate__(self) -> Any:
        raise TypeError("LocalKMS holds master key material and cannot be pickled")

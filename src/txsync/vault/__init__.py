"""The credential vault: envelope encryption of every credential secret behind a pluggable KMS.

* :func:`seal` / :func:`open_blob` / :func:`rewrap` - the AES-256-GCM envelope and its blob format
  (:mod:`txsync.vault.envelope`), bound to a :class:`SealContext`;
* :class:`KMS` - the protocol a key-management backend implements; :class:`LocalKMS` (key file,
  environment variable or OS keyring) is the embedded default, :class:`~txsync.vault.aws.AwsKMS`
  the ``aws`` extra;
* :class:`VaultCredentials` - the engine's credential provider that stores only sealed secrets;
* rotation: :func:`rewrap_all`, :func:`key_usage`, :func:`retire_version`;
* :func:`open_vault` - the local KMS for a store, created only when no credential exists yet.

See ``docs/security.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

from txsync.errors import MasterKeyError
from txsync.store.base import Store
from txsync.vault.credentials import VaultCredentials
from txsync.vault.envelope import BlobHeader, SealContext, key_of, open_blob, read_header, rewrap, seal
from txsync.vault.kms import KMS, KeyRef, KeyVersionInfo, ManagedKMS, WrappedKey
from txsync.vault.local import ENV_MASTER_KEY, LocalKMS, generate_master_key
from txsync.vault.rotation import RewrapReport, key_usage, retire_version, rewrap_all

__all__ = [
    "ENV_MASTER_KEY",
    "KMS",
    "BlobHeader",
    "KeyRef",
    "KeyVersionInfo",
    "LocalKMS",
    "ManagedKMS",
    "RewrapReport",
    "SealContext",
    "VaultCredentials",
    "WrappedKey",
    "default_key_path",
    "generate_master_key",
    "key_of",
    "key_usage",
    "local_kms",
    "open_blob",
    "read_header",
    "retire_version",
    "rewrap",
    "rewrap_all",
    "seal",
]

#: Set to ``1`` to keep the master keyring in the OS keyring instead of a key file.
ENV_USE_KEYRING = "TXSYNC_KEYRING"


def default_key_path(store_path: str | os.PathLike[str] | None = None) -> Path:
    """Where the master key file lives: ``$TXSYNC_MASTER_KEY_FILE``, else ``master.key`` next to the
    store's database (or in txsync's data directory)."""
    explicit = os.environ.get("TXSYNC_MASTER_KEY_FILE")
    if explicit:
        return Path(explicit)
    if store_path is not None and str(store_path) != ":memory:":
        return Path(store_path).parent / "master.key"
    from txsync.store import default_store_path

    return default_store_path().parent / "master.key"


def local_kms(store: Store, *, key_path: str | os.PathLike[str] | None = None) -> LocalKMS:
    """The local KMS for ``store``: from :data:`ENV_MASTER_KEY` when set, else the OS keyring when
    ``TXSYNC_KEYRING=1``, else the key file. A new master key is created only while the store holds
    no sealed credential: a missing key never silently orphans existing ones."""
    may_create = not store.sealed_blobs()
    if os.environ.get(ENV_MASTER_KEY):
        return LocalKMS.from_env()
    if os.environ.get(ENV_USE_KEYRING) == "1":
        return LocalKMS.from_keyring(create=may_create)
    store_path = getattr(store, "path", None)
    if key_path is None and store_path is None and not os.environ.get("TXSYNC_MASTER_KEY_FILE"):
        # A database server (PostgreSQL) is shared by every worker: a key file created by whichever
        # worker came first would lock the others out of the credentials it seals.
        raise MasterKeyError(
            "a store on a database server needs one master key every worker shares: set "
            f"{ENV_MASTER_KEY} (or TXSYNC_MASTER_KEY_FILE, or TXSYNC_KEYRING=1), or give the engine "
            "another KMS (txsync.vault: AWS KMS)"
        )
    path = Path(key_path) if key_path is not None else default_key_path(store_path)
    return LocalKMS.from_file(path, create=may_create)

"""The ``KMS`` protocol: what the vault needs from a key-management service.

A KMS never sees a credential. It wraps (encrypts) and unwraps 32-byte data keys under a master key
it holds, binding each wrap to an encryption context (owner, connection, connector, field), and names
the key and version it used so a blob can say which one it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["KMS", "KeyRef", "KeyVersionInfo", "ManagedKMS", "WrappedKey"]


@dataclass(frozen=True, slots=True)
class KeyRef:
    """One master key version: ``backend`` (``"local"``, ``"aws-kms"``...), ``key_id``, ``version``."""

    backend: str
    key_id: str
    version: str

    def __str__(self) -> str:
        return f"{self.backend}:{self.key_id}#{self.version}"


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key wrapped by ``key``; ``blob`` is opaque to everyone but that KMS."""

    key: KeyRef
    blob: bytes

    def __repr__(self) -> str:
        return f"WrappedKey(key={self.key}, {len(self.blob)} bytes)"


@dataclass(frozen=True, slots=True)
class KeyVersionInfo:
    """What a KMS says about one of its key versions."""

    key: KeyRef
    primary: bool
    retired: bool


@runtime_checkable
class KMS(Protocol):
    """Wraps and unwraps data keys. Implementations must be safe to call from several threads.

    ``context`` is the encryption context: implementations must bind the wrapped key to it (AES-GCM
    associated data, AWS KMS ``EncryptionContext``, Vault transit ``context``...), so that unwrapping
    with another context fails.
    """

    #: Short name written into every blob (``"local"``, ``"aws-kms"``).
    backend_id: str

    def primary(self) -> KeyRef:
        """The key version new data keys are wrapped with."""
        ...

    def wrap(self, data_key: bytes, context: Mapping[str, str]) -> WrappedKey:
        """Wrap ``data_key`` under the primary key version."""
        ...

    def unwrap(self, wrapped: WrappedKey, context: Mapping[str, str]) -> bytes:
        """The data key; :class:`~txsync.errors.KeyUnavailableError` when the key version is missing
        or retired, :class:`~txsync.errors.TamperedError` when the wrap does not authenticate."""
        ...

    def rewrap(self, wrapped: WrappedKey, context: Mapping[str, str]) -> WrappedKey:
        """``wrapped`` re-wrapped under the primary version (a KMS may do it without exposing the
        data key, as AWS ``ReEncrypt`` does)."""
        ...

    def versions(self) -> list[KeyVersionInfo]:
        """Every key version this KMS knows, primary first."""
        ...


@runtime_checkable
class ManagedKMS(KMS, Protocol):
    """A KMS whose key versions txsync itself manages (the local one): add, promote, retire."""

    def add_version(self, *, make_primary: bool = True) -> KeyRef:
        """Create a new key version (and make it primary unless told otherwise)."""
        ...

    def retire(self, version: str) -> None:
        """Destroy a key version's material: blobs still wrapped under it can no longer be opened."""
        ...

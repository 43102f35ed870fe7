"""Master key rotation over a store's sealed credentials.

1. :meth:`~txsync.vault.local.LocalKMS.add_version` - a new primary version (new seals use it);
2. :func:`rewrap_all` - every data key re-wrapped under the primary version, payloads untouched;
3. :func:`key_usage` - how many blobs each key version still protects (all on the primary now);
4. :func:`retire_version` - the old version's material destroyed, refused while blobs still need it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from txsync.errors import ConfigurationError, VaultError
from txsync.store.base import Store
from txsync.vault.envelope import SealContext, key_of, rewrap
from txsync.vault.kms import KMS, KeyRef, ManagedKMS

__all__ = ["RewrapReport", "key_usage", "retire_version", "rewrap_all"]


@dataclass
class RewrapReport:
    """What :func:`rewrap_all` did."""

    rewrapped: int = 0
    already_primary: int = 0
    #: ``(connection_id, field, reason)`` of blobs that could not be re-wrapped (they keep working as
    #: long as their key version is available).
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def key_usage(store: Store) -> dict[KeyRef, int]:
    """How many sealed blobs each master key version protects."""
    return dict(Counter(key_of(blob) for _, _, blob in store.sealed_blobs()))


def _context(store: Store, connection_id: str, field_name: str) -> SealContext:
    connection = store.get_connection(connection_id)
    owner = store.get_account(connection.account_id).owner_id
    return SealContext(owner, connection.id, connection.connector_id, field_name)


def rewrap_all(store: Store, kms: KMS) -> RewrapReport:
    """Re-wrap every data key not under ``kms``'s primary version. No payload is decrypted; a blob
    changed by someone else meanwhile is left to them (compare-and-swap)."""
    primary = kms.primary()
    report = RewrapReport()
    for connection_id, field_name, blob in store.sealed_blobs():
        if key_of(blob) == primary:
            report.already_primary += 1
            continue
        try:
            new = rewrap(kms, blob, _context(store, connection_id, field_name))
        except VaultError as exc:
            report.failed.append((connection_id, field_name, f"{type(exc).__name__}: {exc}"))
            continue
        if store.replace_sealed(connection_id, field_name, blob, new):
            report.rewrapped += 1
    return report


def retire_version(store: Store, kms: ManagedKMS, version: str, *, force: bool = False) -> None:
    """Retire a master key version; refused while blobs still need it, unless ``force`` (those blobs
    then fail closed with :class:`~txsync.errors.KeyUnavailableError`)."""
    target = KeyRef(kms.backend_id, kms.primary().key_id, version)
    still = key_usage(store).get(target, 0)
    if still and not force:
        raise ConfigurationError(
            f"master key version {version} still protects {still} sealed secret(s): "
            "re-wrap them first (rewrap_all, or txsync vault rotate)"
        )
    kms.retire(version)

"""``VaultCredentials``: the engine's credential provider backed by the store and the vault.

The store holds each connection's public fields and, for every secret field, a blob sealed for
exactly that owner, connection, connector and field. :meth:`VaultCredentials.open` rebuilds each
blob's context from the rows (never from the blob) and opens it just in time for a sync.
"""

from __future__ import annotations

from typing import NoReturn

from txsync.errors import ConfigurationError
from txsync.models import Credential
from txsync.store.base import Store
from txsync.store.records import ConnectionRecord
from txsync.vault.envelope import SealContext, open_blob, seal
from txsync.vault.kms import KMS

__all__ = ["VaultCredentials"]


class VaultCredentials:
    """A :class:`~txsync.engine.CredentialProvider` that stores only sealed secrets."""

    def __init__(self, store: Store, kms: KMS) -> None:
        self.store = store
        self.kms = kms

    def context(self, connection: ConnectionRecord, field: str) -> SealContext:
        """The seal context of one secret field of ``connection``."""
        owner = self.store.get_account(connection.account_id).owner_id
        return SealContext(owner, connection.id, connection.connector_id, field)

    def put(self, connection: ConnectionRecord, credential: Credential) -> None:
        """Seal every secret field of ``credential`` and store it (replacing the previous one)."""
        if credential.connector_id != connection.connector_id:
            raise ConfigurationError(
                f"credential is for {credential.connector_id!r}, connection uses {connection.connector_id!r}"
            )
        sealed = {
            name: seal(self.kms, credential.secret(name).encode(), self.context(connection, name))
            for name in credential.secrets
        }
        self.store.put_credential(connection.id, connection.connector_id, dict(credential.public), sealed)

    def open(self, connection: ConnectionRecord) -> Credential:
        """Open the connection's credential (typed vault errors when it cannot be)."""
        stored = self.store.get_credential(connection.id)
        if stored is None:
            raise ConfigurationError(f"no credential stored for connection {connection.id!r}")
        if stored.connector_id != connection.connector_id:
            raise ConfigurationError(f"the credential stored for {connection.id!r} is for another connector")
        secrets = {
            field: open_blob(self.kms, blob, self.context(connection, field)).decode()
            for field, blob in stored.sealed.items()
        }
        return Credential(connector_id=connection.connector_id, public=dict(stored.public), secrets=secrets)

    def drop(self, connection_id: str) -> None:
        """Forget a connection's credential."""
        self.store.drop_credential(connection_id)

    def __repr__(self) -> str:
        return f"VaultCredentials(kms={self.kms!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("VaultCredentials holds a KMS and cannot be pickled")

"""Where the engine gets a connection's credential, just in time for a sync."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from txsync.errors import ConfigurationError
from txsync.models import Credential
from txsync.store.records import ConnectionRecord

__all__ = ["CredentialProvider", "InMemoryCredentials"]


@runtime_checkable
class CredentialProvider(Protocol):
    """Keeps credentials apart from the ledger. The vault implements it with envelope encryption."""

    def put(self, connection: ConnectionRecord, credential: Credential) -> None:
        """Store (or replace) the credential of a connection."""
        ...

    def open(self, connection: ConnectionRecord) -> Credential:
        """The credential of a connection, for the duration of one sync."""
        ...

    def drop(self, connection_id: str) -> None:
        """Forget a connection's credential."""
        ...


class InMemoryCredentials:
    """Credentials held in this process only (tests, scripts). Nothing is written anywhere."""

    def __init__(self) -> None:
        self._items: dict[str, Credential] = {}

    def put(self, connection: ConnectionRecord, credential: Credential) -> None:
        """Keep ``credential`` for ``connection``."""
        if credential.connector_id != connection.connector_id:
            raise ConfigurationError(
                f"credential is for {credential.connector_id!r}, connection uses {connection.connector_id!r}"
            )
        self._items[connection.id] = credential

    def open(self, connection: ConnectionRecord) -> Credential:
        """The credential of ``connection``; :class:`ConfigurationError` if none was given."""
        try:
            return self._items[connection.id]
        except KeyError:
            raise ConfigurationError(f"no credential for connection {connection.id!r}") from None

    def drop(self, connection_id: str) -> None:
        """Forget a connection's credential."""
        self._items.pop(connection_id, None)

    def __repr__(self) -> str:
        return f"InMemoryCredentials({len(self._items)} connections)"

"""A connector written for the next connector API version (whatever the installed txsync implements)."""

from __future__ import annotations

from collections.abc import Sequence

from txsync.connector import API_VERSION, Connector, ConnectorInfo, Stream, StreamInfo
from txsync.models import Balance, ConnectorKind, Permissions

__all__ = ["FutureConnector"]


class FutureConnector(Connector):
    """Otherwise valid, but declares an API version this txsync does not implement."""

    info = ConnectorInfo(
        id="incompatible",
        display_name="From the future",
        kind=ConnectorKind.EXCHANGE,
        api_version=API_VERSION + 1,
        streams=(StreamInfo(name="trades"),),
    )

    async def verify(self) -> Permissions:
        """Never called: the registry refuses this connector."""
        return Permissions(reported=False)

    async def balances(self) -> Sequence[Balance]:
        """Never called: the registry refuses this connector."""
        return ()

    def streams(self) -> Sequence[Stream]:
        """Never called: the registry refuses this connector."""
        return ()

"""A working connector that claims the id another distribution already uses."""

from __future__ import annotations

from collections.abc import Sequence

from txsync.connector import Connector, ConnectorInfo, Stream, StreamInfo
from txsync.models import Balance, ConnectorKind, Permissions

__all__ = ["ImpostorConnector"]


class ImpostorConnector(Connector):
    """Valid on its own; conflicts with ``txsync-example-plugin`` when both are installed."""

    info = ConnectorInfo(
        id="example",
        display_name="Another example",
        kind=ConnectorKind.WALLET,
        streams=(StreamInfo(name="nothing"),),
    )

    async def verify(self) -> Permissions:
        """Nothing to verify."""
        return Permissions(reported=False)

    async def balances(self) -> Sequence[Balance]:
        """Nothing held."""
        return ()

    def streams(self) -> Sequence[Stream]:
        """No streams to run."""
        return ()

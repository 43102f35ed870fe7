"""A minimal working txsync connector: valid info, one stream that yields no pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from txsync.connector import Connector, ConnectorInfo, Cursor, Page, Stream, StreamInfo
from txsync.models import Balance, ConnectorKind, NormalizedTransaction, Permissions, RawTransaction

__all__ = ["EmptyStream", "ExampleConnector"]


class EmptyStream(Stream):
    """A stream with no history at all."""

    name = "nothing"

    async def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        """Yield no page, whatever the cursor."""
        return
        yield  # pragma: no cover - makes this an async generator

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        """Nothing to normalize."""
        return ()


class ExampleConnector(Connector):
    """A connector to an empty account."""

    info = ConnectorInfo(
        id="example",
        display_name="Example",
        kind=ConnectorKind.WALLET,
        streams=(StreamInfo(name="nothing", description="An empty stream."),),
    )

    async def verify(self) -> Permissions:
        """Nothing to verify: the source cannot report permissions."""
        return Permissions(reported=False)

    async def balances(self) -> Sequence[Balance]:
        """An empty account holds nothing."""
        return ()

    def streams(self) -> Sequence[Stream]:
        """The one empty stream."""
        return (EmptyStream(),)

"""The plugin contract: ``Connector`` (one per connection) and ``Stream`` (one per history stream)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Self

from txsync.connector.context import ConnectorContext
from txsync.connector.info import ConnectorInfo
from txsync.models import Balance, NormalizedTransaction, Permissions, RawTransaction

__all__ = ["Connector", "Cursor", "Page", "RawRecord", "Stream"]

#: A stream's resume point: any JSON value (ints, strings, lists, dicts of partitions). ``None`` =
#: from the origin.
Cursor = Any


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record of a page as received: its id within the stream and the parsed payload."""

    source_id: str
    payload: Any


@dataclass(frozen=True, slots=True)
class Page:
    """Records fetched in one step and the cursor that resumes *after* them.

    The engine stores ``records`` and ``cursor`` in one transaction, so ``cursor`` must never point
    past a record that is not in this page or an earlier one. A page may be empty when only the
    cursor advances (an empty time window).
    """

    records: Sequence[RawRecord]
    cursor: Cursor
    #: Free-form notes for the report (the window or partition this page covers).
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Stream(ABC):
    """One history stream of a connector: fetches pages from a cursor and normalizes them."""

    #: Stream name, one of the connector info's ``streams``.
    name: ClassVar[str]

    @abstractmethod
    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        """Yield pages in cursor order, starting after ``cursor`` (``None``: from the origin)."""

    @abstractmethod
    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        """Turn raws of one page into normalized transactions.

        Several raws may make one transaction (list them all in ``sources``); a raw that is not a
        movement (an order lock) may make none. An unknown record type is not an error: normalize it
        as ``TransactionKind.OTHER`` with a flag, so it is kept and reported.
        """

    def cursor_for_full_sync(self, stored: Cursor) -> Cursor:
        """The cursor a full re-sync starts from, given the one stored (``None`` when none is).

        The default is ``None``: read everything from the origin. A stream whose cursor also keeps
        what the source cannot tell again (when txsync first saw an unconfirmed transaction) returns
        a cursor with only that kept, so a full re-sync changes nothing that did not change.
        """
        return None

    def cursor_from_time(self, since: datetime) -> Cursor:
        """A cursor that starts at ``since`` (for since-latest syncs), or ``None`` if the stream cannot
        start from a time (the engine then reads from the origin; dedup keeps the ledger right)."""
        return None


class Connector(ABC):
    """A source of transactions for one connection: an exchange account, a wallet, a file.

    Subclasses set ``info`` and implement :meth:`verify`, :meth:`balances` and :meth:`streams`. They
    are registered through the ``txsync.connectors`` entry-point group and constructed by the engine
    with a :class:`ConnectorContext`.
    """

    info: ClassVar[ConnectorInfo]

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context

    @abstractmethod
    async def verify(self) -> Permissions:
        """Check the credential works and report what it may do (``Permissions.reported`` False when
        the source cannot tell). Raise :class:`~txsync.errors.AuthError` if it is rejected."""

    @abstractmethod
    async def balances(self) -> Sequence[Balance]:
        """The balances the source reports now, for reconciliation."""

    @abstractmethod
    def streams(self) -> Sequence[Stream]:
        """The streams to sync, in the order they should run."""

    async def aclose(self) -> None:
        """Release resources (HTTP clients). Called by the engine after every sync."""
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.id} connection={self.context.connection_id!r}>"

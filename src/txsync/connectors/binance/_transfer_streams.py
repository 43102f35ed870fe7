"""The streams of the moves between wallets and accounts (see :mod:`._transfers` for how the ledger
books them): universal transfers and sub-account transfers.

Both are :class:`._category_streams._GuardedStream` s: their own cursor, windows, page size and
weights (:mod:`._limits`), records not final yet read again until they are, and a key refused the
endpoint notes a gap instead of failing the sync.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from txsync.connector import Cursor, RawRecord
from txsync.errors import BadRequestError
from txsync.pagination import Paginator, Window, to_ms

from ._category_streams import _GuardedStream
from ._paging import BisectingWindow, Partitioned, as_list
from ._streams import Row, counted_pages
from ._transfers import ISOLATED_TYPES, UNIVERSAL_TYPES, sub_transfer_id, universal_transfer_id

__all__ = ["SubAccountTransfersStream", "UniversalTransfersStream"]

#: ``/sapi/v1/asset/transfer`` serves the last 6 months only.
TRANSFERS_KEPT = timedelta(days=180)
#: Binance's answers to a key whose account is not a sub-account (-12022 "not a sub-account",
#: -1002 "not authorized"; -2015 is an :class:`~txsync.errors.AuthError`, handled by the base class).
_NOT_A_SUB_ACCOUNT = frozenset({"-12022", "-1002"})


class UniversalTransfersStream(_GuardedStream):
    """Universal transfers between the account's own wallets (``/sapi/v1/asset/transfer``, IP 1):
    one part per ``type`` (``type`` is required; see :data:`._transfers.UNIVERSAL_TYPES`), plus,
    for each isolated margin pair the account has, the two types that move to or from it
    (``fromSymbol`` / ``toSymbol``); 30-day windows over the last 6 months (all the endpoint serves:
    older is the ``transfers_beyond_6_months`` gap), ``current``/``size`` 100. A pending transfer is
    read again until it is ``CONFIRMED`` or ``FAILED``. Isolated rows get the pair they were asked
    for (``fromSymbol``/``toSymbol``) added."""

    name = "universal_transfers"
    path = "/sapi/v1/asset/transfer"
    span = timedelta(days=30)
    gap = "transfers_beyond_6_months"
    refused_gap = "wallet_transfers"
    kept = TRANSFERS_KEPT
    size = 100
    status_field = "status"
    final = frozenset({"CONFIRMED", "FAILED"})
    time_field = "timestamp"
    types: ClassVar[tuple[str, ...]] = UNIVERSAL_TYPES

    def __init__(self, connector: Any) -> None:
        super().__init__(connector)
        self.isolated: list[str] = []

    def source_id(self, row: Row) -> str:
        """``tranId``."""
        return universal_transfer_id(row, self.name)

    def part_of(self, row: Row) -> str:
        """The ``type`` (and the isolated pair: ``ISOLATEDMARGIN_MARGIN:BTCUSDT``)."""
        kind = str(row.get("type", ""))
        for isolated, field in ISOLATED_TYPES:
            if kind == isolated:
                return f"{kind}:{row.get(field, '')}"
        return kind

    def parts(self) -> list[str]:
        """Every part to read: the plain types, then each isolated pair's two types."""
        return [*self.types, *(f"{kind}:{symbol}" for symbol in self.isolated for kind, _ in ISOLATED_TYPES)]

    def part_inner(self, part: str, window: Window) -> Paginator[Row]:
        """One window of one part."""
        kind, _, symbol = part.partition(":")
        extra = {"type": kind}
        tag: dict[str, Any] | None = None
        if symbol:
            field = dict(ISOLATED_TYPES)[kind]
            extra[field] = symbol
            tag = {field: symbol}
        return counted_pages(self, window, time_field="timestamp", extra=extra, tag=tag)

    def part(self, name: str) -> Paginator[Row]:
        """The windows of one part."""

        def inner(window: Window) -> Paginator[Row]:
            return self.part_inner(name, window)

        return self.windows(inner, self.origin(), self.span)

    def paginator(self) -> Paginator[Row]:
        """Every part, each from its own position."""
        return Partitioned([(name, self.part(name)) for name in self.parts()])

    def cursor_from_time(self, since: datetime) -> Cursor:
        """Every part from ``since`` (``"*"``: the position of the isolated pairs' parts, not known
        before the sync reads them)."""
        start = to_ms(max(since, self.origin()))
        return {
            "p": {"*": {"start": start}, **{name: {"start": start} for name in self.parts()}},
            "assets": [],
        }

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """The isolated pairs first; a part whose position fell out of the 6 months served (the
        previous sync is older) restarts at the oldest day served, and notes the gap."""
        self.isolated = sorted(await self.connector.isolated_pairs())
        if isinstance(inner, dict):
            floor = to_ms(self.origin())
            inner = dict(inner)
            if isinstance(inner.get("*"), dict):
                for name in self.parts():
                    inner.setdefault(name, dict(inner["*"]))
            for name, position in list(inner.items()):
                if (
                    isinstance(position, dict)
                    and "inner" not in position
                    and isinstance(position.get("start"), int)
                    and position["start"] < floor
                ):
                    inner[name] = {"start": floor}
                    self.context.note_gap(
                        self.gap,
                        f"{self.name}: the previous sync is over 6 months old; transfers before "
                        f"{self.origin().date()} are no longer served",
                        stream=self.name,
                    )
        async for step in super().steps(inner):
            yield step


class SubAccountTransfersStream(_GuardedStream):
    """Transfers between this sub-account and its master or other sub-accounts
    (``/sapi/v1/sub-account/transfer/subUserHistory``, IP 1, a sub-account's key): per ``type``
    (1 in, 2 out: the endpoint answers only outgoing ones without it), ``returnFailHistory=true``,
    30-day windows from the history origin, ``limit`` 500 and no paging: a full answer halves the
    range. A key that is not a sub-account's is refused (or answered nothing): the stream then notes
    ``sub_account_transfers`` and stores nothing, the sync stays ok."""

    name = "sub_account_transfers"
    path = "/sapi/v1/sub-account/transfer/subUserHistory"
    span = timedelta(days=30)
    gap = "sub_account_transfers"
    limit = 500
    status_field = "status"
    final = frozenset({"SUCCESS", "FAILURE"})
    directions: ClassVar[tuple[tuple[str, str], ...]] = (("in", "1"), ("out", "2"))

    def source_id(self, row: Row) -> str:
        """``tranId``."""
        return sub_transfer_id(row, self.name)

    def part_of(self, row: Row) -> str:
        """``in`` or ``out``."""
        return "in" if str(row.get("type")) == "1" else "out"

    def part_inner(self, part: str, window: Window) -> Paginator[Row]:
        """One window of one direction, halved while the answer is full."""
        direction = dict(self.directions)[part]

        async def fetch(start: int, end: int) -> tuple[list[Row], bool]:
            body = await self.api.signed(
                self.path,
                {
                    "type": direction,
                    "startTime": start,
                    "endTime": end,
                    "limit": self.limit,
                    "returnFailHistory": "true",
                },
            )
            rows = as_list(body, None, self.path)
            self.within(rows, start, end, "time")
            return rows, len(rows) >= self.limit

        return BisectingWindow(fetch, window)

    def direction(self, part: str) -> Callable[[Window], Paginator[Row]]:
        """The paginator of one window of one direction."""
        return lambda window: self.part_inner(part, window)

    def paginator(self) -> Paginator[Row]:
        """Transfers in, then out."""
        return Partitioned(
            [
                (part, self.windows(self.direction(part), self.origin(), self.span))
                for part, _ in self.directions
            ]
        )

    def cursor_from_time(self, since: datetime) -> Cursor:
        """Both directions from ``since``."""
        start = to_ms(max(since, self.origin()))
        return {"p": {part: {"start": start} for part, _ in self.directions}, "assets": []}

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """A key that is not a sub-account's (Binance answers it an error) notes the gap."""
        try:
            async for step in super().steps(inner):
                yield step
        except BadRequestError as exc:
            if str(exc.code) not in _NOT_A_SUB_ACCOUNT:
                raise
            self.context.note_gap(
                self.gap,
                f"this key is not a sub-account's ({exc}): no sub-account transfers",
                stream=self.name,
            )

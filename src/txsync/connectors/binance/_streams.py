"""The history streams other than trades: windows, paging and resume state per endpoint.

Every stream's cursor is ``{"p": <paginator cursor>, "assets": [...], ...}``: the paginator's own
position first (so cursors order the way the paginator's do), then the assets the stream has seen
so far. Those assets feed pair discovery (:mod:`._discovery`) even in a sync that resumes after a
crash, when the pages that mentioned them are no longer re-read. Deposits and withdrawals also keep
``pending``: records not final yet, looked up again on the next sync until they are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from txsync.connector import ConnectorContext, Cursor, Page, RawRecord, Stream
from txsync.errors import AuthError, PaginationLoopError, PermissionDeniedError
from txsync.fields import Fields, checked_records
from txsync.models import NormalizedTransaction, RawTransaction
from txsync.pagination import (
    Counted,
    InvalidCursorError,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
    Step,
    Window,
    WindowPaginator,
    to_ms,
)

from ._api import BinanceApi
from ._normalize import (
    FIAT_FINAL,
    convert_id,
    deposit_id,
    earn_flexible_id,
    earn_locked_id,
    futures_income_id,
    margin_interest_id,
    normalize_raws,
    order_no,
    time_ms,
)
from ._options import Options
from ._paging import BisectingWindow, Partitioned, as_list

if TYPE_CHECKING:
    from .connector import Binance

__all__ = [
    "BinanceStream",
    "ConvertStream",
    "DepositsStream",
    "DividendsStream",
    "DustStream",
    "EarnFlexibleStream",
    "EarnLockedStream",
    "FiatOrdersStream",
    "FiatPaymentsStream",
    "FuturesIncomeStream",
    "LiquiditySwapsStream",
    "MarginInterestStream",
    "WithdrawalsStream",
]

Row = dict[str, Any]
_DAY = timedelta(days=1)
#: Liquid Swap opened in August 2020: no swap history before.
SWAP_ORIGIN = datetime(2020, 8, 1, tzinfo=UTC)
#: Dust conversions are listed from this date on (and only the last 100).
DUST_ORIGIN = datetime(2020, 12, 1, tzinfo=UTC)
#: USD-M futures income is kept this long by Binance.
FUTURES_KEPT = timedelta(days=90)
#: Margin interest older than this is only served with ``archived=true``.
MARGIN_ARCHIVE_AFTER = timedelta(days=180)
#: Pages of one pending-order re-check at most (a server repeating full pages cannot loop us).
_MAX_RECHECK_PAGES = 100
#: A span longer than any history: the fiat endpoints are read in one range per sync.
WHOLE_HISTORY = timedelta(days=365 * 30)


def unwrap(cursor: Cursor) -> tuple[Cursor, list[str], dict[str, Any]]:
    """(paginator cursor, assets, extra state) of a stream cursor (``None``: from the origin)."""
    if cursor is None:
        return None, [], {}
    if not isinstance(cursor, dict) or "p" not in cursor:
        raise InvalidCursorError("a Binance stream cursor is {'p': cursor, 'assets': [...]}")
    assets = cursor.get("assets") or []
    if not isinstance(assets, list) or not all(isinstance(a, str) for a in assets):
        raise InvalidCursorError("a Binance stream cursor's assets must be a list of strings")
    extra = {k: v for k, v in cursor.items() if k not in ("p", "assets")}
    return cursor["p"], assets, extra


class BinanceStream(Stream):
    """A stream of the Binance connector: wraps a paginator, reports what it saw to discovery."""

    name: ClassVar[str]

    def __init__(self, connector: Binance) -> None:
        self.connector = connector

    @property
    def api(self) -> BinanceApi:
        """The connector's HTTP surface."""
        return self.connector.api

    @property
    def options(self) -> Options:
        """The connection's options."""
        return self.connector.options

    @property
    def context(self) -> ConnectorContext:
        """The connector's context."""
        return self.connector.context

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        """See :mod:`._normalize`."""
        return list(normalize_raws(self.name, raws))

    def source_id(self, row: Row) -> str:
        """A record's id within the stream (a typed error if it is not a usable id)."""
        return Fields(row, stream=self.name).text_id("id", allow_int=True, max_length=64)

    def paginator(self) -> Paginator[Row]:
        """The paginator of this stream (windowed ones build a :class:`WindowPaginator`)."""
        raise NotImplementedError

    async def enabled(self) -> bool:
        """Whether the account has this kind of history at all (margin streams probe)."""
        return True

    def _now(self) -> datetime:
        return self.context.clock()

    def windows(self, inner: Any, origin: datetime, span: timedelta) -> WindowPaginator[Row]:
        """Windows of ``span`` from ``origin`` to now, ``inner(window)`` paging each."""
        return WindowPaginator(inner, origin=origin, max_span=span, clock=self._now)

    def observe(self, records: Sequence[RawRecord]) -> set[str]:
        """Normalize ``records`` to learn their assets and confirmed flows (for pair discovery)."""
        if not records:
            return set()
        now = self._now()
        raws = [
            RawTransaction.model_construct(
                connection_id=self.context.connection_id,
                account_id=self.context.account_id,
                stream=self.name,
                source_id=r.source_id,
                payload=r.payload,
                fetched_at=now,
            )
            for r in records
        ]
        return self.connector.tally.observe(list(self.normalize(raws)))

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        """Pages of the paginator, each cursor carrying the assets seen so far."""
        return self._pages(cursor)

    async def _pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        inner, assets, extra = unwrap(cursor)
        seen = set(assets)
        self.connector.tally.assets |= seen
        self.start(extra)
        if not await self.enabled():
            return
        async for records, position, label in self.steps(inner):
            seen |= self.observe(records)
            yield Page(records, self.wrap(position, seen), label=label)

    def start(self, extra: Mapping[str, Any]) -> None:
        """Restore stream-specific state from the cursor (deposits' pending records)."""

    def state(self) -> dict[str, Any]:
        """Stream-specific state to keep in the cursor."""
        return {}

    def wrap(self, position: Cursor, seen: set[str]) -> dict[str, Any]:
        """The stream cursor for a paginator position."""
        return {"p": position, "assets": sorted(seen), **self.state()}

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """(records, paginator cursor, label) per step of :meth:`paginator`."""
        async for step in self.paginator().steps(inner):
            yield self.records(step.items), step.cursor, step.label

    def records(self, rows: Iterable[Row]) -> list[RawRecord]:
        """Rows as raw records: each id checked, a row listed twice kept once, two different rows
        under one id a :class:`~txsync.errors.DuplicateRecordError`."""
        return checked_records([RawRecord(self.source_id(row), row) for row in rows], stream=self.name)

    def within(self, rows: Sequence[Row], start: int, end: int, time_field: str, slack: int = 0) -> None:
        """Refuse an answer holding a row outside ``[start, end]`` (ms, ``slack`` either side): the
        server answered another range or page (a :class:`~txsync.errors.PaginationLoopError`)."""
        for row in rows:
            at = time_ms(row, time_field, self.name)
            if not start - slack <= at <= end + slack:
                raise PaginationLoopError(
                    f"{self.name}: a row lies outside the time range asked for; the server answered "
                    "another range",
                    endpoint=getattr(self, "path", None),
                )

    def cursor_from_time(self, since: datetime) -> Cursor:
        """Windowed streams can start at any time."""
        return None


class _WindowedStream(BinanceStream):
    """A stream read in consecutive time windows from an origin."""

    span: ClassVar[timedelta]
    #: The endpoint and its page size (streams that read one range endpoint).
    path: ClassVar[str]
    limit: ClassVar[int]

    def origin(self) -> datetime:
        """Where this stream's history starts."""
        return self.options.origin

    def inner(self, window: Window) -> Paginator[Row]:
        """The paginator of one window."""
        raise NotImplementedError

    def halved_while_full(
        self, window: Window, key: str | None, time_field: str, more_flag: str | None = None
    ) -> Paginator[Row]:
        """One window of a range endpoint (``startTime``, ``endTime``, ``limit`` = :attr:`limit`,
        rows under ``key``), halved while the answer is full (or says ``more_flag``); every row must
        lie in the range by ``time_field``."""
        path, limit = self.path, self.limit

        async def fetch(start: int, end: int) -> tuple[list[Row], bool]:
            body = await self.api.signed(path, {"startTime": start, "endTime": end, "limit": limit})
            rows = as_list(body, key, path)
            self.within(rows, start, end, time_field)
            more = more_flag is not None and isinstance(body, dict) and body.get(more_flag) is True
            return rows, more or len(rows) >= limit

        return BisectingWindow(fetch, window)

    def paginator(self) -> Paginator[Row]:
        """Windows of :attr:`span` from :meth:`origin`."""
        return self.windows(self.inner, self.origin(), self.span)

    def cursor_from_time(self, since: datetime) -> Cursor:
        """Start at ``since`` (never before the origin)."""
        return {"p": {"start": to_ms(max(since, self.origin()))}, "assets": []}


# -- deposits and withdrawals -----------------------------------------------------------------------


class _CapitalStream(_WindowedStream):
    """Deposits or withdrawals: 90-day windows, offset paging, pending records re-checked."""

    path: ClassVar[str]
    span = timedelta(days=90)
    limit: ClassVar[int] = 1000
    final: ClassVar[frozenset[int]]

    def __init__(self, connector: Binance) -> None:
        super().__init__(connector)
        self.pending: dict[str, list[int]] = {}

    def time_ms(self, row: Row) -> int:
        """The time the window filter applies to."""
        raise NotImplementedError

    def precision_ms(self) -> int:
        """Width of the range that finds a record again from its time."""
        return 1

    async def fetch(self, start: int, end: int, offset: int, limit: int) -> list[Row]:
        """One page of the range ``[start, end]``."""
        body = await self.api.signed(
            self.path, {"startTime": start, "endTime": end, "offset": offset, "limit": limit}
        )
        rows = as_list(body, None, self.path)
        for row in rows:
            at = self.time_ms(row)
            if not start - self.precision_ms() < at <= end + self.precision_ms():
                raise PaginationLoopError(
                    "a row lies outside the time range asked for: the server answered another page",
                    endpoint=self.path,
                )
        return rows

    def inner(self, window: Window) -> Paginator[Row]:
        """Offset paging inside one window (both bounds inclusive)."""

        async def fetch(offset: int, limit: int) -> list[Row]:
            return await self.fetch(window.start_ms, window.end_ms_inclusive, offset, limit)

        return OffsetPaginator(fetch, limit=self.limit, key=self.source_id)

    def start(self, extra: Mapping[str, Any]) -> None:
        """Pending records from the cursor: ``{id: [time ms, status]}``."""
        pending = extra.get("pending") or {}
        if not isinstance(pending, dict):
            raise InvalidCursorError("pending must be {id: [time, status]}")
        self.pending = {str(k): [int(v[0]), int(v[1])] for k, v in pending.items()}

    def state(self) -> dict[str, Any]:
        """The pending records (only when there are some)."""
        return {"pending": {k: list(v) for k, v in sorted(self.pending.items())}} if self.pending else {}

    def track(self, rows: Iterable[Row]) -> None:
        """Remember records not final yet; forget those that became final."""
        for row in rows:
            ident = self.source_id(row)
            status = Fields(row, stream=self.name, record=ident).integer(
                "status", default=-1, minimum=-(10**6), maximum=10**6
            )
            if status in self.final:
                self.pending.pop(ident, None)
            else:
                self.pending[ident] = [self.time_ms(row), status]

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """First the pending records (re-read when their status changed), then the windows."""
        for ident, (at, status) in sorted(self.pending.items()):
            rows = await self.fetch(at, at + self.precision_ms() - 1, 0, self.limit)
            again = [row for row in rows if self.source_id(row) == ident]
            if not again:
                continue
            changed = [row for row in again if str(row.get("status")) != str(status)]
            if changed:
                self.track(changed)
                yield self.records(changed), inner, f"status of {ident}"
        async for step in self.paginator().steps(inner):
            self.track(step.items)
            yield self.records(step.items), step.cursor, step.label


class DepositsStream(_CapitalStream):
    """Crypto deposits (``/sapi/v1/capital/deposit/hisrec``)."""

    name = "deposits"
    path = "/sapi/v1/capital/deposit/hisrec"
    final = frozenset({1, 2, 7})

    def source_id(self, row: Row) -> str:
        """The deposit id (older rows without one: coin and tx id)."""
        return deposit_id(row, self.name)

    def time_ms(self, row: Row) -> int:
        """``insertTime``."""
        return time_ms(row, "insertTime", self.name)


class WithdrawalsStream(_CapitalStream):
    """Crypto withdrawals (``/sapi/v1/capital/withdraw/history``, UID weight 18000 each)."""

    name = "withdrawals"
    path = "/sapi/v1/capital/withdraw/history"
    final = frozenset({1, 3, 5, 6})

    def time_ms(self, row: Row) -> int:
        """``applyTime`` (a UTC date-time string to the second)."""
        return time_ms(row, "applyTime", self.name)

    def precision_ms(self) -> int:
        """``applyTime`` has whole seconds."""
        return 1000


# -- fiat ------------------------------------------------------------------------------------------------


class _FiatStream(BinanceStream):
    """Fiat orders or payments: one range per ``transactionType`` from the origin, paged by
    ``page``/``rows`` (500). ``transactionType`` is added to each row for normalization.

    Orders not final yet (``Processing``, ``Refunding``, an unknown status) are kept in the cursor
    as ``pending`` (``{orderNo: [createTime, transactionType, status]}``) and looked up again on
    every sync, one range per type spanning them, until their status is final: the range the
    windows already passed is never read again otherwise.
    """

    path: ClassVar[str]
    rows: ClassVar[int] = 500
    types: ClassVar[tuple[tuple[str, str], ...]]

    def __init__(self, connector: Binance) -> None:
        super().__init__(connector)
        self.pending: dict[str, list[Any]] = {}

    def source_id(self, row: Row) -> str:
        """``orderNo``."""
        return order_no(row, self.name)

    async def fetch(self, kind: str, start: int, end: int, page: int, rows: int) -> Counted[Row]:
        """One page of the orders of ``kind`` created in ``[start, end]``."""
        body = await self.api.signed(
            self.path,
            {"transactionType": kind, "beginTime": start, "endTime": end, "page": page, "rows": rows},
        )
        data = as_list(body, "data", self.path)
        self.within(data, start, end, "createTime")
        total = body.get("total") if isinstance(body, dict) else None
        return Counted(
            [dict(row, transactionType=kind) for row in data],
            total if isinstance(total, int) and not isinstance(total, bool) else None,
        )

    def part(self, kind: str) -> Paginator[Row]:
        """The history of one ``transactionType``."""

        def inner(window: Window) -> Paginator[Row]:
            async def fetch(page: int, rows: int) -> Counted[Row]:
                return await self.fetch(kind, window.start_ms, window.end_ms_inclusive, page, rows)

            return PageNumberPaginator(fetch, size=self.rows, key=self.source_id)

        return self.windows(inner, self.options.origin, WHOLE_HISTORY)

    def paginator(self) -> Paginator[Row]:
        """Both transaction types, each from its own position."""
        return Partitioned([(label, self.part(kind)) for kind, label in self.types])

    def cursor_from_time(self, since: datetime) -> Cursor:
        """Both types from ``since``."""
        start = to_ms(max(since, self.options.origin))
        return {"p": {label: {"start": start} for _, label in self.types}, "assets": []}

    def start(self, extra: Mapping[str, Any]) -> None:
        """Pending orders from the cursor."""
        pending = extra.get("pending") or {}
        if not isinstance(pending, dict) or not all(
            isinstance(v, list)
            and len(v) == 3
            and isinstance(v[0], int)
            and not isinstance(v[0], bool)
            and v[1] in {kind for kind, _ in self.types}
            and isinstance(v[2], str)
            for v in pending.values()
        ):
            raise InvalidCursorError("pending must be {orderNo: [createTime, transactionType, status]}")
        self.pending = {str(k): list(v) for k, v in pending.items()}

    def state(self) -> dict[str, Any]:
        """The pending orders (only when there are some)."""
        return {"pending": {k: list(v) for k, v in sorted(self.pending.items())}} if self.pending else {}

    def track(self, rows: Iterable[Row]) -> None:
        """Remember orders not final yet; forget those that became final."""
        for row in rows:
            ident = self.source_id(row)
            fields = Fields(row, stream=self.name, record=ident)
            status = fields.text("status", max_length=40)
            if status.lower() in FIAT_FINAL:
                self.pending.pop(ident, None)
            else:
                kind = fields.text("transactionType", allow_int=True, max_length=4)
                self.pending[ident] = [time_ms(row, "createTime", self.name), kind, status]

    async def recheck(self) -> AsyncIterator[list[Row]]:
        """The pending orders whose status changed since the last sync (one range per type)."""
        for kind, _ in self.types:
            waiting = {k: v for k, v in self.pending.items() if v[1] == kind}
            if not waiting:
                continue
            start = min(v[0] for v in waiting.values())
            end = max(v[0] for v in waiting.values())
            page, changed = 1, []
            while True:
                answer = await self.fetch(kind, start, end, page, self.rows)
                for row in answer.items:
                    ident = self.source_id(row)
                    if ident in waiting and str(row.get("status")) != waiting[ident][2]:
                        changed.append(row)
                done = answer.total is not None and page * self.rows >= answer.total
                if len(answer.items) < self.rows or done or page >= _MAX_RECHECK_PAGES:
                    break
                page += 1
            if changed:
                yield changed

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """First the pending orders whose status changed, then the ranges not read yet."""
        async for rows in self.recheck():
            self.track(rows)
            yield self.records(rows), inner, "status of pending orders"
        async for step in self.paginator().steps(inner):
            self.track(step.items)
            yield self.records(step.items), step.cursor, step.label


class FiatOrdersStream(_FiatStream):
    """Fiat deposits and withdrawals (``/sapi/v1/fiat/orders``, UID weight 90000 each)."""

    name = "fiat_orders"
    path = "/sapi/v1/fiat/orders"
    types = (("0", "deposit"), ("1", "withdraw"))


class FiatPaymentsStream(_FiatStream):
    """Crypto bought or sold with fiat (``/sapi/v1/fiat/payments``)."""

    name = "fiat_payments"
    path = "/sapi/v1/fiat/payments"
    types = (("0", "buy"), ("1", "sell"))


# -- convert, dividends, liquid swap (range requests, halved when cut) -------------------------------------


class ConvertStream(_WindowedStream):
    """Convert trades: 30-day windows with both bounds, halved when ``moreData``."""

    name = "convert"
    span = timedelta(days=30)
    path = "/sapi/v1/convert/tradeFlow"
    limit = 1000

    def source_id(self, row: Row) -> str:
        """``orderId``."""
        return convert_id(row, self.name)

    def inner(self, window: Window) -> Paginator[Row]:
        """One window, halved while the answer says ``moreData``."""
        return self.halved_while_full(window, "list", "createTime", "moreData")


class DividendsStream(_WindowedStream):
    """Asset dividends (staking, savings, airdrops, launchpool...): 180-day spans, 500 rows."""

    name = "dividends"
    span = timedelta(days=180)
    path = "/sapi/v1/asset/assetDividend"
    limit = 500

    def inner(self, window: Window) -> Paginator[Row]:
        """One window, halved while the answer is full."""
        return self.halved_while_full(window, "rows", "divTime")


class LiquiditySwapsStream(_WindowedStream):
    """Liquid Swap trades: 90-day windows from August 2020, 100 rows, halved when full."""

    name = "liquidity_swaps"
    span = timedelta(days=90)
    path = "/sapi/v1/bswap/swap"
    limit = 100

    def origin(self) -> datetime:
        """Not before Liquid Swap opened."""
        return max(self.options.origin, SWAP_ORIGIN)

    def source_id(self, row: Row) -> str:
        """``swapId``."""
        return str(Fields(row, stream=self.name).int_id("swapId"))

    def inner(self, window: Window) -> Paginator[Row]:
        """One window, halved while the answer is full."""
        return self.halved_while_full(window, None, "swapTime")


# -- earn -----------------------------------------------------------------------------------------------


class _EarnStream(_WindowedStream):
    """Simple Earn rewards: 30-day windows from ``earn_origin``, ``current``/``size`` (100)."""

    span = timedelta(days=30)
    path: ClassVar[str]
    size = 100
    extra: ClassVar[dict[str, str]] = {}

    def origin(self) -> datetime:
        """``earn_origin``."""
        return self.options.earn_origin

    def inner(self, window: Window) -> Paginator[Row]:
        """Page numbers inside one window."""
        return counted_pages(self, window, extra=self.extra)


class EarnFlexibleStream(_EarnStream):
    """Simple Earn flexible rewards (``type=ALL``)."""

    name = "earn_flexible"
    path = "/sapi/v1/simple-earn/flexible/history/rewardsRecord"
    extra = {"type": "ALL"}

    def source_id(self, row: Row) -> str:
        """(time, asset, product, type)."""
        return earn_flexible_id(row, self.name)


class EarnLockedStream(_EarnStream):
    """Simple Earn locked rewards."""

    name = "earn_locked"
    path = "/sapi/v1/simple-earn/locked/history/rewardsRecord"

    def source_id(self, row: Row) -> str:
        """(position, time, asset, type)."""
        return earn_locked_id(row, self.name)


# -- dust ------------------------------------------------------------------------------------------------


class DustStream(BinanceStream):
    """Dust conversions: one request returns the last 100; the cursor is the last ``transId``.

    When the answer holds 100 conversions and does not reach back to the cursor (or there is no
    cursor yet), older ones may be missing: the ``dust_beyond_100`` gap is noted.
    """

    name = "dust"
    path = "/sapi/v1/asset/dribblet"
    cap = 100

    def source_id(self, row: Row) -> str:
        """``transId``."""
        return str(Fields(row, stream=self.name).int_id("transId"))

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """The conversions after the cursor, oldest first, as one page."""
        if inner is not None and (isinstance(inner, bool) or not isinstance(inner, int)):
            raise InvalidCursorError("the dust cursor is the last transId read")
        body = await self.api.signed(
            self.path,
            {"startTime": to_ms(max(self.options.origin, DUST_ORIGIN)), "endTime": to_ms(self._now())},
        )
        rows = as_list(body, "userAssetDribblets", self.path)
        ordered = sorted(rows, key=lambda r: int(self.source_id(r)))
        fresh = [r for r in ordered if inner is None or int(self.source_id(r)) > inner]
        if len(rows) >= self.cap and (inner is None or int(self.source_id(ordered[0])) > inner):
            self.context.note_gap(
                "dust_beyond_100",
                f"the API returned {len(rows)} dust conversions, its maximum: older ones are missing",
                stream=self.name,
            )
        if fresh:
            yield self.records(fresh), int(self.source_id(fresh[-1])), "last 100"


# -- futures and margin -------------------------------------------------------------------------------------


class FuturesIncomeStream(_WindowedStream):
    """USD-M futures income (``/fapi/v1/income``), only the last 3 months; paged by page/limit.

    A first sync that finds income in the first week of the 3 months, or a sync more than 3 months
    after the previous one, notes the ``futures_beyond_3_months`` gap. A key that cannot read
    futures gives no income (noted), not a failure.
    """

    name = "futures_income"
    span = FUTURES_KEPT
    path = "/fapi/v1/income"
    limit = 1000

    def origin(self) -> datetime:
        """Three months back (Binance keeps no more), or the history origin if later."""
        return max(self.options.origin, self._now() - FUTURES_KEPT + _DAY)

    def source_id(self, row: Row) -> str:
        """(tranId, incomeType, asset, symbol)."""
        return futures_income_id(row, self.name)

    def inner(self, window: Window) -> Paginator[Row]:
        """Page numbers inside the window."""
        return income_pages(self, window)

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """Clamp the start to what Binance keeps, and note what may be older."""
        origin = self.origin()
        first_sync = inner is None
        stale = isinstance(inner, dict) and isinstance(inner.get("start"), int) and "inner" not in inner
        if stale and inner["start"] < to_ms(origin):
            self.context.note_gap(
                "futures_beyond_3_months",
                f"the previous sync is over 3 months old: income before {origin.date()} is no longer served",
                stream=self.name,
            )
            inner = {"start": to_ms(origin)}
        window_start = to_ms(origin)
        try:
            async for step in self.paginator().steps(inner):
                if first_sync and any(
                    time_ms(row, "time", self.name) < window_start + 7 * 86_400_000 for row in step.items
                ):
                    first_sync = False
                    self.context.note_gap(
                        "futures_beyond_3_months",
                        f"futures income from {origin.date()} on is all the API keeps; older may exist",
                        stream=self.name,
                    )
                yield self.records(step.items), step.cursor, step.label
        except (AuthError, PermissionDeniedError):
            self.context.note_gap(
                "futures_beyond_3_months", "this key cannot read USD-M futures income", stream=self.name
            )


class MarginInterestStream(_WindowedStream):
    """Cross margin interest: 30-day windows, ``current``/``size`` (100), ``archived`` for windows
    older than 6 months. Only when the account uses margin."""

    name = "margin_interest"
    span = timedelta(days=30)
    path = "/sapi/v1/margin/interestHistory"
    size = 100

    def source_id(self, row: Row) -> str:
        """``txId``."""
        return margin_interest_id(row, self.name)

    async def enabled(self) -> bool:
        """Only for accounts with a margin account (see :meth:`Binance.margin_enabled`)."""
        return await self.connector.margin_enabled()

    def inner(self, window: Window) -> Paginator[Row]:
        """Page numbers inside one window."""
        archived = window.end < self._now() - MARGIN_ARCHIVE_AFTER
        return counted_pages(
            self, window, time_field="interestAccuredTime", extra={"archived": "true"} if archived else None
        )


def as_step(items: Sequence[Row], cursor: Cursor, label: str = "") -> Step[Row]:
    """A step (for tests)."""
    return Step(list(items), cursor, label)


def income_pages(stream: Any, window: Window) -> Paginator[Row]:
    """The futures income endpoints' paging (USD-M and COIN-M alike): page / limit inside one time
    window, every row checked to lie in it, rows identified by the stream's ``source_id``."""

    async def fetch(page: int, limit: int) -> list[Row]:
        body = await stream.api.signed(
            stream.path,
            {"startTime": window.start_ms, "endTime": window.end_ms_inclusive, "page": page, "limit": limit},
        )
        rows = as_list(body, None, stream.path)
        stream.within(rows, window.start_ms, window.end_ms_inclusive, "time")
        return rows

    return PageNumberPaginator(fetch, size=stream.limit, key=stream.source_id)


def page_total(body: Any, key: str = "total") -> int | None:
    """The record count a page-numbered answer states (a number, or digits), or None."""
    value = body.get(key) if isinstance(body, dict) else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def counted_pages(
    stream: Any,
    window: Window,
    *,
    path: str | None = None,
    list_key: str = "rows",
    time_field: str = "time",
    extra: Mapping[str, Any] | None = None,
    tag: Mapping[str, Any] | None = None,
) -> Paginator[Row]:
    """Binance's ``current`` / ``size`` page numbers inside one time window (SAPI histories): the rows
    under ``list_key``, each checked to lie in the window by ``time_field`` and given the ``tag`` fields,
    the stated ``total`` telling when to stop; ``extra`` query parameters on every request."""
    url = path or stream.path

    async def fetch(current: int, size: int) -> Counted[Row]:
        body = await stream.api.signed(
            url,
            {
                **(extra or {}),
                "startTime": window.start_ms,
                "endTime": window.end_ms_inclusive,
                "current": current,
                "size": size,
            },
        )
        rows = as_list(body, list_key, url)
        if tag:
            rows = [dict(row, **tag) for row in rows]
        stream.within(rows, window.start_ms, window.end_ms_inclusive, time_field)
        return Counted(rows, page_total(body))

    return PageNumberPaginator(fetch, size=stream.size, key=stream.source_id)

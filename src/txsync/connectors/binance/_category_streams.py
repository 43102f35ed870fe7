"""The streams of the categories read since issue 18 (see :mod:`._categories` for their records).

Each has its own cursor (``{"p": ..., "assets": [...]}`` like every Binance stream), its own
windows (the span each endpoint allows), its page size and its weights (:mod:`._limits`). A key
that cannot read a product (futures or options not enabled for it, a region without Pay or P2P)
gives no records and notes the product's gap instead of failing the sync.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from txsync.connector import Cursor, RawRecord
from txsync.errors import AuthError, PermissionDeniedError
from txsync.fields import Fields
from txsync.pagination import (
    Counted,
    IdCursorPaginator,
    InvalidCursorError,
    PageNumberPaginator,
    Paginator,
    Window,
    to_ms,
)

from ._categories import P2P_FINAL, auto_invest_id, eth_staking_id, loan_id, p2p_id, pay_id, rebate_id
from ._normalize import futures_income_id, time_ms
from ._paging import Partitioned, as_list
from ._streams import BinanceStream, Row, _WindowedStream, counted_pages, income_pages, page_total

if TYPE_CHECKING:
    from .connector import Binance

__all__ = [
    "AutoInvestStream",
    "CoinFuturesIncomeStream",
    "EthStakingStream",
    "LoansStream",
    "OptionBillsStream",
    "P2PStream",
    "PayStream",
    "SpotRebatesStream",
]

#: When each product opened: no history before.
COIN_FUTURES_ORIGIN = datetime(2020, 8, 1, tzinfo=UTC)
P2P_ORIGIN = datetime(2020, 6, 10, tzinfo=UTC)  # "the earliest startTime supported"
ETH_STAKING_ORIGIN = datetime(2020, 12, 1, tzinfo=UTC)
LOANS_ORIGIN = datetime(2020, 6, 1, tzinfo=UTC)
AUTO_INVEST_ORIGIN = datetime(2022, 1, 1, tzinfo=UTC)
#: How far back these endpoints serve.
PAY_KEPT = timedelta(days=548)  # 18 months
REBATES_KEPT = timedelta(days=365)


class _GuardedStream(_WindowedStream):
    """A windowed stream whose product a key may not reach: a refusal notes :attr:`gap`.

    Streams with a :attr:`status_field` keep their records not final yet in the cursor
    (``pending``: ``{id: [time ms, part, status]}``) and read each again (a one-millisecond range
    at its own time, in its own part) on every sync until its status is final: the windows never
    pass over a range twice.
    """

    gap: ClassVar[str]
    #: The gap a refused key notes (``None``: :attr:`gap`).
    refused_gap: ClassVar[str | None] = None
    #: How far back the endpoint serves (``None``: from the product's origin).
    kept: ClassVar[timedelta | None] = None
    product_origin: ClassVar[datetime] = datetime(2017, 7, 14, tzinfo=UTC)
    #: The field holding a record's status, and the statuses after which it never changes.
    status_field: ClassVar[str | None] = None
    final: ClassVar[frozenset[str]] = frozenset()
    time_field: ClassVar[str] = "time"

    def __init__(self, connector: Binance) -> None:
        super().__init__(connector)
        self.pending: dict[str, list[Any]] = {}

    def part_of(self, row: Row) -> str:
        """Which part (side, product) of the stream a row came from (``""``: the only one)."""
        return ""

    def part_inner(self, part: str, window: Window) -> Paginator[Row]:
        """The paginator of one window of one part."""
        return self.inner(window)

    def start(self, extra: Mapping[str, Any]) -> None:
        """Pending records from the cursor."""
        pending = extra.get("pending") or {}
        if not isinstance(pending, dict) or not all(
            isinstance(v, list)
            and len(v) == 3
            and isinstance(v[0], int)
            and not isinstance(v[0], bool)
            and isinstance(v[1], str)
            and isinstance(v[2], str)
            for v in pending.values()
        ):
            raise InvalidCursorError("pending must be {id: [time, part, status]}")
        self.pending = {str(k): list(v) for k, v in pending.items()}

    def state(self) -> dict[str, Any]:
        """The pending records (only when there are some)."""
        return {"pending": {k: list(v) for k, v in sorted(self.pending.items())}} if self.pending else {}

    def track(self, rows: list[Row]) -> None:
        """Remember records not final yet; forget those that became final."""
        if self.status_field is None:
            return
        for row in rows:
            ident = self.source_id(row)
            status = Fields(row, stream=self.name, record=ident).text(self.status_field, max_length=40)
            if status in self.final:
                self.pending.pop(ident, None)
            else:
                self.pending[ident] = [time_ms(row, self.time_field, self.name), self.part_of(row), status]

    async def recheck(self) -> AsyncIterator[list[Row]]:
        """The pending records whose status changed, each read again at its own time."""
        for ident, (at, part, status) in sorted(self.pending.items()):
            changed = []
            async for step in self.part_inner(part, Window(at, at + 1)).steps(None):
                changed += [
                    row
                    for row in step.items
                    if self.source_id(row) == ident and str(row.get(self.status_field or "")) != status
                ]
            if changed:
                yield changed

    def origin(self) -> datetime:
        """The history origin, the product's opening, and what the endpoint still serves."""
        start = max(self.options.origin, self.product_origin)
        if self.kept is not None:
            start = max(start, self._now() - self.kept + timedelta(days=1))
        return start

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """The windows; a refused key notes the gap; history older than :attr:`kept` too."""
        if self.kept is not None and inner is None and self.options.origin < self.origin():
            self.context.note_gap(
                self.gap,
                f"{self.name}: the API serves {self.kept.days} days back, from {self.origin().date()} on",
                stream=self.name,
            )
        try:
            async for rows in self.recheck():
                self.track(rows)
                yield self.records(rows), inner, "status of pending records"
            async for step in self.paginator().steps(inner):
                self.track(list(step.items))
                yield self.records(step.items), step.cursor, step.label
        except (AuthError, PermissionDeniedError):
            self.context.note_gap(
                self.refused_gap or self.gap, f"this key cannot read {self.name}", stream=self.name
            )


class CoinFuturesIncomeStream(_GuardedStream):
    """COIN-M futures income (``/dapi/v1/income``, weight 20): 200-day windows from COIN-M's
    opening, page/limit 1000."""

    name = "coin_futures_income"
    path = "/dapi/v1/income"
    span = timedelta(days=199)
    gap = "coin_m_futures"
    product_origin = COIN_FUTURES_ORIGIN
    limit = 1000

    def source_id(self, row: Row) -> str:
        """(tranId, incomeType, asset, symbol)."""
        return futures_income_id(row, self.name)

    def inner(self, window: Window) -> Paginator[Row]:
        """Page numbers inside the window."""
        return income_pages(self, window)


class PayStream(_GuardedStream):
    """Binance Pay (``/sapi/v1/pay/transactions``, UID 3000): 90-day windows over the last 18
    months (all the endpoint serves), 100 rows, halved when full."""

    name = "pay"
    path = "/sapi/v1/pay/transactions"
    span = timedelta(days=89)
    gap = "pay_beyond_18_months"
    kept = PAY_KEPT
    limit = 100

    def source_id(self, row: Row) -> str:
        """``transactionId``."""
        return pay_id(row, self.name)

    def inner(self, window: Window) -> Paginator[Row]:
        """One window, halved while the answer is full."""
        return self.halved_while_full(window, "data", "transactionTime")


class P2PStream(_GuardedStream):
    """P2P orders (``/sapi/v1/c2c/orderMatch/listUserOrderHistory``, IP 1), per ``tradeType``:
    30-day windows from June 2020 (the earliest served), page/rows 100."""

    name = "p2p"
    path = "/sapi/v1/c2c/orderMatch/listUserOrderHistory"
    span = timedelta(days=30)
    gap = "p2p"
    product_origin = P2P_ORIGIN
    rows = 100

    def source_id(self, row: Row) -> str:
        """``orderNumber``."""
        return p2p_id(row, self.name)

    status_field = "orderStatus"
    final = P2P_FINAL
    time_field = "createTime"

    def part_of(self, row: Row) -> str:
        """``BUY`` or ``SELL``."""
        return str(row.get("tradeType", ""))

    def part_inner(self, part: str, window: Window) -> Paginator[Row]:
        """One window of one side."""
        return self.side_inner(part)(window)

    def side(self, trade_type: str) -> Paginator[Row]:
        """The orders of one side."""
        return self.windows(self.side_inner(trade_type), self.origin(), self.span)

    def side_inner(self, trade_type: str) -> Callable[[Window], Paginator[Row]]:
        """The paginator of one window of one side."""

        def inner(window: Window) -> Paginator[Row]:
            async def fetch(page: int, rows: int) -> Counted[Row]:
                body = await self.api.signed(
                    self.path,
                    {
                        "tradeType": trade_type,
                        "startTimestamp": window.start_ms,
                        "endTimestamp": window.end_ms_inclusive,
                        "page": page,
                        "rows": rows,
                    },
                )
                data = as_list(body, "data", self.path)
                self.within(data, window.start_ms, window.end_ms_inclusive, "createTime")
                return Counted(data, page_total(body))

            return PageNumberPaginator(fetch, size=self.rows, key=self.source_id)

        return inner

    def paginator(self) -> Paginator[Row]:
        """Buys, then sells."""
        return Partitioned([("buy", self.side("BUY")), ("sell", self.side("SELL"))])

    def cursor_from_time(self, since: datetime) -> Cursor:
        """Both sides from ``since``."""
        start = to_ms(max(since, self.origin()))
        return {"p": {"buy": {"start": start}, "sell": {"start": start}}, "assets": []}


class EthStakingStream(_GuardedStream):
    """ETH staking: stakes, redemptions, BETH reward distributions and WBETH rewards
    (``/sapi/v1/eth-staking/eth/history/*``, IP 150 each): 90-day windows from December 2020,
    current/size 100. ``product`` is added to each row for normalization."""

    name = "eth_staking"
    span = timedelta(days=89)
    gap = "eth2_staking"
    product_origin = ETH_STAKING_ORIGIN
    size = 100
    products: ClassVar[tuple[tuple[str, str], ...]] = (
        ("staking", "/sapi/v1/eth-staking/eth/history/stakingHistory"),
        ("redemption", "/sapi/v1/eth-staking/eth/history/redemptionHistory"),
        ("rewards", "/sapi/v1/eth-staking/eth/history/rewardsHistory"),
        ("wbeth_rewards", "/sapi/v1/eth-staking/eth/history/wbethRewardsHistory"),
    )

    def source_id(self, row: Row) -> str:
        """(product, time, asset, amount)."""
        return eth_staking_id(row, self.name)

    status_field = "status"
    final = frozenset({"SUCCESS", "FAILED"})

    def part_of(self, row: Row) -> str:
        """The product."""
        return str(row.get("product", ""))

    def part_inner(self, part: str, window: Window) -> Paginator[Row]:
        """One window of one product."""
        return self.product_inner(part, dict(self.products)[part])(window)

    def track(self, rows: list[Row]) -> None:
        """Only stakes, redemptions and reward distributions have a status."""
        super().track([row for row in rows if row.get("product") != "wbeth_rewards"])

    def part(self, product: str, path: str) -> Paginator[Row]:
        """The history of one product."""
        return self.windows(self.product_inner(product, path), self.origin(), self.span)

    def product_inner(self, product: str, path: str) -> Callable[[Window], Paginator[Row]]:
        """The paginator of one window of one product."""

        def inner(window: Window) -> Paginator[Row]:
            return counted_pages(self, window, path=path, tag={"product": product})

        return inner

    def paginator(self) -> Paginator[Row]:
        """Every product, each from its own position."""
        return Partitioned([(product, self.part(product, path)) for product, path in self.products])

    def cursor_from_time(self, since: datetime) -> Cursor:
        """Every product from ``since``."""
        start = to_ms(max(since, self.origin()))
        return {"p": {product: {"start": start} for product, _ in self.products}, "assets": []}


class SpotRebatesStream(_GuardedStream):
    """Spot commission rebates and referral kickbacks (``/sapi/v1/rebate/taxQuery``, UID 12000):
    30-day windows over the last year (all the endpoint serves), pages of 100."""

    name = "spot_rebates"
    path = "/sapi/v1/rebate/taxQuery"
    span = timedelta(days=30)
    gap = "rebates_beyond_1_year"
    kept = REBATES_KEPT
    page_size = 100

    def source_id(self, row: Row) -> str:
        """(time, asset, type, amount)."""
        return rebate_id(row, self.name)

    def inner(self, window: Window) -> Paginator[Row]:
        """Page numbers inside one window."""

        async def fetch(page: int, _size: int) -> Counted[Row]:
            body = await self.api.signed(
                self.path, {"startTime": window.start_ms, "endTime": window.end_ms_inclusive, "page": page}
            )
            data = body.get("data") if isinstance(body, dict) else None
            rows = as_list(data if isinstance(data, dict) else {}, "data", self.path)
            self.within(rows, window.start_ms, window.end_ms_inclusive, "updateTime")
            return Counted(rows, page_total(data, "totalRecords"))

        return PageNumberPaginator(fetch, size=self.page_size, key=self.source_id)


class LoansStream(_GuardedStream):
    """Crypto loan flows: borrowed, repaid, collateral in and out (``/sapi/v1/loan/income``,
    UID 6000): 30-day windows, 100 rows, halved when full."""

    name = "loans"
    path = "/sapi/v1/loan/income"
    span = timedelta(days=30)
    gap = "loans"
    product_origin = LOANS_ORIGIN
    limit = 100

    def source_id(self, row: Row) -> str:
        """(tranId, type)."""
        return loan_id(row, self.name)

    def inner(self, window: Window) -> Paginator[Row]:
        """One window, halved while the answer is full."""
        return self.halved_while_full(window, None, "timestamp")


class AutoInvestStream(_GuardedStream):
    """Auto-invest purchases (``/sapi/v1/lending/auto-invest/history/list``, IP 1): 30-day
    windows from 2022, current/size 100."""

    name = "auto_invest"
    path = "/sapi/v1/lending/auto-invest/history/list"
    span = timedelta(days=30)
    gap = "auto_invest"
    product_origin = AUTO_INVEST_ORIGIN
    size = 100
    status_field = "transactionStatus"
    final = frozenset({"SUCCESS", "FAILED"})
    time_field = "transactionDateTime"

    def source_id(self, row: Row) -> str:
        """``id``."""
        return auto_invest_id(row, self.name)

    def inner(self, window: Window) -> Paginator[Row]:
        """Page numbers inside one window."""
        return counted_pages(self, window, list_key="list", time_field="transactionDateTime")


class OptionBillsStream(BinanceStream):
    """European options funding flows (``/eapi/v1/bill``, weight 1, ``currency=USDT``): by
    increasing ``recordId`` (the id and those after it), 1000 per page; the cursor is the next id."""

    name = "option_bills"
    path = "/eapi/v1/bill"
    limit = 1000

    def source_id(self, row: Row) -> str:
        """``id``."""
        return str(Fields(row, stream=self.name).int_id("id"))

    def paginator(self) -> Paginator[Row]:
        """``recordId`` paging from the first record."""

        async def fetch(position: int) -> list[Row]:
            body = await self.api.signed(
                self.path, {"currency": "USDT", "recordId": position, "limit": self.limit}
            )
            return as_list(body, None, self.path)

        return IdCursorPaginator(fetch, id_of=lambda row: self.source_id(row), start=1, limit=self.limit)

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """The pages; a key that cannot read options notes the ``vanilla_options`` gap."""
        try:
            async for step in self.paginator().steps(inner):
                yield self.records(step.items), step.cursor, step.label
        except (AuthError, PermissionDeniedError):
            self.context.note_gap("vanilla_options", "this key cannot read options", stream=self.name)

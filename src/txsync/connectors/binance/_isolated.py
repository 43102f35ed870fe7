"""Isolated margin: each isolated pair is a wallet of its own (``margin:isolated:<SYMBOL>``) holding
the pair's two assets. Its pairs come from ``/sapi/v1/margin/isolated/account`` (IP 10, read once per
sync by :meth:`Binance.isolated_accounts`), which also gives the balances :meth:`Binance.balances`
reports; value moves in and out through universal transfers (``MARGIN_ISOLATEDMARGIN``,
``ISOLATEDMARGIN_MARGIN``, read per pair by ``universal_transfers``), and inside through the pair's
trades and interest, read here per pair, as cross margin's are (cross margin reads no borrow/repay
history either: a loan moves no net value, its interest does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from txsync.connector import Cursor, RawRecord
from txsync.errors import AuthError, InvalidRecordError, PermissionDeniedError
from txsync.fields import Fields
from txsync.models import Leg, LegRole, NormalizedTransaction, RawTransaction, TransactionKind
from txsync.pagination import IdCursorPaginator, InvalidCursorError, Paginator, Window

from ._errors import InvalidSymbolError, MarginUnavailableError
from ._normalize import _trade, _tx, margin_interest_id, reader, time_of, trade_id
from ._paging import as_list
from ._streams import MARGIN_ARCHIVE_AFTER, BinanceStream, Row, _WindowedStream, counted_pages
from ._transfers import isolated_wallet

if TYPE_CHECKING:
    from .connector import Binance

__all__ = [
    "ISOLATED_NORMALIZERS",
    "IsolatedMarginInterestStream",
    "IsolatedMarginTradesStream",
    "isolated_pair_assets",
    "isolated_side",
]


def isolated_pair_assets(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """(symbol, base asset, quote asset) of one ``/sapi/v1/margin/isolated/account`` ``assets[]``
    row (a typed error when it cannot be read)."""
    fields = Fields(row, stream="isolated_account")
    symbol = fields.asset("symbol")
    fields = fields.named(symbol)
    return (
        symbol,
        isolated_side(fields, "baseAsset").asset("asset"),
        isolated_side(fields, "quoteAsset").asset("asset"),
    )


def isolated_side(fields: Fields, name: str) -> Fields:
    """The ``baseAsset`` or ``quoteAsset`` object of an isolated pair row."""
    side = fields.raw(name)
    return Fields(side if isinstance(side, dict) else {}, stream="isolated_account", record=name)


def normalize_isolated_trade(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """An isolated margin trade: a spot trade's shape in the pair's own wallet."""
    symbol = reader(raw).text("symbol", max_length=40)
    return _trade(raw, "isolated_margin_trade", isolated_wallet(symbol))


def normalize_isolated_interest(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """Interest charged on an isolated pair's loan (a fee alone, in the pair's wallet)."""
    row = reader(raw)
    ident = margin_interest_id(row.data, raw.stream)
    symbol = row.text("isolatedSymbol", max_length=40)
    principal = row.optional_amount("principal")
    return [
        _tx(
            raw,
            f"isolated_margin_interest:{ident}",
            TransactionKind.FEE,
            time_of(row, "interestAccuredTime"),
            [
                Leg(
                    asset=row.asset("asset"),
                    amount=-row.amount("interest"),
                    role=LegRole.INTEREST,
                    wallet=isolated_wallet(symbol),
                )
            ],
            external={"tx_id": ident},
            meta={"principal": "" if principal is None else str(principal), "symbol": symbol},
        )
    ]


#: Stream name -> normalizer (looked up by :func:`._normalize.normalize_raws`).
ISOLATED_NORMALIZERS = {
    "isolated_margin_trades": normalize_isolated_trade,
    "isolated_margin_interest": normalize_isolated_interest,
}


class _IsolatedStream(BinanceStream):
    """A stream read per isolated pair: the pairs the account has now, and those of the cursor (a
    pair closed since keeps its history). The cursor's ``symbols`` remember each pair's assets."""

    def __init__(self, connector: Binance) -> None:
        super().__init__(connector)
        self.symbols: dict[str, str] = {}

    def start(self, extra: Mapping[str, Any]) -> None:
        """The pairs of the cursor: ``symbols`` ``{SYMBOL: "BASE/QUOTE"}``."""
        symbols = extra.get("symbols") or {}
        if not isinstance(symbols, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and "/" in v for k, v in symbols.items()
        ):
            raise InvalidCursorError("symbols must be {SYMBOL: 'BASE/QUOTE'}")
        self.symbols = dict(symbols)

    def state(self) -> dict[str, Any]:
        """The pairs known (only when there are some)."""
        return {"symbols": dict(sorted(self.symbols.items()))} if self.symbols else {}

    async def pairs(self) -> list[str]:
        """Every pair to read, sorted."""
        try:
            accounts = await self.connector.isolated_accounts()
        except (MarginUnavailableError, AuthError, PermissionDeniedError):
            accounts = []
        for row in accounts:
            symbol, base, quote = isolated_pair_assets(row)
            self.symbols[symbol] = f"{base}/{quote}"
        return sorted(self.symbols)

    def part(self, symbol: str) -> Paginator[Row]:
        """The paginator of one pair."""
        raise NotImplementedError

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """Every pair in turn, each from its own position; a pair Binance no longer knows (-1121)
        notes ``delisted_pairs`` and is skipped."""
        if inner is not None and not isinstance(inner, dict):
            raise InvalidCursorError("an isolated margin cursor is {SYMBOL: cursor}")
        state: dict[str, Any] = dict(inner or {})
        for symbol in await self.pairs():
            try:
                async for step in self.part(symbol).steps(state.get(symbol)):
                    state[symbol] = step.cursor
                    yield self.records(step.items), dict(state), f"{symbol} {step.label}".strip()
            except InvalidSymbolError:
                self.context.note_gap(
                    "delisted_pairs", f"isolated {symbol} answered -1121 (invalid symbol)", stream=self.name
                )


class IsolatedMarginTradesStream(_IsolatedStream):
    """Isolated margin trades (``/sapi/v1/margin/myTrades?isIsolated=TRUE``, IP 10), per isolated
    pair, ``fromId`` from 0, 1000 a page; each row gets the pair's ``baseAsset``/``quoteAsset``."""

    name = "isolated_margin_trades"
    path = "/sapi/v1/margin/myTrades"
    limit = 1000

    def source_id(self, row: Row) -> str:
        """``SYMBOL:id``."""
        return trade_id(row, self.name)

    def part(self, symbol: str) -> Paginator[Row]:
        """``fromId`` paging of one pair."""
        base, _, quote = self.symbols[symbol].partition("/")

        async def fetch(position: int) -> list[Row]:
            body = await self.api.signed(
                self.path, {"symbol": symbol, "isIsolated": "TRUE", "fromId": position, "limit": self.limit}
            )
            rows = as_list(body, None, self.path)
            for row in rows:
                if Fields(row, stream=self.name).text("symbol", max_length=40) != symbol:
                    raise InvalidRecordError(
                        f"{self.name}: a row of another pair than {symbol}", stream=self.name, field="symbol"
                    )
            return [dict(row, baseAsset=base, quoteAsset=quote) for row in rows]

        return IdCursorPaginator(
            fetch, id_of=lambda row: Fields(row, stream=self.name).int_id("id"), start=0, limit=self.limit
        )


class IsolatedMarginInterestStream(_IsolatedStream, _WindowedStream):
    """Isolated margin interest (``/sapi/v1/margin/interestHistory?isolatedSymbol=``, IP 1), per
    isolated pair: 30-day windows from ``origin``, current/size 100, ``archived=true`` for windows
    older than 6 months (as cross margin interest)."""

    name = "isolated_margin_interest"
    path = "/sapi/v1/margin/interestHistory"
    span = timedelta(days=30)
    size = 100

    def source_id(self, row: Row) -> str:
        """``txId``."""
        return margin_interest_id(row, self.name)

    def part(self, symbol: str) -> Paginator[Row]:
        """The windows of one pair."""

        def inner(window: Window) -> Paginator[Row]:
            extra = {"isolatedSymbol": symbol}
            if window.end < self._now() - MARGIN_ARCHIVE_AFTER:
                extra["archived"] = "true"
            return counted_pages(self, window, time_field="interestAccuredTime", extra=extra)

        return self.windows(inner, self.origin(), self.span)

    def cursor_from_time(self, since: Any) -> Cursor:
        """Pairs are known only while syncing: a time cursor starts every pair at its origin."""
        return None

"""Binance public klines as a price source: minute candles of spot symbols, no key.

Facts relied on (Binance spot API documentation, see docs/valuation.md):

* ``GET /api/v3/klines?symbol=&interval=1m&startTime=&endTime=&limit=``: candles ``[open time, open,
  high, low, close, volume, close time, ...]`` (prices as decimal strings) whose open time lies in
  ``[startTime, endTime]``, oldest first, at most ``limit`` (default 500, max 1000). Weight 2, counted
  in the per-IP ``REQUEST_WEIGHT`` budget of 6000 per minute shared with every ``/api/v3`` call, so this
  source spends the same limiter budget as the Binance connector (``ip_label``).
* Minute candles exist for a symbol's whole history; a symbol Binance never listed, or removed
  entirely (``BCCUSDT``), answers HTTP 400 ``{"code": -1121, "msg": "Invalid symbol."}``; before a
  symbol's listing the answer is empty.
* The candle in progress is returned too, with a close time in the future: it is never used.

A request for an asset in a currency is tried as the direct symbol (``BTCEUR``), the inverse one read
backwards (``EURUSDT`` for tether in EUR), then through bridge quotes (``BTCUSDT``, priced on to EUR by
the policy: tether's own market price, never its peg). The price of a minute is its candle's close.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from txsync.connectors.binance._limits import BUCKETS, limiter_key
from txsync.errors import BadRequestError, BadResponseError, ConfigurationError
from txsync.http import HttpClient
from txsync.valuation.assets import fiat_code, is_fiat
from txsync.valuation.cache import CachedPrice, PriceKey
from txsync.valuation.prices import AnswerStatus, Granularity, PriceRequest
from txsync.valuation.source import (
    CandleSource,
    PriceSourceContext,
    PriceSourceInfo,
    Refusal,
    Route,
    SourceKind,
    source_limiter,
)
from txsync.valuation.sources.binance._tickers import asset_of, ticker_of

__all__ = ["DEFAULT_BRIDGES", "KLINES_LIMIT", "KLINES_WEIGHT", "QUOTE_ASSETS", "BinanceKlines"]

#: Most candles one klines request returns.
KLINES_LIMIT = 1000
#: The weight of one klines request in the ``spot`` (per IP) budget.
KLINES_WEIGHT = 2
#: Quotes tried, in order, when no symbol joins the asset and the currency asked.
DEFAULT_BRIDGES: tuple[str, ...] = ("USDT", "BTC", "BUSD")
_MINUTE = timedelta(minutes=1)
_INVALID_SYMBOL = -1121
#: Assets Binance quotes symbols in: only these are tried as the base of an inverse symbol
#: (``EURUSDT`` read backwards prices tether in EUR; nobody lists ``EURDOGE``).
QUOTE_ASSETS = frozenset(
    {"USDT", "BUSD", "USDC", "FDUSD", "TUSD", "DAI", "BTC", "ETH", "BNB", "EUR", "GBP", "TRY", "BRL", "AUD"}
)


def _ms(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1))


def _from_ms(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)


class BinanceKlines(CandleSource):
    """Minute candles of Binance spot symbols (see the module notes).

    Options: ``base_url`` (default ``https://api.binance.com``; ``https://data-api.binance.vision``
    serves the same public market data), ``bridges`` (quote tickers tried after the currency asked,
    default ``USDT``, ``BTC``, ``BUSD``), ``ip_label`` (whose per-IP budget it shares with the Binance
    connector, default ``"default"``), ``rate_limit`` (``"on"``; ``"simulated"`` counts weight on a
    virtual clock, for replays; ``"off"``), ``max_gap_minutes`` (minutes asked together in one request
    may be this far apart, default 60).
    """

    info: ClassVar[PriceSourceInfo] = PriceSourceInfo(
        id="binance",
        display_name="Binance klines",
        kind=SourceKind.MARKET,
        granularities=(Granularity.MINUTE,),
        description="Public spot candles of Binance: 1-minute candles for a symbol's whole history.",
        homepage="https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints",
    )

    def __init__(self, context: PriceSourceContext) -> None:
        super().__init__(context)
        options = context.options
        self.base_url = str(options.get("base_url", "https://api.binance.com"))
        bridges = options.get("bridges", DEFAULT_BRIDGES)
        if isinstance(bridges, str) or not all(isinstance(b, str) and b for b in bridges):
            raise ConfigurationError("option bridges must be a list of tickers")
        self.bridges = tuple(str(b).upper() for b in bridges)
        ip_label = str(options.get("ip_label", "default"))
        self.max_gap = timedelta(minutes=int(options.get("max_gap_minutes", 60)))
        # the connector's key for its per-IP spot budget: both spend the same weight
        key = limiter_key("spot", ip_label=ip_label, account_id="")
        limiter = source_limiter(context, key, [BUCKETS["spot"]])
        self.http = HttpClient(
            self.base_url,
            limiter=limiter,
            transport=context.transport,
            stats=context.stats,
            retry=context.retry,
            clock=context.clock,
        )

    # -- planning ----------------------------------------------------------------------------------

    def routes(self, request: PriceRequest, now: datetime) -> Sequence[Route] | Refusal:
        """Direct symbol, inverse symbol, then each bridge quote (straight or inverse)."""
        asset = self._ticker(request.asset)
        quote = self._ticker(request.quote)
        if asset is None:
            return Refusal(AnswerStatus.UNKNOWN, f"no Binance ticker for {request.asset}")
        if quote is None:
            return Refusal(AnswerStatus.UNKNOWN, f"no Binance ticker for {request.quote}")
        inverse = asset in QUOTE_ASSETS
        routes: list[Route] = [Route(asset + quote, request.asset, request.quote, Granularity.MINUTE)]
        if inverse:
            routes.append(
                Route(quote + asset, request.quote, request.asset, Granularity.MINUTE, inverted=True)
            )
        for bridge in self.bridges:
            bridge_id = asset_of(bridge)
            if bridge in (asset, quote) or bridge_id is None:
                continue
            routes.append(Route(asset + bridge, request.asset, bridge_id, Granularity.MINUTE))
            if inverse:
                routes.append(
                    Route(bridge + asset, bridge_id, request.asset, Granularity.MINUTE, inverted=True)
                )
        return routes

    def conversions_for(self, asset: str, quote: str) -> int:
        """0 for an asset Binance quotes other symbols in (tether, bitcoin, the euro: a direct market in
        the currency is likely), 1 for others (an altcoin is priced through USDT and converted)."""
        return 0 if self._ticker(asset) in QUOTE_ASSETS else 1

    @staticmethod
    def _ticker(asset_id: str) -> str | None:
        if is_fiat(asset_id):
            return fiat_code(asset_id)
        return ticker_of(asset_id)

    # -- fetching ----------------------------------------------------------------------------------

    async def fetch(self, route: Route, slots: Sequence[datetime], now: datetime) -> Iterable[CachedPrice]:
        """One klines request per run of close slots (at most 1000 minutes, gaps of ``max_gap``).

        Requests name ``startTime`` and ``limit`` only: for a window before the symbol's listing Binance
        answers its first candles, which date the listing, so no window before it is asked again.
        """
        entries: list[CachedPrice] = []
        symbol_key = PriceKey.symbol(self.info.id, route.base, route.quote)
        listed: datetime | None = None
        for first, last in _windows(slots, self.max_gap):
            if listed is not None and last < listed:
                continue  # before the listing learnt from an earlier window
            try:
                rows = await self._klines(route.instrument, first, last)
            except BadRequestError as exc:
                if exc.code == _INVALID_SYMBOL:
                    note = f"Binance answered -1121 (Invalid symbol): {route.instrument} is not listed"
                    return [CachedPrice(symbol_key, None, now, note=note)]
                raise
            window = self._entries(route, rows, now)
            if window and window[0].key.time > first and listed is None:
                listed = window[0].key.time
                note = f"first {route.instrument} candle at {listed.isoformat()}"
                entries.append(
                    CachedPrice(symbol_key, None, now, route.instrument, observed_at=listed, note=note)
                )
            entries.extend(e for e in window if first <= e.key.time <= last)
        return entries

    async def _klines(self, symbol: str, first: datetime, last: datetime) -> Any:
        count = int((last - first) / _MINUTE) + 1
        params = {"symbol": symbol, "interval": "1m", "startTime": _ms(first), "limit": count}
        return await self.http.get_json(
            "/api/v3/klines", params=params, weights={"spot": KLINES_WEIGHT}, endpoint="/api/v3/klines"
        )

    def _entries(self, route: Route, rows: Any, now: datetime) -> list[CachedPrice]:
        if not isinstance(rows, list):
            raise BadResponseError("klines: expected a list of candles", endpoint="/api/v3/klines")
        found: dict[datetime, CachedPrice] = {}
        for row in rows:
            if not isinstance(row, list) or len(row) < 7:
                raise BadResponseError(
                    "klines: a candle is not a list of 7+ fields", endpoint="/api/v3/klines"
                )
            open_ms, close, close_ms = row[0], row[4], row[6]
            if isinstance(open_ms, bool) or not isinstance(open_ms, int) or not isinstance(close_ms, int):
                raise BadResponseError("klines: candle times must be integers", endpoint="/api/v3/klines")
            try:
                price = Decimal(close) if isinstance(close, str) else None
            except InvalidOperation:
                price = None
            if price is None or not price.is_finite() or price <= 0:
                raise BadResponseError(
                    f"klines: bad close price {str(close)[:30]!r}", endpoint="/api/v3/klines"
                )
            try:
                start, closes = _from_ms(open_ms), _from_ms(close_ms)
            except OverflowError:
                raise BadResponseError(
                    "klines: a candle time is out of range", endpoint="/api/v3/klines"
                ) from None
            if start != Granularity.MINUTE.floor(start) or close_ms != open_ms + 59_999:
                raise BadResponseError("klines: not a 1-minute candle", endpoint="/api/v3/klines")
            if closes >= now:
                continue  # the candle in progress
            key = PriceKey(self.info.id, route.base, route.quote, Granularity.MINUTE.value, start)
            found[start] = CachedPrice(key, price, now, route.instrument)
        return [found[start] for start in sorted(found)]

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


def _windows(slots: Sequence[datetime], max_gap: timedelta) -> list[tuple[datetime, datetime]]:
    """Runs of slots, each spanning at most :data:`KLINES_LIMIT` minutes with no gap over ``max_gap``
    (a wider gap costs more candles than a request saves)."""
    windows: list[tuple[datetime, datetime]] = []
    for slot in sorted(slots):
        if windows and slot - windows[-1][0] < KLINES_LIMIT * _MINUTE and slot - windows[-1][1] <= max_gap:
            windows[-1] = (windows[-1][0], slot)
        else:
            windows.append((slot, slot))
    return windows

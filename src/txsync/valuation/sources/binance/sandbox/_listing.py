"""The symbols the emulated Binance lists, and since when (synthetic dates, real names).

Every coin with a Binance ticker trades against USDT from the exchange's early days (or the coin's
launch in the synthetic market); majors also against BTC and BUSD; a few against EUR only since
January 2020, so older euro prices go through USDT. ``BCC`` and ``XZC`` symbols are gone entirely, as
on the real exchange (klines answer -1121); Zcoin trades as ``FIRO`` since its rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from txsync.valuation.sandbox import ReferenceMarket
from txsync.valuation.sources.binance._tickers import _tables

__all__ = ["Symbol", "default_listing"]

_OPENING = datetime(2017, 8, 17, tzinfo=UTC)
_EUR_PAIRS = datetime(2020, 1, 3, tzinfo=UTC)
_BUSD_PAIRS = datetime(2019, 9, 19, tzinfo=UTC)
_LATER: dict[str, datetime] = {
    "FIRO": datetime(2020, 10, 28, tzinfo=UTC),
    "BCH": datetime(2019, 11, 28, tzinfo=UTC),
    "USDC": datetime(2018, 12, 15, tzinfo=UTC),
    "TUSD": datetime(2019, 3, 1, tzinfo=UTC),
    "FDUSD": datetime(2023, 7, 26, tzinfo=UTC),
    "DAI": datetime(2020, 1, 15, tzinfo=UTC),
}
_BTC_QUOTED = ("ETH", "BNB", "LTC", "XRP", "ADA", "DOT", "LINK", "XLM", "TRX", "XMR", "ETC", "IOTA", "VET")
_EUR_QUOTED = ("BTC", "ETH", "BNB", "XRP", "ADA", "DOT", "LINK", "SOL")


@dataclass(frozen=True, slots=True)
class Symbol:
    """One listed symbol: its base and quote (tickers and asset ids) and its first candle."""

    name: str
    base: str
    quote: str
    base_id: str
    quote_id: str
    listed: datetime


def default_listing(market: ReferenceMarket) -> dict[str, Symbol]:
    """The emulated listing over ``market`` (only coins the market prices)."""
    _, by_ticker = _tables()
    ids = {**by_ticker, "EUR": "fiat:EUR"}
    symbols: dict[str, Symbol] = {}

    def add(base: str, quote: str, since: datetime) -> None:
        base_id, quote_id = ids.get(base), ids.get(quote)
        if base_id is None or quote_id is None or base == quote:
            return
        launch = max(market.since(base_id) or since.date(), market.since(quote_id) or since.date())
        listed = max(since, _LATER.get(base, since), _LATER.get(quote, since))
        listed = max(listed, datetime(launch.year, launch.month, launch.day, tzinfo=UTC))
        symbols[base + quote] = Symbol(base + quote, base, quote, base_id, quote_id, listed)

    for ticker, asset_id in sorted(by_ticker.items()):
        if market.knows(asset_id) and ticker != "USDT":
            add(ticker, "USDT", _OPENING)
    for ticker in _BTC_QUOTED:
        add(ticker, "BTC", _OPENING)
    for ticker in ("BTC", "ETH", "BNB"):
        add(ticker, "BUSD", _BUSD_PAIRS)
    for ticker in _EUR_QUOTED:
        add(ticker, "EUR", _EUR_PAIRS)
    add("EUR", "USDT", _EUR_PAIRS)
    return symbols

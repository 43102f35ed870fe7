"""The emulated exchange's markets: 2000+ symbols generated deterministically from a seed."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

__all__ = ["MAJORS", "QUOTES", "Listing", "Market", "generate_listing"]

#: Quote assets with the share of base assets listed against each.
QUOTES: tuple[tuple[str, float], ...] = (
    ("USDT", 1.0),
    ("BTC", 0.7),
    ("BUSD", 0.45),
    ("BNB", 0.3),
    ("ETH", 0.22),
    ("FDUSD", 0.25),
    ("TRY", 0.3),
    ("USDC", 0.2),
    ("TUSD", 0.12),
    ("EUR", 0.08),
    ("BRL", 0.05),
    ("GBP", 0.04),
    ("AUD", 0.03),
)
#: Real base assets (the scenario account trades some of them).
MAJORS: tuple[str, ...] = (
    "ADA",
    "DOT",
    "SOL",
    "LINK",
    "XRP",
    "LTC",
    "DOGE",
    "MATIC",
    "AVAX",
    "ATOM",
    "UNI",
    "AAVE",
    "FIL",
    "TRX",
    "XLM",
    "VET",
    "ALGO",
    "NEAR",
    "FTM",
    "SAND",
    "MANA",
    "AXS",
    "GRT",
    "CHZ",
    "ENJ",
    "EOS",
    "NEO",
    "IOTA",
    "ZIL",
    "ONE",
    "CAKE",
    "SUSHI",
    "COMP",
    "SNX",
    "MKR",
    "YFI",
    "CRV",
    "KSM",
    "EGLD",
    "THETA",
    "HBAR",
    "ICP",
    "ARB",
    "OP",
    "APT",
    "SUI",
    "INJ",
    "RNDR",
    "LDO",
    "PEPE",
    "SHIB",
    "WAVES",
    "QTUM",
    "ICX",
    "ZEC",
    "DASH",
    "XMR",
    "ETC",
    "BAT",
    "ZRX",
    "OMG",
    "KNC",
    "XZC",
    "NANO",
    "STRAX",
)
_HUB_CROSSES: tuple[tuple[str, str], ...] = (
    ("BTC", "USDT"),
    ("ETH", "USDT"),
    ("BNB", "USDT"),
    ("ETH", "BTC"),
    ("BNB", "BTC"),
    ("BNB", "ETH"),
    ("BTC", "BUSD"),
    ("ETH", "BUSD"),
    ("BNB", "BUSD"),
    ("BTC", "EUR"),
    ("ETH", "EUR"),
    ("BNB", "EUR"),
    ("USDT", "TRY"),
    ("BTC", "TRY"),
    ("BUSD", "USDT"),
    ("EUR", "USDT"),
    ("BTC", "FDUSD"),
    ("ETH", "FDUSD"),
    ("BTC", "USDC"),
    ("ETH", "USDC"),
    ("USDC", "USDT"),
    ("BTC", "GBP"),
    ("BTC", "BRL"),
    ("USDT", "BRL"),
    ("FDUSD", "USDT"),
    ("TUSD", "USDT"),
    ("BTC", "TUSD"),
    ("BTC", "AUD"),
    ("ETH", "TRY"),
    ("BNB", "TRY"),
)


@dataclass(frozen=True, slots=True)
class Market:
    """One listed symbol."""

    symbol: str
    base: str
    quote: str
    status: str = "TRADING"
    margin: bool = False
    #: Trading groups: a symbol only in a ``TRD_GRP_*`` group is listed only when asked for it.
    permissions: tuple[str, ...] = ("SPOT",)

    def info(self) -> dict[str, object]:
        """The symbol as ``exchangeInfo`` shows it (the fields the sandbox keeps)."""
        return {
            "symbol": self.symbol,
            "status": self.status,
            "baseAsset": self.base,
            "quoteAsset": self.quote,
            "isSpotTradingAllowed": self.status == "TRADING",
            "isMarginTradingAllowed": self.margin,
            "permissions": list(self.permissions),
        }


@dataclass
class Listing:
    """Every symbol the exchange lists, and the ones it removed entirely."""

    markets: dict[str, Market]
    #: Symbols removed entirely: not in exchangeInfo, ``myTrades`` answers -1121.
    vanished: dict[str, tuple[str, str]]

    def pairs_of(self, asset: str) -> list[Market]:
        """Listed markets of ``asset``."""
        return [m for m in self.markets.values() if asset in (m.base, m.quote)]


def _names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        size = rng.choice((3, 3, 4, 4, 4, 5))
        name = "".join(rng.choice(string.ascii_uppercase) for _ in range(size))
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def generate_listing(seed: int, target: int, *, fixed: dict[str, Market] | None = None) -> Listing:
    """About ``target`` symbols: real majors plus generated bases against the usual quotes.

    ``fixed`` markets (the scenario's special pairs: BREAK status, a trading group) replace
    generated ones of the same symbol.
    """
    rng = random.Random(seed)  # noqa: S311 - deterministic test data
    markets: dict[str, Market] = {}
    for base, quote in _HUB_CROSSES:
        markets[base + quote] = Market(base + quote, base, quote, margin=True)
    quotes = {q for q, _ in QUOTES}
    taken = set(MAJORS) | quotes | {"BCC", "VEN", "HSR"}
    bases = list(MAJORS)
    average = sum(share for _, share in QUOTES)
    extra = max(0, int((target - len(markets)) / average) - len(bases))
    bases += _names(rng, extra, taken)
    for index, base in enumerate(bases):
        for quote, share in QUOTES:
            if quote == "USDT" or rng.random() < share:
                status = "BREAK" if rng.random() < 0.03 else "TRADING"
                group = ("TRD_GRP_004",) if rng.random() < 0.08 else ("SPOT",)
                margin = index < len(MAJORS) and rng.random() < 0.3
                markets[base + quote] = Market(
                    base + quote, base, quote, status=status, margin=margin, permissions=group
                )
    for market in (fixed or {}).values():
        markets[market.symbol] = market
    vanished = {"BCCBTC": ("BCC", "BTC"), "BCCUSDT": ("BCC", "USDT"), "VENBTC": ("VEN", "BTC")}
    return Listing(markets=markets, vanished=vanished)

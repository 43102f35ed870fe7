"""Binance klines: minute candles of Binance spot symbols as a price source (no key needed).

:class:`BinanceKlines` is the client; its API emulation, for tests and cassettes, is in
:mod:`txsync.valuation.sources.binance.sandbox`.
"""

from txsync.valuation.sources.binance._source import (
    DEFAULT_BRIDGES,
    KLINES_LIMIT,
    KLINES_WEIGHT,
    BinanceKlines,
)

__all__ = ["DEFAULT_BRIDGES", "KLINES_LIMIT", "KLINES_WEIGHT", "BinanceKlines"]

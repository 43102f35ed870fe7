"""Binance's ticker of each coin: the Binance asset mapping read backwards, current names preferred.

A ticker whose meaning on Binance is bounded in time (``BCC``, Bitcoin Cash until 2018) or that was
renamed (``XZC`` -> ``FIRO``, ``BCHABC`` -> ``BCH``) is not used to build today's symbols.
"""

from __future__ import annotations

import functools

from txsync.valuation.assets import AssetResolver

__all__ = ["asset_of", "ticker_of"]

#: Old names Binance no longer lists a symbol under (kept in the mapping for history only).
_RETIRED = frozenset({"BCC", "BCHABC", "BCHSV", "XZC", "VEN"})


@functools.cache
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    mapping = AssetResolver().mapping("binance")
    assert mapping is not None
    by_asset: dict[str, str] = {}
    by_ticker: dict[str, str] = {}
    for ticker, meanings in sorted(mapping.coins.items()):
        if ticker in _RETIRED:
            continue
        for meaning in meanings:
            if meaning.start is None and meaning.end is None:
                by_asset.setdefault(meaning.asset_id, ticker)
                by_ticker[ticker] = meaning.asset_id
    return by_asset, by_ticker


def ticker_of(asset_id: str) -> str | None:
    """The Binance ticker of a coin (``coin:bitcoin`` -> ``BTC``), ``None`` if Binance has none."""
    return _tables()[0].get(asset_id)


def asset_of(ticker: str) -> str | None:
    """The asset id of a Binance ticker in use today (``USDT`` -> ``coin:tether``)."""
    return _tables()[1].get(ticker)

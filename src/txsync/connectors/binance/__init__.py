"""Binance connector (id ``binance``): see :class:`Binance` and ``docs/connectors/binance.md``."""

from txsync.connectors.binance._options import BINANCE_API, BINANCE_FAPI, Options
from txsync.connectors.binance.connector import Binance

__all__ = ["BINANCE_API", "BINANCE_FAPI", "Binance", "Options"]

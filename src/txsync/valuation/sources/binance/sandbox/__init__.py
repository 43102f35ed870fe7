"""A local emulation of Binance's public klines (``GET /api/v3/klines``) for the price source's tests,
cassettes and benchmark: :class:`KlinesSandbox` serves the synthetic market of
:mod:`txsync.valuation.sandbox` through an ``httpx.MockTransport``."""

from txsync.valuation.sandbox import SANDBOX_NOW as NOW

from ._listing import Symbol, default_listing
from ._server import INTERVALS, KlinesSandbox

__all__ = ["INTERVALS", "NOW", "KlinesSandbox", "Symbol", "default_listing"]

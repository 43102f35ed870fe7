"""A local emulation of CoinGecko's historical market data API for the price source's tests and
cassettes: :class:`CoinGeckoSandbox` serves the synthetic market of :mod:`txsync.valuation.sandbox`
through an ``httpx.MockTransport``, with its test keys :data:`DEMO_KEY` and :data:`PRO_KEY`."""

from txsync.valuation.sandbox import SANDBOX_NOW as NOW

from ._server import DEMO_KEY, PRO_KEY, CoinGeckoSandbox

__all__ = ["DEMO_KEY", "NOW", "PRO_KEY", "CoinGeckoSandbox"]

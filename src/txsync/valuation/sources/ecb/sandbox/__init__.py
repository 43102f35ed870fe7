"""A local emulation of the ECB data API's exchange-rate series for the FX source's tests and
cassettes: :class:`EcbSandbox` serves the synthetic market of :mod:`txsync.valuation.sandbox` through
an ``httpx.MockTransport``."""

from txsync.valuation.sandbox import SANDBOX_NOW as NOW

from ._server import SERIES, EcbSandbox

__all__ = ["NOW", "SERIES", "EcbSandbox"]

"""The built-in price sources' sandboxes behind one transport, and the default policy wired to it.

:class:`PriceSandboxes` routes each request by host to the emulated Binance klines, CoinGecko or ECB
data API (all over the one synthetic market, on one clock), which is what tests, cassette recordings,
benchmarks and demos need: ``PriceSandboxes().policy()`` is the default policy (Binance, then
CoinGecko with the sandbox's paid key; the ECB for FX) talking to the sandboxes, and
``PriceSandboxes().policy(transport=offline_transport())`` the same policy replaying cassettes only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from txsync.connector import LimiterRegistry
from txsync.valuation.policy import PricePolicy
from txsync.valuation.sandbox import SANDBOX_NOW
from txsync.valuation.source import PriceSourceContext
from txsync.valuation.sources.binance import BinanceKlines
from txsync.valuation.sources.binance.sandbox import KlinesSandbox
from txsync.valuation.sources.coingecko import CoinGecko
from txsync.valuation.sources.coingecko.sandbox import PRO_KEY, CoinGeckoSandbox
from txsync.valuation.sources.ecb import EcbReferenceRates
from txsync.valuation.sources.ecb.sandbox import EcbSandbox

__all__ = ["HOSTS", "PriceSandboxes"]

#: Which sandbox answers which host.
HOSTS: dict[str, str] = {
    "api.binance.com": "binance",
    "data-api.binance.vision": "binance",
    "api.coingecko.com": "coingecko",
    "pro-api.coingecko.com": "coingecko",
    "data-api.ecb.europa.eu": "ecb",
}


def _sandbox_now() -> datetime:
    return SANDBOX_NOW


@dataclass
class PriceSandboxes:
    """The three sandboxes on one ``clock`` (rate limits not enforced unless asked)."""

    clock: Callable[[], datetime] = _sandbox_now
    enforce_limits: bool = False
    klines: KlinesSandbox = field(init=False)
    coingecko: CoinGeckoSandbox = field(init=False)
    ecb: EcbSandbox = field(init=False)

    def __post_init__(self) -> None:
        self.klines = KlinesSandbox(clock=self.clock, enforce_limits=self.enforce_limits)
        self.coingecko = CoinGeckoSandbox(clock=self.clock, enforce_limits=self.enforce_limits)
        self.ecb = EcbSandbox(clock=self.clock)

    @property
    def requests(self) -> dict[str, int]:
        """Requests each sandbox answered."""
        return {
            "binance": self.klines.requests,
            "coingecko": self.coingecko.requests,
            "ecb": self.ecb.requests,
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Route ``request`` to the sandbox of its host."""
        target = HOSTS.get(request.url.host)
        if target == "binance":
            return self.klines.handle(request)
        if target == "coingecko":
            return self.coingecko.handle(request)
        if target == "ecb":
            return self.ecb.handle(request)
        return httpx.Response(404, text=f"no sandbox serves {request.url.host}")

    def transport(self) -> httpx.MockTransport:
        """A transport answering every price request from the sandboxes."""
        return httpx.MockTransport(self.handle)

    def policy(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: Any = None,
        limiters: LimiterRegistry | None = None,
        coingecko_key: str | None = PRO_KEY,
        coingecko_plan: str | None = "pro",
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> PricePolicy:
        """The default policy (Binance klines, then CoinGecko; the ECB for FX) over ``transport``
        (default: these sandboxes). ``options`` adds options per source id."""
        wire = transport if transport is not None else self.transport()
        shared = limiters or LimiterRegistry()
        extra = options or {}

        def context(
            source: str, base: Mapping[str, Any], secrets: Mapping[str, str] | None = None
        ) -> PriceSourceContext:
            return PriceSourceContext(
                options={**base, **extra.get(source, {})},
                secrets=dict(secrets or {}),
                transport=wire,
                clock=self.clock,
                retry=retry,
                limiters=shared,
            )

        gecko: dict[str, Any] = {"plan": coingecko_plan} if coingecko_plan else {}
        if coingecko_plan != "public":
            gecko["requests_per_minute"] = 100_000  # the sandbox does not limit unless asked
        return PricePolicy(
            [
                BinanceKlines(context("binance", {"rate_limit": "simulated"})),
                CoinGecko(context("coingecko", gecko, {"api_key": coingecko_key} if coingecko_key else None)),
            ],
            [EcbReferenceRates(context("ecb", {"requests_per_minute": 100_000}))],
        )

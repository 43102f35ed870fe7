"""CoinGecko historical market data as a price source (Demo, keyless and paid plans).

:class:`CoinGecko` is the client; its API emulation, for tests and cassettes, is in
:mod:`txsync.valuation.sources.coingecko.sandbox`.
"""

from txsync.valuation.sources.coingecko._source import (
    DEMO_BASE_URL,
    HOURLY_SINCE,
    PLANS,
    PLATFORMS,
    PRO_BASE_URL,
    VS_CURRENCIES,
    CoinGecko,
    PlanLimitError,
)

__all__ = [
    "DEMO_BASE_URL",
    "HOURLY_SINCE",
    "PLANS",
    "PLATFORMS",
    "PRO_BASE_URL",
    "VS_CURRENCIES",
    "CoinGecko",
    "PlanLimitError",
]

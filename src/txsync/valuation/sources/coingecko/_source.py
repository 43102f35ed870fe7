"""CoinGecko's historical market data as a price source: hourly (or daily) prices of any coin it tracks.

Facts relied on (CoinGecko API documentation, see docs/valuation.md):

* ``GET /coins/{id}/market_chart/range?vs_currency=&from=&to=`` (UNIX seconds) answers
  ``{"prices": [[ms, price], ...], "market_caps": ..., "total_volumes": ...}``; ERC-20 tokens by chain
  and contract: ``GET /coins/{platform}/contract/{address}/market_chart/range``.
* Granularity follows the span asked: 1 day from the current time = 5-minutely; 1 day from any other
  time, and 2 to 90 days = hourly; above 90 days = daily (00:00 UTC). So this source asks windows of 2 to
  90 days for hourly prices, above 90 days for daily ones. The last completed UTC day's point is
  published at 00:35 UTC the next day; ranges of 2-90 days are cached for 30 minutes.
* Keys: the Demo plan on ``https://api.coingecko.com/api/v3`` with header ``x-cg-demo-api-key``; paid
  plans on ``https://pro-api.coingecko.com/api/v3`` with ``x-cg-pro-api-key``. The Demo (and keyless)
  plan reads only the past 365 days (error 10012 beyond); paid plans the full history (hourly data from
  2018). Rate limits are per plan and minute (Demo 30 calls, more on paid plans); a 429 carries
  ``Retry-After``. Errors: 401 with ``error_code`` 10002 (key missing or wrong), 10010/10011 (a key for
  the other root URL), 10012 (beyond the plan's history), 10005 (plan restriction); 404
  ``{"error": "coin not found"}`` for an unknown coin or contract.

A coin's price for an interval is the sample closing it: the hourly sample at the next full hour, the
daily 00:00 sample of the next day (so a day's price exists only after it ended: same-day movements are
pending until 00:35 UTC). Prices are read exactly from the JSON's digits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from txsync.connector import CredentialField
from txsync.errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    ConfigurationError,
    PermissionDeniedError,
    RateLimitedError,
    TxsyncError,
)
from txsync.http import Bucket, HttpClient
from txsync.valuation.assets import fiat_code, is_fiat, parse_caip19
from txsync.valuation.cache import CachedPrice, PriceKey
from txsync.valuation.prices import EPOCH, AnswerStatus, Granularity, PriceRequest
from txsync.valuation.source import (
    CandleSource,
    PriceSourceContext,
    PriceSourceInfo,
    Refusal,
    Route,
    SourceKind,
    source_limiter,
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

DEMO_BASE_URL = "https://api.coingecko.com/api/v3"
PRO_BASE_URL = "https://pro-api.coingecko.com/api/v3"
#: The first day CoinGecko has hourly data (its paid plans: "hourly from 2018").
HOURLY_SINCE = datetime(2018, 2, 1, tzinfo=UTC)

#: Per plan: (root URL, key header, calls per minute, days of history readable or ``None`` for all).
PLANS: dict[str, tuple[str, str | None, int, int | None]] = {
    "public": (DEMO_BASE_URL, None, 5, 365),
    "demo": (DEMO_BASE_URL, "x-cg-demo-api-key", 30, 365),
    "pro": (PRO_BASE_URL, "x-cg-pro-api-key", 500, None),
}

#: Currencies CoinGecko quotes prices in (``/simple/supported_vs_currencies``, fiat ones).
VS_CURRENCIES: frozenset[str] = frozenset(
    {
        "usd",
        "aed",
        "ars",
        "aud",
        "bdt",
        "bhd",
        "brl",
        "cad",
        "chf",
        "clp",
        "cny",
        "czk",
        "dkk",
        "eur",
        "gbp",
        "gel",
        "hkd",
        "huf",
        "idr",
        "ils",
        "inr",
        "jpy",
        "krw",
        "kwd",
        "lkr",
        "mxn",
        "myr",
        "ngn",
        "nok",
        "nzd",
        "php",
        "pkr",
        "pln",
        "rub",
        "sar",
        "sek",
        "sgd",
        "thb",
        "try",
        "twd",
        "uah",
        "vnd",
        "zar",
    }
)

#: EVM chain id -> CoinGecko asset platform id (``/asset_platforms``' ``chain_identifier``).
PLATFORMS: dict[int, str] = {
    1: "ethereum",
    10: "optimistic-ethereum",
    56: "binance-smart-chain",
    100: "xdai",
    130: "unichain",
    137: "polygon-pos",
    146: "sonic",
    204: "opbnb",
    324: "zksync",
    480: "world-chain",
    5000: "mantle",
    8453: "base",
    42161: "arbitrum-one",
    42170: "arbitrum-nova",
    43114: "avalanche",
    59144: "linea",
    81457: "blast",
    534352: "scroll",
}

_LAG = {Granularity.HOUR: timedelta(minutes=30), Granularity.DAY: timedelta(minutes=35)}
_MAX_WINDOW = {Granularity.HOUR: timedelta(days=88), Granularity.DAY: timedelta(days=360)}
_ENDPOINT = "/coins/market_chart/range"
#: How far from an interval's boundary a sample may be to count as the interval's close.
_TOLERANCE = timedelta(minutes=30)


class PlanLimitError(BadRequestError):
    """CoinGecko refused a range beyond what the key's plan may read (error 10012)."""


def _status_of(body: Any) -> tuple[int | None, str | None]:
    """CoinGecko's ``error_code`` and ``error_message`` wherever its error body puts them."""
    if not isinstance(body, dict):
        return None, None
    status = body.get("status")
    error = body.get("error")
    if not isinstance(status, dict) and isinstance(error, dict):
        status = error.get("status")
    if isinstance(status, dict):
        code = status.get("error_code")
        message = status.get("error_message")
        return (code if isinstance(code, int) else None), (str(message)[:200] if message else None)
    if isinstance(error, str):
        return None, error[:200]
    return None, None


def _map_error(response: httpx.Response, body: Any) -> TxsyncError | None:
    """CoinGecko's error codes onto the taxonomy (``None`` lets the default mapping decide)."""
    if response.status_code < 400:
        return None
    code, message = _status_of(body)
    text = message or response.reason_phrase or "error"
    if code == 10012:
        return PlanLimitError(f"CoinGecko: {text}", code=code)
    if code in (10002, 10010, 10011):
        return AuthError(f"CoinGecko rejected the API key: {text}", code=code)
    if code == 10005:
        return PermissionDeniedError(f"CoinGecko: not available on this plan: {text}", code=code)
    if response.status_code == 429:
        return RateLimitedError(f"CoinGecko rate limit: {text}", code=code)
    return None


def _seconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(seconds=1)


class CoinGecko(CandleSource):
    """CoinGecko historical market data (see the module notes).

    Secret ``api_key``: a Demo or a paid key. Options: ``plan`` (``"demo"`` when a key is given,
    ``"pro"`` for a paid key, ``"public"`` without key), ``granularity`` (``"hourly"``, the default,
    or ``"daily"``: fewer requests, coarser prices), ``requests_per_minute`` (the plan's by default),
    ``base_url`` (the plan's root URL by default), ``history_days`` (how far back the key's plan reads:
    365 for Demo and keyless, all for a paid key unless set, e.g. 730 for the Basic tier),
    ``rate_limit`` (``on``, ``simulated`` or ``off``).
    """

    info: ClassVar[PriceSourceInfo] = PriceSourceInfo(
        id="coingecko",
        display_name="CoinGecko",
        kind=SourceKind.MARKET,
        granularities=(Granularity.HOUR, Granularity.DAY),
        credential_fields=(
            CredentialField(
                name="api_key",
                label="CoinGecko API key",
                secret=True,
                required=False,
                description="A Demo key (free) reads the past 365 days; a paid key the full history.",
            ),
        ),
        description="CoinGecko's historical market data: hourly and daily prices of the coins it tracks.",
        homepage="https://docs.coingecko.com/reference/coins-id-market-chart-range",
    )

    def __init__(self, context: PriceSourceContext) -> None:
        super().__init__(context)
        options = context.options
        key = context.secrets.get("api_key") or None
        plan = str(options.get("plan", "demo" if key else "public"))
        if plan not in PLANS:
            raise ConfigurationError(f"CoinGecko option plan must be one of {sorted(PLANS)}, not {plan!r}")
        if plan != "public" and not key:
            raise ConfigurationError(f"the CoinGecko {plan} plan needs an api_key")
        root, header, per_minute, history = PLANS[plan]
        if "history_days" in options:  # paid tiers differ: Basic reads 2 years, Analyst and up everything
            history = None if options["history_days"] is None else int(options["history_days"])
        self.plan = plan
        self.history = None if history is None else timedelta(days=history)
        mode = str(options.get("granularity", "hourly"))
        if mode not in ("hourly", "daily"):
            raise ConfigurationError(f"CoinGecko option granularity must be hourly or daily, not {mode!r}")
        self.hourly = mode == "hourly"
        per_minute = int(options.get("requests_per_minute", per_minute))
        identity = hashlib.sha256((key or "keyless").encode()).hexdigest()[:16]
        limiter = source_limiter(
            context, f"coingecko:{plan}:{identity}", [Bucket("coingecko", per_minute, 60)]
        )
        self.http = HttpClient(
            str(options.get("base_url", root)),
            limiter=limiter,
            transport=context.transport,
            stats=context.stats,
            retry=context.retry,
            clock=context.clock,
            error_mapper=_map_error,
            headers={header: key} if header and key else None,
            secrets=[key] if key else (),
        )

    # -- planning ----------------------------------------------------------------------------------

    def floor(self, now: datetime) -> datetime | None:
        """The oldest time the plan may read (with a day of margin), ``None`` for no limit."""
        return None if self.history is None else now - self.history + timedelta(days=1)

    def routes(self, request: PriceRequest, now: datetime) -> Sequence[Route] | Refusal:
        """The coin (or contract) in the currency asked (USD when CoinGecko does not quote it)."""
        path = self._path(request.asset)
        if path is None:
            return Refusal(AnswerStatus.UNKNOWN, f"CoinGecko has no id for {request.asset}")
        if not is_fiat(request.quote):
            return Refusal(AnswerStatus.UNKNOWN, f"CoinGecko prices in currencies, not in {request.quote}")
        vs = fiat_code(request.quote).lower()
        quote = request.quote
        if vs not in VS_CURRENCIES:
            vs, quote = "usd", "fiat:USD"
        floor = self.floor(now)
        if floor is not None and request.at < floor:
            days = self.history.days if self.history else 0
            return Refusal(
                AnswerStatus.UNAVAILABLE,
                f"the CoinGecko {self.plan} plan reads only the past {days} days: a paid key "
                "(x-cg-pro-api-key) of a tier with full history reads it all",
            )
        instrument = f"{path}/{vs}"
        daily = Route(instrument, request.asset, quote, Granularity.DAY)
        if self.hourly and request.at >= HOURLY_SINCE:
            return [Route(instrument, request.asset, quote, Granularity.HOUR), daily]
        return [daily]

    @staticmethod
    def _path(asset_id: str) -> str | None:
        if asset_id.startswith("coin:"):
            return asset_id[5:]
        parsed = parse_caip19(asset_id)
        if parsed is None or parsed[1] != "erc20" or parsed[0] not in PLATFORMS:
            return None
        return f"{PLATFORMS[parsed[0]]}:{parsed[2]}"

    def available_at(self, route: Route, slot: datetime) -> datetime:
        """The closing sample of an interval is published after the interval, plus CoinGecko's lag."""
        return slot + route.granularity.delta + _LAG.get(route.granularity, timedelta(0))

    # -- fetching ----------------------------------------------------------------------------------

    async def fetch(self, route: Route, slots: Sequence[datetime], now: datetime) -> Iterable[CachedPrice]:
        """One range request per window of slots (at most 88 days hourly, 360 days daily)."""
        granularity = route.granularity
        path, vs = route.instrument.rsplit("/", 1)
        url = f"/coins/{path}/market_chart/range"
        if ":" in path:
            platform, address = path.split(":", 1)
            url = f"/coins/{platform}/contract/{address}/market_chart/range"
        entries: list[CachedPrice] = []
        for first, last in _windows(slots, _MAX_WINDOW[granularity]):
            start, end = self._span(granularity, first, last, now)
            try:
                body = await self.http.get_json(
                    url,
                    params={
                        "vs_currency": vs,
                        "from": _seconds(start),
                        "to": _seconds(end),
                        "precision": "full",
                    },
                    endpoint=_ENDPOINT,
                )
            except BadRequestError as exc:
                if exc.status == 404:
                    note = f"CoinGecko does not know {route.base} ({exc})"
                    return [
                        CachedPrice(
                            PriceKey.symbol(self.info.id, route.base, route.quote), None, now, note=note
                        )
                    ]
                raise
            entries.extend(self._entries(route, body, now))
        return entries

    def _span(
        self, granularity: Granularity, first: datetime, last: datetime, now: datetime
    ) -> tuple[datetime, datetime]:
        """The ``from``/``to`` that make CoinGecko answer ``granularity`` and include every closing sample."""
        step = granularity.delta
        start, end = first - step, last + 2 * step
        floor = self.floor(now)
        if granularity is Granularity.HOUR:
            if end - start < timedelta(days=2):
                start = end - timedelta(days=2)
        elif end - start <= timedelta(days=90):
            start = end - timedelta(days=92)
        if floor is not None and start < floor:
            start = floor
            if granularity is Granularity.DAY and end - start <= timedelta(days=90):
                end = start + timedelta(days=92)
        return start, min(end, now)

    def _entries(self, route: Route, body: Any, now: datetime) -> list[CachedPrice]:
        if not isinstance(body, dict) or not isinstance(body.get("prices"), list):
            raise BadResponseError("market_chart: no 'prices' list", endpoint=_ENDPOINT)
        found: dict[PriceKey, tuple[timedelta, CachedPrice]] = {}
        for sample in body["prices"]:
            if not isinstance(sample, list) or len(sample) != 2:
                raise BadResponseError(
                    "market_chart: a price is not a [time, price] pair", endpoint=_ENDPOINT
                )
            stamp, price = sample
            if isinstance(stamp, Decimal) and stamp == stamp.to_integral_value():
                stamp = int(stamp)
            if isinstance(stamp, bool) or not isinstance(stamp, int):
                raise BadResponseError("market_chart: a sample time is not an integer", endpoint=_ENDPOINT)
            if price is None:
                continue  # CoinGecko leaves holes as null
            if isinstance(price, bool) or not isinstance(price, (int, Decimal)):
                raise BadResponseError("market_chart: a price is not a number", endpoint=_ENDPOINT)
            value = Decimal(price)
            if not value.is_finite() or value <= 0:
                continue
            try:
                moment = EPOCH + timedelta(milliseconds=stamp)
            except OverflowError:
                raise BadResponseError(
                    "market_chart: a sample time is out of range", endpoint=_ENDPOINT
                ) from None
            for granularity in (Granularity.HOUR, Granularity.DAY):
                boundary = granularity.floor(moment + granularity.delta / 2)
                distance = abs(moment - boundary)
                if distance > _TOLERANCE or boundary > now:
                    continue
                key = PriceKey(
                    self.info.id, route.base, route.quote, granularity.value, boundary - granularity.delta
                )
                if key not in found or distance < found[key][0]:
                    found[key] = (
                        distance,
                        CachedPrice(key, value, now, route.instrument, observed_at=moment),
                    )
        return [found[key][1] for key in sorted(found)]

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


def _windows(slots: Sequence[datetime], span: timedelta) -> list[tuple[datetime, datetime]]:
    windows: list[tuple[datetime, datetime]] = []
    for slot in sorted(slots):
        if windows and slot - windows[-1][0] <= span:
            windows[-1] = (windows[-1][0], slot)
        else:
            windows.append((slot, slot))
    return windows

"""The emulated CoinGecko API: keys and root URLs per plan, range granularity, history limits, errors."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from txsync import jsonutil
from txsync.valuation.assets import AssetResolver
from txsync.valuation.sandbox import DEFAULT_MARKET, SANDBOX_NOW, ReferenceMarket
from txsync.valuation.sources.coingecko._source import HOURLY_SINCE, PLATFORMS

__all__ = ["DEMO_KEY", "PRO_KEY", "CoinGeckoSandbox"]

#: The sandbox's Demo and paid keys (cassettes must never contain either value).
DEMO_KEY = "CG-sbxdemo-4b7e1c9a2f6d8b3e5a7c9e1f3b5d7a9c2e4f6a8b"
PRO_KEY = "CG-sbxpro-9d2f4b6a8c0e1d3f5b7a9c2e4f6a8b0d1c3e5f7a"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RATE_LIMIT_BODY = {
    "status": {
        "error_code": 429,
        "error_message": "You've exceeded the Rate Limit. Please visit "
        "https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits.",
    }
}
_PLANS = {"public": (5, 365), "demo": (30, 365), "pro": (500, None)}
_EXTRA_CONTRACTS = {("ethereum", "0x95ad61b0a150d79219dcf64e1e6cc01f0b64c4ce"): "shiba-inu"}


class _Reject(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status, self.body = status, body


def _code(code: int, message: str) -> dict[str, Any]:
    return {"status": {"error_code": code, "error_message": message}}


def _contracts() -> dict[tuple[str, str], str]:
    mapping = AssetResolver().mapping("evm")
    assert mapping is not None
    table = dict(_EXTRA_CONTRACTS)
    chains = {chain: name for chain, name in PLATFORMS.items()}
    for caip, asset_id in mapping.tokens.items():
        chain = int(caip.split(":", 1)[1].split("/", 1)[0])
        if chain in chains:
            table[(chains[chain], caip.rsplit(":", 1)[1])] = asset_id[5:]
    return table


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


@dataclass
class CoinGeckoSandbox:
    """CoinGecko's ``market_chart/range`` endpoints over the synthetic market.

    * Root URLs and keys as documented: ``api.coingecko.com`` keyless (public plan) or with the Demo key
      (header ``x-cg-demo-api-key`` or query ``x_cg_demo_api_key``); ``pro-api.coingecko.com`` with the
      paid key (``x-cg-pro-api-key``). A key on the wrong root answers 401 with error 10010 / 10011, a
      missing or unknown one 10002.
    * Public and Demo plans read the past 365 days (401, error 10012 beyond); the paid plan everything.
    * Granularity by span: up to 1 day reaching the current time = 5-minutely, up to 90 days = hourly
      (samples a few seconds past each hour; daily before 2018-02-01), beyond = daily at 00:00 UTC,
      published at 00:35 the next day. A range reaching the current time ends with the current price.
    * Per-plan calls per minute (``limits`` overrides them): 429 with ``Retry-After`` beyond.
    * ``faults`` - request number -> ``"429"``, ``"500"``, ``"malformed"``, ``"truncated"``, ``"timeout"``.
    """

    market: ReferenceMarket = field(default_factory=lambda: DEFAULT_MARKET)
    clock: Callable[[], datetime] = lambda: SANDBOX_NOW
    wall: Callable[[], float] = time.time
    enforce_limits: bool = True
    limits: dict[str, int] = field(default_factory=dict)
    faults: dict[int, str] = field(default_factory=dict)
    requests: int = 0
    log: list[str] = field(default_factory=list)
    rejected_429: int = 0
    _window: int = -1
    _used: dict[str, int] = field(default_factory=dict)
    _contract_table: dict[tuple[str, str], str] = field(default_factory=_contracts)

    def transport(self) -> httpx.MockTransport:
        """A transport answering every request from this sandbox."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as CoinGecko would."""
        self.requests += 1
        path = request.url.path
        params = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        self.log.append(f"{request.url.host}{path}")
        fault = self.faults.get(self.requests)
        if fault == "timeout":
            raise httpx.ReadTimeout("the sandbox timed out on purpose", request=request)
        if fault == "500":
            return self._json(500, {"error": "Internal server error"})
        try:
            plan = self._plan(request, params)
            if fault == "429":
                return self._json(429, _RATE_LIMIT_BODY, {"Retry-After": "1"})
            limited = self._meter(plan)
            if limited is not None:
                return limited
            body = self._route(path, params, plan)
        except _Reject as exc:
            return self._json(exc.status, exc.body)
        if fault == "malformed":
            return httpx.Response(200, content=b"<!DOCTYPE html><title>Just a moment...</title>",
                                  headers={"Content-Type": "text/html"})  # fmt: skip
        response = self._json(200, body)
        if fault == "truncated":
            return httpx.Response(200, content=response.content[: len(response.content) // 2],
                                  headers={"Content-Type": "application/json; charset=utf-8"})  # fmt: skip
        return response

    # -- keys, plans, limits -----------------------------------------------------------------------

    def _plan(self, request: httpx.Request, params: dict[str, str]) -> str:
        host = request.url.host
        demo = request.headers.get("x-cg-demo-api-key") or params.get("x_cg_demo_api_key")
        pro = request.headers.get("x-cg-pro-api-key") or params.get("x_cg_pro_api_key")
        # CoinGecko knows which plan a key belongs to, whatever header carries it
        given = pro or demo
        if host == "pro-api.coingecko.com":
            if given == DEMO_KEY:
                raise _Reject(401, _code(10011, "If you are using Demo API key, please change your root URL "
                                        "from pro-api.coingecko.com to api.coingecko.com"))  # fmt: skip
            if given != PRO_KEY:
                raise _Reject(401, _code(10002, "API Key Missing" if not given else "Invalid API Key"))
            return "pro"
        if host != "api.coingecko.com":
            raise _Reject(404, {"error": "Not Found"})
        if given == PRO_KEY:
            raise _Reject(401, _code(10010, "If you are using Pro API key, please change your root URL "
                                    "from api.coingecko.com to pro-api.coingecko.com"))  # fmt: skip
        if given is None:
            return "public"
        if given != DEMO_KEY:
            raise _Reject(401, _code(10002, "Invalid API Key"))
        return "demo"

    def _meter(self, plan: str) -> httpx.Response | None:
        now = self.wall()
        window = int(now // 60)
        if window != self._window:
            self._window, self._used = window, {}
        limit = self.limits.get(plan, _PLANS[plan][0])
        if self.enforce_limits and self._used.get(plan, 0) >= limit:
            self.rejected_429 += 1
            return self._json(
                429, _RATE_LIMIT_BODY, {"Retry-After": str(max(1, int((window + 1) * 60 - now)))}
            )
        self._used[plan] = self._used.get(plan, 0) + 1
        return None

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(
            status,
            content=jsonutil.dumps(body).encode(),
            headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )

    # -- endpoints ---------------------------------------------------------------------------------

    def _route(self, path: str, params: dict[str, str], plan: str) -> Any:
        parts = path.strip("/").split("/")
        if parts[:2] != ["api", "v3"]:
            raise _Reject(404, {"error": "Not Found"})
        rest = parts[2:]
        if rest == ["ping"]:
            return {"gecko_says": "(V3) To the Moon!"}
        if len(rest) == 4 and rest[0] == "coins" and rest[2:] == ["market_chart", "range"]:
            return self._range(rest[1], params, plan)
        if (
            len(rest) == 6
            and rest[0] == "coins"
            and rest[2] == "contract"
            and rest[4:] == ["market_chart", "range"]
        ):
            coin_id = self._contract_table.get((rest[1], rest[3].lower()))
            if coin_id is None:
                raise _Reject(404, {"error": "coin not found"})
            return self._range(coin_id, params, plan)
        raise _Reject(404, {"error": "Not Found"})

    def _moment(self, params: dict[str, str], name: str) -> datetime:
        value = params.get(name)
        if value is None or not value.strip():
            raise _Reject(400, {"error": f"Missing parameter {name}"})
        try:
            return _EPOCH + timedelta(seconds=int(value))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Reject(400, {"error": f"Invalid parameter {name}"}) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _range(self, coin_id: str, params: dict[str, str], plan: str) -> dict[str, Any]:
        asset_id = f"coin:{coin_id}"
        if not self.market.knows(asset_id):
            raise _Reject(404, {"error": "coin not found"})
        vs = params.get("vs_currency", "").lower()
        quote_id = {"btc": "coin:bitcoin", "eth": "coin:ethereum"}.get(vs, f"fiat:{vs.upper()}")
        if not vs or not self.market.knows(quote_id):
            raise _Reject(400, {"error": "invalid vs_currency"})
        if params.get("interval") in ("hourly", "5m"):
            raise _Reject(401, _code(10005, "This request is limited Enterprise plan subscribers."))
        start, end = self._moment(params, "from"), self._moment(params, "to")
        now = self.clock()
        history = _PLANS[plan][1]
        if history is not None and start < now - timedelta(days=history):
            raise _Reject(401, {"error": {"status": {
                "timestamp": now.isoformat(),
                "error_code": 10012,
                "error_message": "Your request exceeds the allowed time range. Public API users are "
                "limited to querying historical data within the past 365 days. Upgrade to a paid plan to "
                "enjoy full historical data access: https://www.coingecko.com/en/api/pricing. ",
            }}})  # fmt: skip
        end = min(end, now)
        samples: list[datetime] = []
        if end >= start:
            span = end - start
            if span <= timedelta(days=1) and now - end < timedelta(minutes=5):
                samples = self._grid(start, end, timedelta(minutes=5), now, coin_id)
            elif span <= timedelta(days=90):
                hourly_from = max(start, HOURLY_SINCE)
                samples = self._daily(start, min(end, HOURLY_SINCE), now)
                if end > hourly_from:
                    samples += self._grid(hourly_from, end, timedelta(hours=1), now, coin_id)
            else:
                samples = self._daily(start, end, now)
            if now - end < timedelta(hours=1):
                samples.append(now)
        prices, caps, volumes = [], [], []
        for moment in samples:
            price = self.market.price(asset_id, quote_id, moment)
            if price is None:
                continue
            stamp = _ms(moment)
            digest = hashlib.sha256(f"{coin_id}:{stamp}".encode()).digest()
            supply = Decimal(10_000_000 + int.from_bytes(digest[:3], "big"))
            prices.append([stamp, price])
            caps.append([stamp, (price * supply).quantize(Decimal("0.001"))])
            volumes.append([stamp, (price * supply / 40).quantize(Decimal("0.001"))])
        return {"prices": prices, "market_caps": caps, "total_volumes": volumes}

    @staticmethod
    def _grid(start: datetime, end: datetime, step: timedelta, now: datetime, coin_id: str) -> list[datetime]:
        """Samples a few seconds past each ``step`` boundary within ``[start, end]``, published ones only."""
        found: list[datetime] = []
        seconds = int(step.total_seconds())
        offset = (start - _EPOCH) // timedelta(seconds=1)
        moment = _EPOCH + timedelta(seconds=offset - offset % seconds)
        while moment <= end:
            lag = 3 + hashlib.sha256(f"{coin_id}:{moment.isoformat()}".encode()).digest()[0] % 57
            sample = moment + timedelta(seconds=lag)
            if start <= sample <= end and sample <= now:
                found.append(sample)
            moment += step
        return found

    @staticmethod
    def _daily(start: datetime, end: datetime, now: datetime) -> list[datetime]:
        """Daily samples at 00:00 UTC within ``[start, end]``, each published 35 minutes later."""
        found: list[datetime] = []
        day = datetime(start.year, start.month, start.day, tzinfo=UTC)
        if day < start:
            day += timedelta(days=1)
        while day <= end:
            if day + timedelta(minutes=35) <= now:
                found.append(day)
            day += timedelta(days=1)
        return found

"""The Binance sandbox served over HTTP for several accounts behind one IP (``txsync sandbox serve
binance``).

:class:`BinanceExchange` routes each request to the account its ``X-MBX-APIKEY`` names (a
:class:`BinanceSandbox` per account) and meters every request in ONE set of windows, as Binance meters
an IP: ``spot`` 6000, ``sapi_ip`` 12000 and ``fapi`` 2400 weight per window shared by every account,
``sapi_uid`` 180000 per window for each account. A request that does not fit answers 429 with
``Retry-After`` (seconds to the next window); more than three requests sent after a 429 in the same
window get the IP banned: 418 for two minutes. Every answer carries the usage headers
(``X-MBX-USED-WEIGHT-1M``...) of the IP's window, as Binance's do.

``window`` is the window's length in seconds: 60, as on Binance, unless a benchmark compresses time
(a ``window`` of 6 runs ten "minutes" a minute; the limits per window stay Binance's, and the ban
lasts two windows).
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from txsync.sandboxes import SandboxAccount, ServedSandbox

from ._scenario import NOW, Scenario, ScenarioAccount
from ._server import _HEADERS, _LIMITS, _WEIGHTS, KEY, READ_ONLY, SECRET, BinanceSandbox, KeySpec

__all__ = ["BinanceExchange", "account_key", "served"]

_IP_BUCKETS = ("spot", "sapi_ip", "fapi")
#: 429s a client may ignore within one window before the IP is banned (spot and futures), as in the
#: in-process sandbox.
_BAN_AFTER = 3


def account_key(index: int) -> tuple[str, str]:
    """The test API key and secret of account ``index`` of a multi-account exchange (0: the sandbox's
    own :data:`KEY` / :data:`SECRET`)."""
    if index == 0:
        return KEY, SECRET
    return f"sbx-binance-key-{index:06d}-multi", f"sbx-binance-secret-{index:06d}-multi"


class BinanceExchange:
    """Several sandbox accounts behind one metered IP (see the module notes). Not thread-safe: the
    server calls :meth:`handle` under its lock."""

    def __init__(
        self,
        accounts: list[ScenarioAccount],
        *,
        window: float = 60.0,
        clock_start: float | None = None,
        wall: Any = time.time,
    ) -> None:
        if not accounts:
            raise ValueError("an exchange needs at least one account")
        if not (window > 0 and math.isfinite(window)):
            raise ValueError("window must be a positive number of seconds")
        self.window = window
        self._wall = wall
        started = wall() if clock_start is None else clock_start

        def server_clock() -> datetime:
            # The server lives at the scenario's NOW, advancing in real time from the start.
            return NOW + timedelta(seconds=wall() - started)

        self.clock = server_clock
        self.sandboxes: dict[str, BinanceSandbox] = {}
        for index, account in enumerate(accounts):
            key, secret = account_key(index)
            self.sandboxes[key] = BinanceSandbox(
                account=account,
                keys={key: KeySpec(secret, dict(READ_ONLY))},
                clock=server_clock,
                enforce_limits=False,  # metered here, for the IP
            )
        self._first = next(iter(self.sandboxes.values()))
        self._window_index = -1
        self._used: dict[str, int] = {}
        self._ignored = 0
        self._banned_until = 0.0
        self.requests = 0
        self.rejected_429 = 0
        self.banned_418 = 0
        self.weight_spent: dict[str, int] = {}
        #: The highest weight used in one window, per IP bucket.
        self.peak: dict[str, int] = {}
        self._lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as Binance would, for the account its key names."""
        with self._lock:
            self.requests += 1
            key = request.headers.get("X-MBX-APIKEY", "")
            sandbox = self.sandboxes.get(key, self._first)
            route = _WEIGHTS.get(request.url.path)
            if route is None:
                return sandbox.handle(request)
            bucket, weight = route
            meter_key = f"sapi_uid:{key}" if bucket == "sapi_uid" else bucket
            refused = self._meter(bucket, meter_key, weight)
            if refused is not None:
                return refused
            response = sandbox.handle(request)
            response.read()
            headers = httpx.Headers(response.headers)
            headers.pop("Content-Length", None)
            headers[_HEADERS[bucket]] = str(self._used.get(meter_key, 0))
            if bucket == "spot":
                headers["X-MBX-USED-WEIGHT"] = str(self._used.get(meter_key, 0))
            return httpx.Response(response.status_code, content=response.content, headers=headers)

    def _meter(self, bucket: str, meter_key: str, weight: int) -> httpx.Response | None:
        now = self._wall()
        index = math.floor(now / self.window)
        if index != self._window_index:
            self._window_index, self._used, self._ignored = index, {}, 0
        if now < self._banned_until:
            self.banned_418 += 1
            return self._error(418, "Way too many requests; IP banned.", bucket, meter_key,
                               self._banned_until - now)
        if self._used.get(meter_key, 0) + weight > _LIMITS[bucket]:
            self.rejected_429 += 1
            self._ignored += 1
            if self._ignored > _BAN_AFTER and bucket in ("spot", "fapi"):
                self._banned_until = now + 2 * self.window
                self.banned_418 += 1
                return self._error(
                    418, "Way too many requests; IP banned.", bucket, meter_key, 2 * self.window
                )
            wait = (index + 1) * self.window - now
            return self._error(429, "Too much request weight used; current limit is exceeded.", bucket,
                               meter_key, wait)
        used = self._used[meter_key] = self._used.get(meter_key, 0) + weight
        self.weight_spent[bucket] = self.weight_spent.get(bucket, 0) + weight
        if bucket in _IP_BUCKETS:
            self.peak[bucket] = max(self.peak.get(bucket, 0), used)
        return None

    def _error(self, status: int, msg: str, bucket: str, meter_key: str, retry: float) -> httpx.Response:
        headers = {
            "Content-Type": "application/json;charset=UTF-8",
            _HEADERS[bucket]: str(self._used.get(meter_key, 0)),
            "Retry-After": str(max(0, math.ceil(retry))),
        }
        body = json.dumps({"code": -1003, "msg": msg}).encode()
        return httpx.Response(status, content=body, headers=headers)

    def stats(self) -> dict[str, Any]:
        """Requests, 429s, 418s, weight spent per bucket and the peak weight of one window per IP
        bucket (against its limit)."""
        with self._lock:
            return {
                "window_seconds": self.window,
                "requests_metered": self.requests,
                "rejected_429": self.rejected_429,
                "banned_418": self.banned_418,
                "weight_spent": dict(self.weight_spent),
                "peak_window_weight": dict(self.peak),
                "limits": {b: _LIMITS[b] for b in _IP_BUCKETS},
            }


def served(accounts: int = 1, window: float = 60.0, scenario: str = "") -> ServedSandbox:
    """The Binance sandbox for serving: one account (the full seven-year scenario, the sandbox's
    :data:`KEY`), or ``accounts`` small five-month accounts (``scenario="small"``, the default when
    there are several), each with its own key (:func:`account_key`) and seed."""
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    kind = scenario or ("full" if accounts == 1 else "small")
    if kind not in ("full", "small"):
        raise ValueError("scenario must be 'full' or 'small'")
    base = Scenario() if kind == "full" else Scenario.small()
    generated = [
        ScenarioAccount.generate(dataclasses.replace(base, seed=base.seed + index))
        for index in range(accounts)
    ]
    exchange = BinanceExchange(generated, window=window)
    shown = [
        SandboxAccount(f"account {index}", {"api_key": key, "api_secret": secret})
        for index in range(accounts)
        for key, secret in [account_key(index)]
    ]
    return ServedSandbox(
        name="binance",
        connector="binance",
        handle=exchange.handle,
        accounts=shown,
        options=lambda url: {
            "base_url": url, "futures_base_url": url, "coin_futures_base_url": url, "options_base_url": url,
        },
        stats=exchange.stats,
        note=(
            f"{accounts} {kind} account(s) behind one IP; windows of {window:g} s with Binance's limits "
            "(spot 6000, sapi_ip 12000, sapi_uid 180000 per account, fapi 2400); server time starts at "
            f"{NOW.isoformat()}"
        ),
    )

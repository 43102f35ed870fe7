"""The Binance API emulation: signatures, clock, weights, windows, page sizes, errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import httpx

from ._scenario import NOW, Scenario, ScenarioAccount

__all__ = [
    "KEY",
    "READ_ONLY",
    "SECRET",
    "TRADING_KEY",
    "TRADING_SECRET",
    "BinanceSandbox",
    "KeySpec",
]

#: The sandbox's read-only test key (cassettes must never contain either value).
KEY = "sbx-binance-key-7b1f0c9e2d4a8f6b3c5e1d7a9f2b4c6e8d0a1f3b5c7e9d2f4a6b8c0e1d3f5a7b9c"
SECRET = "sbx-binance-secret-4e6a8c0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6c"  # noqa: S105
#: A key with Spot & Margin trading enabled (refused by the engine).
TRADING_KEY = "sbx-binance-trading-key-0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a"
TRADING_SECRET = "sbx-binance-trading-secret-a1b2c3d4e5f60718293a4b5c6d7e8f9012a3b4c5d6e7f8091"  # noqa: S105

READ_ONLY: dict[str, Any] = {
    "ipRestrict": True,
    "createTime": 1698645219000,
    "enableReading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "enableMargin": False,
    "enableFutures": False,
    "permitsUniversalTransfer": False,
    "enableVanillaOptions": False,
    "enableFixApiTrade": False,
    "enableFixReadOnly": True,
    "enableSpotAndMarginTrading": False,
    "enablePortfolioMarginTrading": False,
}

_MINUTE = 60.0
_DAY_MS = 86_400_000
#: (bucket, weight) per endpoint, as Binance documents them.
_WEIGHTS: dict[str, tuple[str, int]] = {
    "/api/v3/time": ("spot", 1),
    "/api/v3/exchangeInfo": ("spot", 20),
    "/api/v3/account": ("spot", 20),
    "/api/v3/myTrades": ("spot", 20),
    "/sapi/v1/account/apiRestrictions": ("sapi_ip", 1),
    "/sapi/v1/asset/get-funding-asset": ("sapi_ip", 1),
    "/sapi/v1/capital/deposit/hisrec": ("sapi_ip", 1),
    "/sapi/v1/capital/withdraw/history": ("sapi_uid", 18000),
    "/sapi/v1/fiat/orders": ("sapi_uid", 90000),
    "/sapi/v1/fiat/payments": ("sapi_ip", 1),
    "/sapi/v1/convert/tradeFlow": ("sapi_uid", 3000),
    "/sapi/v1/asset/dribblet": ("sapi_ip", 1),
    "/sapi/v1/asset/assetDividend": ("sapi_ip", 10),
    "/sapi/v1/simple-earn/flexible/history/rewardsRecord": ("sapi_ip", 150),
    "/sapi/v1/simple-earn/locked/history/rewardsRecord": ("sapi_ip", 150),
    "/sapi/v1/bswap/swap": ("sapi_uid", 3000),
    "/sapi/v1/margin/account": ("sapi_ip", 10),
    "/sapi/v1/margin/myTrades": ("sapi_ip", 10),
    "/sapi/v1/margin/interestHistory": ("sapi_ip", 1),
    "/fapi/v1/income": ("fapi", 30),
    "/fapi/v2/balance": ("fapi", 5),
    "/dapi/v1/income": ("dapi", 20),
    "/dapi/v1/balance": ("dapi", 1),
    "/eapi/v1/bill": ("eapi", 1),
    "/eapi/v1/account": ("eapi", 3),
    "/sapi/v1/mining/payment/list": ("sapi_ip", 5),
    "/sapi/v1/pay/transactions": ("sapi_uid", 3000),
    "/sapi/v1/c2c/orderMatch/listUserOrderHistory": ("sapi_ip", 1),
    "/sapi/v1/eth-staking/eth/history/stakingHistory": ("sapi_ip", 150),
    "/sapi/v1/eth-staking/eth/history/redemptionHistory": ("sapi_ip", 150),
    "/sapi/v1/eth-staking/eth/history/rewardsHistory": ("sapi_ip", 150),
    "/sapi/v1/eth-staking/eth/history/wbethRewardsHistory": ("sapi_ip", 150),
    "/sapi/v1/rebate/taxQuery": ("sapi_uid", 12000),
    "/sapi/v1/loan/income": ("sapi_uid", 6000),
    "/sapi/v1/lending/auto-invest/history/list": ("sapi_ip", 1),
    "/sapi/v1/asset/transfer": ("sapi_ip", 1),
    "/sapi/v1/sub-account/transfer/subUserHistory": ("sapi_ip", 1),
    "/sapi/v1/margin/isolated/account": ("sapi_ip", 10),
}
_LIMITS = {"spot": 6000, "sapi_ip": 12000, "sapi_uid": 180000, "fapi": 2400, "dapi": 2400, "eapi": 400}
_HEADERS = {
    "spot": "X-MBX-USED-WEIGHT-1M",
    "sapi_ip": "X-SAPI-USED-IP-WEIGHT-1M",
    "sapi_uid": "X-SAPI-USED-UID-WEIGHT-1M",
    "fapi": "X-MBX-USED-WEIGHT-1M",
    "dapi": "X-MBX-USED-WEIGHT-1M",
    "eapi": "X-MBX-USED-WEIGHT-1M",
}
_PUBLIC = frozenset({"/api/v3/time", "/api/v3/exchangeInfo"})
#: The ``type`` values ``/sapi/v1/asset/transfer`` knows.
_UNIVERSAL_TYPES = frozenset(
    {
        *(
            f"{a}_{b}"
            for a in ("MAIN", "FUNDING", "MARGIN", "UMFUTURE", "CMFUTURE", "OPTION")
            for b in ("MAIN", "FUNDING", "MARGIN", "UMFUTURE", "CMFUTURE", "OPTION")
            if a != b and {a, b} != {"UMFUTURE", "CMFUTURE"}
        ),
        "ISOLATEDMARGIN_MARGIN",
        "MARGIN_ISOLATEDMARGIN",
        "ISOLATEDMARGIN_ISOLATEDMARGIN",
        "MAIN_PORTFOLIO_MARGIN",
        "PORTFOLIO_MARGIN_MAIN",
    }
)
#: 429s a client may ignore within one minute before the IP is banned (spot and futures only).
_BAN_AFTER = 3


#: ETH staking product -> its history endpoint's last path part.
_ETH_PRODUCTS = {
    "staking": "stakingHistory",
    "redemption": "redemptionHistory",
    "rewards": "rewardsHistory",
    "wbeth_rewards": "wbethRewardsHistory",
}


class _Reject(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def _int(params: dict[str, str], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise _Reject(400, -1100, f"Illegal characters found in parameter '{name}'.") from None


def _need(params: dict[str, str], name: str) -> int:
    value = _int(params, name)
    if value is None:
        raise _Reject(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value


def _span(
    params: dict[str, str], limit_ms: int, *, start_name: str = "startTime", end_name: str = "endTime"
) -> tuple[int, int]:
    start, end = _int(params, start_name), _int(params, end_name)
    if start is None or end is None:
        raise _Reject(400, -1102, f"Mandatory parameter '{start_name}'/'endTime' was not sent.")
    if end < start or end - start >= limit_ms:
        raise _Reject(400, -1127, "Time interval must be within the endpoint's maximum span.")
    return start, end


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass
class KeySpec:
    """A key the sandbox knows: its secret and the rights ``apiRestrictions`` reports."""

    secret: str
    restrictions: dict[str, Any]


@dataclass
class BinanceSandbox:
    """The emulated Binance API, served by :meth:`transport` (an ``httpx.MockTransport``).

    * ``clock`` - the server's clock (default: fixed at the scenario's ``NOW``), shifted by
      ``skew_ms``; ``wall`` - seconds used for the per-minute weight windows (``time.time``).
    * ``enforce_limits`` - answer 429 (``Retry-After``: seconds to the next minute, or 0 with
      ``retry_after_zero``) when a request does not fit its bucket's minute; a client that sends
      more than a few requests after a 429 in the same minute gets 418 (spot and futures).
    * ``faults`` - request number (1-based) -> ``"429-0"``, ``"429"``, ``"418"``, ``"500"``,
      ``"malformed"``, ``"truncated"``, ``"skew"`` (the server clock jumps 10 s ahead, so the
      next signed request answers -1021) or ``"duplicate"`` (the previous answer of the same
      endpoint again).

    Usage headers are on every answer, rejected ones included; weight is spent even by a request
    that fails its signature check, as on Binance.
    """

    account: ScenarioAccount = field(default_factory=ScenarioAccount.generate)
    keys: dict[str, KeySpec] = field(
        default_factory=lambda: {
            KEY: KeySpec(SECRET, dict(READ_ONLY)),
            TRADING_KEY: KeySpec(TRADING_SECRET, dict(READ_ONLY, enableSpotAndMarginTrading=True)),
        }
    )
    clock: Callable[[], datetime] = lambda: NOW
    wall: Callable[[], float] = time.time
    skew_ms: int = 0
    enforce_limits: bool = True
    retry_after_zero: bool = False
    faults: dict[int, str] = field(default_factory=dict)
    requests: int = 0
    log: list[str] = field(default_factory=list)
    weight_spent: dict[str, int] = field(default_factory=dict)
    rejected_429: int = 0
    banned_418: int = 0
    _used: dict[str, int] = field(default_factory=dict)
    _window: int = -1
    _ignored: int = 0
    _banned_until: float = 0.0
    _last: dict[str, httpx.Response] = field(default_factory=dict)

    @classmethod
    def small(cls, **kw: Any) -> BinanceSandbox:
        """A sandbox serving the small scenario (the contract cassettes)."""
        return cls(account=ScenarioAccount.generate(Scenario.small()), **kw)

    def transport(self) -> httpx.MockTransport:
        """A transport answering every request from this sandbox."""
        return httpx.MockTransport(self.handle)

    def server_ms(self) -> int:
        """The server's time in ms."""
        return int(self.clock().timestamp() * 1000) + self.skew_ms

    # -- request handling ------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as Binance would."""
        self.requests += 1
        path = request.url.path
        self.log.append(path)
        route = _WEIGHTS.get(path)
        if route is None:
            return self._error(404, -1000, "Not found.", "spot")
        bucket, weight = route
        fault = self.faults.get(self.requests)
        if fault == "skew":
            self.skew_ms += 10_000
        elif fault is not None:
            return self._fault(fault, path, bucket)
        limited = self._meter(bucket, weight)
        if limited is not None:
            return limited
        try:
            params = self._params(request, path)
            body = self._route(path, params, request)
        except _Reject as exc:
            return self._error(exc.status, exc.code, exc.msg, bucket)
        response = self._json(200, body, bucket)
        self._last[path] = response
        return response

    def _meter(self, bucket: str, weight: int) -> httpx.Response | None:
        now = self.wall()
        window = int(now // _MINUTE)
        if window != self._window:
            self._window, self._used, self._ignored = window, {}, 0
        if now < self._banned_until:
            return self._error(
                418, -1003, "Way too many requests; IP banned.", bucket, retry=self._banned_until - now
            )
        if self.enforce_limits and self._used.get(bucket, 0) + weight > _LIMITS[bucket]:
            self.rejected_429 += 1
            self._ignored += 1
            wait = (window + 1) * _MINUTE - now
            if self._ignored > _BAN_AFTER and bucket in ("spot", "fapi", "dapi", "eapi"):
                self._banned_until = now + 120
                self.banned_418 += 1
                return self._error(418, -1003, "Way too many requests; IP banned.", bucket, retry=120)
            return self._error(
                429,
                -1003,
                "Too much request weight used; current limit is exceeded.",
                bucket,
                retry=0 if self.retry_after_zero else wait,
            )
        self._used[bucket] = self._used.get(bucket, 0) + weight
        self.weight_spent[bucket] = self.weight_spent.get(bucket, 0) + weight
        return None

    def _params(self, request: httpx.Request, path: str) -> dict[str, str]:
        query = request.url.query.decode()
        params = dict(parse_qsl(query, keep_blank_values=True))
        if path in _PUBLIC:
            return params
        spec = self.keys.get(request.headers.get("X-MBX-APIKEY", ""))
        if spec is None:
            raise _Reject(401, -2015, "Invalid API-key, IP, or permissions for action.")
        head, sep, signature = query.rpartition("&signature=")
        total = head.encode() + request.content
        expected = hmac.new(spec.secret.encode(), total, hashlib.sha256).hexdigest()
        if not sep or not hmac.compare_digest(expected, signature):
            raise _Reject(400, -1022, "Signature for this request is not valid.")
        params.pop("signature", None)
        stamp = _int(params, "timestamp")
        if stamp is None:
            raise _Reject(
                400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            )
        window = _int(params, "recvWindow", 5000) or 5000
        if window > 60000:
            raise _Reject(400, -1131, "recvWindow must be less than 60000")
        server = self.server_ms()
        if not (stamp < server + 1000 and server - stamp <= window):
            raise _Reject(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return params

    def _route(self, path: str, params: dict[str, str], request: httpx.Request) -> Any:
        handlers: dict[str, Callable[[dict[str, str]], Any]] = {
            "/api/v3/time": lambda _: {"serverTime": self.server_ms()},
            "/api/v3/exchangeInfo": self._exchange_info,
            "/api/v3/account": self._account,
            "/api/v3/myTrades": self._my_trades,
            "/sapi/v1/account/apiRestrictions": lambda _: (
                self.keys[request.headers["X-MBX-APIKEY"]].restrictions
            ),
            "/sapi/v1/asset/get-funding-asset": self._funding,
            "/sapi/v1/capital/deposit/hisrec": self._deposits,
            "/sapi/v1/capital/withdraw/history": self._withdrawals,
            "/sapi/v1/fiat/orders": lambda p: self._fiat(p, self.account.fiat_orders),
            "/sapi/v1/fiat/payments": lambda p: self._fiat(p, self.account.fiat_payments),
            "/sapi/v1/convert/tradeFlow": self._convert,
            "/sapi/v1/asset/dribblet": self._dust,
            "/sapi/v1/asset/assetDividend": self._dividends,
            "/sapi/v1/simple-earn/flexible/history/rewardsRecord": lambda p: self._earn(
                p, self.account.earn_flexible
            ),
            "/sapi/v1/simple-earn/locked/history/rewardsRecord": lambda p: self._earn(
                p, self.account.earn_locked
            ),
            "/sapi/v1/bswap/swap": self._swaps,
            "/sapi/v1/margin/account": self._margin_account,
            "/sapi/v1/margin/myTrades": self._margin_trades,
            "/sapi/v1/margin/interestHistory": self._margin_interest,
            "/fapi/v1/income": self._income,
            "/fapi/v2/balance": self._futures_balance,
            "/dapi/v1/income": self._coin_income,
            "/dapi/v1/balance": self._coin_balance,
            "/eapi/v1/bill": self._option_bills,
            "/eapi/v1/account": self._options_account,
            "/sapi/v1/mining/payment/list": self._mining,
            "/sapi/v1/pay/transactions": self._pay,
            "/sapi/v1/c2c/orderMatch/listUserOrderHistory": self._p2p,
            "/sapi/v1/rebate/taxQuery": self._rebates,
            "/sapi/v1/loan/income": self._loans,
            "/sapi/v1/lending/auto-invest/history/list": self._auto_invest,
            "/sapi/v1/asset/transfer": self._universal_transfers,
            "/sapi/v1/sub-account/transfer/subUserHistory": self._sub_transfers,
            "/sapi/v1/margin/isolated/account": self._isolated_account,
            **{
                f"/sapi/v1/eth-staking/eth/history/{name}": partial(self._eth, product=product)
                for product, name in _ETH_PRODUCTS.items()
            },
        }
        if path == "/sapi/v1/asset/get-funding-asset" and request.method != "POST":
            raise _Reject(405, -1000, "Method not allowed.")
        return handlers[path](params)

    # -- answers ---------------------------------------------------------------------------------------------

    def _headers(self, bucket: str, retry: float | None = None) -> dict[str, str]:
        headers = {"Content-Type": "application/json;charset=UTF-8"}
        headers[_HEADERS[bucket]] = str(self._used.get(bucket, 0))
        if bucket == "spot":
            headers["X-MBX-USED-WEIGHT"] = str(self._used.get(bucket, 0))
        if retry is not None:
            headers["Retry-After"] = str(int(retry))
        return headers

    def _json(self, status: int, body: Any, bucket: str) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode(), headers=self._headers(bucket))

    def _error(
        self, status: int, code: int, msg: str, bucket: str, *, retry: float | None = None
    ) -> httpx.Response:
        content = json.dumps({"code": code, "msg": msg}).encode()
        return httpx.Response(status, content=content, headers=self._headers(bucket, retry))

    def _fault(self, fault: str, path: str, bucket: str) -> httpx.Response:
        if fault == "429-0":
            return self._error(429, -1003, "Too many requests.", bucket, retry=0)
        if fault == "429":
            return self._error(429, -1003, "Too many requests.", bucket, retry=1)
        if fault == "418":
            return self._error(418, -1003, "Way too many requests; IP banned.", bucket, retry=7200)
        if fault == "500":
            return self._error(500, -1000, "An unknown error occurred while processing the request.", bucket)
        if fault == "malformed":
            return httpx.Response(200, content=b"<html>gateway</html>", headers=self._headers(bucket))
        if fault == "truncated":
            return httpx.Response(
                200, content=b'[{"symbol": "BTCUSDT", "id": 12', headers=self._headers(bucket)
            )
        if fault == "duplicate" and path in self._last:
            last = self._last[path]
            return httpx.Response(200, content=last.content, headers=self._headers(bucket))
        raise ValueError(f"unknown fault {fault!r}")

    # -- endpoints -------------------------------------------------------------------------------------

    def _exchange_info(self, params: dict[str, str]) -> dict[str, Any]:
        wanted = {"SPOT", "MARGIN", "LEVERAGED"}
        if "permissions" in params:
            try:
                asked = json.loads(params["permissions"])
            except ValueError:
                raise _Reject(400, -1100, "Illegal characters found in parameter 'permissions'.") from None
            wanted = set(asked) if isinstance(asked, list) else {str(asked)}
        symbols = [m.info() for m in self.account.listing.markets.values() if wanted & set(m.permissions)]
        return {
            "timezone": "UTC",
            "serverTime": self.server_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def _account(self, params: dict[str, str]) -> dict[str, Any]:
        omit = params.get("omitZeroBalances", "false") == "true"
        rows = [{"asset": a, "free": f"{v:f}", "locked": "0.00000000"} for a, v in self.account.spot.items()]
        if not omit:
            rows.append({"asset": "LUNA", "free": "0.00000000", "locked": "0.00000000"})
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "updateTime": self.server_ms(),
            "accountType": "SPOT",
            "balances": rows,
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def _funding(self, _: dict[str, str]) -> list[dict[str, str]]:
        return [
            {
                "asset": a,
                "free": f"{v:f}",
                "locked": "0",
                "freeze": "0",
                "withdrawing": "0",
                "btcValuation": "0",
            }
            for a, v in self.account.funding.items()
        ]

    def _symbol_and_limit(self, params: dict[str, str]) -> tuple[str, int]:
        """The ``symbol`` (required, listed) and ``limit`` (1..1000, default 500) of a trades query."""
        symbol = params.get("symbol")
        if not symbol:
            raise _Reject(
                400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        if symbol not in self.account.listing.markets:
            raise _Reject(400, -1121, "Invalid symbol.")
        limit = _int(params, "limit", 500) or 500
        if not 1 <= limit <= 1000:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: limit.")
        return symbol, limit

    def _my_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol, limit = self._symbol_and_limit(params)
        start, end = _int(params, "startTime"), _int(params, "endTime")
        if start is not None and end is not None and end - start > _DAY_MS:
            raise _Reject(400, -1127, "More than 24 hours between startTime and endTime.")
        rows = self.account.trades.get(symbol, [])
        from_id = _int(params, "fromId")
        if from_id is not None:
            rows = [r for r in rows if r["id"] >= from_id]
        return rows[:limit]

    def _windowed(
        self, rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], int], start: int, end: int
    ) -> list[dict[str, Any]]:
        return [r for r in rows if start <= key(r) <= end]

    def _deposits(self, params: dict[str, str]) -> list[dict[str, Any]]:
        start, end = _span(params, 90 * _DAY_MS)
        offset, limit = _int(params, "offset", 0) or 0, _int(params, "limit", 1000) or 1000
        if not 1 <= limit <= 1000:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: limit.")
        rows = self._windowed(self.account.deposits, lambda r: r["insertTime"], start, end)
        rows.sort(key=lambda r: (-r["insertTime"], r["id"]))
        return rows[offset : offset + limit]

    def _withdrawals(self, params: dict[str, str]) -> list[dict[str, Any]]:
        start, end = _span(params, 90 * _DAY_MS)
        offset, limit = _int(params, "offset", 0) or 0, _int(params, "limit", 1000) or 1000
        if not 1 <= limit <= 1000:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: limit.")

        def applied(row: dict[str, Any]) -> int:
            return int(datetime.fromisoformat(row["applyTime"] + "+00:00").timestamp() * 1000)

        rows = self._windowed(self.account.withdrawals, applied, start, end)
        rows.sort(key=lambda r: (-applied(r), r["id"]))
        return rows[offset : offset + limit]

    def _fiat(self, params: dict[str, str], source: list[dict[str, Any]]) -> dict[str, Any]:
        kind = params.get("transactionType")
        if kind not in ("0", "1"):
            raise _Reject(
                400,
                -1102,
                "Mandatory parameter 'transactionType' was not sent, was empty/null, or malformed.",
            )
        start = _int(params, "beginTime")
        end = _int(params, "endTime")
        if start is None and end is None:
            end = self.server_ms()
            start = end - 30 * _DAY_MS
        page, rows_per = _int(params, "page", 1) or 1, _int(params, "rows", 100) or 100
        if not 1 <= rows_per <= 500:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: rows.")
        rows = [
            {k: v for k, v in r.items() if k != "transactionType"}
            for r in source
            if r["transactionType"] == kind and (start or 0) <= r["createTime"] <= (end or 2**62)
        ]
        rows.sort(key=lambda r: (-r["createTime"], r["orderNo"]))
        chunk = rows[(page - 1) * rows_per : page * rows_per]
        body: dict[str, Any] = {"code": "000000", "message": "success", "total": len(rows), "success": True}
        if rows:
            body["data"] = chunk
        return body

    def _convert(self, params: dict[str, str]) -> dict[str, Any]:
        start, end = _span(params, 30 * _DAY_MS + 1)
        limit = _int(params, "limit", 100) or 100
        if not 1 <= limit <= 1000:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: limit.")
        rows = sorted(
            self._windowed(self.account.converts, lambda r: r["createTime"], start, end),
            key=lambda r: r["createTime"],
        )
        return {
            "list": rows[:limit],
            "startTime": start,
            "endTime": end,
            "limit": limit,
            "moreData": len(rows) > limit,
        }

    def _dust(self, params: dict[str, str]) -> dict[str, Any]:
        rows = sorted(self.account.dust, key=lambda r: -r["operateTime"])
        start, end = _int(params, "startTime"), _int(params, "endTime")
        if start is not None:
            rows = [r for r in rows if r["operateTime"] >= start]
        if end is not None:
            rows = [r for r in rows if r["operateTime"] <= end]
        rows = rows[:100]
        return {"total": len(rows), "userAssetDribblets": rows}

    def _dividends(self, params: dict[str, str]) -> dict[str, Any]:
        start, end = _span(params, 180 * _DAY_MS + 1)
        limit = _int(params, "limit", 20) or 20
        if not 1 <= limit <= 500:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: limit.")
        rows = self._windowed(self.account.dividends, lambda r: r["divTime"], start, end)
        rows.sort(key=lambda r: -r["divTime"])
        return {"rows": rows[:limit], "total": len(rows)}

    def _earn(self, params: dict[str, str], source: list[dict[str, Any]]) -> dict[str, Any]:
        start, end = _span(params, 30 * _DAY_MS + 1)
        if source is self.account.earn_flexible and params.get("type") not in (
            "BONUS",
            "REALTIME",
            "REWARDS",
            "ALL",
        ):
            raise _Reject(
                400, -1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed."
            )
        current, size = _int(params, "current", 1) or 1, _int(params, "size", 10) or 10
        if not 1 <= size <= 100:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: size.")
        rows = self._windowed(source, lambda r: r["time"], start, end)
        kind = params.get("type", "ALL")
        if kind != "ALL" and source is self.account.earn_flexible:
            rows = [r for r in rows if r["type"] == kind]
        rows.sort(key=lambda r: (-r["time"], r["asset"]))
        return {"rows": rows[(current - 1) * size : current * size], "total": len(rows)}

    def _swaps(self, params: dict[str, str]) -> list[dict[str, Any]]:
        start, end = _span(params, 90 * _DAY_MS + 1)
        limit = _int(params, "limit", 3) or 3
        if not 1 <= limit <= 100:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: limit.")
        rows = self._windowed(self.account.swaps, lambda r: r["swapTime"], start, end)
        rows.sort(key=lambda r: -r["swapTime"])
        return rows[:limit]

    def _margin_account(self, _: dict[str, str]) -> dict[str, Any]:
        if not self.account.margin_used:
            raise _Reject(400, -3003, "Margin account does not exist.")
        assets = sorted(
            {a for rows in self.account.margin_trades.values() for r in rows for a in (r["symbol"][:3],)}
        )
        zero = "0.00000000"
        return {
            "borrowEnabled": True,
            "marginLevel": "999.00000000",
            "totalAssetOfBtc": zero,
            "totalLiabilityOfBtc": zero,
            "totalNetAssetOfBtc": zero,
            "tradeEnabled": True,
            "transferEnabled": True,
            "userAssets": [
                {
                    "asset": a,
                    "borrowed": zero,
                    "free": zero,
                    "interest": zero,
                    "locked": zero,
                    "netAsset": zero,
                }
                for a in assets
            ],
        }

    def _margin_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol, limit = self._symbol_and_limit(params)
        if params.get("isIsolated", "FALSE") == "TRUE":
            if symbol not in {row["symbol"] for row in self.account.isolated}:
                raise _Reject(400, -11001, "Isolated margin account does not exist.")
            rows = self.account.isolated_trades.get(symbol, [])
        else:
            rows = self.account.margin_trades.get(symbol, [])
        from_id = _int(params, "fromId")
        if from_id is not None:
            rows = [r for r in rows if r["id"] >= from_id]
        return rows[:limit]

    def _margin_interest(self, params: dict[str, str]) -> dict[str, Any]:
        start, end = _span(params, 30 * _DAY_MS + 1)
        current, size = _int(params, "current", 1) or 1, _int(params, "size", 10) or 10
        if not 1 <= size <= 100:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: size.")
        archived = params.get("archived") == "true"
        cutoff = self.server_ms() - 180 * _DAY_MS
        isolated = params.get("isolatedSymbol", "")
        source = self.account.isolated_interest if isolated else self.account.margin_interest
        rows = [
            r
            for r in self._windowed(source, lambda r: r["interestAccuredTime"], start, end)
            if (r["interestAccuredTime"] < cutoff) == archived and r["isolatedSymbol"] == isolated
        ]
        rows.sort(key=lambda r: -r["interestAccuredTime"])
        return {"rows": rows[(current - 1) * size : current * size], "total": len(rows)}

    def _income(self, params: dict[str, str]) -> list[dict[str, Any]]:
        limit = _int(params, "limit", 100) or 100
        if not 1 <= limit <= 1000:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: limit.")
        page = _int(params, "page", 1) or 1
        kept = self.server_ms() - 90 * _DAY_MS
        start = max(_int(params, "startTime", kept) or kept, kept)
        end = _int(params, "endTime", self.server_ms()) or self.server_ms()
        rows = sorted(
            self._windowed(self.account.futures_income, lambda r: r["time"], start, end),
            key=lambda r: (r["time"], r["tranId"]),
        )
        return rows[(page - 1) * limit : page * limit]

    def _futures_balance(self, _: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {
                "accountAlias": "SgsR",
                "asset": a,
                "balance": f"{v:f}",
                "crossWalletBalance": f"{v:f}",
                "crossUnPnl": "0.00000000",
                "availableBalance": f"{v:f}",
                "maxWithdrawAmount": f"{v:f}",
                "marginAvailable": True,
                "updateTime": self.server_ms(),
            }
            for a, v in self.account.futures.items()
        ]

    # -- categories read since issue 18 ----------------------------------------------------------------

    def _limit(self, params: dict[str, str], default: int, maximum: int, name: str = "limit") -> int:
        value = _int(params, name, default) or default
        if not 1 <= value <= maximum:
            raise _Reject(400, -1130, f"Invalid data sent for a parameter: {name}.")
        return value

    def _coin_income(self, params: dict[str, str]) -> list[dict[str, Any]]:
        limit = self._limit(params, 100, 1000)
        page = _int(params, "page", 1) or 1
        start, end = _span(params, 200 * _DAY_MS)
        rows = sorted(
            self._windowed(self.account.coin_futures_income, lambda r: r["time"], start, end),
            key=lambda r: (r["time"], r["tranId"]),
        )
        return rows[(page - 1) * limit : page * limit]

    def _coin_balance(self, _: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {
                "accountAlias": "SgsR",
                "asset": a,
                "balance": f"{v:f}",
                "withdrawAvailable": f"{v:f}",
                "crossWalletBalance": f"{v:f}",
                "crossUnPnl": "0.00000000",
                "availableBalance": f"{v:f}",
                "updateTime": self.server_ms(),
            }
            for a, v in self.account.coin_futures.items()
        ]

    def _option_bills(self, params: dict[str, str]) -> list[dict[str, Any]]:
        if params.get("currency") != "USDT":
            raise _Reject(
                400, -1102, "Mandatory parameter 'currency' was not sent, was empty/null, or malformed."
            )
        limit = self._limit(params, 100, 1000)
        record = _int(params, "recordId")
        rows = sorted(self.account.option_bills, key=lambda r: r["id"])
        if record is None:
            return rows[-limit:][::-1]  # the latest by default
        return [r for r in rows if r["id"] >= record][:limit]

    def _options_account(self, _: dict[str, str]) -> dict[str, Any]:
        held = self.account.options or {"USDT": Decimal(0)}
        return {
            "asset": [
                {
                    "asset": a,
                    "marginBalance": f"{v:f}",
                    "equity": f"{v:f}",
                    "available": f"{v:f}",
                    "locked": "0",
                    "unrealizedPNL": "0",
                }
                for a, v in held.items()
            ],
            "greek": [],
            "time": self.server_ms(),
            "riskLevel": "NORMAL",
        }

    def _mining(self, params: dict[str, str]) -> dict[str, Any]:
        for name in ("algo", "userName"):
            if not params.get(name):
                raise _Reject(
                    400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
                )
        page, size = _int(params, "pageIndex", 1) or 1, _int(params, "pageSize", 20) or 20
        if not 10 <= size <= 200:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: pageSize.")
        start, end = _int(params, "startDate"), _int(params, "endDate")
        rows = [
            {k: v for k, v in r.items() if k not in ("userName", "algo")}
            for r in self.account.mining
            if r["userName"] == params["userName"]
            and r["algo"] == params["algo"]
            and (start is None or r["time"] >= start)
            and (end is None or r["time"] <= end)
        ]
        rows.sort(key=lambda r: (-r["time"], r["coinName"], r["type"]))
        chunk = rows[(page - 1) * size : page * size]
        return {
            "code": 0,
            "msg": "",
            "data": {"accountProfits": chunk, "totalNum": len(rows), "pageSize": size},
        }

    def _pay(self, params: dict[str, str]) -> dict[str, Any]:
        start, end = _span(params, 90 * _DAY_MS + 1)
        limit = self._limit(params, 100, 100)
        kept = self.server_ms() - 548 * _DAY_MS
        rows = [
            r
            for r in self._windowed(self.account.pay, lambda r: r["transactionTime"], start, end)
            if r["transactionTime"] >= kept
        ]
        rows.sort(key=lambda r: -r["transactionTime"])
        return {"code": "000000", "message": "success", "data": rows[:limit], "success": True}

    def _p2p(self, params: dict[str, str]) -> dict[str, Any]:
        side = params.get("tradeType")
        if side not in ("BUY", "SELL"):
            raise _Reject(
                400, -1102, "Mandatory parameter 'tradeType' was not sent, was empty/null, or malformed."
            )
        start, end = _span(params, 30 * _DAY_MS + 1, start_name="startTimestamp", end_name="endTimestamp")
        page, rows_per = _int(params, "page", 1) or 1, self._limit(params, 100, 100, "rows")
        rows = [
            r
            for r in self._windowed(self.account.p2p, lambda r: r["createTime"], start, end)
            if r["tradeType"] == side
        ]
        rows.sort(key=lambda r: -r["createTime"])
        chunk = rows[(page - 1) * rows_per : page * rows_per]
        return {"code": "000000", "message": "success", "data": chunk, "total": len(rows), "success": True}

    def _eth(self, params: dict[str, str], product: str) -> dict[str, Any]:
        start, end = _span(params, 90 * _DAY_MS + 1)
        current, size = _int(params, "current", 1) or 1, self._limit(params, 10, 100, "size")
        rows = [
            {k: v for k, v in r.items() if k != "product"}
            for r in self._windowed(self.account.eth_staking, lambda r: r["time"], start, end)
            if r["product"] == product
        ]
        rows.sort(key=lambda r: -r["time"])
        body: dict[str, Any] = {"rows": rows[(current - 1) * size : current * size], "total": len(rows)}
        if product == "wbeth_rewards":
            body["estRewardsInETH"] = "0"
        return body

    def _rebates(self, params: dict[str, str]) -> dict[str, Any]:
        start, end = _span(params, 30 * _DAY_MS + 1)
        page = _int(params, "page", 1) or 1
        kept = self.server_ms() - 365 * _DAY_MS
        rows = [
            r
            for r in self._windowed(self.account.rebates, lambda r: r["updateTime"], start, end)
            if r["updateTime"] >= kept
        ]
        rows.sort(key=lambda r: -r["updateTime"])
        size = 100
        pages = max(1, -(-len(rows) // size))
        return {
            "status": "OK",
            "type": "GENERAL",
            "code": "000000000",
            "data": {
                "page": page,
                "totalRecords": len(rows),
                "totalPageNum": pages,
                "data": rows[(page - 1) * size : page * size],
            },
        }

    def _loans(self, params: dict[str, str]) -> list[dict[str, Any]]:
        start, end = _span(params, 30 * _DAY_MS + 1)
        limit = self._limit(params, 20, 100)
        rows = self._windowed(self.account.loans, lambda r: r["timestamp"], start, end)
        rows.sort(key=lambda r: -r["timestamp"])
        return rows[:limit]

    def _auto_invest(self, params: dict[str, str]) -> dict[str, Any]:
        start, end = _span(params, 30 * _DAY_MS + 1)
        current, size = _int(params, "current", 1) or 1, self._limit(params, 10, 100, "size")
        rows = self._windowed(self.account.auto_invest, lambda r: r["transactionDateTime"], start, end)
        rows.sort(key=lambda r: -r["transactionDateTime"])
        return {"total": len(rows), "list": rows[(current - 1) * size : current * size]}

    # -- transfers between wallets and accounts ----------------------------------------------------

    def _universal_transfers(self, params: dict[str, str]) -> dict[str, Any]:
        kind = params.get("type")
        if not kind:
            raise _Reject(
                400, -1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed."
            )
        if kind not in _UNIVERSAL_TYPES:
            raise _Reject(400, -1130, "Invalid data sent for a parameter: type.")
        needs = {"ISOLATEDMARGIN_MARGIN": "fromSymbol", "MARGIN_ISOLATEDMARGIN": "toSymbol"}.get(kind)
        if needs and not params.get(needs):
            raise _Reject(
                400, -1102, f"Mandatory parameter '{needs}' was not sent, was empty/null, or malformed."
            )
        current, size = _int(params, "current", 1) or 1, self._limit(params, 10, 100, "size")
        now = self.server_ms()
        start, end = _int(params, "startTime"), _int(params, "endTime")
        if start is None and end is None:
            start, end = now - 7 * _DAY_MS, now  # the last 7 days by default
        start, end = start or 0, end if end is not None else now
        kept = now - 180 * _DAY_MS  # the last 6 months only
        rows = [
            r
            for r in self._windowed(self.account.universal_transfers, lambda r: r["timestamp"], start, end)
            if r["timestamp"] >= kept
            and r["type"] == kind
            and (needs is None or r.get(needs) == params.get(needs))
        ]
        rows.sort(key=lambda r: -r["timestamp"])
        page = [{k: v for k, v in r.items() if k not in ("fromSymbol", "toSymbol")} for r in rows]
        body: dict[str, Any] = {"total": len(rows)}
        if page[(current - 1) * size : current * size]:
            body["rows"] = page[(current - 1) * size : current * size]
        return body  # Binance leaves "rows" out when there are none

    def _sub_transfers(self, params: dict[str, str]) -> list[dict[str, Any]]:
        if not self.account.sub_account:
            raise _Reject(400, -12022, "This account is not a sub-account.")
        direction = _int(params, "type", 2)
        limit = self._limit(params, 500, 500)
        now = self.server_ms()
        start, end = _int(params, "startTime"), _int(params, "endTime")
        if start is None and end is None:
            start, end = now - 30 * _DAY_MS, now  # the last 30 days by default
        start, end = start or 0, end if end is not None else now
        failed = params.get("returnFailHistory", "false") == "true"
        rows = [
            r
            for r in self._windowed(self.account.sub_transfers, lambda r: r["time"], start, end)
            if r["type"] == direction and (failed or r["status"] != "FAILURE")
        ]
        rows.sort(key=lambda r: -r["time"])
        return rows[:limit]

    def _isolated_account(self, _: dict[str, str]) -> dict[str, Any]:
        if not self.account.margin_used:
            raise _Reject(400, -3003, "Margin account does not exist.")
        return {
            "assets": [dict(row) for row in self.account.isolated],
            "totalAssetOfBtc": "0.00000000",
            "totalLiabilityOfBtc": "0.00000000",
            "totalNetAssetOfBtc": "0.00000000",
        }

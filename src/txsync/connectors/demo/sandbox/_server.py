"""A local emulation of the "Demo Exchange" API, for tests, cassettes and the demo job.

It behaves like a real exchange API: HMAC-signed requests verified (401 on a bad signature or key),
a per-minute request-weight budget with a usage header on every answer and 429 + ``Retry-After``
when exceeded, page-size limits, window limits (400 when a deposit query spans more than 30 days),
and deterministic account data (several years of trades including same-millisecond fills, deposits
including a pending one). ``faults`` injects failures by request number to test the bad paths.

Endpoints (host ``api.demo-exchange.test``):

* ``GET /v1/key`` (weight 1): the key's permissions.
* ``GET /v1/trades?fromId=&limit=`` (weight 5, limit <= 100): trades with id >= fromId, ascending.
* ``GET /v1/deposits?startTime=&endTime=&offset=&limit=`` (weight 1, limit <= 50, span <= 30 days):
  ``{"rows": [...], "total": n}`` ordered by (insertTime, id); both bounds inclusive.
* ``GET /v1/balances`` (weight 2): ``[{"asset", "free", "locked"}]``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from ._scenario import NOW, DemoAccount

__all__ = ["DEMO_BASE_URL", "DEMO_HOST", "DEMO_KEY", "DEMO_SECRET", "DemoSandbox"]

#: The host the emulated API answers for (the connector's default base URL).
DEMO_HOST = "api.demo-exchange.test"
DEMO_BASE_URL = f"https://{DEMO_HOST}"
#: The sandbox's test credential. Cassettes must never contain either value.
DEMO_KEY = "demo-key-5f2b9c0e8a7d4b1c9e3f6a2d8b7c4e1f"
DEMO_SECRET = "demo-secret-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"  # noqa: S105 - the sandbox's own
WEIGHT_LIMIT = 600
MAX_SPAN_MS = 30 * 86_400_000


@dataclass
class DemoSandbox:
    """The emulated API. ``transport()`` gives an ``httpx.MockTransport`` serving it.

    ``faults`` maps a request number (1-based, over the sandbox's life) to one of ``"429"``
    (Retry-After 1), ``"429-0"`` (Retry-After 0), ``"500"``, ``"503"``, ``"timeout"``,
    ``"disconnect"``, ``"truncated"`` (a 200 whose JSON is cut), ``"401"``, ``"418"``.
    """

    account: DemoAccount = field(default_factory=DemoAccount.generate)
    api_key: str = DEMO_KEY
    secret: str = DEMO_SECRET
    permissions: dict[str, bool] = field(
        default_factory=lambda: {
            "canRead": True,
            "canTrade": False,
            "canWithdraw": False,
            "canTransfer": False,
            "ipRestrict": True,
        }
    )
    faults: dict[int, str] = field(default_factory=dict)
    clock: Callable[[], datetime] = lambda: NOW
    weight_limit: int = WEIGHT_LIMIT
    requests: int = 0
    used_weight: int = 0
    _minute: int = -1
    log: list[str] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        """A transport answering every request from this sandbox."""
        return httpx.MockTransport(self.handle)

    # -- request handling -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as the exchange would."""
        self.requests += 1
        self.log.append(request.url.path)
        fault = self.faults.get(self.requests)
        if fault is not None:
            injected = self._fault(fault, request)
            if injected is not None:
                return injected
        routes: dict[str, tuple[int, Callable[[dict[str, str]], Any]]] = {
            "/v1/key": (1, lambda _: self.permissions),
            "/v1/trades": (5, self._trades),
            "/v1/deposits": (1, self._deposits),
            "/v1/balances": (2, self._balances),
        }
        route = routes.get(request.url.path)
        if route is None:
            return self._error(404, "NOT_FOUND", "no such endpoint")
        weight, handler = route
        minute = int(time.time() // 60)
        if minute != self._minute:  # the budget resets every wall-clock minute
            self._minute, self.used_weight = minute, 0
        if self.used_weight + weight > self.weight_limit:
            return self._error(429, "TOO_MANY", "request weight exceeded", retry_after="1")
        self.used_weight += weight
        params = self._verify(request)
        if isinstance(params, httpx.Response):
            return params
        try:
            body = handler(params)
        except _BadRequest as exc:
            return self._error(400, "BAD_REQUEST", str(exc))
        return self._json(200, body)

    def _verify(self, request: httpx.Request) -> dict[str, str] | httpx.Response:
        if request.headers.get("X-DEMO-APIKEY") != self.api_key:
            return self._error(401, "AUTH", "invalid API key")
        query = request.url.query.decode()
        head, sep, signature = query.rpartition("&signature=")
        if not sep or not hmac.compare_digest(
            hmac.new(self.secret.encode(), head.encode(), hashlib.sha256).hexdigest(), signature
        ):
            return self._error(401, "AUTH", "invalid signature")
        params = dict(parse_qsl(head))
        stamp = params.get("timestamp", "")
        if not stamp.isdigit():
            return self._error(400, "BAD_REQUEST", "timestamp required")
        return params

    def _fault(self, fault: str, request: httpx.Request) -> httpx.Response | None:
        if fault == "429":
            return self._error(429, "TOO_MANY", "slow down", retry_after="1")
        if fault == "429-0":
            return self._error(429, "TOO_MANY", "slow down", retry_after="0")
        if fault in ("500", "503"):
            return self._error(int(fault), "INTERNAL", "try again")
        if fault == "418":
            return self._error(418, "BANNED", "IP banned", retry_after="120")
        if fault == "401":
            return self._error(401, "AUTH", "API key revoked")
        if fault == "timeout":
            raise httpx.ReadTimeout("sandbox: timed out", request=request)
        if fault == "disconnect":
            raise httpx.RemoteProtocolError("sandbox: peer closed connection", request=request)
        if fault == "truncated":
            return httpx.Response(200, content=b'{"rows": [{"id": "dep-0001", "ass', headers=self._headers())
        raise ValueError(f"unknown fault {fault!r}")

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-DEMO-USED-WEIGHT": str(self.used_weight), **extra}

    def _json(self, status: int, body: Any) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode(), headers=self._headers())

    def _error(self, status: int, code: str, msg: str, *, retry_after: str | None = None) -> httpx.Response:
        headers = self._headers(**({"Retry-After": retry_after} if retry_after is not None else {}))
        return httpx.Response(
            status, content=json.dumps({"code": code, "msg": msg}).encode(), headers=headers
        )

    # -- endpoints --------------------------------------------------------------------------------

    def _trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        from_id = _int(params, "fromId", 0)
        limit = _int(params, "limit", 50)
        if not 1 <= limit <= 100:
            raise _BadRequest("limit must be 1..100")
        return [t for t in self.account.trades if t["id"] >= from_id][:limit]

    def _deposits(self, params: dict[str, str]) -> dict[str, Any]:
        start, end = _int(params, "startTime", -1), _int(params, "endTime", -1)
        offset, limit = _int(params, "offset", 0), _int(params, "limit", 50)
        if start < 0 or end < start:
            raise _BadRequest("startTime and endTime are required, endTime >= startTime")
        if end - start > MAX_SPAN_MS:
            raise _BadRequest("the time span must not exceed 30 days")
        if not 1 <= limit <= 50:
            raise _BadRequest("limit must be 1..50")
        rows = sorted(
            (d for d in self.account.deposits if start <= d["insertTime"] <= end),
            key=lambda d: (d["insertTime"], d["id"]),
        )
        return {"rows": rows[offset : offset + limit], "total": len(rows)}

    def _balances(self, _: dict[str, str]) -> list[dict[str, str]]:
        locked = {"EUR": Decimal("100")}
        return [
            {
                "asset": asset,
                "free": f"{amount - locked.get(asset, Decimal(0))}",
                "locked": f"{locked.get(asset, 0)}",
            }
            for asset, amount in sorted(self.account.balances().items())
        ]


class _BadRequest(ValueError):
    pass


def _int(params: dict[str, str], name: str, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer") from None

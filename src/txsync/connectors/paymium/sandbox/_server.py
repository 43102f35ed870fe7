"""A local emulation of Paymium's API v1 (``https://paymium.com/api/v1``) as an httpx transport.

What it enforces, as the documentation describes the real API:

* token authentication: ``Api-Key`` (a known token), ``Api-Nonce`` (a positive integer larger than
  the last one seen for that token) and ``Api-Signature`` = hex HMAC-SHA256(secret, nonce + full URL
  + body), the full URL with ``?`` before the query; 401 ``{"errors": [...]}`` otherwise;
* token permissions: ``basic`` for ``/user``, ``activity`` for ``/user/orders`` and
  ``/user/withdrawals``; 403 otherwise;
* 86400 calls per day per IP (``daily_limit``), reported in ``X-Ratelimit-Limit`` /
  ``X-Ratelimit-Remaining`` on every answer; 429 once spent;
* paging: ``/user/orders`` with ``offset`` + ``limit`` (1..100, default 50, used only when
  ``offset`` is given) or ``page`` + ``per_page`` (5..100, default 20), not both; ``active=true``
  lists open orders unpaged. ``/user/withdrawals`` with ``page`` + ``per_page``. Lists are newest
  first. The current API lists only trade orders in ``/user/orders`` (``legacy=True`` serves every
  order kind there, as older versions did) and transfers in ``/user/withdrawals``;
* amounts as strings (``amounts="number"``: JSON numbers, as in older examples).

``faults`` maps a request number (1-based, over the sandbox's life) to ``"429"`` (Retry-After 1),
``"429-0"`` (Retry-After 0), ``"500"``, ``"503"``, ``"timeout"``, ``"truncated"`` (a 200 whose JSON
is cut), ``"malformed"`` (a 200 that is not JSON), ``"nonce"`` (401, nonce refused), ``"repeat"``
(a 200 repeating the previous answer to that path, ignoring the paging).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from txsync import jsonutil

from ._scenario import Operation, Order, PaymiumAccount

__all__ = ["HOST", "KEY", "NOW", "SECRET", "PaymiumSandbox", "Token"]

HOST = "paymium.com"
PREFIX = "/api/v1"
#: The sandbox's test token. Cassettes must never contain either value.
KEY = "pm-token-4c1e9b7a2f6d8e0357a9c4b1d2e6f80a9b3c5d7e"
SECRET = "pm-secret-8f2a6c4e0b9d7153a8e6c2f4b0d9e7a5c3b1f8d6"  # noqa: S105 - the sandbox's own
#: The sandbox's "now".
NOW = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
DAILY_LIMIT = 86_400
_TRADE_TYPES = ("LimitOrder", "MarketOrder")
_TRANSFER_TYPES = ("Transfer", "EmailTransfer")
_NOT_TRADING = frozenset(
    {*_TRANSFER_TYPES, "BitcoinDeposit", "WireDeposit", "EmailDeposit", "AdminOrder", "Payment"}
)
_NONCE_ERROR = "Invalid nonce: it must be greater than the last nonce used with this token"
_OPEN = frozenset({"pending_execution", "pending", "processing", "authorized", "active"})


@dataclass
class Token:
    """An API token: its secret and permissions (``basic``, ``activity``, ``trade``...)."""

    secret: str
    scopes: frozenset[str] = frozenset({"basic", "activity"})


class _Refused(Exception):
    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(messages)
        self.status = status
        self.messages = list(messages)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class PaymiumSandbox:
    """The emulated API; ``transport()`` gives an ``httpx.MockTransport`` serving it."""

    account: PaymiumAccount = field(default_factory=PaymiumAccount.generate)
    tokens: dict[str, Token] = field(default_factory=lambda: {KEY: Token(SECRET)})
    clock: Callable[[], datetime] = lambda: NOW
    daily_limit: int = DAILY_LIMIT
    #: The host requests must name (``None``: any, when served over HTTP on 127.0.0.1).
    host: str | None = HOST
    legacy: bool = False
    amounts: str = "string"
    faults: dict[int, str] = field(default_factory=dict)
    requests: int = 0
    log: list[str] = field(default_factory=list)
    _day: Any = None
    _used: int = 0
    _nonces: dict[str, int] = field(default_factory=dict)
    _last: dict[str, bytes] = field(default_factory=dict)

    def transport(self) -> httpx.MockTransport:
        """A transport answering every request from this sandbox."""
        return httpx.MockTransport(self.handle)

    # -- the request cycle -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as Paymium would."""
        self.requests += 1
        self.log.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        day = self.clock().date()
        if day != self._day:
            self._day, self._used = day, 0
        if self._used >= self.daily_limit:
            tomorrow = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
            wait = max(1, int((tomorrow - self.clock()).total_seconds()))
            return self._errors(429, ["Rate limit exceeded"], {"Retry-After": str(wait)})
        self._used += 1
        fault = self.faults.get(self.requests)
        if fault is not None:
            return self._fault(fault, request)
        path = request.url.path
        routes: dict[str, tuple[str, Callable[[dict[str, str]], Any]]] = {
            f"{PREFIX}/user": ("basic", self._user),
            f"{PREFIX}/user/orders": ("activity", self._orders),
            f"{PREFIX}/user/withdrawals": ("activity", self._withdrawals),
        }
        wrong_host = self.host is not None and request.url.host != self.host
        if wrong_host or path not in routes or request.method != "GET":
            return self._errors(404, ["Not found"])
        scope, handler = routes[path]
        try:
            token = self._authenticate(request)
            if scope not in token.scopes:
                raise _Refused(403, f"This API token does not have the '{scope}' permission")
            body = handler(dict(parse_qsl(request.url.query.decode(), keep_blank_values=True)))
        except _Refused as refused:
            return self._errors(refused.status, refused.messages)
        content = self._encode(body)
        self._last[path] = content
        return self._response(200, content)

    def _authenticate(self, request: httpx.Request) -> Token:
        key = request.headers.get("Api-Key", "")
        token = self.tokens.get(key)
        if token is None:
            raise _Refused(401, "Invalid API token")
        nonce = request.headers.get("Api-Nonce", "")
        signature = request.headers.get("Api-Signature", "")
        expected = hmac.new(
            token.secret.encode(), f"{nonce}{request.url}".encode() + request.content, hashlib.sha256
        ).hexdigest()
        if not nonce.isdigit() or not hmac.compare_digest(expected, signature):
            raise _Refused(401, "Invalid API signature")
        if int(nonce) <= self._nonces.get(key, 0):
            raise _Refused(401, _NONCE_ERROR)
        self._nonces[key] = int(nonce)
        return token

    def _fault(self, fault: str, request: httpx.Request) -> httpx.Response:
        if fault in ("429", "429-0"):
            wait = "1" if fault == "429" else "0"
            return self._errors(429, ["Rate limit exceeded"], {"Retry-After": wait})
        if fault in ("500", "503"):
            return self._errors(int(fault), ["Internal server error"])
        if fault == "timeout":
            raise httpx.ReadTimeout("sandbox: timed out", request=request)
        if fault == "truncated":
            return self._response(200, b'[{"uuid": "1d0e4b8a-', )
        if fault == "malformed":
            return self._response(200, b"<html>Bad gateway</html>")
        if fault == "nonce":
            return self._errors(401, [_NONCE_ERROR])
        if fault == "repeat":
            return self._response(200, self._last.get(request.url.path, b"[]"))
        raise ValueError(f"unknown fault {fault!r}")

    # -- answers ------------------------------------------------------------------------------------

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            "Content-Type": "application/json; charset=utf-8",
            "X-Ratelimit-Limit": str(self.daily_limit),
            "X-Ratelimit-Remaining": str(max(0, self.daily_limit - self._used)),
            **(extra or {}),
        }

    def _response(self, status: int, content: bytes, extra: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, content=content, headers=self._headers(extra))

    def _errors(
        self, status: int, messages: list[str], extra: dict[str, str] | None = None
    ) -> httpx.Response:
        return self._response(status, json.dumps({"errors": messages}).encode(), extra)

    def _amount(self, value: Decimal | None) -> Any:
        if value is None:
            return None
        return value if self.amounts == "number" else format(value, "f")

    def _encode(self, body: Any) -> bytes:
        return jsonutil.dumps(body).encode()

    def _operation(self, op: Operation) -> dict[str, Any]:
        out: dict[str, Any] = {
            "uuid": op.uuid,
            "name": op.name,
            "amount": self._amount(op.amount),
            "currency": op.currency,
            "created_at": _iso(op.at),
            "created_at_int": int(op.at.timestamp()),
            "is_trading_account": op.trading,
        }
        if op.address is not None:
            out["address"] = op.address
        if op.tx_hash is not None:
            out["tx_hash"] = op.tx_hash
        return out

    def _order(self, order: Order) -> dict[str, Any]:
        now = self.clock()
        ops = [op for op in order.operations if op.at <= now]
        fees = [op for op in ops if "_fee" in op.name and not op.trading]
        btc_fee = sum((-op.amount for op in fees if op.currency == "BTC"), Decimal(0))
        eur_fee = sum((-op.amount for op in fees if op.currency == "EUR"), Decimal(0))
        body: dict[str, Any] = {
            "uuid": order.uuid,
            "type": order.type,
            "currency": order.currency,
            "amount": self._amount(order.amount),
            "currency_amount": self._amount(order.currency_amount),
            "state": order.state,
            "btc_fee": self._amount(btc_fee),
            "currency_fee": self._amount(eur_fee),
            "created_at": _iso(order.created_at),
            "updated_at": _iso(max([order.created_at, *(op.at for op in ops)])),
            "comment": order.comment,
        }
        if order.type in _TRADE_TYPES:
            legs = [op for op in ops if op.name in ("btc_purchase", "btc_sale")]
            traded_btc = sum((abs(op.amount) for op in legs if op.currency == "BTC"), Decimal(0))
            traded_cur = sum((abs(op.amount) for op in legs if op.currency != "BTC"), Decimal(0))
            body.update(
                direction=order.direction,
                price=self._amount(order.price),
                traded_btc=self._amount(traded_btc),
                traded_currency=self._amount(traded_cur),
            )
        body["account_operations"] = [self._operation(op) for op in ops]
        return body

    def _visible(self, *types: str) -> list[Order]:
        now = self.clock()
        chosen = [o for o in self.account.orders if o.created_at <= now and (not types or o.type in types)]
        return sorted(chosen, key=lambda o: (o.created_at, o.uuid), reverse=True)

    def _user(self, _: dict[str, str]) -> dict[str, Any]:
        balances = self.account.balances(self.clock())
        body: dict[str, Any] = {
            "name": "BC-U482913",
            "email": "sandbox-user@example.invalid",
            "locale": "en",
            "channel_id": "sandbox-channel",
            "meta_state": "approved",
        }
        for currency in ("btc", "lbtc", "eur"):
            available, locked = balances.get(currency.upper(), (Decimal(0), Decimal(0)))
            body[f"balance_{currency}"] = self._amount(available)
            body[f"locked_{currency}"] = self._amount(locked)
        return body

    def _orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        orders = self._visible()
        if not self.legacy:  # the current API lists trading orders only
            orders = [o for o in orders if o.type not in _NOT_TRADING]
        if params.get("active") == "true":
            return [self._order(o) for o in orders if o.state in _OPEN]
        if "offset" in params:
            if "page" in params or "per_page" in params:
                raise _Refused(400, "offset/limit and page/per_page cannot be used together")
            offset = _int(params, "offset", 0, 0, None)
            limit = _int(params, "limit", 50, 1, 100)
            window = orders[offset : offset + limit]
        else:
            window = _page(orders, params)
        return [self._order(o) for o in window]

    def _withdrawals(self, params: dict[str, str]) -> list[dict[str, Any]]:
        orders = self._visible(*_TRANSFER_TYPES)
        wanted = params.get("currencies")
        if wanted:
            codes = {c.strip().upper() for c in wanted.split(",")}
            if not codes <= {"BTC", "EUR"}:
                raise _Refused(422, "Currencies is not included in the list")
            orders = [o for o in orders if o.currency in codes]
        return [self._order(o) for o in _page(orders, params)]


def _int(params: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise _Refused(400, f"{name} must be an integer")
    value = int(raw)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _Refused(422, f"{name.capitalize().replace('_', ' ')} must be {bound}")
    return value


def _page(orders: list[Order], params: dict[str, str]) -> list[Order]:
    page = _int(params, "page", 1, 1, None)
    per_page = _int(params, "per_page", 20, 5, 100)
    return orders[(page - 1) * per_page : page * per_page]

"""The emulated Bitstamp private API v2 (an ``httpx`` transport)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from txsync import jsonutil

from ._scenario import CURRENCIES, NOW, BitstampAccount

__all__ = [
    "ALL_PERMISSIONS",
    "BITSTAMP_HOST",
    "SANDBOX_KEY",
    "SANDBOX_SECRET",
    "BitstampSandbox",
    "SandboxKey",
]

BITSTAMP_HOST = "www.bitstamp.net"
#: The sandbox's test credential. Cassettes must never contain either value.
SANDBOX_KEY = "bitstampsandboxkey7Qm2Xv9Lr4Tn8Wc1Hd6Jp3Fs5Gb0Ky"
SANDBOX_SECRET = "bitstampsandboxsecretZ4e8Ra2Uw6Ni1Oc9Vt3Yh7Pk5Mx0Lq"  # noqa: S105 - the sandbox's own
#: Permissions a sandbox key may hold (Bitstamp's names: Account balance, User transactions,
#: Crypto transactions).
ALL_PERMISSIONS = frozenset({"balance", "user_transactions", "crypto_transactions"})
_FORM = "application/x-www-form-urlencoded"
_NONCE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP_TOLERANCE_MS = 150_000
MAX_OFFSET = 200_000
MAX_LIMIT = 1000
SINCE_TIMESTAMP_MAX_AGE = timedelta(days=30)


@dataclass
class SandboxKey:
    """One API key: its secret, the account it reads and the permissions it was given."""

    secret: str
    account: BitstampAccount
    permissions: frozenset[str] = ALL_PERMISSIONS


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def _auth_error(reason: str, code: str) -> _Refused:
    return _Refused(403, {"status": "error", "reason": reason, "code": code})


def _invalid(field_name: str, response_code: str, message: str) -> _Refused:
    return _Refused(
        400,
        {
            "status": "error",
            "reason": {field_name: [message]},
            "response_code": response_code,
            "response_explanation": f"POST parameter(s) is malformed: {field_name}.",
        },
    )


@dataclass
class BitstampSandbox:
    """Bitstamp's private API v2 as a local ``httpx`` transport, built from its documentation.

    * Every request is authenticated as Bitstamp does: ``X-Auth: BITSTAMP <key>`` of a known key,
      ``X-Auth-Version: v2``, a lower-case UUID4 nonce never seen before for that key (a reused one
      is refused with ``API0004``), a millisecond timestamp within 150 s of the sandbox clock,
      ``Content-Type`` present exactly when there is a body, and the v2 HMAC-SHA256 signature
      (``API0005`` otherwise; all with HTTP 403).
    * Each key may do ``rate_limit`` requests per ``rate_window`` (Bitstamp: 8000 per 10 minutes);
      beyond, HTTP 400 with ``response_code`` ``400.002``.
    * Permissions per key: an endpoint the key has no permission for answers
      ``{"error": "No permission found"}``.
    * ``POST /api/v2/user_transactions/``: ``offset`` (<= 200000), ``limit`` (1..1000, default 100),
      ``sort`` (asc|desc, default desc), ``since_timestamp`` (at most 30 days old),
      ``until_timestamp``, ``since_id`` (rows with a greater id; forces ``limit`` 1000).
    * ``POST /api/v2/crypto-transactions/``: ``offset``, ``limit`` (<= 1000); newest first.
    * ``POST /api/v2/balance/``: ``<cur>_balance`` / ``_available`` / ``_reserved`` and pair fees.
    * ``GET /api/v2/currencies/`` (public, unsigned): every currency listed, the account's
      ``extra_currencies`` included.
    * Successful answers carry ``X-Server-Auth-Signature``.

    ``faults`` maps a request number (1-based, over the sandbox's life) to ``"429"`` (plain 429),
    ``"rate_limit"`` (the 400.002 body), ``"500"``, ``"timeout"``, ``"truncated"`` (a 200 whose JSON is
    cut), ``"malformed"`` (a 200 HTML page), ``"bad_signature"`` / ``"no_signature"`` (a wrong or
    missing ``X-Server-Auth-Signature``), ``"duplicate_page"`` (user_transactions answers the
    previous user_transactions page again), ``"no_permission"``, ``"invalid_nonce"``.
    """

    keys: dict[str, SandboxKey] = field(
        default_factory=lambda: {SANDBOX_KEY: SandboxKey(SANDBOX_SECRET, BitstampAccount.generate())}
    )
    clock: Callable[[], datetime] = lambda: NOW
    faults: dict[int, str] = field(default_factory=dict)
    rate_limit: int = 8000
    rate_window: int = 600
    requests: int = 0
    log: list[str] = field(default_factory=list)
    _nonces: set[tuple[str, str]] = field(default_factory=set)
    _used: dict[tuple[str, int], int] = field(default_factory=dict)
    _last_user_transactions: bytes = b"[]"

    @property
    def account(self) -> BitstampAccount:
        """The account of the first key."""
        return next(iter(self.keys.values())).account

    def transport(self) -> httpx.MockTransport:
        """A transport answering every request from this sandbox."""
        return httpx.MockTransport(self.handle)

    # -- request handling -----------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as Bitstamp would."""
        self.requests += 1
        self.log.append(request.url.path)
        fault = self.faults.get(self.requests)
        early = self._early_fault(fault, request)
        if early is not None:
            return early
        if request.url.path == "/api/v2/currencies/":  # public: no key, no signature
            if request.method != "GET":
                return self._json(405, {"status": "error", "reason": "Method not allowed"})
            return self._json(200, self._currencies())
        routes: dict[str, tuple[str, Callable[[BitstampAccount, dict[str, str]], Any]]] = {
            "/api/v2/user_transactions/": ("user_transactions", self._user_transactions),
            "/api/v2/crypto-transactions/": ("crypto_transactions", self._crypto_transactions),
            "/api/v2/balance/": ("balance", self._balance),
        }
        route = routes.get(request.url.path)
        if route is None:
            return self._json(404, {"status": "error", "reason": "Not found"})
        if request.method != "POST":
            return self._json(
                400, {"status": "error", "reason": "GET parameters not allowed", "response_code": "400.018"}
            )
        try:
            _api_key, key, nonce, timestamp = self._authenticate(request)
            if fault == "no_permission" or route[0] not in key.permissions:
                raise _Refused(403, {"error": "No permission found"})
            params = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
            body = route[1](key.account, params)
        except _Refused as refused:
            return self._json(refused.status, refused.body)
        content = jsonutil.dumps(body).encode()
        if route[0] == "user_transactions":
            if fault == "duplicate_page":
                content = self._last_user_transactions
            self._last_user_transactions = content
        headers = {"Content-Type": "application/json"}
        if fault != "no_signature":
            signature = self.server_signature(key.secret, nonce, timestamp, "application/json", content)
            headers["X-Server-Auth-Signature"] = "0" * 64 if fault == "bad_signature" else signature
        return httpx.Response(200, content=content, headers=headers)

    @staticmethod
    def server_signature(secret: str, nonce: str, timestamp: str, content_type: str, body: bytes) -> str:
        """``X-Server-Auth-Signature``: HMAC-SHA256(secret, nonce + timestamp + content type + body)."""
        message = (nonce + timestamp + content_type).encode() + body
        return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

    def _authenticate(self, request: httpx.Request) -> tuple[str, SandboxKey, str, str]:
        auth = request.headers.get("X-Auth", "")
        if not auth.startswith("BITSTAMP "):
            raise _auth_error("Missing key, or key not found", "API0001")
        api_key = auth[len("BITSTAMP ") :]
        key = self.keys.get(api_key)
        if key is None:
            raise _auth_error("API key not found", "API0001")
        window = int(self.clock().timestamp() // self.rate_window)
        used = self._used.get((api_key, window), 0) + 1
        self._used[(api_key, window)] = used
        if used > self.rate_limit:
            raise _Refused(
                400,
                {
                    "status": "error",
                    "reason": "Request rejected due to exceeded rate limit.",
                    "response_code": "400.002",
                    "response_explanation": "Request rejected due to exceeded rate limit.",
                },
            )
        if request.headers.get("X-Auth-Version") != "v2":
            raise _auth_error("Invalid version", "API0010")
        nonce = request.headers.get("X-Auth-Nonce", "")
        if not _NONCE.match(nonce):
            raise _auth_error("Invalid nonce", "API0004")
        timestamp = request.headers.get("X-Auth-Timestamp", "")
        if not timestamp.isdigit():
            raise _auth_error("Invalid timestamp", "API0017")
        now_ms = int(self.clock().timestamp() * 1000)
        if abs(int(timestamp) - now_ms) > TIMESTAMP_TOLERANCE_MS:
            raise _auth_error("Timestamp too old", "API0017")
        body = request.content
        content_type = request.headers.get("Content-Type")
        if body and content_type != _FORM:
            raise _auth_error("Content-Type header is not valid", "API0021")
        if not body and content_type is not None:
            raise _auth_error("Content-Type header should not be present", "API0020")
        query = request.url.query.decode()
        message = (
            "BITSTAMP "
            + api_key
            + request.method
            + request.url.host
            + request.url.path
            + (f"?{query}" if query else "")
            + (content_type or "")
            + nonce
            + timestamp
            + "v2"
        ).encode() + body
        expected = hmac.new(key.secret.encode(), message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Auth-Signature", "")):
            raise _auth_error("Invalid signature", "API0005")
        if (api_key, nonce) in self._nonces:
            raise _auth_error("Invalid nonce", "API0004")
        self._nonces.add((api_key, nonce))
        return api_key, key, nonce, timestamp

    def _early_fault(self, fault: str | None, request: httpx.Request) -> httpx.Response | None:
        if fault is None:
            return None
        if fault == "429":
            return httpx.Response(429, content=b"Too Many Requests", headers={"Content-Type": "text/plain"})
        if fault == "rate_limit":
            return self._json(
                400,
                {
                    "status": "error",
                    "reason": "Request rejected due to exceeded rate limit.",
                    "response_code": "400.002",
                    "response_explanation": "Request rejected due to exceeded rate limit.",
                },
            )
        if fault == "500":
            return httpx.Response(
                500, content=b"<html>Internal Server Error</html>", headers={"Content-Type": "text/html"}
            )
        if fault == "timeout":
            raise httpx.ReadTimeout("sandbox: timed out", request=request)
        if fault == "truncated":
            return httpx.Response(
                200,
                content=b'[{"id": 2000001, "datetime": "2020-03',
                headers={"Content-Type": "application/json"},
            )
        if fault == "malformed":
            return httpx.Response(
                200, content=b"<html><body>Maintenance</body></html>", headers={"Content-Type": "text/html"}
            )
        if fault == "invalid_nonce":
            return self._json(403, {"status": "error", "reason": "Invalid nonce", "code": "API0004"})
        return None

    @staticmethod
    def _json(status: int, body: Any) -> httpx.Response:
        return httpx.Response(
            status, content=jsonutil.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )

    # -- endpoints ------------------------------------------------------------------------------

    def _user_transactions(self, account: BitstampAccount, params: dict[str, str]) -> list[dict[str, Any]]:
        offset = _int(params, "offset", 0, "400.010")
        limit = _int(params, "limit", 100, "400.011")
        sort = params.get("sort", "desc")
        if not 0 <= offset <= MAX_OFFSET:
            raise _invalid("offset", "400.010", f"Ensure this value is less than or equal to {MAX_OFFSET}.")
        if not 1 <= limit <= MAX_LIMIT:
            raise _invalid("limit", "400.011", f"Ensure this value is between 1 and {MAX_LIMIT}.")
        if sort not in ("asc", "desc"):
            raise _invalid("sort", "400.012", "Must be asc or desc.")
        rows = account.transactions
        if "since_timestamp" in params:
            since = _int(params, "since_timestamp", 0, "400.013")
            if since < (self.clock() - SINCE_TIMESTAMP_MAX_AGE).timestamp():
                raise _invalid("since_timestamp", "400.013", "Can only be 30 days in the past.")
            rows = [r for r in rows if _epoch(r) >= since]
        if "until_timestamp" in params:
            until = _int(params, "until_timestamp", 0, "400.001")
            rows = [r for r in rows if _epoch(r) <= until]
        if "since_id" in params:
            since_id = _int(params, "since_id", 0, "400.001")
            rows = [r for r in rows if r["id"] > since_id]
            limit = MAX_LIMIT
        ordered = sorted(rows, key=lambda r: r["id"], reverse=sort == "desc")
        return ordered[offset : offset + limit]

    def _crypto_transactions(self, account: BitstampAccount, params: dict[str, str]) -> dict[str, Any]:
        offset = _int(params, "offset", 0, "400.010")
        limit = _int(params, "limit", 100, "400.011")
        if not 0 <= offset <= MAX_OFFSET:
            raise _invalid("offset", "400.010", f"Ensure this value is less than or equal to {MAX_OFFSET}.")
        if not 1 <= limit <= MAX_LIMIT:
            raise _invalid("limit", "400.011", f"Ensure this value is between 1 and {MAX_LIMIT}.")

        def newest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return sorted(items, key=lambda i: (i["datetime"], i["txid"]), reverse=True)[
                offset : offset + limit
            ]

        return {
            "deposits": newest_first(account.crypto_deposits),
            "withdrawals": newest_first(account.crypto_withdrawals),
            "ripple_iou_transactions": [],
        }

    def _currencies(self) -> list[dict[str, Any]]:
        """``GET /api/v2/currencies/``: every currency Bitstamp lists (fiat and crypto)."""
        extra = [code for key in self.keys.values() for code in key.account.extra_currencies]
        codes = dict.fromkeys([*CURRENCIES, *extra])
        return [
            {
                "name": code.upper(),
                "currency": code.upper(),
                "type": "fiat" if code in ("usd", "eur", "gbp") else "crypto",
                "symbol": code.upper(),
                "decimals": 2 if code in ("usd", "eur", "gbp") else 8,
                "logo": f"https://assets.bitstamp.net/static/webapp/images/currencies/{code}.svg",
                "available_supply": "",
                "deposit": "Enabled",
                "withdrawal": "Enabled",
            }
            for code in codes
        ]

    def _balance(self, account: BitstampAccount, _params: dict[str, str]) -> dict[str, str]:
        body: dict[str, str] = {}
        for currency, total in account.balances().items():
            places = "0.01" if currency in ("usd", "eur", "usdt") else "0.00000001"
            reserved = account.reserved.get(currency, Decimal(0))
            body[f"{currency}_available"] = f"{(total - reserved).quantize(Decimal(places)):f}"
            body[f"{currency}_balance"] = f"{total.quantize(Decimal(places)):f}"
            body[f"{currency}_reserved"] = f"{reserved.quantize(Decimal(places)):f}"
        body["btceur_fee"] = "0.300"
        body["etheur_fee"] = "0.300"
        return body


def _epoch(row: dict[str, Any]) -> float:
    return datetime.strptime(row["datetime"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


def _int(params: dict[str, str], name: str, default: int, code: str) -> int:
    value = params.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise _invalid(name, code, "A valid integer is required.") from None

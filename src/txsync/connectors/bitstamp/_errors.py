"""Bitstamp's error answers mapped onto :mod:`txsync.errors`.

Bitstamp answers errors in three shapes:

* ``{"status": "error", "reason": "Invalid signature", "code": "API0005"}`` (authentication, HTTP 403);
* ``{"status": "error", "reason": ..., "response_code": "400.002", "response_explanation": ...}``
  (validation and rate limits, HTTP 400);
* ``{"error": "No permission found"}`` (the key lacks the permission the endpoint needs).

Some come with a 2xx status, so the mapper looks at every answer's body, not only at failures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from txsync.errors import (
    AuthError,
    BadRequestError,
    ConnectorError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
    TxsyncError,
)
from txsync.fields import clean_label
from txsync.http import exchange_message, redact

__all__ = ["AUTH_CODES", "bitstamp_error", "error_mapper"]

#: ``API00xx`` codes that mean the key itself is refused: the user must act (new key, whitelist).
AUTH_CODES: Mapping[str, str] = {
    "API0001": "the API key is missing or unknown",
    "API0002": "the request comes from an IP address the key does not allow",
    "API0005": "the request signature is invalid (wrong API secret?)",
    "API0006": "the account is frozen",
    "API0008": "authentication failed",
    "API0009": "the X-Auth header is missing or malformed",
    "API0011": "the X-Auth-Signature header is missing",
}
#: Codes meaning the key lacks a permission.
PERMISSION_CODES = frozenset({"API0003"})
#: A refused nonce: a fresh one is made for every attempt, so one retry may pass.
NONCE_CODES = frozenset({"API0004"})
#: Timestamps refused (the host clock is off): not the key's fault, never retried in a loop.
TIMESTAMP_CODES = frozenset({"API0016", "API0017"})
RATE_LIMIT_RESPONSE_CODES = frozenset({"400.002"})
_PERMISSION_TEXT = "no permission found"


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, Mapping):
        parts = [_text(v) for v in value.values()]
        joined = "; ".join(p for p in parts if p)
        return joined or None
    if isinstance(value, list):
        parts = [_text(v) for v in value]
        joined = "; ".join(p for p in parts if p)
        return joined or None
    return None


def bitstamp_error(status: int, body: Any, secrets: tuple[str, ...] = ()) -> ConnectorError | None:
    """The typed error a Bitstamp answer stands for, or ``None`` when it is not an error body (the
    HTTP status mapping then applies)."""
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    is_error = body.get("status") == "error" or error is not None or "response_code" in body
    if not is_error:
        return None
    code = body.get("code") if isinstance(body.get("code"), str) else None
    response_code = body.get("response_code") if isinstance(body.get("response_code"), str) else None
    reason = _text(body.get("reason")) or _text(error) or _text(body.get("response_explanation"))
    detail = (clean_label(redact(reason, secrets), 200) or "?") if reason else exchange_message(body, secrets)
    kw: dict[str, Any] = {"status": status, "code": code or response_code}
    if (reason is not None and _PERMISSION_TEXT in reason.lower()) or code in PERMISSION_CODES:
        return PermissionDeniedError(
            "the Bitstamp key lacks a permission this sync needs (grant 'Account balance', "
            f"'User transactions' and 'Crypto transactions'): {detail}",
            **kw,
        )
    if code is not None and code in AUTH_CODES:
        return AuthError(f"Bitstamp refused the key: {AUTH_CODES[code]} ({detail})", **kw)
    if code in NONCE_CODES:
        return TransientError(f"Bitstamp refused the request nonce: {detail}", **kw)
    if code in TIMESTAMP_CODES:
        return BadRequestError(
            f"Bitstamp refused the request timestamp (check this host's clock): {detail}", **kw
        )
    if response_code in RATE_LIMIT_RESPONSE_CODES or status == 429:
        return RateLimitedError(f"Bitstamp rate limit exceeded: {detail}", **kw)
    if code is not None and code.startswith("API") and status in (401, 403):
        return AuthError(f"Bitstamp refused the request: {detail}", **kw)
    if status >= 500:
        return TransientError(f"Bitstamp server error: {detail}", **kw)
    return BadRequestError(f"Bitstamp rejected the request: {detail}", **kw)


def error_mapper(secrets: tuple[str, ...]) -> Any:
    """An :data:`txsync.http.ErrorMapper` for Bitstamp that redacts ``secrets`` from messages."""

    def mapper(response: httpx.Response, body: Any | None) -> TxsyncError | None:
        return bitstamp_error(response.status_code, body, secrets)

    return mapper

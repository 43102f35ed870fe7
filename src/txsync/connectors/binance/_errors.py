"""Binance error codes onto the txsync error taxonomy (the connector's ``error_mapper``)."""

from __future__ import annotations

from typing import Any

import httpx

from txsync.errors import (
    AuthError,
    BadRequestError,
    RateLimitedError,
    TransientError,
    TxsyncError,
)
from txsync.http import exchange_message

__all__ = [
    "AUTH_CODES",
    "ClockSkewError",
    "InvalidSymbolError",
    "MarginUnavailableError",
    "binance_error_mapper",
]

#: Codes meaning the key itself is refused: the connection is disabled with the reason.
AUTH_CODES = frozenset({-2015, -2014, -2008, -1022})
_CLOCK = -1021
_TOO_MANY = -1003
_INVALID_SYMBOL = -1121
_NO_MARGIN_ACCOUNT = frozenset({-3003, -11001})


class ClockSkewError(BadRequestError):
    """-1021: the request's timestamp is outside recvWindow of the server's clock.

    Not retried by the HTTP layer: the connector re-syncs its clock offset and retries once.
    """


class InvalidSymbolError(BadRequestError):
    """-1121: the symbol is unknown to the exchange (a delisted pair)."""


class MarginUnavailableError(BadRequestError):
    """The account has no (cross) margin account."""


def _code(body: Any) -> int | None:
    """The Binance error code of an answer: a negative integer (the mining endpoints answer
    ``"code": 0`` on success, the fiat ones ``"code": "000000"``)."""
    if isinstance(body, dict):
        code = body.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            return code if code < 0 else None
        if isinstance(code, str) and code.lstrip("-").isdigit() and code.startswith("-"):
            return int(code)
    return None


def binance_error_mapper(response: httpx.Response, body: Any | None) -> TxsyncError | None:
    """Map a Binance answer to a typed error, or ``None`` to let the status decide.

    Only negative integer codes are Binance errors (the fiat endpoints answer ``"code": "000000"``
    on success). 418 and 429 are left to the status mapping (ban end and ``Retry-After`` read
    there); a 403 without a Binance code is the WAF, which lifts by itself, so it is transient
    rather than a permission problem.
    """
    status = response.status_code
    code = _code(body)
    if code is None:
        if status == 403:
            return TransientError("blocked by the Binance WAF (HTTP 403); retrying later")
        return None
    message = exchange_message(body) or "no message"
    text = f"Binance error {code}: {message}"
    if code in AUTH_CODES:
        return AuthError(f"the Binance key was refused ({text})", code=code)
    if code == _CLOCK:
        return ClockSkewError(text, code=code)
    if code == _TOO_MANY and status not in (418, 429):
        return RateLimitedError(text, code=code)
    if code == _INVALID_SYMBOL:
        return InvalidSymbolError(text, code=code)
    if code in _NO_MARGIN_ACCOUNT:
        return MarginUnavailableError(text, code=code)
    if 200 <= status < 300:
        return BadRequestError(text, code=code)
    return None

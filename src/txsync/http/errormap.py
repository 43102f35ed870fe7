"""Mapping HTTP responses onto the txsync error taxonomy (:mod:`txsync.errors`).

:class:`~txsync.http.HttpClient` first asks the connector's :data:`ErrorMapper` (exchange error codes
such as Binance's ``-2015``), then falls back on :func:`error_for_status`. Messages are built from the
status, the endpoint path and the exchange's own code and message (redacted, shortened), never from
request headers, query strings or bodies sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from txsync.errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    BannedError,
    ConnectorError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
    TxsyncError,
)
from txsync.fields import clean_label
from txsync.http.redact import SecretSet, redact

__all__ = [
    "ErrorMapper",
    "MalformedBodyError",
    "error_for_status",
    "exchange_code",
    "exchange_message",
    "parse_retry_after",
]

#: A connector's own error mapping, tried before :func:`error_for_status` on every response (also
#: 2xx ones: some exchanges answer errors with status 200). ``body`` is the parsed JSON, or ``None``
#: when the body is empty or not JSON. Return ``None`` to fall back on the default mapping.
ErrorMapper = Callable[[httpx.Response, Any | None], TxsyncError | None]

_MESSAGE_LIMIT = 200
_CODE_KEYS = ("code", "error_code", "errorCode")
_MESSAGE_KEYS = ("msg", "message", "error_description", "error", "errorMessage")


class MalformedBodyError(BadResponseError):
    """A response that should hold JSON holds none, or a malformed or truncated document.

    Usually a broken transfer, so the retry policy retries it a limited number of times (unlike
    other :class:`BadResponseError`\\ s, which signal an API change).
    """

    retryable = True


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if unusable.

    Negative values and dates in the past give ``0.0``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def exchange_code(body: Any | None) -> str | int | None:
    """The exchange's error code in a JSON error body (``{"code": -2015, ...}``), if any."""
    if isinstance(body, Mapping):
        for key in _CODE_KEYS:
            code = body.get(key)
            if isinstance(code, (str, int)) and not isinstance(code, bool):
                return code
    return None


def exchange_message(body: Any | None, secrets: Iterable[str] | SecretSet = ()) -> str | None:
    """The exchange's error message in a JSON error body, redacted and shortened, if any."""
    if not isinstance(body, Mapping):
        return None
    for key in _MESSAGE_KEYS:
        message = body.get(key)
        if isinstance(message, list) and message and all(isinstance(m, str) for m in message):
            message = "; ".join(message)  # Kraken style: {"error": ["EAPI:Invalid key"]}
        if isinstance(message, str) and message.strip():
            text = clean_label(redact(message, secrets), 10_000) or "?"  # no control/lone surrogate chars
            if len(text) > _MESSAGE_LIMIT:
                text = text[: _MESSAGE_LIMIT - 3] + "..."
            return text
    return None


def error_for_status(
    response: httpx.Response,
    body: Any | None,
    *,
    endpoint: str,
    secrets: Iterable[str] | SecretSet = (),
    now: datetime | None = None,
) -> ConnectorError | None:
    """The default error for a response's status, or ``None`` for a 2xx.

    401 -> :class:`AuthError`, 403 -> :class:`PermissionDeniedError`, 418 -> :class:`BannedError`
    (``until`` from ``Retry-After``), 429 -> :class:`RateLimitedError` (``retry_after``), other 4xx ->
    :class:`BadRequestError`, 5xx -> :class:`TransientError`, 1xx/3xx -> :class:`BadResponseError`.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    code = exchange_code(body)
    detail = exchange_message(body, secrets)
    reason = response.reason_phrase or "HTTP error"

    def text(summary: str) -> str:
        return f"{summary}: {detail}" if detail else f"{summary} ({reason})"

    kw: dict[str, Any] = {"endpoint": endpoint, "status": status, "code": code}
    if status == 401:
        return AuthError(text("the exchange rejected the credential"), **kw)
    if status == 403:
        return PermissionDeniedError(text("access denied"), **kw)
    if status == 418:
        moment = now or datetime.now(UTC)
        wait = parse_retry_after(response.headers.get("Retry-After"), now=moment)
        until = moment + timedelta(seconds=wait) if wait is not None else None
        banned = f"banned by the exchange until {until.isoformat()}" if until else "banned by the exchange"
        return BannedError(text(banned), until=until, **kw)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now=now)
        return RateLimitedError(text("rate limited"), retry_after=retry_after, **kw)
    if 400 <= status < 500:
        return BadRequestError(text("request rejected"), **kw)
    if status >= 500:
        return TransientError(text("server error"), **kw)
    return BadResponseError(text("unexpected response status"), **kw)

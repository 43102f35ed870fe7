"""Paymium's error answers mapped onto :mod:`txsync.errors`.

Paymium answers errors with ``{"errors": ["localized message", ...]}`` (HTTP 400 or 422 for bad
requests, 401 for a rejected token, signature or nonce, 403 for a token without the scope an
endpoint needs, 429 once the per-IP daily budget is spent). Messages are localized (English or
French), so the mapping goes by status first and only uses the text to tell nonce failures apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from txsync.errors import (
    AuthError,
    BadRequestError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
    TxsyncError,
)
from txsync.fields import clean_label
from txsync.http import redact

__all__ = ["PaymiumNonceError", "error_messages", "make_error_mapper"]

_LIMIT = 200


class PaymiumNonceError(TransientError):
    """Paymium refused the nonce as not larger than the last one it saw for this token.

    Retried with a fresh (larger) nonce. If it keeps failing, another client is using the same token
    with larger nonces: give txsync a token of its own.
    """


def error_messages(body: Any, secrets: Iterable[str] = ()) -> list[str]:
    """The ``errors`` messages of a Paymium error body (redacted, shortened), if any."""
    if not isinstance(body, Mapping):
        return []
    raw = body.get("errors")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    messages = []
    for item in raw:
        if isinstance(item, str) and item.strip():
            text = clean_label(redact(item, secrets), 10_000) or "?"
            messages.append(text if len(text) <= _LIMIT else text[: _LIMIT - 3] + "...")
    return messages


def _is_nonce_message(text: str) -> bool:
    return "nonce" in text.lower()


def make_error_mapper(secrets: Iterable[str]) -> Any:
    """An :data:`~txsync.http.ErrorMapper` for Paymium that never puts ``secrets`` in a message."""
    hidden = tuple(secrets)

    def mapper(response: httpx.Response, body: Any | None) -> TxsyncError | None:
        status = response.status_code
        if status < 400:
            return None
        messages = error_messages(body, hidden)
        detail = "; ".join(messages) if messages else (response.reason_phrase or "no detail")
        if status == 401:
            if any(_is_nonce_message(m) for m in messages):
                return PaymiumNonceError(
                    f"Paymium refused the request nonce ({detail}): another client may be using this "
                    "API token with larger nonces; give txsync a token of its own",
                    status=status,
                )
            return AuthError(
                f"Paymium rejected the API token or signature ({detail}): check the token and its "
                "secret, or create a new read-only token",
                status=status,
            )
        if status == 403:
            return PermissionDeniedError(
                f"the Paymium token lacks a permission txsync needs ({detail}): create a token with "
                "the 'basic' and 'activity' permissions",
                status=status,
            )
        if status == 429:
            return RateLimitedError(
                f"Paymium rate limit reached ({detail}): 86400 calls per day per IP", status=status
            )
        if status in (400, 404, 422):
            return BadRequestError(f"Paymium refused the request: {detail}", status=status)
        return None  # 5xx and the rest: the default mapping (transient...)

    return mapper

"""Bounds on one HTTP request: an overall deadline and a response size limit (:class:`HttpLimits`).

httpx's own timeouts bound each *read*; a server trickling one byte of headers or body at a time
never trips them. :class:`~txsync.http.HttpClient` therefore runs each attempt (connect, send, headers
and the whole body) under one deadline, and streams the body through a size limit that also bounds
what decompression may produce, so a huge, endless or highly compressed body is refused before more
than the limit is held in memory.

The limits of a client come from, in order: its ``limits`` argument (a connector that knows an
endpoint answers big documents), the limits in effect where it is built (:func:`use_limits`; the
engine applies the host's ``Engine(http_limits=...)`` around every sync and key check, so connectors
need not pass them along), then :data:`DEFAULT_LIMITS`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "HttpLimits",
    "current_limits",
    "use_limits",
]

#: Seconds one attempt of a request may take in all (connect, send, headers, whole body).
DEFAULT_DEADLINE = 120.0
#: Bytes a response body may have, after decompression (32 MiB: the largest documented pages, e.g.
#: 10,000 explorer transactions or Binance's full exchangeInfo, are a fraction of that).
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class HttpLimits:
    """The bounds of each request attempt: ``deadline`` seconds overall, ``max_response_bytes`` of
    body (after decompression). Retries are attempts of their own (see :class:`RetryPolicy`)."""

    deadline: float = DEFAULT_DEADLINE
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __post_init__(self) -> None:
        if not (math.isfinite(self.deadline) and self.deadline > 0):
            raise ValueError("deadline must be a finite number of seconds > 0")
        if isinstance(self.max_response_bytes, bool) or self.max_response_bytes < 1:
            raise ValueError("max_response_bytes must be a positive integer")


#: The limits every client gets unless told otherwise.
DEFAULT_LIMITS = HttpLimits()

_CURRENT: ContextVar[HttpLimits | None] = ContextVar("txsync_http_limits", default=None)


def current_limits() -> HttpLimits:
    """The limits in effect here: the innermost :func:`use_limits`, else :data:`DEFAULT_LIMITS`."""
    return _CURRENT.get() or DEFAULT_LIMITS


@contextmanager
def use_limits(limits: HttpLimits | None) -> Iterator[HttpLimits]:
    """Make ``limits`` the default of every :class:`~txsync.http.HttpClient` built inside the block
    (in this task and the tasks it starts). ``None`` keeps the limits already in effect."""
    if limits is None:
        yield current_limits()
        return
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)

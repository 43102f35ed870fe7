"""Who hears about waits: a rate limiter holding a request back, a retry waiting out a 429 or a backoff.

A sync in progress (the engine) installs a listener for its task with :func:`wait_listener`; the HTTP
layer calls :func:`notify_wait` just before it sleeps. The listener lives in a context variable, so
every task a connector starts inherits its sync's listener and two syncs running at once never hear
each other's waits. A host's own :class:`~txsync.http.RateLimiter` (a shared Redis limiter...) calls
:func:`notify_wait` before it sleeps, too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["WaitListener", "notify_wait", "wait_listener"]

#: Called with the seconds about to be waited and why (``"rate limit"``, ``"Retry-After"``, ``"backoff"``).
WaitListener = Callable[[float, str], None]

_LISTENER: ContextVar[WaitListener | None] = ContextVar("txsync_wait_listener", default=None)
log = logging.getLogger("txsync.http")


def notify_wait(seconds: float, reason: str) -> None:
    """Tell the current task's listener (if any) that a wait of ``seconds`` starts now. A failing
    listener is logged, never raised into the request."""
    listener = _LISTENER.get()
    if listener is None or not seconds > 0:
        return
    try:
        listener(seconds, reason)
    except Exception as exc:  # a host's progress display must never break a sync
        log.warning("a wait listener failed: %s", type(exc).__name__)


@contextmanager
def wait_listener(listener: WaitListener | None) -> Iterator[None]:
    """Install ``listener`` for the current task (and the tasks it starts) inside the block."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)

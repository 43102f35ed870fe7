"""Paymium's rate limit: 86400 calls per day per IP, reported as ``X-Ratelimit-Limit`` and
``X-Ratelimit-Remaining`` (what is left, not what is used)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from txsync.http import Bucket, WeightedRateLimiter

__all__ = ["DAILY_CALLS", "PaymiumRateLimiter"]

#: Calls per day per IP.
DAILY_CALLS = 86_400
_USED = "X-Txsync-Paymium-Used"


class PaymiumRateLimiter(WeightedRateLimiter):
    """A daily bucket (``"ip"``, weight 1 per call) that learns the used count from the remaining one.

    The server's ``X-Ratelimit-Limit`` minus ``X-Ratelimit-Remaining`` is fed to the bucket as its
    usage, so several processes behind one IP stay within the day's budget together.
    """

    def __init__(
        self,
        *,
        limit: int = DAILY_CALLS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__([Bucket("ip", limit, 86_400, _USED)], clock=clock, sleep=sleep)

    def observe(self, headers: httpx.Headers) -> None:
        """Translate Paymium's remaining count into a used count, then count it."""
        try:
            limit = int(headers.get("X-Ratelimit-Limit", "").strip())
            remaining = int(headers.get("X-Ratelimit-Remaining", "").strip())
        except ValueError:
            return
        if limit >= remaining >= 0:
            super().observe(httpx.Headers({_USED: str(limit - remaining)}))

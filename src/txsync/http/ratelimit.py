"""Weight-aware rate limiting: the :class:`RateLimiter` protocol and its in-process default.

Exchanges meter requests by *weight* in fixed windows: Binance counts up to 6000 weight per IP per
minute on ``/api/v3`` and reports the used figure in ``X-MBX-USED-WEIGHT-1M``; SAPI endpoints cost in
an IP bucket and a UID bucket at once. A connector describes its limits as :class:`Bucket`\\ s and each
request as a mapping ``{bucket name: weight}``; :class:`WeightedRateLimiter` makes every request wait
until it fits in every bucket it costs in, corrects its counts from the server's usage headers, and
holds every request back after a 429 (:meth:`RateLimiter.penalize`).

The protocol is small so that a host application can share limits between processes (e.g. a Redis
implementation keyed by IP or API key) and hand it to connectors through
``ConnectorContext.limiter_for``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import httpx

from txsync.errors import ConfigurationError

__all__ = ["Bucket", "RateLimiter", "WeightedRateLimiter"]


@runtime_checkable
class RateLimiter(Protocol):
    """What :class:`~txsync.http.HttpClient` needs from a rate limiter.

    Implementations must be safe to share between the concurrent tasks of one event loop.
    """

    async def acquire(self, weights: Mapping[str, int]) -> None:
        """Wait until a request costing ``weights`` (bucket name -> weight) may be sent, and count it.

        An empty mapping costs nothing but still waits out a :meth:`penalize` period.
        """
        ...

    def observe(self, headers: httpx.Headers) -> None:
        """Correct the usage counts from a response's headers (e.g. ``X-MBX-USED-WEIGHT-1M``)."""
        ...

    def penalize(self, seconds: float) -> None:
        """Hold every :meth:`acquire` back for ``seconds`` from now (after a 429 or a ban)."""
        ...


@dataclass(frozen=True, slots=True)
class Bucket:
    """One metered limit: at most ``limit`` weight per ``period`` seconds.

    Windows are fixed and aligned to the wall clock (a 60 s bucket resets at every full minute of
    UTC, as Binance's does). ``usage_header`` names the response header in which the server reports
    the weight used so far in the current window, if it sends one.
    """

    name: str
    limit: int
    period: float
    usage_header: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigurationError("a rate-limit bucket needs a name")
        if self.limit <= 0:
            raise ConfigurationError(f"bucket {self.name!r}: limit must be positive, got {self.limit}")
        if not (self.period > 0 and math.isfinite(self.period)):
            raise ConfigurationError(f"bucket {self.name!r}: period must be positive, got {self.period}")


class _BucketState:
    """Mutable counters of one bucket for its current window."""

    __slots__ = ("bucket", "used", "window")

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self.window = -1
        self.used = 0

    def roll(self, now: float) -> None:
        """Start a new window if ``now`` is past the current one (a clock going back keeps it)."""
        window = math.floor(now / self.bucket.period)
        if window > self.window:
            self.window = window
            self.used = 0

    def window_end(self) -> float:
        return (self.window + 1) * self.bucket.period


class WeightedRateLimiter:
    """In-process :class:`RateLimiter` over fixed, wall-clock aligned windows.

    ``clock`` returns the wall-clock time in seconds (``time.time``; windows are aligned to it and
    :meth:`penalize` periods are measured with it); ``sleep`` waits that many seconds. Both are
    injectable so tests run on a simulated clock.

    Checking and counting happen without yielding to the event loop, so concurrent tasks can never
    together exceed a limit. Waiting requests re-check whenever they wake up, so a usage header or a
    penalty that arrives meanwhile is honoured. Requests are not strictly served in arrival order.
    """

    def __init__(
        self,
        buckets: Sequence[Bucket],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        states: dict[str, _BucketState] = {}
        for bucket in buckets:
            if bucket.name in states:
                raise ConfigurationError(f"duplicate rate-limit bucket {bucket.name!r}")
            states[bucket.name] = _BucketState(bucket)
        self._states = states
        self._clock = clock
        self._sleep = sleep
        self._blocked_until = -math.inf

    @property
    def buckets(self) -> tuple[Bucket, ...]:
        """The configured buckets, in declaration order."""
        return tuple(state.bucket for state in self._states.values())

    def usage(self) -> dict[str, int]:
        """Weight counted in each bucket's current window (local reservations or server figure)."""
        now = self._clock()
        result: dict[str, int] = {}
        for name, state in self._states.items():
            state.roll(now)
            result[name] = state.used
        return result

    def blocked_for(self) -> float:
        """Seconds left of the current :meth:`penalize` period (0 when none)."""
        return max(0.0, self._blocked_until - self._clock())

    async def acquire(self, weights: Mapping[str, int]) -> None:
        """Wait until ``weights`` fits in every bucket it names, then count it there.

        Raises :class:`ConfigurationError` for an unknown bucket, a negative weight, or a weight
        larger than its bucket's limit (such a request could never be sent).
        """
        costs = self._validate(weights)
        while True:
            now = self._clock()
            wait = self._blocked_until - now
            if wait <= 0:
                wait = 0.0
                for state, weight in costs:
                    state.roll(now)
                    if state.used + weight > state.bucket.limit:
                        wait = max(wait, state.window_end() - now)
                if wait <= 0:
                    for state, weight in costs:
                        state.used += weight
                    return
            await self._sleep(wait)

    def observe(self, headers: httpx.Headers) -> None:
        """Raise each bucket's count to the figure its usage header reports (never lower it)."""
        now = self._clock()
        for state in self._states.values():
            header = state.bucket.usage_header
            if header is None:
                continue
            raw = headers.get(header)
            if raw is None:
                continue
            try:
                reported = int(raw.strip())
            except ValueError:
                continue
            state.roll(now)
            if reported > state.used:
                state.used = reported

    def penalize(self, seconds: float) -> None:
        """Block every :meth:`acquire` for ``seconds`` from now; a longer running penalty is kept."""
        if not (seconds > 0 and math.isfinite(seconds)):
            return
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def _validate(self, weights: Mapping[str, int]) -> list[tuple[_BucketState, int]]:
        costs: list[tuple[_BucketState, int]] = []
        for name, weight in weights.items():
            state = self._states.get(name)
            if state is None:
                known = ", ".join(sorted(self._states)) or "none"
                raise ConfigurationError(f"unknown rate-limit bucket {name!r} (known: {known})")
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
                raise ConfigurationError(f"weight for bucket {name!r} must be a non-negative int")
            if weight > state.bucket.limit:
                raise ConfigurationError(
                    f"a request of weight {weight} can never fit in bucket {name!r} "
                    f"(limit {state.bucket.limit} per {state.bucket.period:g} s)"
                )
            if weight:
                costs.append((state, weight))
        return costs

    def __repr__(self) -> str:
        names = ", ".join(
            f"{b.name}={b.limit}/{b.period:g}s" for b in (s.bucket for s in self._states.values())
        )
        return f"WeightedRateLimiter({names})"

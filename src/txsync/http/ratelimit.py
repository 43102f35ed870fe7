"""Weight-aware rate limiting: the :class:`RateLimiter` protocol and its in-process default.

Exchanges meter requests by *weight* in fixed windows: Binance counts up to 6000 weight per IP per
minute on ``/api/v3`` and reports the used figure in ``X-MBX-USED-WEIGHT-1M``; SAPI endpoints cost in
an IP bucket and a UID bucket at once. A connector describes its limits as :class:`Bucket`\\ s and each
request as a mapping ``{bucket name: weight}``; :class:`WeightedRateLimiter` makes every request wait
until it fits in every bucket it costs in, corrects its counts from the server's usage headers, and
holds every request back after a 429 (:meth:`RateLimiter.penalize`).

Other exchanges meter with a *decaying counter* instead: Kraken gives each API key a counter that every
call raises by its cost (2 for ledger and trade history, 1 otherwise) and that drains at a fixed rate
(0.33, 0.5 or 1 per second by verification tier) up to a maximum (15 or 20); a call that would take the
counter past the maximum is refused. :class:`DecayingCounter` describes such a limit, and
:class:`WeightedRateLimiter` enforces it alongside fixed windows, a request waiting until it fits in
every limit it costs in.

The protocol is small so that a host application can share limits between processes and machines:
:class:`~txsync.http.RedisRateLimiter` keeps them in Redis, keyed by IP or API key, and reaches
connectors through :class:`~txsync.http.RedisLimiterRegistry` (``Engine(limiters=...)``). A limiter
may also have an async ``flush()`` (see :func:`settle`).
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
from txsync.http.waits import notify_wait

__all__ = ["Bucket", "DecayingCounter", "Limit", "RateLimiter", "WeightedRateLimiter", "settle"]


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


async def settle(limiter: RateLimiter) -> None:
    """Await the limiter's optional ``flush()`` coroutine method, if it has one.

    :meth:`RateLimiter.observe` and :meth:`RateLimiter.penalize` are synchronous; a limiter whose
    state lives elsewhere (:class:`~txsync.http.RedisRateLimiter`) queues their updates and sends
    them in ``flush()``, which :class:`~txsync.http.HttpClient` awaits after every response.
    """
    flush = getattr(limiter, "flush", None)
    if flush is not None:
        await flush()


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


@dataclass(frozen=True, slots=True)
class DecayingCounter:
    """One limit metered by a counter that drains over time (Kraken's "API counter").

    Each request adds its weight to the counter; the counter decreases by ``decay`` per second (never
    below 0); a request may be sent when the counter plus its weight stays at or below ``limit``.
    Kraken's Starter tier, for instance, is ``DecayingCounter("key", 15, 0.33)`` with ledger and trade
    history calls costing 2 and the others 1. The drain is modelled continuously; an exchange that
    drains in steps every few seconds is matched by a slightly lower ``limit`` or ``decay``.
    ``usage_header`` names a response header reporting the counter's current value, if there is one.
    """

    name: str
    limit: float
    decay: float
    usage_header: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigurationError("a rate-limit counter needs a name")
        if not (self.limit > 0 and math.isfinite(self.limit)):
            raise ConfigurationError(f"counter {self.name!r}: limit must be positive, got {self.limit}")
        if not (self.decay > 0 and math.isfinite(self.decay)):
            raise ConfigurationError(f"counter {self.name!r}: decay must be positive, got {self.decay}")


#: A limit :class:`WeightedRateLimiter` enforces: a fixed window or a decaying counter.
Limit = Bucket | DecayingCounter


class _BucketState:
    """Mutable counters of one bucket for its current window."""

    __slots__ = ("bucket", "used", "window")

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self.window = -1
        self.used = 0

    @property
    def spec(self) -> Bucket:
        return self.bucket

    @property
    def limit(self) -> float:
        return self.bucket.limit

    def roll(self, now: float) -> None:
        """Start a new window if ``now`` is past the current one (a clock going back keeps it)."""
        window = math.floor(now / self.bucket.period)
        if window > self.window:
            self.window = window
            self.used = 0

    def window_end(self) -> float:
        return (self.window + 1) * self.bucket.period

    def level(self, now: float) -> float:
        self.roll(now)
        return self.used

    def wait(self, weight: int, now: float) -> float:
        """Seconds until ``weight`` fits (0 when it fits now)."""
        self.roll(now)
        return self.window_end() - now if self.used + weight > self.bucket.limit else 0.0

    def take(self, weight: int, now: float) -> None:
        self.roll(now)
        self.used += weight

    def report(self, value: float, now: float) -> None:
        self.roll(now)
        if value > self.used:
            self.used = math.ceil(value)

    def describe(self) -> str:
        return f"{self.bucket.name}={self.bucket.limit}/{self.bucket.period:g}s"


#: The shortest wait for a counter to drain, in seconds.
_MIN_WAIT = 0.001


class _CounterState:
    """The level of one decaying counter, as of the last time it was looked at."""

    __slots__ = ("counter", "level_at", "value")

    def __init__(self, counter: DecayingCounter) -> None:
        self.counter = counter
        self.value = 0.0
        self.level_at = -math.inf

    @property
    def spec(self) -> DecayingCounter:
        return self.counter

    @property
    def limit(self) -> float:
        return self.counter.limit

    def level(self, now: float) -> float:
        """The counter at ``now``, drained since it was last updated (a clock going back drains nothing)."""
        if now > self.level_at:
            if self.value > 0:
                self.value = max(0.0, self.value - (now - self.level_at) * self.counter.decay)
            self.level_at = now
        return self.value

    def wait(self, weight: int, now: float) -> float:
        excess = self.level(now) + weight - self.counter.limit
        if excess <= 0:
            return 0.0
        # At least a millisecond: the drain over a tinier step can be lost to the float rounding of
        # Unix timestamps, and the counter must never go past its maximum.
        return max(excess / self.counter.decay, _MIN_WAIT)

    def take(self, weight: int, now: float) -> None:
        self.value = self.level(now) + weight

    def report(self, value: float, now: float) -> None:
        if value > self.level(now):
            self.value = value

    def describe(self) -> str:
        return f"{self.counter.name}={self.counter.limit:g} draining {self.counter.decay:g}/s"


_State = _BucketState | _CounterState


class WeightedRateLimiter:
    """In-process :class:`RateLimiter` over fixed, wall-clock aligned windows (:class:`Bucket`) and
    decaying counters (:class:`DecayingCounter`), in any mix.

    ``clock`` returns the wall-clock time in seconds (``time.time``; windows are aligned to it and
    :meth:`penalize` periods are measured with it); ``sleep`` waits that many seconds. Both are
    injectable so tests run on a simulated clock.

    Checking and counting happen without yielding to the event loop, so concurrent tasks can never
    together exceed a limit. Waiting requests re-check whenever they wake up, so a usage header or a
    penalty that arrives meanwhile is honoured. Requests are not strictly served in arrival order.
    """

    def __init__(
        self,
        buckets: Sequence[Limit],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        states: dict[str, _State] = {}
        for bucket in buckets:
            if bucket.name in states:
                raise ConfigurationError(f"duplicate rate-limit bucket {bucket.name!r}")
            states[bucket.name] = (
                _CounterState(bucket) if isinstance(bucket, DecayingCounter) else _BucketState(bucket)
            )
        self._states = states
        self._clock = clock
        self._sleep = sleep
        self._blocked_until = -math.inf

    @property
    def buckets(self) -> tuple[Limit, ...]:
        """The configured limits, in declaration order."""
        return tuple(state.spec for state in self._states.values())

    @property
    def clock(self) -> Callable[[], float]:
        """The clock the windows are measured with (``time.time`` unless a simulated one was given)."""
        return self._clock

    def usage(self) -> dict[str, int]:
        """Weight counted in each bucket's current window (local reservations or server figure); for a
        decaying counter, its current value rounded up (:meth:`levels` has it exactly)."""
        return {name: math.ceil(level) for name, level in self.levels().items()}

    def levels(self) -> dict[str, float]:
        """Each limit's current value: weight in a bucket's window, a decaying counter's level."""
        now = self._clock()
        return {name: state.level(now) for name, state in self._states.items()}

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
                wait = max((state.wait(weight, now) for state, weight in costs), default=0.0)
                if wait <= 0:
                    for state, weight in costs:
                        state.take(weight, now)
                    return
            notify_wait(wait, "rate limit")
            await self._sleep(wait)

    def observe(self, headers: httpx.Headers) -> None:
        """Raise each limit's count to the figure its usage header reports (never lower it)."""
        now = self._clock()
        for state in self._states.values():
            header = state.spec.usage_header
            if header is None:
                continue
            raw = headers.get(header)
            if raw is None:
                continue
            try:
                reported = float(raw.strip())
            except ValueError:
                continue
            if math.isfinite(reported):
                state.report(reported, now)

    def penalize(self, seconds: float) -> None:
        """Block every :meth:`acquire` for ``seconds`` from now; a longer running penalty is kept."""
        if not (seconds > 0 and math.isfinite(seconds)):
            return
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def _validate(self, weights: Mapping[str, int]) -> list[tuple[_State, int]]:
        limits = {name: (state.limit, state.describe()) for name, state in self._states.items()}
        return [(self._states[name], weight) for name, weight in checked_weights(weights, limits).items()]

    def __repr__(self) -> str:
        names = ", ".join(state.describe() for state in self._states.values())
        return f"WeightedRateLimiter({names})"


def checked_weights(weights: Mapping[str, int], limits: Mapping[str, tuple[float, str]]) -> dict[str, int]:
    """A request's weights checked against the limiter's limits (name -> (limit, description)): each
    bucket known, each weight a non-negative ``int`` that can ever fit; the non-zero ones returned.
    A :class:`~txsync.errors.ConfigurationError` otherwise (a connector's mistake, never the server's)."""
    costs: dict[str, int] = {}
    for name, weight in weights.items():
        limit = limits.get(name)
        if limit is None:
            known = ", ".join(sorted(limits)) or "none"
            raise ConfigurationError(f"unknown rate-limit bucket {name!r} (known: {known})")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ConfigurationError(f"weight for bucket {name!r} must be a non-negative int")
        if weight > limit[0]:
            raise ConfigurationError(
                f"a request of weight {weight} can never fit in bucket {name!r} ({limit[1]})"
            )
        if weight:
            costs[name] = weight
    return costs

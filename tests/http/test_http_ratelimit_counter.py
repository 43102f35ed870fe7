"""WeightedRateLimiter with decaying counters (Kraken's API counter: each call adds its cost, the counter
drains at a fixed rate per second, a call may not take it past the maximum), on a simulated clock."""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

import httpx
import pytest

from txsync.errors import ConfigurationError
from txsync.http import Bucket, DecayingCounter, RateLimiter, WeightedRateLimiter

if TYPE_CHECKING:
    from conftest import FakeClock

#: Kraken's tiers: Starter (max 15, -0.33/s), Intermediate (20, -0.5/s), Pro (20, -1/s).
STARTER = DecayingCounter("key", 15, 0.33)
INTERMEDIATE = DecayingCounter("key", 20, 0.5)


def limiter(clock: FakeClock, *limits: Bucket | DecayingCounter) -> WeightedRateLimiter:
    return WeightedRateLimiter(limits or (STARTER,), clock=clock.time, sleep=clock.sleep)


def test_is_a_rate_limiter(clock: FakeClock) -> None:
    assert isinstance(limiter(clock), RateLimiter)


@pytest.mark.parametrize(
    ("limit", "decay", "message"),
    [(0, 1, "limit"), (-5, 1, "limit"), (math.inf, 1, "limit"), (10, 0, "decay"), (10, -1, "decay"),
     (10, math.nan, "decay")],
)
def test_counter_validation(limit: float, decay: float, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        DecayingCounter("key", limit, decay)


def test_counter_needs_a_name_and_a_unique_one() -> None:
    with pytest.raises(ConfigurationError, match="name"):
        DecayingCounter("", 10, 1)
    with pytest.raises(ConfigurationError, match="duplicate"):
        WeightedRateLimiter([STARTER, Bucket("key", 10, 60)])


async def test_a_weight_above_the_maximum_can_never_fit(clock: FakeClock) -> None:
    with pytest.raises(ConfigurationError, match="can never fit"):
        await limiter(clock).acquire({"key": 16})


async def test_a_full_counter_waits_for_exactly_enough_drain(clock: FakeClock) -> None:
    lim = limiter(clock)
    for _ in range(15):
        await lim.acquire({"key": 1})
    assert clock.sleeps == []
    assert lim.levels() == {"key": pytest.approx(15)}
    await lim.acquire({"key": 2})  # a ledger call: needs the counter at 13 first
    assert sum(clock.sleeps) == pytest.approx(2 / 0.33, abs=0.002)  # (+ at most 1 ms of float slack)
    assert lim.levels()["key"] <= 15


async def test_the_counter_drains_while_idle_and_never_below_zero(clock: FakeClock) -> None:
    lim = limiter(clock, INTERMEDIATE)
    await lim.acquire({"key": 20})
    clock.now += 10
    assert lim.levels() == {"key": pytest.approx(15)}
    assert lim.usage() == {"key": 15}
    clock.now += 3.1
    assert lim.levels() == {"key": pytest.approx(13.45)}
    assert lim.usage() == {"key": 14}  # rounded up: never under-reports
    clock.now += 3600
    assert lim.levels() == {"key": 0}
    for _ in range(10):
        await lim.acquire({"key": 2})
    assert clock.sleeps == []


async def test_a_clock_going_back_drains_nothing(clock: FakeClock) -> None:
    lim = limiter(clock, INTERMEDIATE)
    await lim.acquire({"key": 20})
    clock.now -= 30
    assert lim.levels() == {"key": pytest.approx(20)}
    clock.now += 32  # 2 s after the last reading that counted
    assert lim.levels() == {"key": pytest.approx(19)}


async def test_sustained_rate_is_the_decay_rate(clock: FakeClock) -> None:
    """100 ledger calls (cost 2) on the Intermediate tier: a burst of 10, then one every 4 s."""
    lim = limiter(clock, INTERMEDIATE)
    peak = 0.0
    for _ in range(100):
        await lim.acquire({"key": 2})
        peak = max(peak, lim.levels()["key"])
    assert peak <= 20
    assert clock.now - clock.start == pytest.approx((200 - 20) / 0.5, abs=0.1)


async def test_concurrent_acquires_never_take_the_counter_past_its_maximum(clock: FakeClock) -> None:
    lim = limiter(clock)
    levels: list[float] = []

    async def call(i: int) -> None:
        await lim.acquire({"key": 2 if i % 3 == 0 else 1})
        levels.append(lim.levels()["key"])

    await asyncio.gather(*(call(i) for i in range(120)))
    assert len(levels) == 120
    assert max(levels) <= 15
    # 160 units in all, 15 at once: at least (160 - 15) / 0.33 s of draining, and not much more
    spent = clock.now - clock.start
    assert (160 - 15) / 0.33 - 1e-6 <= spent <= (160 - 15) / 0.33 + 2 / 0.33


async def test_a_counter_and_a_fixed_window_together(clock: FakeClock) -> None:
    per_minute = Bucket("ip", 30, 60)
    lim = limiter(clock, DecayingCounter("key", 20, 1), per_minute)
    granted: list[float] = []
    for _ in range(40):
        await lim.acquire({"key": 1, "ip": 1})
        granted.append(clock.now)
    per_window: dict[int, int] = {}
    for when in granted:
        per_window[math.floor(when / 60)] = per_window.get(math.floor(when / 60), 0) + 1
    assert max(per_window.values()) <= 30
    # The counter allowed 20 at once and 1 per second after: 30 in the first minute, then the window
    # made the rest wait for the next minute, where the counter (drained) let them through at once.
    assert sorted(per_window.values()) == [10, 30]
    assert granted[-1] == pytest.approx(clock.start + 60)


async def test_a_usage_header_raises_the_counter_and_never_lowers_it(clock: FakeClock) -> None:
    lim = limiter(clock, DecayingCounter("key", 20, 0.5, usage_header="X-API-Counter"))
    await lim.acquire({"key": 2})
    lim.observe(httpx.Headers({"X-API-Counter": "18.5"}))  # another process used the same key
    assert lim.levels() == {"key": pytest.approx(18.5)}
    lim.observe(httpx.Headers({"X-API-Counter": "3"}))
    lim.observe(httpx.Headers({"X-API-Counter": "lots"}))
    lim.observe(httpx.Headers({"X-API-Counter": "nan"}))
    assert lim.levels() == {"key": pytest.approx(18.5)}
    await lim.acquire({"key": 2})
    assert sum(clock.sleeps) == pytest.approx(1.0, abs=0.002)


async def test_a_penalty_holds_a_counter_back_too(clock: FakeClock) -> None:
    lim = limiter(clock)
    lim.penalize(60)  # "EAPI:Rate limit exceeded" seen: restricted for a while
    await lim.acquire({"key": 1})
    assert clock.now >= clock.start + 60


async def test_unknown_names_and_bad_weights_are_refused(clock: FakeClock) -> None:
    lim = limiter(clock)
    with pytest.raises(ConfigurationError, match="unknown"):
        await lim.acquire({"ip": 1})
    with pytest.raises(ConfigurationError, match="non-negative"):
        await lim.acquire({"key": -1})


def test_repr_and_buckets(clock: FakeClock) -> None:
    lim = limiter(clock, STARTER, Bucket("ip", 6000, 60))
    assert repr(lim) == "WeightedRateLimiter(key=15 draining 0.33/s, ip=6000/60s)"
    assert lim.buckets == (STARTER, Bucket("ip", 6000, 60))

"""WeightedRateLimiter: buckets, weights, usage headers, penalties, concurrency."""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from typing import TYPE_CHECKING

import httpx
import pytest

from txsync.errors import ConfigurationError
from txsync.http import Bucket, RateLimiter, WeightedRateLimiter

if TYPE_CHECKING:
    from conftest import FakeClock

SPOT = Bucket("ip", 6000, 60, "X-MBX-USED-WEIGHT-1M")
SAPI_IP = Bucket("sapi_ip", 12000, 60, "X-SAPI-USED-IP-WEIGHT-1M")
SAPI_UID = Bucket("sapi_uid", 180000, 60, "X-SAPI-USED-UID-WEIGHT-1M")


def limiter(clock: FakeClock, *buckets: Bucket) -> WeightedRateLimiter:
    return WeightedRateLimiter(buckets or (SPOT,), clock=clock.time, sleep=clock.sleep)


def test_is_a_rate_limiter(clock: FakeClock) -> None:
    assert isinstance(limiter(clock), RateLimiter)


def test_bucket_validation() -> None:
    with pytest.raises(ConfigurationError):
        Bucket("x", 0, 60)
    with pytest.raises(ConfigurationError):
        Bucket("x", 10, 0)
    with pytest.raises(ConfigurationError):
        Bucket("", 10, 60)
    with pytest.raises(ConfigurationError, match="duplicate"):
        WeightedRateLimiter([SPOT, SPOT])


async def test_acquires_within_the_limit_do_not_wait(clock: FakeClock) -> None:
    lim = limiter(clock)
    for _ in range(300):
        await lim.acquire({"ip": 20})
    assert lim.usage() == {"ip": 6000}
    assert clock.sleeps == []


async def test_full_bucket_waits_for_the_next_wall_clock_window(clock: FakeClock) -> None:
    clock.now = clock.start + 45  # 45 s into the minute: the window resets in 15 s, not 60
    lim = limiter(clock)
    await lim.acquire({"ip": 5990})
    await lim.acquire({"ip": 20})
    assert clock.sleeps == [pytest.approx(15)]
    assert clock.now == pytest.approx(clock.start + 60)
    assert lim.usage() == {"ip": 20}


async def test_request_costs_in_several_buckets_at_once(clock: FakeClock) -> None:
    lim = limiter(clock, SPOT, SAPI_IP, SAPI_UID)
    await lim.acquire({"sapi_ip": 1, "sapi_uid": 3000})
    await lim.acquire({"ip": 20})
    assert lim.usage() == {"ip": 20, "sapi_ip": 1, "sapi_uid": 3000}

    # Fill the UID bucket: an IP-cheap request must still wait for the UID window.
    for _ in range(59):
        await lim.acquire({"sapi_ip": 1, "sapi_uid": 3000})
    assert lim.usage()["sapi_uid"] == 180000
    assert clock.sleeps == []
    await lim.acquire({"sapi_ip": 1, "sapi_uid": 3000})
    assert clock.sleeps == [pytest.approx(60)]
    # A spot request does not cost in the SAPI buckets and is never held by them.
    await lim.acquire({"ip": 20})
    assert len(clock.sleeps) == 1


async def test_waits_for_the_latest_of_its_buckets(clock: FakeClock) -> None:
    fast = Bucket("per10s", 10, 10)
    slow = Bucket("per60s", 100, 60)
    lim = limiter(clock, fast, slow)
    for _ in range(10):
        await lim.acquire({"per60s": 10})  # slow bucket full
    await lim.acquire({"per10s": 1, "per60s": 1})
    assert clock.now == pytest.approx(clock.start + 60)


async def test_unusable_weights_raise_configuration_error(clock: FakeClock) -> None:
    lim = limiter(clock)
    with pytest.raises(ConfigurationError, match="can never fit"):
        await lim.acquire({"ip": 6001})
    with pytest.raises(ConfigurationError, match="unknown rate-limit bucket"):
        await lim.acquire({"uid": 1})
    with pytest.raises(ConfigurationError, match="non-negative"):
        await lim.acquire({"ip": -1})
    assert lim.usage() == {"ip": 0}


async def test_usage_header_raises_the_count_but_never_lowers_it(clock: FakeClock) -> None:
    lim = limiter(clock, SPOT, SAPI_IP)
    await lim.acquire({"ip": 100})
    lim.observe(httpx.Headers({"x-mbx-used-weight-1m": "5990"}))
    assert lim.usage()["ip"] == 5990
    lim.observe(httpx.Headers({"X-MBX-USED-WEIGHT-1M": "40"}))  # stale / lower: ignored
    lim.observe(httpx.Headers({"X-MBX-USED-WEIGHT-1M": "garbage"}))
    assert lim.usage()["ip"] == 5990
    lim.observe(httpx.Headers({"X-SAPI-USED-IP-WEIGHT-1M": "7"}))
    assert lim.usage() == {"ip": 5990, "sapi_ip": 7}

    # Another process used the weight: our next heavy request waits for the window to reset.
    await lim.acquire({"ip": 20})
    assert clock.now == pytest.approx(clock.start + 60)
    assert lim.usage()["ip"] == 20


async def test_penalty_blocks_every_acquire(clock: FakeClock) -> None:
    lim = limiter(clock)
    lim.penalize(30)
    lim.penalize(5)  # shorter: the running penalty is kept
    lim.penalize(0)
    lim.penalize(math.nan)
    assert lim.blocked_for() == pytest.approx(30)
    await lim.acquire({})
    assert clock.now == pytest.approx(clock.start + 30)
    assert lim.blocked_for() == 0
    await lim.acquire({"ip": 1})
    assert clock.sleeps == [pytest.approx(30)]


async def test_penalty_arriving_while_waiting_is_honoured(clock: FakeClock) -> None:
    lim = limiter(clock)
    await lim.acquire({"ip": 6000})
    waiter = asyncio.create_task(lim.acquire({"ip": 1}))
    await asyncio.sleep(0)  # the waiter is asleep until the minute ends
    lim.penalize(90)  # 429 seen by another task: now blocked until clock.start + 90
    await waiter
    assert clock.now >= clock.start + 90


async def test_concurrent_acquires_never_exceed_any_limit(clock: FakeClock) -> None:
    per10 = Bucket("per10s", 50, 10)
    per60 = Bucket("per60s", 200, 60)
    lim = limiter(clock, per10, per60)
    granted: list[tuple[float, dict[str, int]]] = []

    async def worker(i: int) -> None:
        weights = {"per10s": 1 + i % 7, "per60s": 1 + i % 5}
        await lim.acquire(weights)
        granted.append((clock.now, weights))

    await asyncio.gather(*(worker(i) for i in range(300)))

    assert len(granted) == 300
    for bucket in (per10, per60):
        per_window: dict[int, int] = defaultdict(int)
        for when, weights in granted:
            per_window[math.floor(when / bucket.period)] += weights[bucket.name]
        assert max(per_window.values()) <= bucket.limit
        # and the limiter used the windows well: only the last one is not (nearly) full
        counts = [per_window[w] for w in sorted(per_window)]
        if bucket is per60:
            assert all(c > bucket.limit - 5 for c in counts[:-1])


async def test_concurrent_acquires_reserve_atomically(clock: FakeClock) -> None:
    lim = limiter(clock, Bucket("b", 10, 60))
    await asyncio.gather(*(lim.acquire({"b": 1}) for _ in range(25)))
    # 10 in the first window, 10 in the second, 5 in the third
    assert clock.now == pytest.approx(clock.start + 120)
    assert lim.usage() == {"b": 5}


async def test_cancelled_waiter_reserves_nothing(clock: FakeClock) -> None:
    blocked = asyncio.Event()

    async def never_wakes(seconds: float) -> None:
        blocked.set()
        await asyncio.Event().wait()

    stuck = WeightedRateLimiter([Bucket("b", 10, 60)], clock=clock.time, sleep=never_wakes)
    await stuck.acquire({"b": 10})
    task = asyncio.create_task(stuck.acquire({"b": 5}))
    await blocked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stuck.usage() == {"b": 10}


def test_repr_lists_buckets(clock: FakeClock) -> None:
    assert repr(limiter(clock, SPOT, SAPI_UID)) == "WeightedRateLimiter(ip=6000/60s, sapi_uid=180000/60s)"

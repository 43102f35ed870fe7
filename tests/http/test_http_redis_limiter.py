"""The rate limiter shared through Redis, against the machine's real Redis (``TXSYNC_TEST_REDIS_URL``):
one budget for several processes, bans and usage headers seen by every worker, keys per IP and per
account, and a typed error (never an unlimited mode) when Redis cannot be reached."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.redis_service import key_prefix, require_redis
from txsync.connector import LimiterRegistry
from txsync.connectors.binance._limits import VirtualClock, build_limiters
from txsync.engine import Engine
from txsync.errors import BannedError, ConfigurationError, RateLimiterUnavailableError
from txsync.http import (
    Bucket,
    DecayingCounter,
    HttpClient,
    RedisLimiterRegistry,
    RedisRateLimiter,
    RetryPolicy,
    WeightedRateLimiter,
    open_limiters,
)
from txsync.http.redis_limiter import LIMITER_URL_ENV, default_limiters

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def redis_url() -> str:
    return require_redis()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    with key_prefix(redis_url) as value:
        yield value


class StopWaiting(Exception):
    """Raised by a recording sleep to end an acquire that would wait."""


def recording_sleep(waits: list[float]):  # type: ignore[no-untyped-def]
    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        raise StopWaiting

    return sleep


def usage_response(used: int, status: int = 200, retry_after: str | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        body = {"ok": True} if status == 200 else {"code": -1003, "msg": "Way too many requests; IP banned."}
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(handler)


async def test_a_request_is_counted_once_in_every_limit_it_names(redis_url: str, prefix: str) -> None:
    registry = RedisLimiterRegistry(redis_url, prefix=prefix)
    limits = [Bucket("ip", 100, 3600), Bucket("uid", 50, 3600), DecayingCounter("key", 10, 1)]
    limiter = registry.shared("ex:1", limits)
    await limiter.acquire({"ip": 20, "uid": 5, "key": 2})
    await limiter.acquire({"ip": 1})
    usage = await limiter.usage()
    assert usage["ip"] == 21 and usage["uid"] == 5
    assert 1 < (await limiter.levels())["key"] <= 2  # draining at 1 per second
    # Another worker (its own registry and connection) sees the same counts.
    other = RedisLimiterRegistry(redis_url, prefix=prefix).shared("ex:1", limits)
    assert (await other.usage())["ip"] == 21
    await registry.aclose()


async def test_a_request_that_does_not_fit_waits_for_the_next_window(redis_url: str, prefix: str) -> None:
    limiter = RedisLimiterRegistry(redis_url, prefix=prefix).shared("ex:win", [Bucket("ip", 5, 0.5)])
    first = await limiter.reserve({"ip": 5})
    second = await limiter.reserve({"ip": 1})  # the window is full: granted in the next one
    assert math.floor(second / 0.5) > math.floor(first / 0.5)


async def test_a_decaying_counter_waits_for_its_drain(redis_url: str, prefix: str) -> None:
    waits: list[float] = []
    limiter = RedisLimiterRegistry(redis_url, prefix=prefix, sleep=recording_sleep(waits), headroom=0).shared(
        "ex:kraken", [DecayingCounter("key", 3, 2)]
    )
    await limiter.acquire({"key": 3})
    with pytest.raises(StopWaiting):
        await limiter.acquire({"key": 2})
    assert 0.5 < waits[0] <= 1.0  # two units over the maximum, draining 2 per second


async def test_bad_weights_are_refused_before_redis_is_asked(redis_url: str, prefix: str) -> None:
    limiter = RedisLimiterRegistry(redis_url, prefix=prefix).shared("ex:bad", [Bucket("ip", 10, 60)])
    for weights in ({"nope": 1}, {"ip": -1}, {"ip": 11}, {"ip": True}):
        with pytest.raises(ConfigurationError):
            await limiter.acquire(weights)  # type: ignore[arg-type]
    assert (await limiter.usage()) == {"ip": 0}


def test_processes_sharing_one_budget_never_exceed_it(redis_url: str, prefix: str) -> None:
    """Three processes take weight 3 at a time as fast as they can from 30 per 0.5 s for 1.2 s: the
    grants (on the Redis clock) never add up to more than 30 in any window, and the budget is used."""
    limit, period, weight = 30, 0.5, 3
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    argv = [sys.executable, "-m", "helpers.redis_service", redis_url, prefix, "binance:ip:shared",
            str(limit), str(period), str(weight), "1.2"]
    workers = [subprocess.Popen(argv, stdout=subprocess.PIPE, env=env) for _ in range(3)]  # noqa: S603
    grants: list[float] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        mine = json.loads(out)
        assert mine, "every worker got some of the budget"
        grants.extend(mine)
    per_window = Counter(math.floor(t / period) for t in grants)
    assert max(per_window.values()) * weight <= limit
    assert len(per_window) >= 3
    assert sum(per_window.values()) * weight >= 2 * limit  # they were throttled, not starved


async def test_a_ban_seen_by_one_worker_holds_back_the_others(redis_url: str, prefix: str) -> None:
    buckets = [Bucket("spot", 6000, 60, usage_header="X-MBX-USED-WEIGHT-1M")]
    one = RedisLimiterRegistry(redis_url, prefix=prefix)
    two = RedisLimiterRegistry(redis_url, prefix=prefix)
    limiter = one.get("binance:ip:office:spot", lambda: WeightedRateLimiter(buckets))
    assert isinstance(limiter, RedisRateLimiter)
    client = HttpClient("https://api.binance.com", limiter=limiter, transport=usage_response(10, 418, "1"),
                        retry=RetryPolicy.never())
    with pytest.raises(BannedError):
        await client.get_json("/api/v3/account", weights={"spot": 20})
    await client.aclose()
    assert limiter.blocked_for() > 0.5
    waits: list[float] = []
    other = RedisLimiterRegistry(redis_url, prefix=prefix, sleep=recording_sleep(waits)).get(
        "binance:ip:office:spot", lambda: WeightedRateLimiter(buckets)
    )
    with pytest.raises(StopWaiting):
        await other.acquire({"spot": 1})
    assert 0.5 < waits[0] <= 1.0
    assert other.blocked_for() > 0.5
    assert 0.5 < await other.banned_for() <= 1.0
    # Once the window has ended, the second worker goes on.
    started = time.monotonic()
    late = two.get("binance:ip:office:spot", lambda: WeightedRateLimiter(buckets))
    await late.acquire({"spot": 1})
    assert time.monotonic() - started > 0.5
    assert await late.banned_for() == 0


async def test_usage_headers_correct_the_shared_count(redis_url: str, prefix: str) -> None:
    buckets = [Bucket("spot", 6000, 3600, usage_header="X-MBX-USED-WEIGHT-1M")]
    limiter = RedisLimiterRegistry(redis_url, prefix=prefix).get(
        "binance:ip:office:spot", lambda: WeightedRateLimiter(buckets)
    )
    async with HttpClient("https://api.binance.com", limiter=limiter, transport=usage_response(5990)) as client:
        assert await client.get_json("/api/v3/account", weights={"spot": 20}) == {"ok": True}
    waits: list[float] = []
    other = RedisLimiterRegistry(redis_url, prefix=prefix, sleep=recording_sleep(waits), headroom=0).get(
        "binance:ip:office:spot", lambda: WeightedRateLimiter(buckets)
    )
    assert (await other.usage()) == {"spot": 5990}  # raised from our own 20 to the server's figure
    await other.acquire({"spot": 10})  # fits exactly
    with pytest.raises(StopWaiting):
        await other.acquire({"spot": 1})
    assert waits and waits[0] > 0
    # A lower figure (another window's, a slower server) never lowers the count.
    async with HttpClient("https://api.binance.com", limiter=limiter, transport=usage_response(3)) as client:
        await client.get_json("/api/v3/time")
    assert (await other.usage()) == {"spot": 6000}


async def test_keys_are_per_ip_and_per_account(redis_url: str, prefix: str) -> None:
    registry = RedisLimiterRegistry(redis_url, prefix=prefix)
    a_x = build_limiters(registry, ip_label="egress-a", account_id="acc-x")
    a_y = build_limiters(RedisLimiterRegistry(redis_url, prefix=prefix), ip_label="egress-a", account_id="acc-y")
    b_x = build_limiters(RedisLimiterRegistry(redis_url, prefix=prefix), ip_label="egress-b", account_id="acc-x")
    await a_x["spot"].acquire({"spot": 20})
    await a_x["sapi_uid"].acquire({"sapi_uid": 3000})
    spot_a_y, spot_b_x = a_y["spot"], b_x["spot"]
    uid_a_y, uid_b_x = a_y["sapi_uid"], b_x["sapi_uid"]
    assert isinstance(spot_a_y, RedisRateLimiter) and isinstance(spot_b_x, RedisRateLimiter)
    assert isinstance(uid_a_y, RedisRateLimiter) and isinstance(uid_b_x, RedisRateLimiter)
    assert await spot_a_y.usage() == {"spot": 20}  # same IP, other account: one IP budget
    assert await spot_b_x.usage() == {"spot": 0}  # other IP
    assert await uid_b_x.usage() == {"sapi_uid": 3000}  # same account from another IP: its UID budget
    assert await uid_a_y.usage() == {"sapi_uid": 0}


def test_limiters_on_a_simulated_clock_or_of_their_own_class_stay_in_process(redis_url: str) -> None:
    registry = RedisLimiterRegistry(redis_url)
    virtual = VirtualClock(1_700_000_000.0)
    parts = build_limiters(registry, ip_label="x:simulated", account_id="a", clock=virtual.time, sleep=virtual.sleep)
    assert all(isinstance(part, WeightedRateLimiter) for part in parts.values())

    class Own(WeightedRateLimiter):
        pass

    assert isinstance(registry.get("own", lambda: Own([Bucket("b", 1, 1)])), Own)


async def test_an_unreachable_redis_is_a_typed_error_and_nothing_is_sent() -> None:
    sent: list[httpx.Request] = []
    registry = RedisLimiterRegistry("redis://:hunter2-secret@127.0.0.1:1/0", timeout=0.5)
    limiter = registry.get("binance:ip:x:spot", lambda: WeightedRateLimiter([Bucket("spot", 6000, 60)]))
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200, json={}))
    async with HttpClient("https://api.binance.com", limiter=limiter, transport=transport) as client:
        with pytest.raises(RateLimiterUnavailableError) as caught:
            await client.get_json("/api/v3/account", weights={"spot": 20})
    assert sent == []  # never an unlimited mode
    message = str(caught.value)
    assert "127.0.0.1:1/0" in message and "hunter2" not in message
    assert "hunter2" not in repr(registry) and "hunter2" not in repr(limiter)
    # A queued penalty that cannot be sent is an error too, and stays queued.
    limiter.penalize(5)
    with pytest.raises(RateLimiterUnavailableError):
        await limiter.flush()  # type: ignore[attr-defined]
    assert limiter.blocked_for() > 4  # type: ignore[attr-defined]


def test_the_backend_is_chosen_by_url_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert type(open_limiters(None)) is LimiterRegistry
    assert type(open_limiters("memory://")) is LimiterRegistry
    assert isinstance(open_limiters("redis://127.0.0.1:6379/0"), RedisLimiterRegistry)
    with pytest.raises(ConfigurationError, match="unknown rate limiter backend"):
        open_limiters("postgresql://127.0.0.1/x")
    with pytest.raises(ConfigurationError):
        RedisLimiterRegistry("http://127.0.0.1:6379")
    monkeypatch.delenv(LIMITER_URL_ENV, raising=False)
    assert type(default_limiters()) is LimiterRegistry
    monkeypatch.setenv(LIMITER_URL_ENV, "redis://127.0.0.1:6379/3")
    assert isinstance(default_limiters(), RedisLimiterRegistry)
    engine = Engine.__new__(Engine)
    Engine.__init__(engine, store=None, hooks=[])  # type: ignore[arg-type]
    assert isinstance(engine.limiters, RedisLimiterRegistry)


async def test_a_sync_stops_with_the_typed_error_when_redis_is_unreachable() -> None:
    from txsync.connectors.demo import DemoExchange
    from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox
    from txsync.models import Credential
    from txsync.registry import Registry
    from txsync.store import SqliteStore

    sandbox = DemoSandbox()
    registry = Registry(entry_points=[])
    registry.register(DemoExchange)
    engine = Engine(
        SqliteStore(":memory:"), registry=registry, transport_for=lambda _c: sandbox.transport(),
        limiters=RedisLimiterRegistry("redis://127.0.0.1:1/0", timeout=0.5), clock=sandbox.clock, hooks=[],
    )
    credential = Credential(connector_id="demo", secrets={"api_key": DEMO_KEY, "api_secret": DEMO_SECRET})
    connection = engine.connect("owner", credential, verify=False)
    report = await engine.sync(connection.id)
    assert not report.ok
    assert any(e.startswith("RateLimiterUnavailableError") for e in report.errors)
    assert sandbox.requests == 0  # nothing sent unlimited
    assert len(report.streams) <= 1 and not any(s.completed for s in report.streams)  # stopped at once


async def test_a_usage_header_that_says_nothing_new_costs_no_redis_call(redis_url: str, prefix: str) -> None:
    buckets = [Bucket("spot", 6000, 3600, usage_header="X-MBX-USED-WEIGHT-1M")]
    limiter = RedisLimiterRegistry(redis_url, prefix=prefix).get(
        "binance:ip:quiet:spot", lambda: WeightedRateLimiter(buckets)
    )
    calls: list[str] = []
    connection = limiter._connection
    run = connection.run

    async def counted(keys, args):  # type: ignore[no-untyped-def]
        calls.append(args[0])
        return await run(keys, args)

    connection.run = counted
    async with HttpClient("https://api.binance.com", limiter=limiter, transport=usage_response(20)) as client:
        await client.get_json("/api/v3/account", weights={"spot": 20})  # the server saw what we counted
        assert calls == ["acquire"]
    async with HttpClient("https://api.binance.com", limiter=limiter, transport=usage_response(500)) as client:
        await client.get_json("/api/v3/account", weights={"spot": 20})  # someone else spent weight
    assert calls == ["acquire", "acquire", "observe"]
    assert await limiter.usage() == {"spot": 500}


async def test_a_headroom_keeps_a_share_of_each_limit_unused(redis_url: str, prefix: str) -> None:
    waits: list[float] = []
    registry = RedisLimiterRegistry(redis_url, prefix=prefix, sleep=recording_sleep(waits))
    assert registry.headroom == 0.02  # the default: late arrivals of a window's last requests
    limiter = registry.shared("ex:headroom", [Bucket("ip", 1000, 3600)])
    for _ in range(49):
        await limiter.acquire({"ip": 20})  # 980 = 98 % of the limit
    with pytest.raises(StopWaiting):
        await limiter.acquire({"ip": 1})
    # A request heavier than the capped budget still goes, alone in an empty window.
    heavy = registry.shared("ex:heavy", [Bucket("uid", 180000, 3600)])
    await heavy.acquire({"uid": 180000})
    assert await heavy.usage() == {"uid": 180000}
    with pytest.raises(ConfigurationError):
        RedisLimiterRegistry(redis_url, headroom=1.0)

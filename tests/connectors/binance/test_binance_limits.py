"""Rate limits: the weight table, shared budgets, usage headers, 429s and bans, on a simulated clock."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from connectors.binance.binance_rig import make_rig
from txsync.connector import LimiterRegistry
from txsync.connectors.binance._limits import BUCKETS, WEIGHTS, VirtualClock, build_limiters
from txsync.connectors.binance.sandbox import NOW, BinanceSandbox
from txsync.connectors.binance.sandbox._server import _WEIGHTS as SANDBOX_WEIGHTS
from txsync.engine import SyncMode


def test_one_table_covers_every_endpoint_with_the_documented_weight() -> None:
    assert {path: (cost.bucket, cost.weight) for path, cost in WEIGHTS.items()} == SANDBOX_WEIGHTS
    assert {b.name: b.limit for b in BUCKETS.values()} == {
        "spot": 6000,
        "sapi_ip": 12000,
        "sapi_uid": 180000,
        "fapi": 2400,
        "dapi": 2400,
        "eapi": 400,
    }


def test_connections_behind_one_ip_share_the_ip_buckets_not_the_uid_one() -> None:
    registry = LimiterRegistry()
    one = build_limiters(registry, ip_label="default", account_id="acc-1")
    two = build_limiters(registry, ip_label="default", account_id="acc-2")
    other_ip = build_limiters(registry, ip_label="egress-2", account_id="acc-1")
    assert one["spot"] is two["spot"] and one["sapi_ip"] is two["sapi_ip"]
    assert one["sapi_uid"] is not two["sapi_uid"] and one["sapi_uid"] is other_ip["sapi_uid"]
    assert one["spot"] is not other_ip["spot"]


def _timed_rig(sandbox: BinanceSandbox, options: dict[str, Any]) -> tuple[Any, VirtualClock]:
    """Real limits on both sides, one simulated clock: the sandbox's minutes and the limiter's."""
    clock = VirtualClock(NOW.timestamp())
    sandbox.wall = clock.time
    registry = LimiterRegistry()
    rig = make_rig(sandbox.transport, options=options, limiters=registry)
    build_limiters(
        registry,
        ip_label="default",
        account_id=rig.connection.account_id,
        clock=clock.time,
        sleep=clock.sleep,
    )
    return rig, clock


def test_a_full_sync_under_real_limits_gets_no_429(small_account: Any) -> None:
    sandbox = BinanceSandbox(account=small_account, enforce_limits=True)
    rig, clock = _timed_rig(sandbox, {"origin": "2024-01-01", "trades_page_size": 8})
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors
    assert sandbox.rejected_429 == 0 and sandbox.banned_418 == 0
    assert sum(s.rate_limited for s in report.streams) == 0
    # The UID budget (180000/min) binds: fiat orders alone weigh 2 x 90000, withdrawals 18000 each.
    uid = sandbox.weight_spent["sapi_uid"]
    assert uid > 180000 and clock.waited >= 60 * (uid // 180000 - 1)
    assert (
        sum(s.weight for s in report.streams) == sum(sandbox.weight_spent.values()) - 2
    )  # time + restrictions


def test_sandbox_answers_429_with_usage_headers_then_bans_who_ignores_it(small_account: Any) -> None:
    clock = VirtualClock(NOW.timestamp())
    sandbox = BinanceSandbox(account=small_account, wall=clock.time, retry_after_zero=True)
    transport = sandbox.transport()

    def get(path: str) -> httpx.Response:
        return transport.handle_request(httpx.Request("GET", "https://api.binance.com" + path))  # type: ignore[arg-type]

    statuses = [get("/api/v3/exchangeInfo").status_code for _ in range(305)]
    assert statuses[:300] == [200] * 300
    assert statuses[300] == 429
    answer = get("/api/v3/exchangeInfo")
    assert answer.headers["X-MBX-USED-WEIGHT-1M"] == "6000"
    assert answer.status_code == 418 and json.loads(answer.content)["code"] == -1003
    assert int(answer.headers["Retry-After"]) == 120


def test_a_429_with_retry_after_zero_holds_the_limiter_back(small_account: Any) -> None:
    """The connector honours its own backoff when Binance says ``Retry-After: 0``."""
    sandbox = BinanceSandbox(account=small_account, enforce_limits=False, faults={4: "429-0"})
    rig, _clock = _timed_rig(sandbox, {"origin": "2024-01-01", "trades_page_size": 8})
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok
    assert sum(s.rate_limited for s in report.streams) == 1 and sum(s.retries for s in report.streams) == 1

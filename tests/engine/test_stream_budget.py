"""Bounded syncs against a misbehaving Demo Exchange on 127.0.0.1: a server paging forever (its
cursor growing forever), one answering slower and slower, one that hangs, one that trickles bytes or
sends too much. Each ends its stream with a typed error in the report; the pages committed before
stay, the other streams still run, and the next sync resumes after what was kept."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from helpers.demo import demo_credential, demo_registry
from helpers.demo_server import demo_api, endless_trades
from helpers.hostile import Request, hostile, send
from txsync.engine import Engine, StreamBudget
from txsync.http import HttpLimits, RetryPolicy
from txsync.store import SqliteStore

NOW = datetime(2020, 3, 1, tzinfo=UTC)


async def _no_sleep(_: float) -> None:
    return None


def engine_for(store: SqliteStore, **kw: Any) -> Engine:
    kw.setdefault("retry", RetryPolicy(attempts=2, sleep=_no_sleep))
    return Engine(store, registry=demo_registry(), clock=lambda: NOW, **kw)


def connect(engine: Engine, base_url: str) -> str:
    options = {"base_url": base_url, "origin": "2020-01-01T00:00:00+00:00"}
    return engine.connect("alice", demo_credential(), options=options, verify=False).id


def trade_ids(store: SqliteStore) -> list[int]:
    return sorted(int(tx.external_ids["trade_id"]) for tx in store.transactions() if "trade_id" in tx.external_ids)


async def test_a_server_paging_forever_ends_the_stream_at_the_page_budget(store: SqliteStore) -> None:
    async with hostile(demo_api(endless_trades)) as server:
        engine = engine_for(store, stream_budget=StreamBudget(max_pages=5))
        con = connect(engine, server.base_url)
        report = await engine.sync(con)
        trades, deposits = report.streams
        assert not report.ok
        assert trades.pages == 5 and not trades.completed
        assert trades.errors[0].startswith("StreamBudgetError: stream trades did not end within its budget of 5 pages")
        assert deposits.completed and not deposits.errors  # the other streams still run
        assert trade_ids(store) == list(range(0, 500))  # what was committed stays
        assert store.get_cursor(con, "trades") == 500  # the sixth page was fetched, never committed
        saved = json.loads(store.last_sync_run(con) or "{}")
        assert saved["streams"][0]["errors"] == trades.errors
        # the next sync resumes after what was kept, and is bounded again
        sent = len(server.requests)
        again = await engine.sync(con)
        asked = [r.query["fromId"] for r in server.requests[sent:] if r.path == "/v1/trades"]
        assert not again.ok and again.streams[0].pages == 5
        assert asked == ["500", "600", "700", "800", "900", "1000"]
        assert trade_ids(store) == list(range(0, 1000)) and store.get_cursor(con, "trades") == 1000


async def test_a_stream_past_its_time_budget_ends_between_pages(store: SqliteStore) -> None:
    ticks = itertools.count()
    budget = StreamBudget(max_pages=None, max_seconds=3.5, monotonic=lambda: float(next(ticks)))
    async with hostile(demo_api(endless_trades)) as server:
        engine = engine_for(store, stream_budget=budget)
        report = await engine.sync(connect(engine, server.base_url))
    trades = report.streams[0]
    assert not report.ok and 0 < trades.pages < 5
    assert "StreamBudgetError" in trades.errors[0] and "budget of 3.5 s" in trades.errors[0]
    assert len(trade_ids(store)) == 100 * trades.pages


async def test_a_hanging_request_is_cancelled_at_the_time_budget(store: SqliteStore) -> None:
    async def hang_after_two_pages(request: Request, writer: asyncio.StreamWriter) -> None:
        if int(request.query["fromId"]) >= 200:
            await asyncio.sleep(3600)  # never answers; httpx's read timeout (30 s) is far away
        await endless_trades(request, writer)

    async with hostile(demo_api(hang_after_two_pages)) as server:
        engine = engine_for(store, stream_budget=StreamBudget(max_seconds=0.5))
        report = await engine.sync(connect(engine, server.base_url))
    trades, deposits = report.streams
    assert trades.pages == 2 and "budget of 0.5 s" in trades.errors[0]
    assert deposits.completed and trade_ids(store) == list(range(0, 200))


async def test_the_hosts_http_limits_reach_every_connector_client(store: SqliteStore) -> None:
    async def slowloris(_: Request, writer: asyncio.StreamWriter) -> None:
        await send(writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 99999\r\n\r\n[")
        while True:
            await send(writer, b" ")
            await asyncio.sleep(0.01)

    async with hostile(demo_api(slowloris)) as server:
        engine = engine_for(store, http_limits=HttpLimits(deadline=0.3))
        report = await engine.sync(connect(engine, server.base_url))
    assert report.streams[0].errors[0].startswith("RequestDeadlineError: no complete response within the deadline")
    assert report.streams[0].retries == 1 and report.streams[1].completed

    async with hostile(demo_api(endless_trades)) as server:
        engine = engine_for(store, http_limits=HttpLimits(max_response_bytes=1000))
        report = await engine.sync(connect(engine, server.base_url))
    assert report.streams[0].errors[0].startswith("ResponseTooLargeError: response body")
    assert report.permissions is not None  # /v1/key is small: it passed


def test_budget_defaults_and_validation() -> None:
    budget = StreamBudget()
    assert (budget.max_pages, budget.max_seconds) == (100_000, 3 * 3600.0)
    for bad in ({"max_pages": 0}, {"max_pages": True}, {"max_seconds": 0}, {"max_seconds": float("nan")}):
        with pytest.raises(ValueError, match="must be"):
            StreamBudget(**bad)  # type: ignore[arg-type]
    assert Engine(SqliteStore(":memory:")).stream_budget == StreamBudget()

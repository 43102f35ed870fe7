"""Progress events (callback and async iterator), blocking twins usable from a loop host's threads,
missing credentials that never stop ``sync_due``, removal on request, and a connect stopped half-way."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.demo import demo_credential, demo_engine
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.engine import (
    PageCommitted,
    ProgressEvent,
    RateLimitWait,
    StreamFinished,
    StreamStarted,
    SyncFinished,
    SyncStarted,
)
from txsync.errors import ConnectionStateError, EventLoopError, UnknownConnectionError
from txsync.http import Bucket, WeightedRateLimiter
from txsync.store import SqliteStore


class FakeTime:
    """A wall clock that jumps forward when slept on."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def test_a_sync_reports_every_stream_and_page_in_order(store: SqliteStore) -> None:
    engine = demo_engine(store, DemoSandbox())
    connection = engine.connect("alice", demo_credential())
    events: list[ProgressEvent] = []
    report = engine.sync_blocking(connection.id, progress=events.append)
    assert report.ok
    assert isinstance(events[0], SyncStarted) and events[0].mode == "incremental"
    assert isinstance(events[-1], SyncFinished) and events[-1].report is report and events[-1].ok
    streams = [e.stream for e in events if isinstance(e, StreamStarted)]
    assert streams == [s.stream for s in report.streams]
    for sr in report.streams:
        mine = [e for e in events if getattr(e, "stream", None) == sr.stream]
        assert isinstance(mine[0], StreamStarted) and isinstance(mine[-1], StreamFinished)
        pages = [e for e in mine if isinstance(e, PageCommitted)]
        assert [p.pages for p in pages] == list(range(1, sr.pages + 1))
        assert pages[-1].records == sr.raws and pages[-1].new == sr.new
        assert pages[-1].requests <= sr.requests and pages[-1].weight <= sr.weight
        finished = mine[-1]
        assert isinstance(finished, StreamFinished)
        assert (finished.completed, finished.pages, finished.new, finished.requests, finished.weight) == (
            True, sr.pages, sr.new, sr.requests, sr.weight
        )
    # every event forwards as plain JSON, times as ISO 8601 UTC
    for event in events:
        data = json.loads(json.dumps(event.to_json()))
        assert data["kind"] == event.kind and data["at"].endswith("Z")
    assert json.loads(json.dumps(events[-1].to_json()))["report"]["connection_id"] == connection.id


def test_waits_for_rate_limits_and_retry_after_are_reported(store: SqliteStore) -> None:
    sandbox = DemoSandbox(faults={3: "429"})
    engine = demo_engine(store, sandbox)
    fake = FakeTime()
    # the connector's weight bucket, 5 per minute, on a clock that jumps when slept on
    engine.limiters.get(
        "demo:weight",
        lambda: WeightedRateLimiter([Bucket("weight", 5, 60, "X-DEMO-USED-WEIGHT")], clock=fake.clock,
                                    sleep=fake.sleep),
    )
    connection = engine.connect("alice", demo_credential(), verify=False)
    events: list[ProgressEvent] = []
    report = engine.sync_blocking(connection.id, progress=events.append)
    assert report.ok, report.errors
    waits = [e for e in events if isinstance(e, RateLimitWait)]
    reasons = {w.reason for w in waits}
    assert reasons == {"rate limit", "Retry-After"}
    limited = [w for w in waits if w.reason == "rate limit"]
    assert len(limited) == len(fake.slept) and all(w.seconds > 0 for w in limited)
    assert all(w.until - w.at == timedelta(seconds=w.seconds) or abs(
        (w.until - w.at).total_seconds() - w.seconds) < 0.01 for w in waits)
    assert {w.stream for w in limited} <= {s.stream for s in report.streams}
    retry = next(w for w in waits if w.reason == "Retry-After")
    assert retry.seconds == 1


def test_a_failing_listener_never_stops_a_sync(store: SqliteStore, caplog: pytest.LogCaptureFixture) -> None:
    engine = demo_engine(store, DemoSandbox())
    connection = engine.connect("alice", demo_credential())

    def broken(_event: ProgressEvent) -> None:
        raise RuntimeError("display crashed")

    report = engine.sync_blocking(connection.id, progress=broken)
    assert report.ok and report.total("new") == 262
    assert "a progress listener failed" in caplog.text


class Yielding(httpx.AsyncBaseTransport):
    """The sandbox's transport, suspending at every request as a real network does."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        return await self.inner.handle_async_request(request)


async def test_sync_events_iterates_a_sync_and_leaving_early_cancels_it(store: SqliteStore) -> None:
    sandbox = DemoSandbox()
    engine = demo_engine(store, sandbox)
    engine.transport_for = lambda _c: Yielding(sandbox.transport())
    connection, _ = await engine.connect_verified("alice", demo_credential())
    seen: list[str] = []
    async with contextlib.aclosing(engine.sync_events(connection.id)) as events:
        async for event in events:
            seen.append(event.kind)
            if isinstance(event, PageCommitted) and event.stream == "trades" and event.pages == 1:
                break  # the host's page was closed: the sync stops, what it stored stays
    assert seen[0] == "sync_started" and "sync_finished" not in seen
    kept = store.count_transactions(connection.account_id)
    assert 0 < kept < 262
    events = [event async for event in engine.sync_events(connection.id)]  # resumes after the kept pages
    last = events[-1]
    assert isinstance(last, SyncFinished) and last.report.ok
    assert store.count_transactions(connection.account_id) == 262
    engine.pause(connection.id)
    with pytest.raises(ConnectionStateError, match="paused"):
        async for _ in engine.sync_events(connection.id):
            pass


async def test_blocking_twins_work_from_a_loop_hosts_threads_and_refuse_its_loop_thread(
    store: SqliteStore,
) -> None:
    """FastAPI runs sync routes in worker threads of a running loop: the twins work there."""
    engine = demo_engine(store, DemoSandbox())
    connection = await asyncio.to_thread(engine.connect, "alice", demo_credential())
    permissions, warnings = await asyncio.to_thread(engine.check_credential_blocking, demo_credential())
    assert permissions.can_read and warnings == []
    report = await asyncio.to_thread(engine.sync_blocking, connection.id)
    assert report.ok and report.total("new") == 262
    balances = await asyncio.to_thread(engine.reported_balances_blocking, connection.id)
    assert {b.asset for b in balances}
    due = await asyncio.to_thread(engine.sync_due_blocking, connection.created_at + timedelta(days=400))
    assert [r.connection_id for r in due] == [connection.id]
    for call, twin in (
        (lambda: engine.check_credential_blocking(demo_credential()), "check_credential"),
        (lambda: engine.reported_balances_blocking(connection.id), "reported_balances"),
        (lambda: engine.sync_due_blocking(), "sync_due"),
        (lambda: engine.sync_blocking(connection.id), "sync"),
    ):
        with pytest.raises(EventLoopError, match=rf"await engine\.{twin}\(\.\.\.\)"):
            call()


def test_a_connection_without_a_credential_is_reported_and_never_stops_sync_due(store: SqliteStore) -> None:
    engine = demo_engine(store, DemoSandbox())
    keyless = engine.connect("alice", demo_credential())
    store.drop_credential(keyless.id)  # lost key (restored backup, a host bug)
    other = engine.connect("bob", demo_credential())
    ghost_account = store.add_account("carol", "uninstalled")  # its connector is gone
    ghost = store.add_connection(ghost_account.id, "uninstalled")
    report = engine.sync_blocking(keyless.id)
    assert not report.ok and "no usable credential" in report.errors[0]
    assert store.get_connection(keyless.id).state == "active"  # nothing to disable: the user reconnects
    reports = engine.sync_due_blocking(keyless.created_at + timedelta(days=400))
    by_id = {r.connection_id: r for r in reports}
    assert set(by_id) == {keyless.id, other.id, ghost.id}
    assert by_id[other.id].ok and by_id[other.id].total("new") == 262
    assert "no usable credential" in by_id[keyless.id].errors[0]
    assert "PluginError" in by_id[ghost.id].errors[0]


def test_remove_connection_and_account_through_the_engine(store: SqliteStore) -> None:
    engine = demo_engine(store, DemoSandbox())
    first = engine.connect("alice", demo_credential())
    second = engine.connect("alice", demo_credential(), account_id=first.account_id)
    assert engine.sync_blocking(first.id).ok
    engine.remove_connection(first.id)
    assert [c.id for c in store.list_connections(first.account_id)] == [second.id]
    assert store.count_transactions(first.account_id) == 262
    assert engine.sync_blocking(second.id).total("new") == 0
    engine.remove_account(first.account_id)
    assert store.list_accounts("alice") == [] and store.sealed_blobs() == []
    with pytest.raises(UnknownConnectionError):
        engine.remove_connection(second.id)


@pytest.mark.parametrize("where", ["add_connection", "put"])
def test_a_connect_stopped_half_way_leaves_nothing(store: SqliteStore, where: str, tmp_path: Path) -> None:
    engine = demo_engine(store, DemoSandbox())
    target: Any = store if where == "add_connection" else engine.credentials
    original = getattr(target, where)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        if where == "put":
            original(*args, **kwargs)  # stored, then Ctrl-C before connect returns
        raise KeyboardInterrupt

    setattr(target, where, interrupted)
    with pytest.raises(KeyboardInterrupt):
        engine.connect("alice", demo_credential())
    setattr(target, where, original)
    assert store.list_accounts() == [] and store.list_connections() == [] and store.sealed_blobs() == []
    connection = engine.connect("alice", demo_credential())  # and the next try works
    assert engine.sync_blocking(connection.id).ok

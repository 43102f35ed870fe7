"""The engine's lease in one process (both stores): two syncs of one connection at once make one sync and
one skip; the lease is renewed while a sync outlives its time to live; a sync whose lease was taken over
stops before its next commit; an engine refuses nonsense lease settings."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from helpers.demo import demo_credential, demo_engine
from txsync.connectors.demo.sandbox import DemoAccount, DemoSandbox
from txsync.errors import ConfigurationError

ACCOUNT = "acc-lease"


def _slow(sandbox: DemoSandbox, delay: float) -> httpx.MockTransport:
    async def handle(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(delay)
        return sandbox.handle(request)

    return httpx.MockTransport(handle)


def _setup(store: Any, *, delay: float, **engine_kw: Any) -> tuple[Any, str]:
    sandbox = DemoSandbox(account=DemoAccount.generate(trades=250, deposits=3))
    engine = demo_engine(store, sandbox, **engine_kw)
    transport = _slow(sandbox, delay)
    engine.transport_for = lambda _c: transport
    store.add_account("owner", "demo", account_id=ACCOUNT)
    con = engine.connect("owner", demo_credential(), account_id=ACCOUNT, verify=False)
    return engine, str(con.id)


async def test_two_syncs_at_once_make_one_sync_and_one_skip(store: Any) -> None:
    engine, con = _setup(store, delay=0.005, lease_holder="host-a:1")
    first, second = await asyncio.gather(engine.sync(con), engine.sync(con))
    ran, skipped = (first, second) if first.skipped is None else (second, first)
    assert ran.ok and ran.total("new") > 0
    assert skipped.status == "skipped" and skipped.leased_by is not None
    assert skipped.leased_by.startswith("host-a:1:") and skipped.streams == []
    assert len(store.list_connections()) == 1 and store.get_lease(con) is None
    # Once the first is done, the next sync runs (and finds nothing new).
    again = await engine.sync(con)
    assert again.ok and again.total("new") == 0


async def test_the_lease_is_renewed_while_a_long_sync_runs_and_released_when_cancelled(store: Any) -> None:
    engine, con = _setup(store, delay=0.1, lease_ttl=timedelta(seconds=0.6))
    sync = asyncio.ensure_future(engine.sync(con))
    refused = []
    for _ in range(5):  # 1.5 s: more than twice the lease's time to live
        await asyncio.sleep(0.3)
        assert not sync.done()
        lease, current = await asyncio.to_thread(store.acquire_lease, con, "intruder", timedelta(seconds=5))
        assert lease is None and current is not None
        refused.append(current.expires_at)
    assert refused[-1] > refused[0]  # extended as the sync went on
    sync.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sync
    assert store.get_lease(con) is None  # a cancelled sync gives its lease back


async def test_a_sync_whose_lease_was_taken_over_stops_before_its_next_commit(store: Any) -> None:
    engine, con = _setup(store, delay=0.05, lease_ttl=timedelta(seconds=0.3))
    sync = asyncio.ensure_future(engine.sync(con))
    while (lease := await asyncio.to_thread(store.get_lease, con)) is None:  # noqa: ASYNC110 - the DB
        await asyncio.sleep(0.01)
    # The worker stalled past its expiry and another took the connection over.
    assert await asyncio.to_thread(store.release_lease, lease)
    taken, _ = await asyncio.to_thread(store.acquire_lease, con, "other-worker", timedelta(seconds=30))
    assert taken is not None
    report = await sync
    assert not report.ok
    assert any(e.startswith("LeaseLostError") and "other-worker" in e for e in report.errors)
    assert store.get_lease(con).holder == "other-worker"  # not released by the loser
    assert report.total("pages") < 3  # it stopped instead of syncing on


def test_lease_settings_are_checked(store: Any) -> None:
    with pytest.raises(ConfigurationError, match="lease_ttl"):
        demo_engine(store, DemoSandbox(), lease_ttl=timedelta(0))
    with pytest.raises(ConfigurationError, match="lease_wait"):
        demo_engine(store, DemoSandbox(), lease_wait=timedelta(seconds=-1))

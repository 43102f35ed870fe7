"""myTrades inside one pair: every page is a checkpoint (issue 11, part 9).

A pair whose history keeps paging used to be collected whole before any of its pages was yielded:
nothing committed while it paged, memory growing with its history. Now each page is committed as
it comes, so a kill loses at most the page in flight and a resume from any page inside the pair
gives the ledger of an uninterrupted sync.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from connectors.binance.binance_rig import credential
from helpers.fuzz import connect_offline, ledger
from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import NOW, BinanceSandbox
from txsync.engine import Engine, InMemoryCredentials, SyncMode
from txsync.registry import Registry
from txsync.store import SqliteStore
from txsync.testing import NO_SLEEP_RETRY
from txsync.testing.harness import RecordingStore, SimulatedCrash

#: Three trades a page: the busiest pair (ETHUSDT, 17 trades) pages six times.
OPTIONS: dict[str, Any] = {"origin": "2024-01-01", "trades_page_size": 3, "rate_limit": "off"}
LONG_PAIR = "ETHUSDT"


def _engine(
    store: Any, transport: httpx.AsyncBaseTransport, credentials: InMemoryCredentials | None = None
) -> Engine:
    registry = Registry(entry_points=[])
    registry.register(Binance)
    return Engine(
        store,
        registry=registry,
        credentials=credentials or InMemoryCredentials(),
        transport_for=lambda _c: transport,
        clock=lambda: NOW,
        retry=NO_SLEEP_RETRY,
    )


def _pair_pages(store: RecordingStore) -> list[int]:
    """Indexes (in ``store.pages``) of the trades pages of the long pair."""
    return [
        i for i, page in enumerate(store.pages)
        if page.stream == "trades" and page.raws and page.raws[0].source_id.startswith(f"{LONG_PAIR}:")
    ]


def test_each_page_inside_a_long_pair_is_a_checkpoint_and_resumes_to_the_same_ledger(
    small_account: Any,
) -> None:
    reference = RecordingStore(SqliteStore(":memory:"))
    engine = _engine(reference, BinanceSandbox(account=small_account, enforce_limits=False).transport())
    con = connect_offline(engine, "owner", credential(), options=dict(OPTIONS), connection_id="con_ref")
    assert asyncio.run(engine.sync(con.id)).ok
    expected = ledger(reference.inner, con.account_id)  # type: ignore[arg-type]
    inside = _pair_pages(reference)
    assert len(inside) == 6  # the pair's six pages were six commits, not one at the end
    cursors = [reference.pages[i].cursor["pairs"][LONG_PAIR] for i in inside]
    assert cursors == sorted(cursors) and len(set(cursors)) == 6  # its fromId advanced page by page

    for kill_at in inside:
        store = RecordingStore(SqliteStore(":memory:"))
        # killed right after committing the reference's page number kill_at (the same sequence)
        store.crash_after = lambda _page, s=store, n=kill_at: len(s.pages) == n + 1
        engine = _engine(store, BinanceSandbox(account=small_account, enforce_limits=False).transport())
        con = connect_offline(engine, "owner", credential(), options=dict(OPTIONS), connection_id="con_kill")
        with pytest.raises(SimulatedCrash):
            asyncio.run(engine.sync(con.id))
        stored = {sid for page in store.pages for sid in (r.source_id for r in page.raws)}
        assert any(sid.startswith(f"{LONG_PAIR}:") for sid in stored)  # committed before the pair ended
        resumed = _engine(
            store.inner,
            BinanceSandbox(account=small_account, enforce_limits=False).transport(),
            engine.credentials,  # type: ignore[arg-type]
        )
        report = asyncio.run(resumed.sync(con.id))
        assert report.ok, (report.errors, [s.errors for s in report.streams])
        assert ledger(store.inner, con.account_id) == expected, f"resume after page {kill_at}"  # type: ignore[arg-type]


def test_a_pair_that_keeps_paging_commits_as_it_goes(small_account: Any) -> None:
    """A server that keeps answering full, advancing pages for one pair (500 of them): pages are
    committed while it pages. Before, all 500 were fetched and held before the first commit, and a
    pair that pages forever held the sync (and grew its memory) forever."""
    sandbox = BinanceSandbox(account=small_account, enforce_limits=False)
    served = {"pages": 0}
    template = small_account.trades[LONG_PAIR][0]

    def handle(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if request.url.path == "/api/v3/myTrades" and params.get("symbol") == LONG_PAIR:
            response = sandbox.handle(request)  # signed and metered as usual
            start = int(params["fromId"])
            served["pages"] += 1
            size = 3 if served["pages"] < 500 else 1  # a short page ends the pair
            rows = [dict(template, id=start + i, orderId=start + i) for i in range(size)]
            return httpx.Response(200, json=rows, headers=response.headers)
        return sandbox.handle(request)

    store = RecordingStore(SqliteStore(":memory:"))
    store.crash_after = lambda page: len(_pair_pages(store)) == 40  # kill once 40 of its pages are in
    engine = _engine(store, httpx.MockTransport(handle))
    con = connect_offline(engine, "owner", credential(), options=dict(OPTIONS), connection_id="con_endless")
    with pytest.raises(SimulatedCrash):
        asyncio.run(engine.sync(con.id, SyncMode.FULL))
    assert len(_pair_pages(store)) == 40
    # at most the page in flight was fetched beyond what was committed
    assert served["pages"] <= 40 + 2
    cursor = store.inner.get_cursor(con.id, "trades")
    assert cursor["pairs"][LONG_PAIR] == 40 * 3  # a full sync pages from fromId 0, three ids a page

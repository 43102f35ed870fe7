"""``OwnerLedger.refresh_reported`` asks the source for its balances and keeps them; its blocking twin
works from plain code and refuses a running loop's thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from helpers.demo import demo_credential, demo_engine
from txsync.errors import EventLoopError
from txsync.owner import OwnerLedger
from txsync.testing.demo_sandbox import DemoSandbox


def test_refresh_reported_blocking_keeps_what_the_source_reports(store_factory: Callable[[], Any]) -> None:
    store = store_factory()
    engine = demo_engine(store, DemoSandbox())
    connection = engine.connect("alice", demo_credential(), verify=False)
    assert engine.sync_blocking(connection.id).ok
    ledger = OwnerLedger(store)

    reported = ledger.refresh_reported_blocking(engine, connection.account_id)

    assert reported and all(b.amount >= 0 for b in reported)
    rows = {r.asset: r for r in ledger.balances(account_id=connection.account_id)}
    for balance in reported:
        if balance.amount:
            assert rows[balance.asset].reported == balance.amount  # kept for `txsync balances`

    async def inside_a_loop() -> None:
        with pytest.raises(EventLoopError, match="refresh_reported"):
            ledger.refresh_reported_blocking(engine, connection.account_id)

    asyncio.run(inside_a_loop())

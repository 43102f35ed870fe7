"""The linker's streamed reads (a page of transactions at a time, each asset's halves swept in time
order, hash groups, deletions found by a join) on both stores: SQLite and PostgreSQL give the same
links, and incremental runs give what one full re-link gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.owner.test_linking import H1, H2
from tests.owner.world import T0, World, hours, wipe

from txsync.models import TransactionKind


def _world(store: Any) -> World:
    w = World(store)
    w.account("ex", "binance")
    w.account("wallet", "bitcoin")
    w.account("wallet2", "bitcoin")
    return w


def test_incremental_runs_equal_a_full_relink_on_each_store(store_factory: Callable[[], Any]) -> None:
    world = _world(store_factory())
    linker = world.linker()
    ids = []
    for i in range(16):  # a candidate chain four days long
        out = i % 2 == 0
        account, amount = ("ex", "-1.0") if out else ("wallet", "0.99")
        ids.append(world.move(account, amount, at=T0 + hours(9 * (i // 2) + (0 if out else 10)), key=f"c{i}"))
    hashed_w = world.move("ex", "-2.0", at=T0 + hours(24 * 10), tx_hash=H1, key="hw")
    hashed_d = world.move("wallet2", "1.999", at=T0 + hours(24 * 15), tx_hash=H1)
    first = linker.run("alice")
    assert first.links_added == 9
    assert (hashed_w, hashed_d, "hash") in world.links()

    world.tick(60)
    world.move("ex", "-1.0", at=T0 + hours(9 * 8), key="c16")  # the chain shifts along its length
    world.move("ex", "-2.0", at=T0 + hours(24 * 10), tx_hash=H2, key="hw")  # the hash pair breaks
    world.store.delete_transaction(ids[1])
    # a deposit merged into a trade by a later read is no transfer half any more
    world.move("wallet", "0.99", at=T0 + hours(9 * 3 + 10), key="c7", kind=TransactionKind.TRADE)
    linker.run("alice")
    assert (hashed_w, hashed_d, "hash") not in world.links()
    assert world.store.stored_halves(tx_ids=[ids[7]]) == []
    incremental = world.picture()
    again = linker.run("alice")
    assert (again.changed, again.examined, again.links_added, again.links_removed) == (0, 0, 0, 0)

    wipe(world.store)
    linker.run("alice", full=True)
    assert world.picture() == incremental

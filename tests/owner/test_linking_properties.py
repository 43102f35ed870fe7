"""Property: however syncs, deletions and the user's decisions interleave with incremental linking runs,
the links (and the ties and conflicts reported) equal those of one full re-link from scratch."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.owner.test_linking import wipe
from tests.owner.world import T0, World, hours

from txsync.errors import LinkError
from txsync.owner.ledger import OwnerLedger
from txsync.store import SqliteStore

ACCOUNTS = ("ex", "wallet", "evm")
HASHES = (None, None, None, "c3" * 32, "d4" * 32)

move = st.tuples(
    st.just("move"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(("-1.0", "-0.9", "1.0", "0.95", "0.9", "-0.5", "0.5")),
    st.integers(min_value=0, max_value=14),  # hours: overlapping windows, ties
    st.sampled_from(HASHES),
    st.sampled_from(("BTC", "BTC", "ETH")),
)
action = st.one_of(
    move,
    st.tuples(st.just("link_run")),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("restore"), st.integers(0, 50)),
    st.tuples(st.just("unlink"), st.integers(0, 50)),
    st.tuples(st.just("manual"), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("forget"), st.integers(0, 50)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=1, max_size=25))
def test_incremental_linking_equals_a_full_relink(actions: list[Any]) -> None:
    world = World(SqliteStore(":memory:"))
    for name, connector in zip(ACCOUNTS, ("binance", "bitcoin", "evm"), strict=True):
        world.account(name, connector)
    owner = OwnerLedger(world.store)
    ids: list[str] = []
    decided: list[tuple[str, str]] = []
    for step in actions:
        kind = step[0]
        if kind == "move":
            _, account, amount, at, tx_hash, asset = step
            ids.append(world.move(account, amount, asset, at=T0 + hours(at), tx_hash=tx_hash))
        elif kind == "link_run":
            owner.link()
        elif kind in ("delete", "restore") and ids:
            tx = ids[step[1] % len(ids)]
            (world.store.delete_transaction if kind == "delete" else world.store.restore_transaction)(tx)
        elif kind == "unlink":
            links = world.store.stored_links("alice")
            if links:
                x = links[step[1] % len(links)]
                owner.unlink_transactions(x.withdrawal, x.deposit)
                decided.append((x.withdrawal, x.deposit))
        elif kind == "manual" and ids:
            a, b = ids[step[1] % len(ids)], ids[step[2] % len(ids)]
            try:
                owner.link_transactions(a, b)
                decided.append((a, b))
            except LinkError:
                pass
        elif kind == "forget" and decided:
            owner.forget_decision(*decided[step[1] % len(decided)])
    owner.link()
    incremental = world.picture()
    wipe(world.store)
    owner.link(full=True)
    assert world.picture() == incremental
    # and a second run finds nothing to do
    again = owner.link()
    assert (again.changed, again.links_added, again.links_removed) == (0, 0, 0)

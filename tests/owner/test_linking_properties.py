"""Property: however syncs, deletions and the user's decisions interleave with incremental linking runs,
the links (and the ties and conflicts reported) equal those of one full re-link from scratch."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.owner.world import T0, World, assert_incremental_equals_full, hours, user_step

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


# Over weeks instead of hours: the linker sweeps each asset in time order from where something changed
# (chains of candidates longer than one window, hash pairs days apart, edits that move a half in time).
spread_move = st.tuples(
    st.just("move"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(("-1.0", "-0.9", "1.0", "0.95", "0.9", "-0.5", "0.5")),
    st.integers(min_value=0, max_value=24 * 21),
    st.sampled_from(HASHES),
    st.sampled_from(("BTC", "BTC", "ETH")),
)
chain = st.tuples(
    st.just("chain"),
    st.integers(min_value=0, max_value=24 * 21),
    st.integers(min_value=2, max_value=16),
    st.sampled_from(("BTC", "ETH")),
)
edit = st.tuples(
    st.just("edit"),
    st.integers(0, 50),
    st.sampled_from(("-1.0", "1.0", "0.95", "-0.5")),
    st.integers(min_value=0, max_value=24 * 21),
)
spread_action = st.one_of(
    spread_move,
    chain,
    st.tuples(st.just("grow"), st.integers(0, 5)),
    st.tuples(st.just("link_run")),
    edit,
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
    _incremental_equals_full(actions)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spread_action, min_size=1, max_size=30))
def test_incremental_linking_over_weeks_equals_a_full_relink(actions: list[Any]) -> None:
    _incremental_equals_full(actions)


def _incremental_equals_full(actions: list[Any]) -> None:
    world = World(SqliteStore(":memory:"))
    for name, connector in zip(ACCOUNTS, ("binance", "bitcoin", "evm"), strict=True):
        world.account(name, connector)
    owner = OwnerLedger(world.store)
    ids: list[str] = []
    moves: list[tuple[str, str, str]] = []  # (key, account, asset) of each move, for edits
    chains: list[list[Any]] = []  # [start hour, length, asset]

    def grow(chain: list[Any]) -> None:
        at, i, asset = chain
        out = i % 2 == 0
        account, amount = ("ex", "-1.0") if out else ("wallet", "0.99")
        when = at + 9 * (i // 2) + (0 if out else 10)
        key = f"m{len(moves)}"
        ids.append(world.move(account, amount, asset, at=T0 + hours(when), key=key))
        moves.append((key, account, asset))
        chain[1] = i + 1
    decided: list[tuple[str, str]] = []
    for step in actions:
        kind = step[0]
        if kind == "move":
            _, account, amount, at, tx_hash, asset = step
            key = f"m{len(moves)}"
            ids.append(world.move(account, amount, asset, at=T0 + hours(at), tx_hash=tx_hash, key=key))
            moves.append((key, account, asset))
        elif kind == "chain":
            # withdrawals every 9 h, each deposit 10 h after one withdrawal and 1 h after the next:
            # one candidate chain many windows long, whose matching a change at one end can shift
            _, at, length, asset = step
            chains.append([at, 0, asset])
            for _ in range(length):
                grow(chains[-1])
        elif kind == "grow" and chains:
            grow(chains[step[1] % len(chains)])
        elif kind == "edit" and moves:
            # the same record read again with another amount and time (a corrected source)
            key, account, asset = moves[step[1] % len(moves)]
            world.tick(1)
            world.move(account, step[2], asset, at=T0 + hours(step[3]), key=key)
        elif kind == "link_run":
            owner.link()
        else:
            user_step(world, owner, step, ids, decided)
    assert_incremental_equals_full(world, owner)

"""Property tests of the flat-memory linker under other rules (a skew larger than the window, a one-hour
window), transfer ids, pending and edited halves, links by hand, and with the linker's page tiny (every
flush and memo pruning exercised): incremental runs equal one full re-link, and their counts are what
changed. ``TXSYNC_LINK_EXAMPLES`` raises the number of examples for a longer search."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.owner.world import T0, World, assert_incremental_equals_full, hours, user_step

from txsync.errors import LinkError
from txsync.models import TransactionKind
from txsync.owner import LinkRules
from txsync.owner.ledger import OwnerLedger
from txsync.store import SqliteStore

ACCOUNTS = ("ex", "ex2", "wallet", "wallet2")
CONNECTORS = ("binance", "binance", "bitcoin", "bitcoin")
HASHES = (None, None, None, "c3" * 32, "d4" * 32)
INTERNAL = (None, None, None, "777")
AMOUNTS = ("-1.0", "-0.9", "1.0", "0.95", "0.9", "-0.5", "0.5", "1.1")
RULES = (
    LinkRules(),
    LinkRules(window=timedelta(hours=6), skew=timedelta(hours=18)),
    LinkRules(window=timedelta(hours=1), skew=timedelta(minutes=10)),
)

hour = st.one_of(st.integers(0, 30), st.integers(0, 24 * 28))
move = st.tuples(
    st.just("move"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(AMOUNTS),
    hour,
    st.sampled_from(HASHES),
    st.sampled_from(INTERNAL),
    st.sampled_from(("confirmed", "confirmed", "pending")),
    st.sampled_from(("BTC", "BTC", "BTC", "ETH")),
)
edit = st.tuples(
    st.just("edit"),
    st.integers(0, 60),
    st.one_of(st.none(), st.sampled_from(AMOUNTS)),
    st.one_of(st.none(), hour),
    st.one_of(st.none(), st.sampled_from(HASHES)),
    st.one_of(st.none(), st.sampled_from(("confirmed", "pending"))),
    st.sampled_from((None, None, None, "trade")),
)
action = st.one_of(
    move,
    move,
    edit,
    st.tuples(st.just("link_run")),
    st.tuples(st.just("delete"), st.integers(0, 60)),
    st.tuples(st.just("restore"), st.integers(0, 60)),
    st.tuples(st.just("unlink"), st.integers(0, 60)),
    st.tuples(st.just("manual"), st.integers(0, 60), st.integers(0, 60)),
    st.tuples(st.just("forget"), st.integers(0, 60)),
    st.tuples(st.just("hand"), st.integers(0, 60)),
)


def _links(world: World) -> set[str]:
    return {repr(sorted(x.model_dump(mode="json").items())) for x in world.store.stored_links("alice")}


def run_actions(actions: list[Any], rules: LinkRules, *, counts: bool = False) -> None:
    world = World(SqliteStore(":memory:"))
    for name, connector in zip(ACCOUNTS, CONNECTORS, strict=True):
        world.account(name, connector)
    owner = OwnerLedger(world.store, rules=rules)
    ids: list[str] = []
    moves: list[dict[str, Any]] = []
    decided: list[tuple[str, str]] = []
    for step in actions:
        kind = step[0]
        if kind == "move":
            _, account, amount, at, tx_hash, internal, status, asset = step
            spec = {
                "account": account,
                "amount": amount,
                "asset": asset,
                "at": at,
                "tx_hash": tx_hash,
                "internal": internal,
                "status": status,
                "kind": None,
                "key": f"m{len(moves)}",
            }
            moves.append(spec)
            ids.append(commit(world, spec))
        elif kind == "edit" and moves:
            _, i, amount, at, tx_hash, status, new_kind = step
            spec = moves[i % len(moves)]
            for name, value in (("amount", amount), ("at", at), ("tx_hash", tx_hash), ("status", status)):
                if value is not None:
                    spec[name] = value
            spec["kind"] = new_kind
            world.tick(1)
            commit(world, spec)
        elif kind == "link_run":
            before = _links(world)
            done = owner.link()
            after = _links(world)
            if counts:
                assert (done.links_added, done.links_removed) == (len(after - before), len(before - after))
        elif kind == "hand":
            # the user confirms an automatic link by linking the same pair by hand
            links = [x for x in world.store.stored_links("alice") if x.method.value != "manual"]
            if links:
                x = links[step[1] % len(links)]
                try:
                    owner.link_transactions(x.withdrawal, x.deposit)
                    decided.append((x.withdrawal, x.deposit))
                except LinkError:
                    pass
        else:
            user_step(world, owner, step, ids, decided)
    assert_incremental_equals_full(world, owner)


def commit(world: World, spec: dict[str, Any]) -> str:
    external = {"internal_transfer_id": spec["internal"]} if spec["internal"] else None
    kind = TransactionKind.TRADE if spec["kind"] == "trade" else None
    return world.move(
        spec["account"],
        spec["amount"],
        spec["asset"],
        at=T0 + hours(spec["at"]),
        tx_hash=spec["tx_hash"],
        key=spec["key"],
        kind=kind,
        status=spec["status"],
        external=external,
    )


_EXAMPLES = int(os.environ.get("TXSYNC_LINK_EXAMPLES", "60"))


@settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=1, max_size=30), st.sampled_from(RULES))
def test_incremental_equals_full_under_other_rules(actions: list[Any], rules: LinkRules) -> None:
    run_actions(actions, rules)


@settings(
    max_examples=_EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(action.filter(lambda a: a[0] != "hand"), min_size=1, max_size=40), st.sampled_from(RULES))
def test_incremental_equals_full_with_tiny_pages(monkeypatch: Any, actions: list[Any], rules: LinkRules) -> None:
    """The same with the linker's page (flushes, pruning of solved components) tiny."""
    import txsync.owner.linker as linker_module

    monkeypatch.setattr(linker_module, "_PAGE", 2)
    run_actions(actions, rules, counts=True)

"""Cases an adversarial review of the flat-memory linker found (each failed before its fix): incremental
runs give what one full re-link from scratch gives, and a second run changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.owner.world import T0, World, assert_incremental_equals_full, hours, wipe

from txsync.owner.ledger import OwnerLedger
from txsync.store import SqliteStore


@pytest.fixture
def world() -> World:
    w = World(SqliteStore(":memory:"))
    for name, connector in (("ex", "binance"), ("wallet", "bitcoin"), ("wallet2", "bitcoin"), ("evm", "evm")):
        w.account(name, connector)
    return w


def test_forgetting_a_manual_link_of_a_natural_pair(world: World) -> None:
    owner = OwnerLedger(world.store)
    w = world.move("ex", "-1.0", at=T0)
    d = world.move("wallet", "0.99", at=T0 + hours(1))
    owner.link()
    owner.link_transactions(w, d)
    owner.forget_decision(w, d)
    assert world.links() == {(w, d, "heuristic")}
    assert_incremental_equals_full(world, owner)


def test_unlinking_a_manual_link_lets_the_withdrawal_link_elsewhere(world: World) -> None:
    owner = OwnerLedger(world.store)
    w = world.move("ex", "-1.0", at=T0)
    d = world.move("wallet", "1.0", at=T0 + hours(5))  # not w's nearest: linked by hand
    d2 = world.move("wallet2", "0.99", at=T0 + hours(1))  # w's heuristic partner
    owner.link()
    assert world.links() == {(w, d2, "heuristic")}
    owner.link_transactions(w, d)
    assert world.links() == {(w, d, "manual")}
    owner.unlink_transactions(w, d)
    assert world.links() == {(w, d2, "heuristic")}
    assert_incremental_equals_full(world, owner)


@pytest.mark.parametrize("page", [6])
def test_a_component_pruned_from_solved_is_solved_twice(
    world: World, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    """``solved`` forgets components the sweep has left 4 windows behind; the sweep of the next marked
    range reads one of them again and solves it a second time. With _PAGE = 6 (the pruning above
    4 * _PAGE components, a flush at 6 pending items) the two solutions land in one batch."""
    import txsync.owner.linker as linker_module

    monkeypatch.setattr(linker_module, "_PAGE", page)
    owner = OwnerLedger(world.store)
    h2 = "ab" * 32
    y = world.move("wallet", "-2.1", at=T0, tx_hash=h2, key="Y")
    e = world.move("ex", "2.0", at=T0 + timedelta(days=5), tx_hash=h2)
    owner.link()
    assert world.links() == {(y, e, "hash")}
    # run 2: Y corrected (its hash partner E is marked too), 22 lone deposits and one pair near Y, a pair
    # p two days later (its own marked range)
    world.tick(1)
    world.move("wallet", "-2.0", at=T0, tx_hash=h2, key="Y")
    for i in range(1, 23):
        world.move("wallet2", "5.0", at=T0 + timedelta(minutes=i))
    world.move("ex", "-3.0", at=T0 + timedelta(minutes=30))
    world.move("wallet2", "2.9", at=T0 + timedelta(minutes=31))
    pw = world.move("ex", "-1.0", at=T0 + timedelta(days=2))
    pd = world.move("wallet2", "0.99", at=T0 + timedelta(days=2, hours=1))
    run = owner.link()
    assert (pw, pd, "heuristic") in world.links()
    assert (run.links_added, run.links_removed) == (3, 1)  # Y-E replaced, the two pairs new
    assert_incremental_equals_full(world, owner)


# -- outside the reviewed diff (pre-existing): rows of the owner layer removed behind the linker's back --


def test_removing_a_manual_entry_frees_its_partner(world: World) -> None:
    """remove_entry deletes the entry's halves and links directly (store/_manual.py
    _delete_transaction): nothing marks its former candidates, so a tie it was part of stays."""
    from txsync.manual import ManualLedger

    manual = ManualLedger(world.store, clock=lambda: world.clock)
    owner = OwnerLedger(world.store, asset_key=lambda connector, ticker, at: ticker)
    cold = manual.add_manual_account("alice", "cold").id
    d = world.move("wallet", "1.0", at=T0 + hours(1))
    w2 = world.move("ex", "-1.0", at=T0)
    entry = manual.add_entry(cold, timestamp=T0, legs=[{"asset": "BTC", "amount": "-1.0"}])
    owner.link()
    assert world.links() == set()  # two equally good withdrawals: a tie
    manual.remove_entry(entry.entry_id)
    world.tick(1)
    owner.link()
    assert world.links() == {(w2, d, "heuristic")}
    assert_incremental_equals_full(world, owner)


def test_removing_an_account_leaves_no_halves_or_links(world: World) -> None:
    """remove_account (right to erasure) erases the ledger but not the owner layer's halves and links
    of the account: its amounts, hashes and addresses stay, and so do links to erased transactions."""
    owner = OwnerLedger(world.store)
    w = world.move("ex", "-1.0", at=T0)
    world.move("wallet", "0.99", at=T0 + hours(1))
    owner.link()
    assert len(world.links()) == 1
    world.store.remove_account("wallet")
    owner.link()
    assert world.links() == set()
    assert [h.tx_id for h, _ in world.store.stored_halves(owner_id="alice")] == [w]
    assert_incremental_equals_full(world, owner)



def test_another_owners_hash_twin_and_far_hash_pairs(world: World) -> None:
    """Passes: bob's halves sharing alice's hash never join her components; alice's hash pairs weeks
    apart follow a deletion, a restore and a pending -> confirmed change of the far side."""
    world.account("bobex", "binance", owner="bob")
    owner = OwnerLedger(world.store)
    h = "ef" * 32
    w = world.move("wallet", "-1.0", at=T0, tx_hash=h)
    near = world.move("ex", "0.99", at=T0 + hours(2))
    world.move("bobex", "1.0", at=T0 + hours(1), tx_hash=h)
    far = world.move("ex", "1.0", at=T0 + timedelta(days=20), tx_hash=h, key="far", status="pending")
    owner.link("alice")
    assert world.links() == {(w, near, "heuristic")}
    world.tick(1)
    world.move("ex", "1.0", at=T0 + timedelta(days=20), tx_hash=h, key="far")
    owner.link("alice")
    assert world.links() == {(w, far, "hash")}
    world.store.delete_transaction(far)
    owner.link("alice")
    assert world.links() == {(w, near, "heuristic")}
    world.store.restore_transaction(far)
    owner.link("alice")
    assert world.links() == {(w, far, "hash")}
    owner.link("alice")
    incremental = world.picture()
    again = owner.link("alice")
    assert (again.changed, again.examined, again.links_added, again.links_removed) == (0, 0, 0, 0)
    wipe(world.store)
    owner.link("alice", full=True)
    assert world.picture() == incremental

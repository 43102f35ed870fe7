"""Transfer linking: hash links, the heuristic as one assignment (never greedy), ties reported, fees,
the user's decisions, deletions, and incremental runs that equal a full re-link."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.owner.world import T0, World, hours, wipe

from txsync.errors import LinkError
from txsync.models import LegRole, TransactionKind
from txsync.owner import LinkMethod, LinkRules
from txsync.owner.ledger import OwnerLedger
from txsync.store import SqliteStore

H1 = "a1" * 32
H2 = "b2" * 32


@pytest.fixture
def world() -> World:
    w = World(SqliteStore(":memory:"))
    w.account("binance", "binance")
    w.account("wallet", "bitcoin")
    w.account("evm", "evm")
    return w


def only(w: World) -> list:
    return w.store.stored_links(w.owner)


def test_same_hash_links_with_the_declared_fee(world: World) -> None:
    out = world.move(
        "binance", "-0.5", at=T0, fee="0.0002", tx_hash="0x" + H1.upper(), external={"network": "BTC"}
    )
    into = world.move("wallet", "0.5", at=T0 + hours(0.5), tx_hash=H1)
    run = world.linker().run("alice")
    [link] = only(world)
    assert (link.withdrawal, link.deposit, link.method) == (out, into, LinkMethod.HASH)
    assert link.matched_on == "tx_hash" and link.confidence == 1
    assert (link.sent, link.received, link.declared_fee, link.fee, link.fee_leg) == (
        Decimal("0.5002"),
        Decimal("0.5"),
        Decimal("0.0002"),
        Decimal("0.0002"),
        Decimal(0),
    )
    assert run.links_added == 1
    assert link.as_json()["method"] == "hash" and link.as_json()["fee"] == "0.0002"


def test_a_hash_link_needs_no_time_order_but_the_same_network_and_no_more_received(world: World) -> None:
    out = world.move("binance", "-1.5", "ETH", at=T0 + hours(30), tx_hash=H1, external={"network": "BSC"})
    into = world.move("evm", "1.5", "ETH", at=T0, tx_hash=H1, external={"chain_id": "1"})
    world.linker().run("alice")
    assert only(world) == []
    issues = OwnerLedger(world.store).issues("alice")
    assert {(i.kind, i.transactions[0]) for i in issues} == {("conflict", out), ("conflict", into)}
    assert "another network" in issues[0].detail


def test_more_received_than_sent_under_one_hash_is_a_conflict(world: World) -> None:
    world.move("binance", "-0.5", at=T0, fee="0.001", tx_hash=H1)
    world.move("wallet", "0.6", at=T0, tx_hash=H1)
    world.linker().run("alice")
    assert only(world) == []
    assert any("more arrived than left" in i.detail for i in OwnerLedger(world.store).issues("alice"))


def test_a_batch_payment_links_partially_and_adds_no_fee(world: World) -> None:
    world.move("wallet", "-1.0", at=T0, fee="0.0001", tx_hash=H1)
    world.move("binance", "0.3", at=T0 + hours(1), tx_hash=H1)
    world.linker().run("alice")
    [link] = only(world)
    assert link.flags == ("partial",) and link.fee_leg == 0 and link.fee == Decimal("0.0001")


def test_the_assignment_beats_first_come_pairing(world: World) -> None:
    # Greedy in time order would give W1 the first deposit it fits (D1, 0.25) and leave W2 without one.
    w1 = world.move("binance", "-0.30", at=T0)
    w2 = world.move("binance", "-0.25", at=T0 + hours(1))
    d1 = world.move("wallet", "0.25", at=T0 + hours(1.5), tx_hash=H1)
    d2 = world.move("wallet", "0.299", at=T0 + hours(2), tx_hash=H2)
    world.linker().run("alice")
    assert world.links() == {(w1, d2, "heuristic"), (w2, d1, "heuristic")}
    by_w = {x.withdrawal: x for x in only(world)}
    assert by_w[w1].fee == by_w[w1].fee_leg == Decimal("0.001")
    assert by_w[w2].fee == 0 and by_w[w2].confidence > by_w[w1].confidence


def test_the_nearest_pairing_wins(world: World) -> None:
    w = world.move("binance", "-1.0", "ETH", at=T0)
    far = world.move("evm", "0.95", "ETH", at=T0 + hours(6))
    near = world.move("evm", "0.999", "ETH", at=T0 + hours(0.2))
    world.linker().run("alice")
    assert world.links() == {(w, near, "heuristic")}
    assert far not in {x.deposit for x in only(world)}


def test_equally_good_pairings_are_reported_not_guessed(world: World) -> None:
    w = world.move("binance", "-1.0", "ETH", at=T0)
    world.account("evm2", "evm")
    a = world.move("evm", "1.0", "ETH", at=T0 + hours(1))
    b = world.move("evm2", "1.0", "ETH", at=T0 + hours(1))
    run = world.linker().run("alice")
    assert only(world) == [] and run.ties == 1
    issues = OwnerLedger(world.store).issues("alice")
    assert {i.kind for i in issues} == {"tie"}
    mine = next(i for i in issues if i.transactions[0] == w)
    assert set(mine.transactions[1:]) == {a, b}
    # the user decides: the tie is gone
    OwnerLedger(world.store).link_transactions(a, w)
    assert world.links() == {(w, a, "manual")}
    assert OwnerLedger(world.store).issues("alice") == []


@pytest.mark.parametrize(
    ("amount", "offset", "why"),
    [
        ("1.0001", 1, "more received than sent"),
        ("0.79", 1, "more than 20 % lost"),
        ("1.0", 12.5, "outside the 12 hour window"),
        ("1.0", -0.5, "deposit before the withdrawal"),
    ],
)
def test_heuristic_limits(world: World, amount: str, offset: float, why: str) -> None:
    world.move("binance", "-1.0", "ETH", at=T0)
    world.move("evm", amount, "ETH", at=T0 + hours(offset))
    world.linker().run("alice")
    assert only(world) == [], why


def test_heuristic_limits_that_allow(world: World) -> None:
    world.move("binance", "-1.0", "ETH", at=T0)
    world.move("evm", "0.8", "ETH", at=T0 + hours(12))  # exactly 20 % and 12 h
    world.move("binance", "-2.0", "ETH", at=T0 + hours(40))
    world.move("evm", "2.0", "ETH", at=T0 + hours(40) - hours(0.1))  # clocks 6 min apart
    world.linker().run("alice")
    assert len(only(world)) == 2


def test_different_hashes_same_account_other_asset_or_owner_never_link(world: World) -> None:
    world.account("bob-wallet", "bitcoin", owner="bob")
    world.move("binance", "-1.0", at=T0, tx_hash=H1)
    world.move("wallet", "1.0", at=T0 + hours(1), tx_hash=H2)  # another hash
    world.move("binance", "-2.0", at=T0 + hours(20))
    world.move("binance", "2.0", at=T0 + hours(21))  # same account
    world.move("binance", "-3.0", "ETH", at=T0 + hours(40))
    world.move("wallet", "3.0", at=T0 + hours(41))  # other asset
    world.move("binance", "-4.0", at=T0 + hours(60))
    world.move("bob-wallet", "4.0", at=T0 + hours(61))  # another owner
    world.linker().run("alice")
    world.linker().run("bob")
    assert only(world) == [] and world.store.stored_links("bob") == []


def test_pending_failed_and_internal_moves_are_no_halves(world: World) -> None:
    world.move("binance", "-1.0", at=T0, status="pending")
    world.move("wallet", "1.0", at=T0 + hours(1))
    world.move("binance", "-2.0", at=T0 + hours(20), status="failed")
    world.move("wallet", "2.0", at=T0 + hours(21))
    world.move("binance", "-3.0", at=T0 + hours(40), kind=TransactionKind.TRADE)
    world.move("wallet", "3.0", at=T0 + hours(41))
    world.linker().run("alice")
    assert only(world) == []
    halves = {h.status for h, _ in world.store.stored_halves(owner_id="alice")}
    assert halves == {"pending", "confirmed"}  # pending halves are kept (explanations), never linked


def test_internal_transfer_ids_link_two_exchange_accounts(world: World) -> None:
    world.account("binance2", "binance")
    out = world.move("binance", "-50", "USDT", at=T0, external={"internal_transfer_id": "4242"})
    into = world.move("binance2", "50", "USDT", at=T0 + hours(30), external={"internal_transfer_id": "4242"})
    world.linker().run("alice")
    [link] = only(world)
    assert (link.withdrawal, link.deposit, link.matched_on) == (out, into, "internal_transfer_id")


def test_assets_are_one_across_connectors(world: World) -> None:
    token = "eip155:1/erc20:0xdac17f958d2ee523a2206206994597c13d831ec7"
    out = world.move("binance", "-100", "USDT", at=T0, external={"network": "ETH"})
    into = world.move("evm", "99", token, at=T0 + hours(1), external={"chain_id": "1"})
    world.linker().run("alice")
    [link] = only(world)
    assert (link.withdrawal, link.deposit, link.asset_key) == (out, into, "coin:tether")
    assert (link.asset, link.deposit_asset, link.fee_leg) == ("USDT", token, Decimal(1))


def test_the_fee_leg_is_explicit_in_the_transfer_legs(world: World) -> None:
    world.move("binance", "-2.0", "ETH", at=T0, fee="0.001")
    world.move("evm", "1.995", "ETH", at=T0 + hours(0.3))
    world.linker().run("alice")
    [link] = only(world)
    assert (link.fee_leg, link.fee) == (Decimal("0.005"), Decimal("0.006"))
    legs = OwnerLedger(world.store).transfer_legs(link)
    assert [(leg.amount, leg.role) for leg in legs] == [
        (Decimal("-1.995"), LegRole.PRINCIPAL),
        (Decimal("-0.005"), LegRole.FEE),
        (Decimal("-0.001"), LegRole.FEE),
    ]
    assert sum(leg.amount for leg in legs) == Decimal("-2.001")  # the account's balance is unchanged


def test_unlinking_a_wrong_link_sticks(world: World) -> None:
    owner = OwnerLedger(world.store)
    w = world.move("evm", "-0.8", "ETH", at=T0)
    wrong = world.move("binance", "0.79", "ETH", at=T0 + hours(1))
    owner.link()
    assert world.links() == {(w, wrong, "heuristic")}
    owner.unlink_transactions(wrong, w)
    assert world.links() == set()
    # later syncs, a full re-link, even a better-looking candidate elsewhere: still not linked
    world.tick(10)
    other = world.move("binance", "0.8", "ETH", at=T0 + hours(2))
    owner.link()
    assert world.links() == {(w, other, "heuristic")}
    owner.link(full=True)
    assert world.links() == {(w, other, "heuristic")}
    owner.unlink_transactions(w, other)
    world.store.forget_link_state("alice")
    owner.link(full=True)
    assert world.links() == set()
    # and forgetting the decision lets the linker decide again
    assert owner.forget_decision(w, other)
    assert world.links() == {(w, other, "heuristic")}


def test_a_manual_link_wins_and_frees_the_automatic_partner(world: World) -> None:
    owner = OwnerLedger(world.store)
    w1 = world.move("binance", "-1.0", "ETH", at=T0)
    d1 = world.move("evm", "1.0", "ETH", at=T0 + hours(1))
    w2 = world.move("binance", "-0.99", "ETH", at=T0 + hours(0.5))
    owner.link()
    assert world.links() == {(w1, d1, "heuristic")}
    # w2 -> d1 by hand: w1 loses its deposit
    link = owner.link_transactions(w2, d1, note="same day")
    assert link.method == LinkMethod.MANUAL and link.fee == Decimal("-0.01")
    assert world.links() == {(w2, d1, "manual")}
    # a manual link survives a full re-link and a re-read of every account
    world.store.forget_link_state("alice")
    owner.link(full=True)
    assert world.links() == {(w2, d1, "manual")}
    with pytest.raises(LinkError, match="already linked by hand"):
        owner.link_transactions(w1, d1)
    owner.unlink_transactions(d1, w2)
    assert world.links() == {(w1, d1, "heuristic")}


def test_manual_links_join_any_kinds_and_refuse_nonsense(world: World) -> None:
    owner = OwnerLedger(world.store)
    trade_out = world.move("binance", "-1.0", "ETH", at=T0, kind=TransactionKind.OTHER)
    into = world.move("evm", "0.5", "ETH", at=T0 + hours(48))
    same = world.move("evm", "-0.5", "ETH", at=T0 + hours(49))
    btc = world.move("wallet", "1.0", at=T0)
    assert owner.link_transactions(into, trade_out).method == LinkMethod.MANUAL
    with pytest.raises(LinkError, match="same account"):
        owner.link_transactions(into, same)
    with pytest.raises(LinkError, match="no asset leaves"):
        owner.link_transactions(btc, same)
    with pytest.raises(LinkError, match="no transaction"):
        owner.link_transactions("nope", into)


def test_deleting_a_linked_deposit_drops_the_link_and_restoring_brings_it_back(world: World) -> None:
    owner = OwnerLedger(world.store)
    w = world.move("binance", "-1.0", at=T0, tx_hash=H1)
    d = world.move("wallet", "1.0", at=T0 + hours(1), tx_hash=H1)
    owner.link()
    world.store.delete_transaction(d)
    assert owner.transfers() == []
    world.store.restore_transaction(d)
    assert {(x.withdrawal, x.deposit) for x in owner.transfers()} == {(w, d)}


def test_a_manual_link_of_a_deleted_transaction_is_reported_inactive(world: World) -> None:
    owner = OwnerLedger(world.store)
    w = world.move("binance", "-1.0", at=T0)
    d = world.move("wallet", "0.5", at=T0 + hours(100))
    owner.link_transactions(w, d)
    world.store.delete_transaction(w)
    assert owner.transfers() == []
    assert [i.kind for i in owner.issues()] == ["inactive_manual_link"]
    world.store.restore_transaction(w)
    assert [x.method for x in owner.transfers()] == [LinkMethod.MANUAL]


def test_runs_are_incremental_and_idempotent(world: World) -> None:
    linker = world.linker()
    for i in range(5):
        world.move("binance", "-1.0", "ETH", at=T0 + hours(24 * i))
        world.move("evm", "0.999", "ETH", at=T0 + hours(24 * i + 1))
    first = linker.run("alice")
    assert first.links_added == 5 and first.components == 5
    before = world.picture()
    again = linker.run("alice")
    assert (again.changed, again.examined, again.links_added, again.links_removed) == (0, 0, 0, 0)
    assert world.picture() == before
    # one new withdrawal next to day 2 re-examines that component only
    world.tick(60)
    world.move("binance", "-0.9995", "ETH", at=T0 + hours(48) + hours(0.5))
    third = linker.run("alice")
    # (read: the new row, and each account's last row again, written at the read position's instant)
    assert third.read <= 3 and third.components == 1 and third.examined == 3
    full = linker.run("alice", full=True)
    assert (full.links_added, full.links_removed) == (0, 0)


def test_rules_are_settings() -> None:
    w = World(SqliteStore(":memory:"))
    w.account("binance", "binance")
    w.account("evm", "evm")
    w.move("binance", "-1.0", "ETH", at=T0)
    w.move("evm", "0.7", "ETH", at=T0 + hours(20))
    w.linker().run("alice")
    assert w.links() == set()
    w.linker(rules=LinkRules(window=hours(24), max_fee_ratio=Decimal("0.35"))).run("alice", full=True)
    assert len(w.links()) == 1



def test_deleting_one_side_of_a_tie_links_the_other(world: World) -> None:
    world.account("evm2", "evm")
    owner = OwnerLedger(world.store)
    w = world.move("binance", "-1.0", "ETH", at=T0)
    a = world.move("evm", "1.0", "ETH", at=T0 + hours(1))
    b = world.move("evm2", "1.0", "ETH", at=T0 + hours(1))
    owner.link()
    assert world.links() == set()
    world.store.delete_transaction(a)
    owner.link()
    assert world.links() == {(w, b, "heuristic")}
    assert owner.issues() == []
    world.store.restore_transaction(a)
    owner.link()
    assert world.links() == set() and {i.kind for i in owner.issues()} == {"tie"}


def _chain_element(world: World, i: int, start: float = 0) -> str:
    """Withdrawals every 9 h, each deposit 10 h after one withdrawal and 1 h after the next."""
    out = i % 2 == 0
    account, amount = ("binance", "-1.0") if out else ("wallet", "0.99")
    return world.move(account, amount, at=T0 + hours(start + 9 * (i // 2) + (0 if out else 10)), key=f"c{i}")


def test_a_change_at_one_end_of_a_long_chain_relinks_the_whole_chain(world: World) -> None:
    """The sweep starts one window before a change; a component reaching further back is swept again
    from earlier, so the matching shifts along all of it, as a full re-link decides."""
    linker = world.linker()
    ids = [_chain_element(world, i) for i in range(24)]  # 12 withdrawals, 12 deposits, ~5 days
    linker.run("alice")
    assert world.links() == {(ids[i], ids[i + 1], "heuristic") for i in range(0, 24, 2)}
    world.tick(60)
    ids.append(_chain_element(world, 24))  # one more withdrawal, 1 h before the last deposit
    run = linker.run("alice")
    # now 13 withdrawals for 12 deposits: each deposit goes to the withdrawal 1 h before it
    assert world.links() == {(ids[i + 2], ids[i + 1], "heuristic") for i in range(0, 24, 2)}
    assert run.examined == 25 and run.components == 1
    incremental = world.picture()
    wipe(world.store)
    linker.run("alice", full=True)
    assert world.picture() == incremental


def test_a_hash_pair_days_apart_is_relinked_when_one_side_changes(world: World) -> None:
    linker = world.linker()
    w = world.move("binance", "-1.0", at=T0, tx_hash=H1, key="w")
    d = world.move("wallet", "0.999", at=T0 + hours(24 * 6), tx_hash=H1, key="d")
    linker.run("alice")
    assert world.links() == {(w, d, "hash")}
    # the withdrawal is read again with another hash: the pair six days away is looked at again
    world.tick(60)
    world.move("binance", "-1.0", at=T0, tx_hash=H2, key="w")
    run = linker.run("alice")
    assert world.links() == set() and run.links_removed == 1
    world.tick(60)
    world.move("binance", "-1.0", at=T0, tx_hash=H1, key="w")
    linker.run("alice")
    assert world.links() == {(w, d, "hash")}


def test_an_untouched_long_ledger_is_not_swept_again(world: World) -> None:
    """An incremental run reads only around what changed: a new pair a month after a long history
    examines that pair alone."""
    linker = world.linker()
    for day in range(30):
        world.move("binance", "-1.0", at=T0 + hours(24 * day))
        world.move("wallet", "0.999", at=T0 + hours(24 * day + 1))
    first = linker.run("alice")
    assert first.links_added == 30
    world.tick(60)
    world.move("binance", "-2.0", at=T0 + hours(24 * 40))
    world.move("wallet", "1.999", at=T0 + hours(24 * 40 + 1))
    run = linker.run("alice")
    assert (run.examined, run.components, run.links_added, run.links_removed) == (2, 1, 1, 0)


def test_halves_that_shared_a_hash_with_a_changed_half_are_looked_at_again(world: World) -> None:
    world.account("wallet2", "bitcoin")
    linker = world.linker()
    world.move("binance", "-1.0", at=T0, tx_hash=H1, key="w")
    world.move("wallet", "1.0", at=T0 + hours(24 * 6), tx_hash=H1)
    world.move("wallet2", "1.0", at=T0 + hours(24 * 6), tx_hash=H1)
    linker.run("alice")
    assert world.links() == set()
    assert len([n for _, n in world.store.stored_halves(owner_id="alice") if n]) == 3  # a tie, noted
    world.tick(60)
    world.move("binance", "-1.0", at=T0, tx_hash=H2, key="w")  # read again with another hash
    linker.run("alice")
    assert [n for _, n in world.store.stored_halves(owner_id="alice") if n] == []
    incremental = world.picture()
    wipe(world.store)
    linker.run("alice", full=True)
    assert world.picture() == incremental

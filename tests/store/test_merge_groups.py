"""Group matching (merge level 3): one file event against several API events and vice versa."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.ledger import T0, batch
from txsync.merge import MATCH_WINDOW_META
from txsync.models import (
    Leg,
    LegRole,
    NormalizedTransaction,
    Origin,
    RawTransaction,
    SourceRef,
    TransactionKind,
)
from txsync.store import SqliteStore

A = "acc-g"
Item = tuple[RawTransaction, NormalizedTransaction]


def fresh() -> SqliteStore:
    store = SqliteStore(":memory:")
    store.add_account("o", "demo", account_id=A)
    for con in ("api", "file", "file2"):
        store.add_connection(A, connection_id=con)
    return store


def event(
    con: str, stream: str, sid: str, at: datetime, legs: list[tuple[str, str, str]], *,
    origin: Origin, kind: TransactionKind = TransactionKind.TRADE, meta: dict[str, object] | None = None,
) -> Item:
    raw = RawTransaction(connection_id=con, account_id=A, stream=stream, source_id=sid,
                         payload={"sid": sid}, fetched_at=T0)
    tx = NormalizedTransaction(
        account_id=A, key=f"{stream}:{sid}", kind=kind, timestamp=at, origin=origin,
        legs=[Leg(asset=a, amount=Decimal(x), role=LegRole(r)) for a, x, r in legs],
        sources=[SourceRef(connection_id=con, stream=stream, source_id=sid)], meta=meta or {},
    )
    return raw, tx


def fill(sid: str, at: datetime, qty: str, cost: str, fee: str) -> Item:
    return event("api", "trades", sid, at, [("BTC", qty, "principal"), ("USDT", f"-{cost}", "principal"),
                                            ("BNB", f"-{fee}", "fee")], origin=Origin.API)


def file_event(sid: str, at: datetime, legs: list[tuple[str, str, str]], con: str = "file") -> Item:
    return event(con, "statement", sid, at, legs, origin=Origin.FILE)


def combined(sid: str, at: datetime, fills: list[tuple[str, str, str]], con: str = "file") -> Item:
    qty = sum(Decimal(q) for q, _, _ in fills)
    cost = sum(Decimal(c) for _, c, _ in fills)
    fee = sum(Decimal(f) for _, _, f in fills)
    return file_event(sid, at, [("BTC", str(qty), "principal"), ("USDT", str(-cost), "principal"),
                                ("BNB", str(-fee), "fee")], con)


FILLS = [("0.1", "5000", "0.01"), ("0.2", "10000.5", "0.02"), ("0.05", "2500.25", "0.005")]


def api_fills() -> list[Item]:
    return [fill(f"t{i}", T0 + timedelta(milliseconds=100 + 300 * i), *f) for i, f in enumerate(FILLS)]


def balances(store: SqliteStore) -> dict[str, Decimal]:
    return {k: v for k, v in store.balances(A).items() if v}


EXPECTED = {"BTC": Decimal("0.35"), "USDT": Decimal("-17500.75"), "BNB": Decimal("-0.035")}


def test_api_first_then_one_file_event_for_three_fills() -> None:
    store = fresh()
    store.commit_page(batch(A, "api", "trades", api_fills()))
    counts = store.commit_page(batch(A, "file", "statement", [combined("e1", T0, FILLS)]))
    assert (counts.new, counts.matched, counts.updated) == (0, 1, 3)
    txs = list(store.transactions(account_id=A))
    assert len(txs) == 3
    assert all(tx.origins == ("api", "file") for tx in txs)
    assert balances(store) == EXPECTED
    # the file's real description sits in the earliest fill; the others carry an empty cover
    assert sorted(tx.parts for tx in txs) == [2, 2, 2]
    # re-importing the file changes nothing
    again = store.commit_page(batch(A, "file", "statement", [combined("e1", T0, FILLS)]))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)


def test_file_first_then_fills_in_one_page() -> None:
    store = fresh()
    store.commit_page(batch(A, "file", "statement", [combined("e1", T0, FILLS)]))
    counts = store.commit_page(batch(A, "api", "trades", api_fills()))
    assert counts.matched == 3
    txs = list(store.transactions(account_id=A))
    assert len(txs) == 3
    assert all(tx.origins == ("api", "file") for tx in txs)
    assert balances(store) == EXPECTED
    # re-syncing the API changes nothing
    again = store.commit_page(batch(A, "api", "trades", api_fills()))
    assert (again.new, again.updated) == (0, 0)


def test_file_first_then_fills_over_two_pages() -> None:
    store = fresh()
    store.commit_page(batch(A, "file", "statement", [combined("e1", T0, FILLS)]))
    fills = api_fills()
    first = store.commit_page(batch(A, "api", "trades", fills[:2]))
    assert first.matched == 0  # incomplete: the two fills do not add up to the file event yet
    assert balances(store) != EXPECTED  # (the file event and two fills both count for now)
    store.commit_page(batch(A, "api", "trades", fills[2:]))
    txs = list(store.transactions(account_id=A))
    assert len(txs) == 3
    assert all(tx.origins == ("api", "file") for tx in txs)
    assert balances(store) == EXPECTED


def test_one_fill_split_over_two_file_seconds_file_after_api() -> None:
    store = fresh()
    store.commit_page(batch(A, "api", "trades", [fill("t0", T0 + timedelta(milliseconds=900), *FILLS[0])]))
    page = [
        file_event("e1", T0, [("BTC", "0.1", "principal"), ("USDT", "-5000", "principal")]),
        file_event("e2", T0 + timedelta(seconds=1), [("BNB", "-0.01", "fee")]),
    ]
    counts = store.commit_page(batch(A, "file", "statement", page))
    assert counts.matched == 2
    [tx] = store.transactions(account_id=A)
    assert tx.origins == ("api", "file")
    assert balances(store) == {"BTC": Decimal("0.1"), "USDT": Decimal("-5000"), "BNB": Decimal("-0.01")}


def test_one_fill_split_over_two_file_seconds_api_after_file_counts_once() -> None:
    store = fresh()
    page = [
        file_event("e1", T0, [("BTC", "0.1", "principal"), ("USDT", "-5000", "principal")]),
        file_event("e2", T0 + timedelta(seconds=1), [("BNB", "-0.01", "fee")]),
    ]
    store.commit_page(batch(A, "file", "statement", page))
    store.commit_page(batch(A, "api", "trades", [fill("t0", T0 + timedelta(milliseconds=900), *FILLS[0])]))
    assert balances(store) == {"BTC": Decimal("0.1"), "USDT": Decimal("-5000"), "BNB": Decimal("-0.01")}
    txs = list(store.transactions(account_id=A))
    assert all("api" in tx.origins and "file" in tx.origins for tx in txs)
    # the fill is one transaction with legs; the second file event is kept as an empty cover
    assert sorted(len(tx.legs) for tx in txs) == [0, 3]


def test_same_file_through_another_connection_lands_where_it_was_merged() -> None:
    store = fresh()
    store.commit_page(batch(A, "api", "trades", api_fills()))
    store.commit_page(batch(A, "file", "statement", [combined("e1", T0, FILLS)]))
    counts = store.commit_page(batch(A, "file2", "statement", [combined("e1", T0, FILLS, con="file2")]))
    assert counts.new == 0
    assert len(list(store.transactions(account_id=A))) == 3
    assert balances(store) == EXPECTED


def test_unrelated_file_event_is_added_not_grouped() -> None:
    store = fresh()
    store.commit_page(batch(A, "api", "trades", api_fills()))
    reward = file_event("r1", T0, [("BTC", "0.35", "reward")])  # same instant, same asset: not a group
    counts = store.commit_page(batch(A, "file", "statement", [reward]))
    assert (counts.new, counts.matched) == (1, 0)
    assert balances(store)["BTC"] == Decimal("0.70")


def test_wide_window_asked_through_meta_matches_a_late_deposit_both_ways() -> None:
    window = {MATCH_WINDOW_META: 86400}
    for file_first in (True, False):
        store = fresh()
        api = event("api", "deposits", "d1", T0, [("BTC", "1.5", "principal")], origin=Origin.API,
                    kind=TransactionKind.DEPOSIT)
        stmt = event("file", "statement", "d1", T0 + timedelta(minutes=40), [("BTC", "1.5", "principal")],
                     origin=Origin.FILE, kind=TransactionKind.DEPOSIT, meta=window)
        pages = [("file", "statement", stmt), ("api", "deposits", api)]
        for con, stream, item in pages if file_first else reversed(pages):
            store.commit_page(batch(A, con, stream, [item]))
        [tx] = store.transactions(account_id=A)
        assert tx.origins == ("api", "file")
        assert balances(store) == {"BTC": Decimal("1.5")}


def test_without_a_window_a_late_deposit_is_not_matched() -> None:
    store = fresh()
    store.commit_page(batch(A, "api", "deposits", [event(
        "api", "deposits", "d1", T0, [("BTC", "1.5", "principal")], origin=Origin.API)]))
    store.commit_page(batch(A, "file", "statement", [event(
        "file", "statement", "d1", T0 + timedelta(minutes=40), [("BTC", "1.5", "principal")],
        origin=Origin.FILE)]))
    assert len(list(store.transactions(account_id=A))) == 2


# -- property: any page order, any split, combined or separate file rows -----------------------------

qtys = st.sampled_from(["0.1", "0.2", "0.25", "1"])
prices = st.sampled_from(["100", "101", "99.5"])
fill_plan = st.lists(
    st.tuples(st.sampled_from([0, 1, 5]), st.integers(0, 999), qtys, prices), min_size=1, max_size=7,
    unique_by=lambda f: (f[0], f[1]),
)


def _scenario(plan: list[tuple[int, int, str, str]], mode: str) -> tuple[list[Item], list[Item]]:
    fills = []
    for i, (sec, ms, qty, price) in enumerate(sorted(plan)):
        cost = Decimal(qty) * Decimal(price)
        fee = Decimal(qty) / 1000
        fills.append((sec, fill(f"t{i}", T0 + timedelta(seconds=sec, milliseconds=ms), qty, str(cost),
                                str(fee))))
    rows: dict[int, list[tuple[str, str, str]]] = {}
    for n, (sec, (_, tx)) in enumerate(fills):
        legs = [(leg.asset, str(leg.amount), str(leg.role)) for leg in tx.legs]
        if mode == "separate":
            rows.setdefault(sec * 100 + n, []).extend(legs)
        elif mode == "split" and n == len(fills) - 1:
            rows.setdefault(sec, []).extend(legs[:2])  # the last fill's fee shows a second later
            rows.setdefault(sec + 1, []).append(legs[2])
        else:
            rows.setdefault(sec, []).extend(legs)
    statement = []
    for slot, legs in sorted(rows.items()):
        sec = slot // 100 if mode == "separate" else slot
        net: Counter[tuple[str, str]] = Counter()
        sums: dict[tuple[str, str], Decimal] = {}
        for asset, amount, role in legs:
            sums[(asset, role)] = sums.get((asset, role), Decimal(0)) + Decimal(amount)
            net[(asset, role)] += 1
        statement.append(file_event(f"s{slot}", T0 + timedelta(seconds=sec),
                                    [(a, str(x), r) for (a, r), x in sorted(sums.items())]))
    return [item for _, item in fills], statement


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=fill_plan, mode=st.sampled_from(["combined", "separate", "split"]), data=st.data())
def test_groups_never_count_twice_whatever_the_order(
    plan: list[tuple[int, int, str, str]], mode: str, data: st.DataObject
) -> None:
    api, statement = _scenario(plan, mode)
    everything = [("api", "trades", it) for it in api] + [("file", "statement", it) for it in statement]
    order = data.draw(st.permutations(everything))
    size = data.draw(st.integers(1, 4))
    store = fresh()
    for start in range(0, len(order), size):
        chunk = order[start : start + size]
        for con, stream in (("api", "trades"), ("file", "statement")):
            mine = [it for c, s, it in chunk if (c, s) == (con, stream)]
            if mine:
                store.commit_page(batch(A, con, stream, mine))

    expected: dict[str, Decimal] = {}
    for _, tx in api:
        for asset, amount in tx.net().items():
            expected[asset] = expected.get(asset, Decimal(0)) + amount
    assert balances(store) == {k: v for k, v in expected.items() if v}
    txs = list(store.transactions(account_id=A))
    # every file event was matched: nothing is described by the file alone
    assert all("api" in tx.origins for tx in txs)
    # one transaction with legs per API fill (file events spread over seconds may leave empty covers)
    assert sum(1 for tx in txs if tx.legs) == len(api)

    # idempotent: everything again changes nothing
    for con, stream, it in order:
        counts = store.commit_page(batch(A, con, stream, [it]))
        assert (counts.new, counts.updated) == (0, 0)

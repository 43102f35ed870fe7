"""Identical same-second events that a file folds (or splits) differently from the API (issue 12, part 5).

Two identical same-second 0.25 ETH deposits in the API are one 0.5 ETH event in the Binance statement,
stamped when the funds were credited (later than the API's time, inside the window the statement asks
for). They must end as two transactions carrying both provenances, for every kind, in both import
orders, on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
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

A = "acc-fold"
Item = tuple[RawTransaction, NormalizedTransaction]
DAY = {MATCH_WINDOW_META: 86400}

#: (kind, sign of the amount, the leg's role, does the statement ask for a wide window)
KINDS = [
    (TransactionKind.DEPOSIT, 1, LegRole.PRINCIPAL, True),
    (TransactionKind.WITHDRAWAL, -1, LegRole.PRINCIPAL, True),
    (TransactionKind.FIAT_DEPOSIT, 1, LegRole.PRINCIPAL, True),
    (TransactionKind.REWARD, 1, LegRole.REWARD, False),
    (TransactionKind.INTEREST, 1, LegRole.INTEREST, False),
    (TransactionKind.AIRDROP, 1, LegRole.REWARD, False),
    (TransactionKind.DISTRIBUTION, 1, LegRole.PRINCIPAL, False),
    (TransactionKind.TRANSFER, -1, LegRole.PRINCIPAL, True),
    (TransactionKind.FEE, -1, LegRole.FEE, False),
    (TransactionKind.FUNDING_FEE, -1, LegRole.FUNDING, False),
    (TransactionKind.OTHER, 1, LegRole.OTHER, False),
]


def fresh(make: Callable[[], Any]) -> Any:
    store = make()
    add_account(store, A)
    return store


def add_account(store: Any, account: str) -> None:
    store.add_account("o", "binance", account_id=account)
    for con in ("api", "file"):
        store.add_connection(account, connection_id=f"{con}-{account}" if account != A else con)


def event(con: str, stream: str, sid: str, at_s: float, amount: Decimal, kind: TransactionKind,
          role: LegRole, origin: Origin, meta: dict[str, Any] | None = None, account: str = A) -> Item:
    at = T0 + timedelta(seconds=at_s)
    if account != A:
        con = f"{con}-{account}"
    raw = RawTransaction(connection_id=con, account_id=account, stream=stream, source_id=sid,
                         payload={"sid": sid, "amount": str(amount)}, fetched_at=T0)
    tx = NormalizedTransaction(
        account_id=account, key=f"{stream}:{sid}", kind=kind, timestamp=at, origin=origin,
        legs=[Leg(asset="ETH", amount=amount, role=role)],
        sources=[SourceRef(connection_id=con, stream=stream, source_id=sid)], meta=meta or {},
    )
    return raw, tx


def commit_all(store: Any, pages: list[tuple[str, str, list[Item]]]) -> None:
    for con, stream, items in pages:
        store.commit_page(batch(A, con, stream, items))


def test_two_api_events_folded_into_one_file_event_make_two(store_factory: Callable[[], Any]) -> None:
    store = store_factory()
    for n, ((kind, sign, role, wide), file_first) in enumerate(
        (k, first) for k in KINDS for first in (True, False)
    ):
        account = f"acc-k{n}"
        add_account(store, account)
        quarter = Decimal("0.25") * sign
        # The API's records carry no window (as Binance's deposit history); the statement's does when
        # it stamps the event at another time (deposits: when credited, 40 minutes later here).
        api = [event("api", "history", f"d{i}", 0, quarter, kind, role, Origin.API, account=account)
               for i in range(2)]
        later = 2400 if wide else 0.4
        folded = [event("file", "statement", "s1", later, quarter * 2, kind, role, Origin.FILE,
                        DAY if wide else None, account)]
        pages = [("file", "statement", folded), ("api", "history", api)]
        for con, stream, items in pages if file_first else pages[::-1]:
            store.commit_page(batch(account, f"{con}-{account}", stream, items))

        case = (kind, "file first" if file_first else "api first")
        txs = list(store.transactions(account_id=account))
        assert len(txs) == 2, case
        assert all(tx.origins == ("api", "file") for tx in txs), case
        assert {k: v for k, v in store.balances(account).items() if v} == {"ETH": quarter * 2}, case
        # importing both again changes nothing
        for con, stream, items in pages:
            counts = store.commit_page(batch(account, f"{con}-{account}", stream, items))
            assert (counts.new, counts.updated) == (0, 0), case
        assert len(list(store.transactions(account_id=account))) == 2, case


def test_api_events_in_separate_pages_still_fold(store_factory: Callable[[], Any]) -> None:
    for file_first in (True, False):
        store = fresh(store_factory)
        api = [event("api", "deposits", f"d{i}", 0, Decimal("0.25"), TransactionKind.DEPOSIT,
                     LegRole.PRINCIPAL, Origin.API) for i in range(2)]
        folded = event("file", "statement", "s1", 2400, Decimal("0.5"), TransactionKind.DEPOSIT,
                       LegRole.PRINCIPAL, Origin.FILE, DAY)
        pages = [("api", "deposits", [api[0]]), ("api", "deposits", [api[1]])]
        pages = [("file", "statement", [folded]), *pages] if file_first else [*pages, ("file", "statement",
                                                                                        [folded])]
        commit_all(store, pages)
        txs = list(store.transactions(account_id=A))
        assert sorted(tx.origins for tx in txs) == [("api", "file")] * 2
        assert store.balances(A) == {"ETH": Decimal("0.50")}


def test_a_window_is_not_stretched_beyond_what_was_asked(store_factory: Callable[[], Any]) -> None:
    # Without a window on either side, events 40 minutes apart are different events.
    store = fresh(store_factory)
    api = [event("api", "deposits", f"d{i}", 0, Decimal("0.25"), TransactionKind.DEPOSIT,
                 LegRole.PRINCIPAL, Origin.API) for i in range(2)]
    folded = [event("file", "statement", "s1", 2400, Decimal("0.5"), TransactionKind.DEPOSIT,
                    LegRole.PRINCIPAL, Origin.FILE)]
    commit_all(store, [("api", "deposits", api), ("file", "statement", folded)])
    assert len(list(store.transactions(account_id=A))) == 3
    # ... and a trade (several assets) never gets a deposit's window
    store = fresh(store_factory)
    t0 = event("api", "trades", "t0", 0, Decimal("0.25"), TransactionKind.TRADE, LegRole.PRINCIPAL, Origin.API)
    assert store.commit_page(batch(A, "api", "trades", [t0])).new == 1


# -- property: identical events split or folded differently by file and API --------------------------

def _partition(draw: Any, n: int) -> list[int]:
    parts: list[int] = []
    left = n
    while left:
        k = draw(st.integers(1, left))
        parts.append(k)
        left -= k
    return parts


_accounts = iter(range(10**9))


@st.composite
def scenarios(draw: Any) -> tuple[Any, ...]:
    account = f"acc-p{next(_accounts)}"  # one store for every example, an account each
    kind, sign, role, wide = draw(st.sampled_from(KINDS))
    n = draw(st.integers(1, 6))
    api_parts = _partition(draw, n)
    file_parts = _partition(draw, n)
    unit = Decimal(draw(st.sampled_from(["0.25", "1", "0.1"]))) * sign
    api = [event("api", "history", f"a{i}", 0.001 * i, unit * k, kind, role, Origin.API, account=account)
           for i, k in enumerate(api_parts)]
    file_at = 1800 if wide else 1
    file = [event("file", "statement", f"f{i}", file_at, unit * k, kind, role, Origin.FILE,
                  DAY if wide else None, account) for i, k in enumerate(file_parts)]
    everything = [("api", "history", it) for it in api] + [("file", "statement", it) for it in file]
    order = draw(st.permutations(everything))
    size = draw(st.integers(1, 4))
    return account, api, order, size


@pytest.fixture
def shared_store(store_factory: Callable[[], Any]) -> Any:
    return store_factory()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_merged_net_deltas_equal_the_apis_in_any_order(shared_store: Any, scenario: tuple[Any, ...]) -> None:
    account, api, order, size = scenario
    store = shared_store
    add_account(store, account)
    for start in range(0, len(order), size):
        chunk = order[start : start + size]
        for con, stream in (("api", "history"), ("file", "statement")):
            mine = [it for c, s, it in chunk if (c, s) == (con, stream)]
            if mine:
                store.commit_page(batch(account, f"{con}-{account}", stream, mine))
    expected = sum((tx.legs[0].amount for _, tx in api), Decimal(0))
    assert {k: v for k, v in store.balances(account).items() if v} == {"ETH": expected}
    txs = list(store.transactions(account_id=account))
    assert all("api" in tx.origins and "file" in tx.origins for tx in txs)
    assert sum(1 for tx in txs if tx.legs) == len(api)
    # everything again changes nothing
    for con, stream, it in order:
        counts = store.commit_page(batch(account, f"{con}-{account}", stream, [it]))
        assert (counts.new, counts.updated) == (0, 0)

"""Property tests: merging is order-insensitive, idempotent, and counts identical events as multisets."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.ledger import batch, later, trade
from txsync.models import Origin
from txsync.store import SqliteStore

A = "acc"
QTYS = ("0.1", "0.2")

# An event class: (time slot, quantity). Events of one class are indistinguishable; slots are 30 s
# apart, far beyond the 2 s tolerance. Per class: how many file rows and how many API records.
classes = st.dictionaries(
    keys=st.tuples(st.integers(0, 3), st.sampled_from(QTYS)),
    values=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    min_size=1,
    max_size=5,
)


def _pages(plan: dict[tuple[int, str], tuple[int, int]]) -> list[list[tuple[str, tuple[object, object]]]]:
    """Every description as (connection, item), one list per source."""
    file_items, api_items = [], []
    for (slot, qty), (n_file, n_api) in sorted(plan.items()):
        for i in range(n_file):
            sid = f"f-{slot}-{qty}-{i}"
            file_items.append(
                ("file", trade(A, "file", "rows", sid, at=later(slot * 30), qty=qty, origin=Origin.FILE))
            )
        for i in range(n_api):
            sid = f"a-{slot}-{qty}-{i}"
            api_items.append(("api", trade(A, "api", "trades", sid, at=later(slot * 30 + 0.5), qty=qty)))
    return [file_items, api_items]


def _fresh() -> SqliteStore:
    store = SqliteStore(":memory:")
    store.add_account("o", "demo", account_id=A)
    store.add_connection(A, connection_id="file")
    store.add_connection(A, connection_id="api")
    return store


def _ledger(store: SqliteStore) -> Counter[tuple[str, str, tuple[str, ...]]]:
    out: Counter[tuple[str, str, tuple[str, ...]]] = Counter()
    for tx in store.transactions(account_id=A):
        btc = next(leg.amount for leg in tx.legs if leg.asset == "BTC" and leg.role == "principal")
        out[(tx.timestamp.replace(microsecond=0).isoformat()[:18], str(btc), tx.origins)] += 1
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=classes, data=st.data())
def test_merge_is_order_insensitive_idempotent_and_multiset(
    plan: dict[tuple[int, str], tuple[int, int]], data: st.DataObject
) -> None:
    file_items, api_items = _pages(plan)
    everything = [("rows", "file", it) for _, it in file_items] + [
        ("trades", "api", it) for _, it in api_items
    ]
    order = data.draw(st.permutations(everything))
    page_size = data.draw(st.integers(1, 4))

    store = _fresh()
    for start in range(0, len(order), page_size):
        chunk = order[start : start + page_size]
        # one page holds descriptions of one (connection, stream): split the chunk accordingly
        for stream, con in (("rows", "file"), ("trades", "api")):
            mine = [it for s, c, it in chunk if (s, c) == (stream, con)]
            if mine:
                store.commit_page(batch(A, con, stream, mine))  # type: ignore[arg-type]
    result = _ledger(store)

    # Multiset: per class, max(file, api) transactions, of which min(file, api) carry both origins.
    expected_total = sum(max(f, a) for f, a in plan.values())
    assert sum(result.values()) == expected_total
    merged = sum(n for (_, _, origins), n in result.items() if origins == ("api", "file"))
    assert merged == sum(min(f, a) for f, a in plan.values())

    # Order-insensitive: the canonical order (all file rows, then all API records) gives the same ledger.
    reference = _fresh()
    if file_items:
        reference.commit_page(batch(A, "file", "rows", [it for _, it in file_items]))  # type: ignore[misc]
    if api_items:
        reference.commit_page(batch(A, "api", "trades", [it for _, it in api_items]))  # type: ignore[misc]
    assert _ledger(reference) == result

    # Idempotent: committing everything again changes nothing.
    again_new = again_updated = 0
    for stream, con, it in order:
        counts = store.commit_page(batch(A, con, stream, [it]))  # type: ignore[list-item]
        again_new += counts.new
        again_updated += counts.updated
    assert (again_new, again_updated) == (0, 0)
    assert _ledger(store) == result

"""Dedup-merge at its three levels, user changes, and what the ledger queries return."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from helpers.ledger import T0, batch, later, trade
from txsync.errors import StoreError
from txsync.models import Leg, NormalizedTransaction, Origin, RawTransaction, SourceRef, TransactionKind
from txsync.store import SqliteStore

A = "acc-1"


@pytest.fixture
def acct(store: SqliteStore) -> SqliteStore:
    store.add_account("owner-1", "demo", account_id=A)
    store.add_connection(A, connection_id="api-1")
    store.add_connection(A, connection_id="file-1")
    store.add_connection(A, connection_id="api-2")
    return store


def ledger(store: SqliteStore) -> list[tuple[str, tuple[tuple[str, Decimal], ...], tuple[str, ...]]]:
    return sorted(
        (tx.timestamp.isoformat(), tuple(sorted((leg.asset, leg.amount) for leg in tx.legs)), tx.origins)
        for tx in store.transactions(account_id=A)
    )


def test_same_raw_twice_is_one_raw_and_unchanged(acct: SqliteStore) -> None:
    page = batch(A, "api-1", "trades", [trade(A, "api-1", "trades", "1")], cursor={"from": 2})
    first = acct.commit_page(page)
    second = acct.commit_page(page)
    assert (first.new, first.raws_new) == (1, 1)
    assert (second.new, second.updated, second.unchanged, second.raws_unchanged) == (0, 0, 1, 1)
    assert acct.count_raws() == 1
    assert acct.count_transactions() == 1
    assert acct.get_cursor("api-1", "trades") == {"from": 2}


def test_changed_payload_updates_raw_and_transaction(acct: SqliteStore) -> None:
    acct.commit_page(batch(A, "api-1", "trades", [trade(A, "api-1", "trades", "1", qty="0.5")]))
    counts = acct.commit_page(batch(A, "api-1", "trades", [trade(A, "api-1", "trades", "1", qty="0.6")]))
    assert (counts.raws_updated, counts.updated, counts.new) == (1, 1, 0)
    [tx] = acct.transactions(account_id=A)
    assert Leg(asset="BTC", amount=Decimal("0.6")) in tx.legs


def test_several_streams_describing_one_event_become_one_transaction(acct: SqliteStore) -> None:
    """Level 2: the same key from two streams (an EVM hash in normal and token lists) adds up."""

    def part(stream: str, asset: str, amount: str) -> tuple[RawTransaction, NormalizedTransaction]:
        raw = RawTransaction(
            connection_id="api-1",
            account_id=A,
            stream=stream,
            source_id="0xabc",
            payload={"hash": "0xabc"},
            fetched_at=T0,
        )
        tx = NormalizedTransaction(
            account_id=A,
            key="tx:0xabc",
            kind=TransactionKind.TRADE,
            timestamp=T0,
            legs=[Leg(asset=asset, amount=Decimal(amount))],
            sources=[SourceRef(connection_id="api-1", stream=stream, source_id="0xabc")],
            external_ids={"tx_hash": "0xabc"},
        )
        return raw, tx

    acct.commit_page(batch(A, "api-1", "normal", [part("normal", "ETH", "-1")]))
    counts = acct.commit_page(batch(A, "api-1", "tokens", [part("tokens", "USDC", "3000")]))
    assert (counts.new, counts.updated) == (0, 1)
    [tx] = acct.transactions(account_id=A)
    assert sorted((leg.asset, leg.amount) for leg in tx.legs) == [
        ("ETH", Decimal(-1)),
        ("USDC", Decimal(3000)),
    ]
    assert {s.stream for s in tx.sources} == {"normal", "tokens"}
    assert len(acct.provenance(tx.id)) == 2


def test_file_then_api_merge_into_one_keeping_both_provenances(acct: SqliteStore) -> None:
    acct.commit_page(
        batch(
            A,
            "file-1",
            "rows",
            [
                trade(A, "file-1", "rows", "row-7", origin=Origin.FILE, at=T0),
            ],
        )
    )
    counts = acct.commit_page(
        batch(
            A,
            "api-1",
            "trades",
            [
                trade(A, "api-1", "trades", "555", at=later(0.4)),
            ],
        )
    )
    assert (counts.matched, counts.new, counts.updated) == (1, 0, 1)
    [tx] = acct.transactions(account_id=A)
    assert tx.origins == ("api", "file")
    assert tx.external_ids == {"trade_id": "555"}
    assert tx.timestamp == later(0.4)  # the API's description is authoritative
    assert {(r.connection_id, r.source_id) for r in acct.provenance(tx.id)} == {
        ("file-1", "row-7"),
        ("api-1", "555"),
    }


def test_two_identical_same_second_trades_stay_two(acct: SqliteStore) -> None:
    """Multiset matching: two identical file rows and two identical API trades make two."""
    acct.commit_page(
        batch(
            A,
            "file-1",
            "rows",
            [
                trade(A, "file-1", "rows", "r1", origin=Origin.FILE),
                trade(A, "file-1", "rows", "r2", origin=Origin.FILE),
            ],
        )
    )
    acct.commit_page(
        batch(
            A,
            "api-1",
            "trades",
            [
                trade(A, "api-1", "trades", "1", at=later(0.1)),
                trade(A, "api-1", "trades", "2", at=later(0.2)),
            ],
        )
    )
    txs = list(acct.transactions(account_id=A))
    assert len(txs) == 2
    assert all(tx.origins == ("api", "file") for tx in txs)


def test_one_file_row_and_two_api_trades_make_two(acct: SqliteStore) -> None:
    acct.commit_page(batch(A, "file-1", "rows", [trade(A, "file-1", "rows", "r1", origin=Origin.FILE)]))
    acct.commit_page(
        batch(
            A,
            "api-1",
            "trades",
            [
                trade(A, "api-1", "trades", "1"),
                trade(A, "api-1", "trades", "2"),
            ],
        )
    )
    assert sorted(tx.origins for tx in acct.transactions(account_id=A)) == [("api",), ("api", "file")]


def test_no_match_outside_tolerance_or_with_other_deltas(acct: SqliteStore) -> None:
    acct.commit_page(
        batch(
            A,
            "file-1",
            "rows",
            [
                trade(A, "file-1", "rows", "r1", origin=Origin.FILE, at=T0),
                trade(A, "file-1", "rows", "r2", origin=Origin.FILE, at=later(100), qty="0.7"),
            ],
        )
    )
    counts = acct.commit_page(
        batch(
            A,
            "api-1",
            "trades",
            [
                trade(A, "api-1", "trades", "1", at=later(5)),  # 5 s away: beyond the 2 s tolerance
                trade(A, "api-1", "trades", "2", at=later(100), qty="0.8"),  # same time, other deltas
            ],
        )
    )
    assert counts.matched == 0
    assert acct.count_transactions() == 4
    wider = acct.commit_page(
        batch(A, "api-1", "trades", [trade(A, "api-1", "trades", "3", at=later(5))]),
        tolerance=timedelta(seconds=10),
    )
    assert wider.matched == 1


def test_api_first_then_file_is_the_same_ledger(acct: SqliteStore) -> None:
    acct.commit_page(batch(A, "api-1", "trades", [trade(A, "api-1", "trades", "1")]))
    acct.commit_page(batch(A, "file-1", "rows", [trade(A, "file-1", "rows", "r1", origin=Origin.FILE)]))
    [tx] = acct.transactions(account_id=A)
    assert tx.origins == ("api", "file")
    assert tx.external_ids == {"trade_id": "1"}


def test_tombstone_survives_full_resync_and_new_connection(acct: SqliteStore) -> None:
    item = trade(A, "api-1", "trades", "1")
    acct.commit_page(batch(A, "api-1", "trades", [item]))
    tx_id = item[1].id
    acct.delete_transaction(tx_id, reason="duplicate of a manual entry")
    acct.commit_page(batch(A, "api-1", "trades", [item]))  # re-sync
    acct.commit_page(batch(A, "api-2", "trades", [trade(A, "api-2", "trades", "1")]))  # new key
    assert list(acct.transactions(account_id=A)) == []
    assert acct.count_transactions(include_deleted=True) == 1
    assert acct.get_transaction(tx_id).deleted
    assert acct.balances(A) == {}
    acct.restore_transaction(tx_id)
    assert acct.count_transactions() == 1


def test_overrides_survive_updates_and_a_replaced_key(acct: SqliteStore) -> None:
    acct.commit_page(batch(A, "api-1", "trades", [trade(A, "api-1", "trades", "1")]))
    [tx] = acct.transactions(account_id=A)
    acct.set_override(
        tx.id, label="gift", note="from Alice", fiat_value=Decimal("1234.56"), fiat_currency="EUR"
    )
    acct.set_override(tx.id, note="from Bob")  # other fields keep their value
    acct.commit_page(batch(A, "api-1", "trades", [trade(A, "api-1", "trades", "1", qty="0.6")]))
    acct.commit_page(batch(A, "api-2", "trades", [trade(A, "api-2", "trades", "1", qty="0.6")]))
    [after] = acct.transactions(account_id=A)
    assert after.id == tx.id
    assert (after.label, after.note, after.fiat_value, after.fiat_currency) == (
        "gift",
        "from Bob",
        Decimal("1234.56"),
        "EUR",
    )
    with pytest.raises(StoreError):
        acct.set_override("no-such-id", label="x")


def test_balances_are_exact_and_skip_pending(acct: SqliteStore) -> None:
    items = [trade(A, "api-1", "trades", str(i), qty="0.1", cost="3000.10", fee="0.0001") for i in range(10)]
    acct.commit_page(batch(A, "api-1", "trades", items))
    pending_raw, pending = trade(A, "api-1", "trades", "p", qty="5")
    pending = pending.model_copy(update={"status": "pending"})
    acct.commit_page(batch(A, "api-1", "trades", [(pending_raw, pending)]))
    assert acct.balances(A) == {"BTC": Decimal("0.9990"), "USDT": Decimal("-30001.00")}
    assert acct.balances(A, include_pending=True)["BTC"] == Decimal("5.9980")


def test_queries_by_time_kind_and_connection(acct: SqliteStore) -> None:
    acct.commit_page(
        batch(A, "api-1", "trades", [trade(A, "api-1", "trades", str(i), at=later(i * 60)) for i in range(5)])
    )
    acct.commit_page(batch(A, "api-2", "trades", [trade(A, "api-2", "trades", "x", at=later(3600))]))
    assert len(list(acct.transactions(account_id=A, since=later(60), until=later(240)))) == 3
    assert len(list(acct.transactions(connection_id="api-2"))) == 1
    assert len(list(acct.transactions(kinds=[TransactionKind.DEPOSIT]))) == 0
    times = [tx.timestamp for tx in acct.transactions(account_id=A)]
    assert times == sorted(times)
    assert acct.latest_timestamp(A) == later(3600)


def test_a_failed_commit_stores_nothing(acct: SqliteStore) -> None:
    acct.commit_page(batch(A, "api-1", "trades", [trade(A, "api-1", "trades", "1")], cursor=1))
    bad = batch(A, "api-1", "trades", [trade(A, "api-1", "trades", "2")], cursor=object())
    with pytest.raises(TypeError):
        acct.commit_page(bad)  # the cursor cannot be stored: the page must not be either
    assert acct.count_raws() == 1
    assert acct.count_transactions() == 1
    assert acct.get_cursor("api-1", "trades") == 1


def test_a_raw_normalized_under_a_new_key_replaces_its_old_part(acct: SqliteStore) -> None:
    """A connector upgrade that changes keys must not leave the old description's legs behind."""
    raw, old = trade(A, "api-1", "trades", "1", key="trade:1")
    acct.commit_page(batch(A, "api-1", "trades", [(raw, old)]))
    _, new = trade(A, "api-1", "trades", "1", key="trade:BTCUSDT:1")
    counts = acct.commit_page(batch(A, "api-1", "trades", [(raw, new)]))
    assert (counts.new, counts.updated) == (0, 1)
    [tx] = acct.transactions(account_id=A)
    assert tx.id == old.id  # ids are stable once given: the user's edits stay attached
    assert tx.parts == 1
    assert acct.balances(A) == {"BTC": Decimal("0.499"), "USDT": Decimal("-25000")}


def test_the_kind_of_a_multi_part_transaction_does_not_depend_on_arrival_order() -> None:
    """An EVM swap described by the normal list (a contract call, ``other``) and the ERC-20 list (a
    trade) is a trade whichever list was stored first."""
    from txsync.merge import effective

    call = {"origin": "api", "kind": "other", "ts": 10, "status": "confirmed",
            "legs": [["ETH", "-0.001", "fee", None]]}
    swap = {"origin": "api", "kind": "trade", "ts": 10, "status": "confirmed",
            "legs": [["USDC", "-100", "principal", None], ["DAI", "99.9", "principal", None]]}
    one = effective({"api:normal:tx:1:0xab": call, "api:erc20:tx:1:0xab": swap})
    other = effective({"api:erc20:tx:1:0xab": swap, "api:normal:tx:1:0xab": call})
    assert one.kind == other.kind == "trade"
    assert one.signature == other.signature

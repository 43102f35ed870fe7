"""Manual accounts and manual entries (issue 12, parts 1-3), on every backend.

Entries are added, edited and removed through the engine's API; synced descriptions arrive as pages
committed to the store (the engine's own path), so the merge rules are exercised exactly as in a sync.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from helpers.ledger import T0, batch
from txsync.engine import Engine
from txsync.errors import (
    ConnectionStateError,
    ManualEntryError,
    ModelError,
    UnknownConnectionError,
    UnknownEntryError,
)
from txsync.models import (
    Leg,
    NormalizedTransaction,
    Origin,
    RawTransaction,
    SourceRef,
    TransactionKind,
    transaction_id,
)
from txsync.store import ConnectionState, Override

Item = tuple[RawTransaction, NormalizedTransaction]


def api_event(account: str, sid: str, at_s: float, legs: list[tuple[str, str]], kind: TransactionKind,
              con: str = "api") -> Item:
    raw = RawTransaction(connection_id=con, account_id=account, stream="history", source_id=sid,
                         payload={"sid": sid}, fetched_at=T0)
    tx = NormalizedTransaction(
        account_id=account, key=f"history:{sid}", kind=kind, timestamp=T0 + timedelta(seconds=at_s),
        legs=[Leg(asset=a, amount=Decimal(x)) for a, x in legs], origin=Origin.API,
        sources=[SourceRef(connection_id=con, stream="history", source_id=sid)],
    )
    return raw, tx


def engine(store: Any) -> Engine:
    return Engine(store, hooks=[], clock=lambda: T0 + timedelta(days=400))


def deposit(eng: Engine, account: str, amount: str, at_s: float = 0, **more: Any) -> Any:
    return eng.add_entry(account, timestamp=T0 + timedelta(seconds=at_s),
                         legs=[{"asset": "ETH", "amount": amount}], **more)


def nonzero(store: Any, account: str) -> dict[str, Decimal]:
    return {k: v for k, v in store.balances(account).items() if v}


def test_a_manual_account_is_listed_never_scheduled_never_synced(store: Any) -> None:
    eng = engine(store)
    account = eng.add_manual_account("alice", "Ledger Nano")
    assert account.connector_id == "manual" and account.label == "Ledger Nano"
    assert [a.id for a in store.list_accounts("alice")] == [account.id]
    [connection] = store.list_connections(account.id)
    assert connection.state == ConnectionState.MANUAL
    assert eng.manual.is_manual_account(account.id)
    # never scheduled, never synced, never resumed into syncing
    assert store.connections_due(T0 + timedelta(days=9999)) == []
    with pytest.raises(ConnectionStateError, match="manual entries"):
        asyncio.run(eng.sync(connection.id))
    with pytest.raises(ConnectionStateError):
        eng.resume(connection.id)
    with pytest.raises(ConnectionStateError, match="manual entries"):
        eng.remove_connection(connection.id)
    assert store.get_connection(connection.id).state == ConnectionState.MANUAL
    # its balance is what its entries say
    deposit(eng, account.id, "1.5")
    eng.add_entry(account.id, timestamp="2021-03-05T10:00:00+02:00",
                  legs=[{"asset": "ETH", "amount": "-0.5"}, {"asset": "ETH", "amount": "-0.01", "role": "fee"}])
    assert nonzero(store, account.id) == {"ETH": Decimal("0.99")}
    with pytest.raises(ManualEntryError):
        eng.add_manual_account("  ")
    # erasing the whole account takes its entries with it
    eng.remove_account(account.id)
    assert store.list_accounts("alice") == [] and store.list_connections() == []


def test_entries_are_validated_and_nothing_is_stored_on_bad_input(store: Any) -> None:
    eng = engine(store)
    account = eng.add_manual_account("alice").id
    bad: list[dict[str, Any]] = [
        {"timestamp": T0, "legs": [{"asset": "BTC", "amount": 1.5}]},  # a float
        {"timestamp": T0.replace(tzinfo=None), "legs": [{"asset": "BTC", "amount": "1"}]},  # naive
        {"timestamp": T0, "legs": []},
        {"timestamp": T0, "legs": [{"asset": "BTC", "amount": "0"}]},
        {"timestamp": T0, "legs": [{"asset": "BTC", "amount": "NaN"}]},
        {"timestamp": T0, "legs": [{"asset": "BTC", "amount": "1", "role": "bonus"}]},
        {"timestamp": T0, "legs": [{"asset": "BTC", "amount": "1", "colour": "red"}]},
        {"timestamp": T0, "legs": [{"asset": "BTC", "amount": "1"}], "kind": "gift"},
        {"timestamp": T0, "legs": [{"asset": "BTC", "amount": "1"}], "status": "lost"},
        {"timestamp": "yesterday", "legs": [{"asset": "BTC", "amount": "1"}]},
        {"timestamp": T0, "legs": [{"asset": "BTC", "amount": "1"}], "value": (12.5, "EUR")},
        {"timestamp": T0, "legs": [{"asset": "BTC", "amount": "1"}], "description": "a\x00b"},
    ]
    for fields in bad:
        with pytest.raises(ModelError):
            eng.add_entry(account, **fields)
    assert store.count_transactions(account) == 0 and eng.entries(account) == []
    synced = store.add_account("alice", "binance").id
    with pytest.raises(ModelError):
        eng.add_entry(synced, timestamp=T0, legs=[{"asset": "BTC", "amount": 1.5}])
    assert store.list_connections(synced) == []  # not even its manual connection
    first = deposit(eng, account, "1")
    with pytest.raises(ManualEntryError, match="exists"):
        deposit(eng, account, "2", entry_id=first.entry_id)
    assert [e.legs[0].amount for e in eng.entries(account)] == [Decimal("1")]
    with pytest.raises(UnknownEntryError):
        eng.edit_entry("ent_nope", account_id=account, legs=[{"asset": "BTC", "amount": "1"}])
    with pytest.raises(UnknownEntryError):
        eng.remove_entry("ent_nope")


def test_add_edit_remove_with_stable_ids(store: Any) -> None:
    eng = engine(store)
    account = eng.add_manual_account("alice").id
    entry = eng.add_entry(
        account, timestamp=T0, kind="trade", description="OTC desk",
        legs=[{"asset": "BTC", "amount": "0.1"}, {"asset": "EUR", "amount": "-4350.20"},
              {"asset": "EUR", "amount": "-4.35", "role": "fee"}],
        external_ids={"order_id": "OTC-7"}, value=("4350.20", "EUR"),
    )
    assert entry.transaction_id == transaction_id(account, Origin.MANUAL, f"entry:{entry.entry_id}")
    tx = store.get_transaction(entry.transaction_id)
    assert tx.origins == ("manual",) and tx.kind == TransactionKind.TRADE
    assert tx.external_ids == {"order_id": "OTC-7"} and tx.description == "OTC desk"
    store.set_override(entry.transaction_id, label="otc", note="paid by wire")

    # an edit changes the entry itself (not an override) and keeps both ids and the user's label
    edited = eng.edit_entry(entry.entry_id, legs=[{"asset": "BTC", "amount": "0.2"},
                                                  {"asset": "EUR", "amount": "-8700.40"}])
    assert (edited.entry_id, edited.transaction_id) == (entry.entry_id, entry.transaction_id)
    assert edited.kind == TransactionKind.TRADE and edited.description == "OTC desk"
    assert nonzero(store, account) == {"BTC": Decimal("0.2"), "EUR": Decimal("-8700.40")}
    assert store.get_override(entry.transaction_id) == Override(label="otc", note="paid by wire")
    assert store.count_transactions(account) == 1
    assert store.get_transaction(entry.transaction_id).legs[0].amount == Decimal("0.2")

    # a removal is real: no transaction, no tombstone, no label left
    other = deposit(eng, account, "1")
    assert eng.remove_entry(entry.entry_id) == entry.transaction_id
    assert [t.id for t in store.transactions(account_id=account, include_deleted=True)] == [other.transaction_id]
    assert store.get_override(entry.transaction_id) is None
    assert [e.entry_id for e in eng.entries(account)] == [other.entry_id]
    with pytest.raises(UnknownEntryError):
        eng.remove_entry(entry.entry_id)


def test_entries_merge_with_synced_records_as_multisets(store: Any) -> None:
    eng = engine(store)
    account = eng.add_manual_account("alice").id
    store.add_connection(account, "binance", connection_id="api")
    # two identical typed deposits (typed to the minute, 40 s off), one the API never lists
    twins = [deposit(eng, account, "0.25", at_s=40) for _ in range(2)]
    lonely = deposit(eng, account, "3", at_s=86400 * 10)
    store.set_override(twins[0].transaction_id, note="from my hardware wallet")
    store.delete_transaction(twins[1].transaction_id, "typed twice?")

    page = [api_event(account, f"d{i}", 0, [("ETH", "0.25")], TransactionKind.DEPOSIT) for i in range(2)]
    counts = store.commit_page(batch(account, "api", "history", page))
    assert (counts.new, counts.matched) == (0, 2)
    txs = list(store.transactions(account_id=account, include_deleted=True))
    assert Counter(tx.origins for tx in txs) == {("api", "manual"): 2, ("manual",): 1}
    assert {tx.id for tx in txs} == {e.transaction_id for e in (*twins, lonely)}
    # the user's word stays: the note, the deletion
    assert store.get_override(twins[0].transaction_id).note == "from my hardware wallet"
    assert [tx.id for tx in store.transactions(account_id=account)] == sorted(
        [twins[0].transaction_id, lonely.transaction_id],
        key=lambda i: store.get_transaction(i).timestamp)
    # the API's time wins; syncing again changes nothing
    assert store.get_transaction(twins[0].transaction_id).timestamp == T0
    again = store.commit_page(batch(account, "api", "history", page))
    assert (again.new, again.updated) == (0, 0)
    assert [e.origins for e in eng.entries(account)] == [("api", "manual")] * 2 + [("manual",)]


def test_an_entry_added_after_the_sync_merges_and_its_removal_unmerges(store: Any) -> None:
    eng = engine(store)
    account = store.add_account("alice", "binance").id
    store.add_connection(account, "binance", connection_id="api")
    store.commit_page(batch(account, "api", "history", [
        api_event(account, "w1", 0, [("BTC", "-0.5")], TransactionKind.WITHDRAWAL)]))
    [api_tx] = store.transactions(account_id=account)
    entry = eng.add_entry(account, timestamp=T0 + timedelta(hours=2), legs=[{"asset": "BTC", "amount": "-0.5"}],
                          external_ids={"tx_hash": "ab" * 32})
    assert entry.transaction_id == api_tx.id and entry.origins == ("api", "manual")
    assert store.count_transactions(account) == 1 and nonzero(store, account) == {"BTC": Decimal("-0.5")}
    eng.remove_entry(entry.entry_id)
    [tx] = store.transactions(account_id=account)
    assert (tx.id, tx.origins) == (api_tx.id, ("api",))
    assert nonzero(store, account) == {"BTC": Decimal("-0.5")}


def test_an_edit_that_now_matches_a_synced_record_merges_into_it(store: Any) -> None:
    eng = engine(store)
    account = store.add_account("alice", "binance").id
    store.add_connection(account, "binance", connection_id="api")
    store.commit_page(batch(account, "api", "history", [
        api_event(account, "d1", 0, [("ETH", "2")], TransactionKind.DEPOSIT)]))
    typo = deposit(eng, account, "20")
    assert store.count_transactions(account) == 2
    fixed = eng.edit_entry(typo.entry_id, legs=[{"asset": "ETH", "amount": "2"}])
    assert fixed.origins == ("api", "manual") and store.count_transactions(account) == 1
    assert nonzero(store, account) == {"ETH": Decimal("2")}
    # and back: an edit that no longer matches leaves the synced record alone
    eng.edit_entry(typo.entry_id, legs=[{"asset": "ETH", "amount": "7"}])
    assert Counter(tx.origins for tx in store.transactions(account_id=account)) == {("api",): 1, ("manual",): 1}
    assert nonzero(store, account) == {"ETH": Decimal("9")}


def test_a_folded_entry_groups_with_api_records_and_its_removal_drops_the_covers(store: Any) -> None:
    eng = engine(store)
    account = store.add_account("alice", "binance").id
    store.add_connection(account, "binance", connection_id="api")
    store.commit_page(batch(account, "api", "history", [
        api_event(account, f"d{i}", 0, [("ETH", "0.25")], TransactionKind.DEPOSIT) for i in range(2)]))
    folded = deposit(eng, account, "0.5", at_s=1800)
    assert store.count_transactions(account) == 2 and nonzero(store, account) == {"ETH": Decimal("0.50")}
    assert all(tx.origins == ("api", "manual") for tx in store.transactions(account_id=account))
    eng.remove_entry(folded.entry_id)
    assert [tx.origins for tx in store.transactions(account_id=account)] == [("api",), ("api",)]
    # nothing of the entry is left to block a new entry from matching
    again = deposit(eng, account, "0.25", at_s=30)
    assert again.origins == ("api", "manual") and nonzero(store, account) == {"ETH": Decimal("0.50")}


def test_an_entry_the_api_merged_into_is_edited_in_place_and_removed_without_a_clash(store: Any) -> None:
    eng = engine(store)
    account = eng.add_manual_account("alice").id
    store.add_connection(account, "binance", connection_id="api")
    entry = deposit(eng, account, "2", at_s=600)
    store.set_override(entry.transaction_id, label="salary")
    store.commit_page(batch(account, "api", "history", [
        api_event(account, "d1", 0, [("ETH", "2")], TransactionKind.DEPOSIT)]))
    [tx] = store.transactions(account_id=account)
    assert (tx.id, tx.origins) == (entry.transaction_id, ("api", "manual"))
    # merged: the edit changes the entry's own description; the API's legs stay authoritative
    edited = eng.edit_entry(entry.entry_id, description="from my employer", legs=[{"asset": "ETH", "amount": "3"}])
    assert (edited.transaction_id, edited.origins) == (entry.transaction_id, ("api", "manual"))
    assert edited.legs[0].amount == Decimal("3") and edited.description == "from my employer"
    assert store.count_transactions(account) == 1 and nonzero(store, account) == {"ETH": Decimal("2")}
    # removed: the API's transaction stays with its id and label; the entry's id cannot come back
    eng.remove_entry(entry.entry_id)
    [tx] = store.transactions(account_id=account)
    assert (tx.id, tx.origins, tx.label) == (entry.transaction_id, ("api",), "salary")
    with pytest.raises(ManualEntryError, match="existed"):
        deposit(eng, account, "5", entry_id=entry.entry_id)
    # a re-sync changes nothing
    again = store.commit_page(batch(account, "api", "history", [
        api_event(account, "d1", 0, [("ETH", "2")], TransactionKind.DEPOSIT)]))
    assert (again.new, again.updated) == (0, 0)


def test_one_owners_manual_ledger_cannot_reach_another_owners(store: Any) -> None:
    eng = engine(store)
    bobs = eng.add_manual_account("bob").id
    bob_entry = deposit(eng, bobs, "1")
    alice = eng.manual_for("alice")
    mine = alice.add_manual_account("alice").id
    deposit_id = alice.add_entry(mine, timestamp=T0, legs=[{"asset": "ETH", "amount": "2"}]).entry_id
    for attempt in (
        lambda: alice.add_entry(bobs, timestamp=T0, legs=[{"asset": "ETH", "amount": "2"}]),
        lambda: alice.entries(bobs),
        lambda: alice.entry(bobs, bob_entry.entry_id),
        lambda: alice.edit_entry(bob_entry.entry_id, legs=[{"asset": "ETH", "amount": "9"}]),
        lambda: alice.edit_entry(bob_entry.entry_id, account_id=bobs, legs=[{"asset": "ETH", "amount": "9"}]),
        lambda: alice.remove_entry(bob_entry.entry_id),
        lambda: alice.remove_entry(bob_entry.entry_id, account_id=bobs),
    ):
        with pytest.raises(UnknownConnectionError):  # UnknownEntryError is one: "no such thing"
            attempt()
    with pytest.raises(ManualEntryError):
        alice.add_manual_account("bob")
    assert [e.entry_id for e in eng.entries(bobs)] == [bob_entry.entry_id]
    assert nonzero(store, bobs) == {"ETH": Decimal("1")}
    assert [e.entry_id for e in alice.entries(mine)] == [deposit_id]

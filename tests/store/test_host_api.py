"""The store's host API: an owner's connections, keyset-paginated ledger pages, removal on request."""

from __future__ import annotations

import heapq
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from helpers.backends import database_bytes
from helpers.demo import demo_credential, demo_engine
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.engine import Engine, SyncMode
from txsync.errors import StoreError, UnknownConnectionError
from txsync.store import LedgerOrder, LedgerTransaction, SqliteStore


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Alice with two Demo accounts, Bob with one; every account synced (262 transactions each)."""
    folder = tmp_path_factory.mktemp("template")
    store = SqliteStore(folder / "ledger.sqlite3")
    engine = demo_engine(store, DemoSandbox())
    ids: dict[str, str] = {}
    for name, owner in (("a1", "alice"), ("a2", "alice"), ("b1", "bob")):
        connection = engine.connect(owner, demo_credential(), label=name)
        assert engine.sync_blocking(connection.id).ok
        ids[name] = connection.id
        ids[f"{name}_account"] = connection.account_id
    store.close()
    return folder, ids


@pytest.fixture
def synced(
    template: tuple[Path, dict[str, str]], tmp_path: Path
) -> tuple[SqliteStore, Engine, dict[str, str]]:
    """A copy of the template ledger (and its master key) for one test."""
    folder, ids = template
    for name in ("ledger.sqlite3", "master.key"):
        shutil.copy2(folder / name, tmp_path / name)
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    yield store, demo_engine(store, DemoSandbox()), dict(ids)  # type: ignore[misc]
    store.close()


def _pages(store: SqliteStore, limit: int, **kw: object) -> list[LedgerTransaction]:
    items: list[LedgerTransaction] = []
    after = None
    seen_pages = 0
    while True:
        page = store.ledger_page(limit=limit, after=after, **kw)  # type: ignore[arg-type]
        assert len(page.items) <= limit
        items.extend(page.items)
        seen_pages += 1
        if page.next_cursor is None:
            return items
        assert len(page.items) == limit
        after = page.next_cursor


def test_connections_of_an_owner(synced: tuple[SqliteStore, Engine, dict[str, str]]) -> None:
    store, _, ids = synced
    assert [c.id for c in store.connections_of("alice")] == [ids["a1"], ids["a2"]]
    assert [c.id for c in store.connections_of("bob")] == [ids["b1"]]
    assert store.connections_of("nobody") == []
    assert [a.id for a in store.list_accounts("alice")] == [ids["a1_account"], ids["a2_account"]]


def test_pages_of_one_account_in_both_orders(synced: tuple[SqliteStore, Engine, dict[str, str]]) -> None:
    store, _, ids = synced
    account = ids["a1_account"]
    everything = list(store.transactions(account_id=account))
    assert len(everything) == 262
    assert [tx.id for tx in _pages(store, 50, account_id=account)] == [tx.id for tx in everything]
    newest_first = _pages(store, 7, account_id=account, order="desc")
    assert [tx.id for tx in newest_first] == [tx.id for tx in reversed(everything)]
    # one page exactly as large as the ledger: no cursor (nothing more), and one more row than it
    assert store.ledger_page(account_id=account, limit=262).next_cursor is None
    assert store.ledger_page(account_id=account, limit=261).next_cursor is not None


def test_pages_of_an_owner_merge_their_accounts(synced: tuple[SqliteStore, Engine, dict[str, str]]) -> None:
    store, _, ids = synced
    merged = list(heapq.merge(
        store.transactions(account_id=ids["a1_account"]), store.transactions(account_id=ids["a2_account"]),
        key=lambda tx: (tx.timestamp, tx.id),
    ))
    got = _pages(store, 33, owner_id="alice")
    assert [tx.id for tx in got] == [tx.id for tx in merged] and len(got) == 524
    assert {tx.account_id for tx in got} == {ids["a1_account"], ids["a2_account"]}
    assert len(_pages(store, 1000)) == 786  # no scope: every account
    # an owner never reads another owner's account, even naming it
    assert store.ledger_page(owner_id="bob", account_id=ids["a1_account"]).items == []
    assert store.ledger_page(account_id="acc_unknown").items == []


def test_filters_and_deleted_rows(synced: tuple[SqliteStore, Engine, dict[str, str]]) -> None:
    store, _, ids = synced
    account = ids["a1_account"]
    everything = list(store.transactions(account_id=account))
    trades = _pages(store, 40, account_id=account, kinds=["trade"])
    assert trades and {str(tx.kind) for tx in trades} == {"trade"}
    assert len(trades) == sum(1 for tx in everything if tx.kind == "trade")
    since, until = everything[10].timestamp, everything[20].timestamp
    window = _pages(store, 4, account_id=account, since=since, until=until)
    assert [tx.id for tx in window] == [tx.id for tx in everything if since <= tx.timestamp < until]
    store.delete_transaction(everything[0].id)
    store.set_override(everything[1].id, label="kept")
    first = store.ledger_page(account_id=account, limit=2)
    assert [tx.id for tx in first.items] == [everything[1].id, everything[2].id]
    assert first.items[0].label == "kept"
    with_deleted = store.ledger_page(account_id=account, limit=1, include_deleted=True)
    assert with_deleted.items[0].id == everything[0].id and with_deleted.items[0].deleted


def test_bad_limits_and_cursors_are_refused(synced: tuple[SqliteStore, Engine, dict[str, str]]) -> None:
    store, _, ids = synced
    for limit in (0, -1, 10_001):
        with pytest.raises(StoreError, match="1 to 10000"):
            store.ledger_page(limit=limit)
    for cursor in ("garbage!", "", "W10", "eyJhIjoxfQ"):
        with pytest.raises(StoreError, match="cursor"):
            store.ledger_page(after=cursor)
    cursor = store.ledger_page(account_id=ids["a1_account"], limit=3).next_cursor
    assert cursor is not None
    with pytest.raises(StoreError, match="order 'asc'"):
        store.ledger_page(account_id=ids["a1_account"], after=cursor, order=LedgerOrder.DESC)
    with pytest.raises(ValueError, match="sideways"):
        store.ledger_page(order="sideways")


def test_a_page_boundary_survives_writes_between_pages(
    synced: tuple[SqliteStore, Engine, dict[str, str]],
) -> None:
    """Keyset, not offset: deleting rows already read neither repeats nor skips a row."""
    store, _, ids = synced
    account = ids["a1_account"]
    first = store.ledger_page(account_id=account, limit=100)
    for tx in first.items[:50]:
        store.delete_transaction(tx.id)
    rest = _pages_after(store, account, first.next_cursor)
    assert [tx.id for tx in first.items + rest] == [tx.id for tx in store.transactions(account_id=account,
                                                                                        include_deleted=True)]


def _pages_after(store: SqliteStore, account: str, cursor: str | None) -> list[LedgerTransaction]:
    items: list[LedgerTransaction] = []
    while cursor is not None:
        page = store.ledger_page(account_id=account, limit=64, after=cursor)
        items.extend(page.items)
        cursor = page.next_cursor
    return items


def _file_bytes(store: SqliteStore) -> bytes:
    return database_bytes(store)


def test_remove_connection_destroys_its_key_and_keeps_the_ledger(
    synced: tuple[SqliteStore, Engine, dict[str, str]],
) -> None:
    store, engine, ids = synced
    con, account = ids["a1"], ids["a1_account"]
    before = list(store.transactions(account_id=account))
    store.set_override(before[3].id, note="mine")
    blobs = [blob for c, _, blob in store.sealed_blobs() if c == con]
    assert len(blobs) == 2 and all(blob in _file_bytes(store) for blob in blobs)
    assert store.count_raws(con) > 0

    store.remove_connection(con)

    with pytest.raises(UnknownConnectionError):
        store.get_connection(con)
    assert store.get_credential(con) is None and store.count_raws(con) == 0
    assert store.last_sync_run(con) is None
    assert not any(blob in _file_bytes(store) for blob in blobs)  # overwritten, not only unlinked
    assert [tx.id for tx in store.transactions(account_id=account)] == [tx.id for tx in before]
    assert store.get_transaction(before[3].id).note == "mine"
    # another key for the same account: a full sync finds every transaction again, adds none
    again = engine.connect("alice", demo_credential(), account_id=account, label="new key")
    report = engine.sync_blocking(again.id, SyncMode.FULL)
    assert report.ok and report.total("new") == 0
    assert store.count_transactions(account) == 262
    assert store.get_transaction(before[3].id).note == "mine"
    with pytest.raises(UnknownConnectionError):
        store.remove_connection(con)


def test_remove_account_erases_its_ledger_edits_and_keys(
    synced: tuple[SqliteStore, Engine, dict[str, str]],
) -> None:
    store, engine, ids = synced
    account, other = ids["a1_account"], ids["a2_account"]
    second = engine.connect("alice", demo_credential(), account_id=account, label="second key")
    txs = list(store.transactions(account_id=account))
    store.delete_transaction(txs[0].id)
    store.set_override(txs[1].id, label="secret label")
    other_before = list(store.transactions(account_id=other))
    blobs = [blob for c, _, blob in store.sealed_blobs() if c in (ids["a1"], second.id)]
    assert len(blobs) == 4

    store.remove_account(account)

    with pytest.raises(UnknownConnectionError):
        store.get_account(account)
    for con in (ids["a1"], second.id):
        with pytest.raises(UnknownConnectionError):
            store.get_connection(con)
    assert store.count_transactions(account, include_deleted=True) == 0
    assert store.ledger_page(account_id=account).items == []
    for tx in txs[:2]:
        with pytest.raises(StoreError):
            store.get_transaction(tx.id)
        assert store.get_override(tx.id) is None
    data = _file_bytes(store)
    assert not any(blob in data for blob in blobs)
    assert b"secret label" not in data
    # the owner's other account is untouched; alice still exists while she has one
    assert [tx.id for tx in store.transactions(account_id=other)] == [tx.id for tx in other_before]
    assert [a.id for a in store.list_accounts("alice")] == [other]
    store.remove_account(other)
    assert store.list_accounts("alice") == [] and store.connections_of("alice") == []
    # bob's data, and a new account after the erasure, work as before
    assert store.count_transactions(ids["b1_account"]) == 262
    fresh = engine.connect("alice", demo_credential(), label="fresh")
    assert engine.sync_blocking(fresh.id).total("new") == 262
    assert store.count_transactions(fresh.account_id) == 262
    assert store.count_transactions(ids["b1_account"]) == 262
    assert store.connections_due(fresh.created_at + timedelta(days=400))  # scheduling still works

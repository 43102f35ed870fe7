"""Owner isolation: through ``store.for_owner(A)``, owner A can neither read, change nor delete owner B's
transactions, overrides, credentials or reports, nor tell them apart from ids that do not exist; on
both stores."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from helpers.demo import demo_credential, demo_engine
from txsync.errors import StoreError, UnknownConnectionError
from txsync.store import ConnectionState
from txsync.testing.demo_sandbox import DemoSandbox


def _owner(store: Any, owner: str) -> dict[str, Any]:
    sandbox = DemoSandbox()
    engine = demo_engine(store, sandbox)
    con = engine.connect(owner, demo_credential(), label=f"{owner}'s key", verify=False)
    report = asyncio.run(engine.sync(con.id))
    assert report.ok, report.errors
    txs = list(store.transactions(account_id=con.account_id))
    store.set_override(txs[0].id, label=f"{owner}'s label", note="private")
    store.delete_transaction(txs[1].id)
    return {"account": con.account_id, "connection": con.id, "txs": [t.id for t in txs]}


def _picture(store: Any, data: dict[str, Any]) -> tuple[Any, ...]:
    txs = list(store.transactions(account_id=data["account"], include_deleted=True))
    return (
        [(t.id, t.label, t.note, t.deleted, tuple((leg.asset, leg.amount) for leg in t.legs)) for t in txs],
        store.get_credential(data["connection"]),
        store.last_sync_run(data["connection"]),
        store.get_connection(data["connection"]).state,
    )


def test_an_owner_cannot_reach_another_owners_data(store_factory: Callable[[], Any]) -> None:
    store = store_factory()
    alice, bob = _owner(store, "alice"), _owner(store, "bob")
    before = _picture(store, bob)
    scope = store.for_owner("alice")

    # What alice sees is hers only.
    assert {a.id for a in scope.accounts()} == {alice["account"]}
    assert {c.id for c in scope.connections()} == {alice["connection"]}
    assert {t.id for t in scope.transactions(include_deleted=True)} == set(alice["txs"])
    assert {t.id for t in scope.ledger_page(limit=10_000, include_deleted=True).items} == set(alice["txs"])
    assert scope.count_transactions(include_deleted=True) == len(alice["txs"])
    assert scope.get_transaction(alice["txs"][0]).label == "alice's label"

    # Bob's ids behave exactly like ids that do not exist.
    foreign_tx, missing_tx = bob["txs"][0], "0" * 32
    per_transaction = [
        ("get_transaction", (), {}), ("provenance", (), {}), ("get_override", (), {}),
        ("set_override", (), {"label": "mine now"}), ("delete_transaction", (), {}),
        ("restore_transaction", (), {}),
    ]
    per_account = [
        ("get_account", ()), ("balances", ()), ("connections", ()), ("remove_account", ()),
    ]
    per_connection = [
        ("get_connection", ()), ("get_credential", ()), ("put_credential", ("demo", {}, {"api_key": b"x"})),
        ("drop_credential", ()), ("last_sync_run", ()),
        ("set_connection_state", (ConnectionState.PAUSED, "mine")), ("remove_connection", ()),
    ]
    for tx_id in (foreign_tx, missing_tx):
        for name, args, kwargs in per_transaction:
            with pytest.raises(StoreError, match="no transaction"):
                getattr(scope, name)(tx_id, *args, **kwargs)
    for account_id in (bob["account"], "acc_missing"):
        for name, args in per_account:
            with pytest.raises(UnknownConnectionError, match="no account"):
                getattr(scope, name)(account_id, *args)
        with pytest.raises(UnknownConnectionError, match="no account"):
            scope.ledger_page(account_id=account_id)
        with pytest.raises(UnknownConnectionError, match="no account"):
            list(scope.transactions(account_id=account_id))
    for connection_id in (bob["connection"], "con_missing"):
        for name, args in per_connection:
            with pytest.raises(UnknownConnectionError, match="no connection"):
                getattr(scope, name)(connection_id, *args)

    # Nothing of bob's changed; bob's own scope still reaches it all.
    assert _picture(store, bob) == before
    bobs = store.for_owner("bob")
    assert bobs.get_transaction(foreign_tx).label == "bob's label"
    assert bobs.last_sync_run(bob["connection"]) is not None
    bobs.set_override(foreign_tx, note="still bob's")
    assert store.get_override(foreign_tx).note == "still bob's"


def test_an_owner_scope_changes_and_erases_its_own_data(store_factory: Callable[[], Any]) -> None:
    store = store_factory()
    alice, bob = _owner(store, "alice"), _owner(store, "bob")
    scope = store.for_owner("alice")
    tx = alice["txs"][2]
    scope.delete_transaction(tx)
    assert scope.get_transaction(tx).deleted
    scope.restore_transaction(tx)
    assert scope.set_override(tx, label="gift").label == "gift"
    scope.set_connection_state(alice["connection"], ConnectionState.PAUSED, "holiday")
    scope.remove_account(alice["account"])
    assert scope.accounts() == [] and list(scope.transactions()) == []
    assert len(list(store.transactions(account_id=bob["account"], include_deleted=True))) == len(bob["txs"])

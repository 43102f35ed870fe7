"""Manual -> synced (issue 12 part 3): a manual account whose entries the user typed in is connected to
its Binance key; the first sync merges the API's history with the entries.

The Binance sandbox (the emulation the cassettes are recorded from) serves the small scenario account.
The user typed in part of that history by hand (times to the minute, deposits an hour late, as people
do) plus two entries the API does not know; labels, notes and a deletion were set on the entries. After
the sync there is no duplicate: each typed entry is one transaction with the API's description, the
API's history is exactly what an API-only sync gives, the unknown entries stay, the user's word stays.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import KEY, SECRET, BinanceSandbox
from txsync.engine import Engine
from txsync.models import Credential
from txsync.models.transaction import net_deltas
from txsync.registry import Registry
from txsync.store import ConnectionState

CREDENTIAL = Credential(connector_id="binance", secrets={"api_key": KEY, "api_secret": SECRET})
MOVES = {"deposit", "withdrawal", "fiat_deposit", "fiat_withdrawal", "transfer"}


def engine(store: Any, sandbox: BinanceSandbox) -> Engine:
    registry = Registry(entry_points=[])
    registry.register(Binance, replace=True)
    return Engine(store, registry=registry, transport_for=lambda _c: sandbox.transport(), clock=sandbox.clock,
                  hooks=[])


#: Binance's weights accounted on a virtual clock (the sandbox needs no protection; real waiting would
#: take minutes), as the main job's replay does.
OPTIONS = {"rate_limit": "simulated"}


def api_view(store: Any, account: str) -> Counter[tuple[Any, ...]]:
    """The account's ledger as the API describes it (kind, time, legs), deleted ones included."""
    return Counter(
        (str(tx.kind), tx.timestamp, tuple(sorted((leg.asset, str(leg.amount), str(leg.role)) for leg in tx.legs)))
        for tx in store.transactions(account_id=account, include_deleted=True) if "api" in tx.origins
    )


def test_a_manual_account_converted_to_binance_has_no_duplicate(
    store: Any, store_factory: Callable[[], Any]
) -> None:
    account_data = BinanceSandbox.small().account
    sandbox = BinanceSandbox(account=account_data, enforce_limits=False)

    # What the API alone gives.
    reference = store_factory()
    ref_engine = engine(reference, sandbox)
    alone = ref_engine.connect("alice", CREDENTIAL, options=OPTIONS, verify=False)
    assert asyncio.run(ref_engine.sync(alone.id)).ok
    history = list(reference.transactions(account_id=alone.account_id))
    expected = api_view(reference, alone.account_id)

    # The user's manual account: every deposit and withdrawal and every third other event, typed in.
    eng = engine(store, sandbox)
    account = eng.add_manual_account("alice", "My Binance, typed in").id
    typed = [tx for i, tx in enumerate(history) if str(tx.kind) in MOVES or i % 3 == 0]
    assert len(typed) >= 15 and len(typed) < len(history)
    entries = []
    for tx in typed:
        late = timedelta(hours=1) if str(tx.kind) in MOVES else timedelta(0)
        at = tx.timestamp.replace(second=0, microsecond=0) + late
        if not net_deltas(tx.legs):  # a move between two wallets of the account matches at its exact time only
            at = tx.timestamp
        legs = [{"asset": leg.asset, "amount": str(leg.amount), "role": str(leg.role)} for leg in tx.legs]
        entries.append(eng.add_entry(account, timestamp=at, legs=legs, kind=str(tx.kind),
                                     description="typed from my notes"))
    # two entries the API does not know (an OTC purchase paid elsewhere, typed twice: two purchases)
    otc = [eng.add_entry(account, timestamp=history[0].timestamp - timedelta(days=30),
                         legs=[{"asset": "XMR", "amount": "2.5"}], description="OTC") for _ in range(2)]
    labelled, noted, deleted = entries[0], entries[1], entries[2]
    store.set_override(labelled.transaction_id, label="first deposit")
    store.set_override(noted.transaction_id, note="checked against my bank statement")
    store.delete_transaction(deleted.transaction_id, "not mine")
    assert store.count_transactions(account, include_deleted=True) == len(typed) + 2

    # Connect the key to the manual account and sync.
    connection = eng.connect("alice", CREDENTIAL, account_id=account, options=OPTIONS, verify=False)
    report = asyncio.run(eng.sync(connection.id))
    assert report.ok, report.errors
    assert report.total("matched") == len(typed)

    txs = list(store.transactions(account_id=account, include_deleted=True))
    assert len(txs) == len(history) + 2  # nothing twice
    assert Counter(tx.origins for tx in txs) == {("api", "manual"): len(typed), ("api",): len(history) - len(typed),
                                                 ("manual",): 2}
    # the API's history is exactly the API-only sync's; the entries keep their transactions (and ids)
    assert api_view(store, account) == expected
    assert {e.transaction_id for e in eng.entries(account)} == {e.transaction_id for e in (*entries, *otc)}
    assert all(e.origins == ("api", "manual") for e in eng.entries(account) if e.description != "OTC")
    # the user's word stays
    assert store.get_override(labelled.transaction_id).label == "first deposit"
    assert store.get_override(noted.transaction_id).note == "checked against my bank statement"
    assert deleted.transaction_id not in {tx.id for tx in store.transactions(account_id=account)}
    balances = {k: v for k, v in store.balances(account).items() if v}
    ref_balances = {k: v for k, v in reference.balances(alone.account_id).items() if v}
    deleted_net = store.get_transaction(deleted.transaction_id).legs
    for leg in deleted_net:
        ref_balances[leg.asset] = ref_balances.get(leg.asset, Decimal(0)) - leg.amount
    ref_balances["XMR"] = Decimal("5.0")
    assert balances == {k: v for k, v in ref_balances.items() if v}
    # the account is synced now; its manual connection still never syncs
    assert not eng.manual.is_manual_account(account)
    assert store.get_connection(eng.manual.connection(account).id).state == ConnectionState.MANUAL
    # a second sync adds nothing
    again = asyncio.run(eng.sync(connection.id))
    assert again.ok and again.total("new") == 0 and again.total("updated") == 0
    assert len(list(store.transactions(account_id=account, include_deleted=True))) == len(history) + 2

"""Identities that heal (issue 11, item 10).

A record first read malformed was kept flagged, under an identity built from what could be read (a
fallback key: here the connection's own reference to it, as a record without a usable id gets).
A full re-sync reads it corrected, under its real key: the correction replaces the flagged
description (the transaction keeps its id, so the user's edits stay attached) and the real key
finds that transaction from then on, so a second connection to the same account, reading the
corrected record, lands on it instead of doubling it (the attack run saw 189 transactions instead
of 188, USDT off by 500).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from helpers.ledger import T0, batch, later
from txsync.models import Leg, NormalizedTransaction, RawTransaction, SourceRef, TransactionKind

A = "acc-heal"
RECORDS = 188  # deposits of the account, one of them first read malformed
BROKEN = "77"


def _store(store_factory: Callable[[], Any]) -> Any:
    store = store_factory()
    store.add_account("owner-1", "demo", account_id=A)
    store.add_connection(A, connection_id="key-1")
    store.add_connection(A, connection_id="key-2")
    return store


def _deposit(connection: str, n: int, *, malformed: bool = False) -> tuple[RawTransaction, NormalizedTransaction]:
    source_id = str(n)
    amount = Decimal(500) if source_id == BROKEN else Decimal(n) / 100
    raw = RawTransaction(
        connection_id=connection, account_id=A, stream="deposits", source_id=source_id,
        payload={"id": source_id, "amount": str(amount), "asset": "USDT", "malformed": malformed},
        fetched_at=T0,
    )
    tx = NormalizedTransaction(
        account_id=A,
        # a malformed record's fallback identity names the connection's reference to it; the
        # corrected record's is the exchange's own id, the same through every key
        key=f"unreadable:{connection}:deposits:{source_id}" if malformed else f"deposit:{source_id}",
        kind=TransactionKind.OTHER if malformed else TransactionKind.DEPOSIT,
        timestamp=later(n),
        legs=[Leg(asset="USDT", amount=amount)],
        sources=[SourceRef(connection_id=connection, stream="deposits", source_id=source_id)],
        flags=frozenset({"unknown_type"}) if malformed else frozenset(),
    )
    return raw, tx


def _page(connection: str, *, broken: bool) -> Any:
    items = [_deposit(connection, n, malformed=broken and str(n) == BROKEN) for n in range(1, RECORDS + 1)]
    return batch(A, connection, "deposits", items)


def _total() -> Decimal:
    return sum((Decimal(n) / 100 for n in range(1, RECORDS + 1) if str(n) != BROKEN), Decimal(500))


def test_a_corrected_record_replaces_the_flagged_one_and_a_second_key_does_not_double_it(
    store_factory: Callable[[], Any],
) -> None:
    store = _store(store_factory)
    store.commit_page(_page("key-1", broken=True))
    [flagged] = [tx for tx in store.transactions(account_id=A) if tx.kind == TransactionKind.OTHER]
    store.set_override(flagged.id, note="checked by hand")

    again = store.commit_page(_page("key-1", broken=False))  # a full re-sync reads it corrected
    assert (again.new, again.updated) == (0, 1)
    healed = store.get_transaction(flagged.id)  # same id: the user's note stays attached
    assert healed.kind == TransactionKind.DEPOSIT and healed.note == "checked by hand"
    assert healed.parts == 1 and "unknown_type" not in healed.flags

    second = store.commit_page(_page("key-2", broken=False))  # another key to the same account
    assert second.new == 0
    assert store.count_transactions(A) == RECORDS  # not 189
    assert store.balances(A) == {"USDT": _total()}  # not off by 500
    assert {raw.connection_id for raw in store.provenance(flagged.id)} == {"key-1", "key-2"}

    # and both keys keep syncing without changing anything
    assert store.commit_page(_page("key-2", broken=False)).new == 0
    assert store.commit_page(_page("key-1", broken=False)).new == 0
    assert store.count_transactions(A) == RECORDS and store.balances(A) == {"USDT": _total()}

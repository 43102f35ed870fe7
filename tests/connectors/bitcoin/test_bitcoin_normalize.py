"""The wallet's own view of a transaction: deposits, withdrawals with their fee, change and own
transfers internal, self-transfers fee only, coinbase as mining, pending and replaced records, odd
payloads kept and flagged. Satoshis become BTC exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txsync.connectors.bitcoin import classify, sats_to_btc
from txsync.connectors.bitcoin._normalize import normalize_raw
from txsync.connectors.bitcoin.sandbox import Chain, external_address, own_address
from txsync.errors import InvalidRecordError
from txsync.fields import record_errors
from txsync.models import LegRole, RawTransaction, TransactionKind, TransactionStatus

A0, A1, C0 = own_address(0, 0), own_address(0, 1), own_address(1, 0)
OWN = {A0: "0/0", A1: "0/1", C0: "1/0"}
EXT = external_address("someone")
FETCHED = datetime(2024, 1, 1, tzinfo=UTC)


def raw(payload: Any, source_id: str = "x" * 64) -> RawTransaction:
    return RawTransaction(
        connection_id="con",
        account_id="acc",
        stream="transactions",
        source_id=source_id,
        payload=payload,
        fetched_at=FETCHED,
    )


def legs(tx: Any) -> list[tuple[Decimal, LegRole]]:
    return [(leg.amount, leg.role) for leg in tx.legs]


def test_sats_to_btc_is_exact() -> None:
    assert sats_to_btc(1) == Decimal("0.00000001")
    assert str(sats_to_btc(150_000_000)) == "1.50000000"
    assert sats_to_btc(2_099_999_997_690_000) == Decimal("20999999.97690000")
    assert sats_to_btc(-5_000) == Decimal("-0.00005")


def test_deposit_withdrawal_change_and_fee() -> None:
    chain = Chain()
    dep = chain.send([chain.fund(EXT, 1_000_000)], [(A0, 600_000), (EXT, 399_000)], fee=1_000, height=800_001)
    pay = chain.send([(dep, 0)], [(EXT, 250_000), (C0, 349_500)], fee=500, height=800_002)
    deposit = normalize_raw(raw({"tx": chain.render(dep), "own": {A0: "0/0"}}, dep))
    assert (deposit.kind, deposit.status, deposit.key) == (
        TransactionKind.DEPOSIT,
        TransactionStatus.CONFIRMED,
        f"tx:{dep}",
    )
    assert legs(deposit) == [(Decimal("0.00600000"), LegRole.PRINCIPAL)]  # the sender's fee is not ours
    assert deposit.timestamp == datetime.fromtimestamp(chain.block_time(800_001), UTC)
    assert deposit.meta["block_height"] == 800_001
    withdrawal = normalize_raw(raw({"tx": chain.render(pay), "own": {A0: "0/0", C0: "1/0"}}, pay))
    assert withdrawal.kind == TransactionKind.WITHDRAWAL
    # change back to 1/0 is internal: only what left for someone else, plus the fee
    assert legs(withdrawal) == [
        (Decimal("-0.00250000"), LegRole.PRINCIPAL),
        (Decimal("-0.00000500"), LegRole.FEE),
    ]
    assert withdrawal.net() == {"BTC": Decimal("-0.00250500")}


def test_change_address_not_yet_known_makes_the_change_a_withdrawal() -> None:
    """Ownership comes from the record's ``own`` annotation, not from a guess."""
    chain = Chain()
    dep = chain.send([chain.fund(EXT, 1_000_000)], [(A0, 999_000)], fee=1_000, height=800_001)
    pay = chain.send([(dep, 0)], [(EXT, 250_000), (C0, 748_500)], fee=500, height=800_002)
    movement = classify(chain.render(pay), {A0: "0/0"})
    assert (movement.principal, movement.fee) == (-998_500, 500)


def test_self_transfer_and_consolidation_are_fee_only() -> None:
    chain = Chain()
    a = chain.send([chain.fund(EXT, 100_000)], [(A0, 100_000 - 300)], fee=300, height=800_001)
    b = chain.send([chain.fund(EXT, 200_000)], [(A1, 200_000 - 300)], fee=300, height=800_001)
    move = chain.send([(a, 0)], [(A1, 99_700 - 200)], fee=200, height=800_002)
    tx = normalize_raw(raw({"tx": chain.render(move), "own": {A0: "0/0", A1: "0/1"}}, move))
    assert tx.kind == TransactionKind.FEE
    assert tx.flags == frozenset({"self_transfer"})
    assert legs(tx) == [(Decimal("-0.00000200"), LegRole.FEE)]
    merge = chain.send([(move, 0), (b, 0)], [(C0, 99_500 + 199_700 - 700)], fee=700, height=800_003)
    tx = normalize_raw(raw({"tx": chain.render(merge), "own": OWN}, merge))
    assert tx.kind == TransactionKind.FEE
    assert tx.flags == frozenset({"self_transfer", "consolidation"})
    assert tx.net() == {"BTC": Decimal("-0.00000700")}


def test_coinbase_is_mining_income() -> None:
    chain = Chain()
    cb = chain.coinbase([(EXT, 600_000_000), (A0, 25_000_000), (None, 0)], height=800_100)
    tx = normalize_raw(raw({"tx": chain.render(cb), "own": {A0: "0/0"}}, cb))
    assert tx.kind == TransactionKind.MINING
    assert legs(tx) == [(Decimal("0.25000000"), LegRole.REWARD)]


def test_multi_party_inputs_split_the_fee_by_share() -> None:
    chain = Chain()
    ours = chain.fund(A0, 300_000)
    theirs = chain.fund(EXT, 100_000)
    tx = chain.send([ours, theirs], [(EXT, 150_000), (C0, 149_000), (EXT, 99_000)], fee=2_000, height=800_001)
    movement = classify(chain.render(tx), OWN)
    assert "multi_party" in movement.flags
    assert movement.fee == 1_500  # 3/4 of the inputs were ours
    assert movement.net == 149_000 - 300_000
    assert movement.kind == TransactionKind.WITHDRAWAL


def test_pending_uses_first_seen_and_missing_becomes_failed_replaced() -> None:
    chain = Chain()
    p = chain.send([chain.fund(EXT, 50_000)], [(A0, 49_000)], fee=1_000, height=None)
    pending = normalize_raw(
        raw({"tx": chain.render(p), "own": {A0: "0/0"}, "first_seen": "2024-01-02T03:04:05+00:00"}, p)
    )
    assert pending.status == TransactionStatus.PENDING
    assert pending.timestamp == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    gone = normalize_raw(
        raw({"missing": {"txid": p, "first_seen": "2024-01-02T03:04:05+00:00", "kind": "deposit"}}, p)
    )
    assert (gone.key, gone.id) == (pending.key, pending.id)  # same ledger row
    assert (gone.status, gone.kind, gone.flags) == (
        TransactionStatus.FAILED,
        TransactionKind.DEPOSIT,
        frozenset({"replaced"}),
    )
    assert gone.net() == {}
    assert gone.timestamp == pending.timestamp


def test_odd_payloads_are_typed_errors_naming_the_record_never_kept_as_valid() -> None:
    for payload in ({"tx": {"txid": "ab"}}, {"what": 1}, [1, 2], {"missing": {"txid": "t"}}):
        with pytest.raises(InvalidRecordError) as caught, record_errors("transactions", "a" * 64):
            normalize_raw(raw(payload, "a" * 64))
        assert caught.value.stream == "transactions" and caught.value.record == "a" * 64
    chain = Chain()
    foreign = chain.send([chain.fund(EXT, 5_000)], [(EXT, 4_000)], fee=1_000, height=800_001)
    tx = normalize_raw(raw({"tx": chain.render(foreign), "own": {}}, foreign))
    assert (tx.kind, tx.flags) == (TransactionKind.OTHER, frozenset({"no_own_value"}))


@settings(max_examples=60, deadline=None)
@given(
    own_in=st.lists(st.integers(1, 10**9), max_size=4),
    foreign_in=st.lists(st.integers(1, 10**9), max_size=2),
    out_split=st.lists(st.tuples(st.booleans(), st.integers(0, 10**6)), min_size=1, max_size=4),
    fee=st.integers(0, 50_000),
)
def test_net_legs_equal_the_wallet_balance_change(
    own_in: list[int], foreign_in: list[int], out_split: list[tuple[bool, int]], fee: int
) -> None:
    """Whatever the mix, the legs' net is exactly out_own - in_own (what the addresses' stats see)."""
    if not own_in and not foreign_in:
        return
    chain = Chain()
    inputs = [chain.fund(A0, v) for v in own_in] + [chain.fund(EXT, v) for v in foreign_in]
    total = sum(own_in) + sum(foreign_in)
    if total <= fee:
        return
    outputs: list[tuple[str | None, int]] = [(C0 if mine else EXT, value) for mine, value in out_split]
    rest = total - fee - sum(v for _, v in outputs)
    if rest < 0:
        return
    outputs.append((EXT, rest))
    txid = chain.send(inputs, outputs, fee=fee, height=800_001)
    tx = normalize_raw(raw({"tx": chain.render(txid), "own": OWN}, txid))
    out_own = sum(v for a, v in outputs if a == C0)
    assert sum(leg.amount for leg in tx.legs) == sats_to_btc(out_own - sum(own_in))
    assert all(leg.amount <= 0 for leg in tx.legs if leg.role == LegRole.FEE)

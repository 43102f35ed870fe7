"""Paymium normalization (operations -> transactions) and the newest-first sweep, unit by unit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from txsync.connectors.paymium._normalize import normalize_operations, parse_amount, parse_time
from txsync.connectors.paymium._sweep import NewestFirstSweep
from txsync.errors import BadResponseError, DuplicateRecordError, InvalidRecordError, PaginationLoopError
from txsync.jsonutil import loads
from txsync.models import LegRole, RawTransaction, TransactionKind, TransactionStatus
from txsync.pagination import InvalidCursorError, collect

FETCHED = datetime(2024, 3, 1, tzinfo=UTC)


def op(uuid: str, name: str, amount: Any, currency: str, second: int, *, trading: bool = False,
       ms: int = 0, **extra: Any) -> dict[str, Any]:
    at = datetime.fromtimestamp(second, UTC)
    return {
        "uuid": uuid, "name": name, "amount": amount, "currency": currency,
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms:03d}Z", "created_at_int": second,
        "is_trading_account": trading, **extra,
    }


def raws(order: dict[str, Any], ops: Sequence[dict[str, Any]]) -> list[RawTransaction]:
    return [
        RawTransaction(
            connection_id="c", account_id="a", stream="orders", source_id=o["uuid"],
            payload={"order": order, "operation": o}, fetched_at=FETCHED,
        )
        for o in ops
    ]


BUY = {"uuid": "order-1", "type": "LimitOrder", "state": "filled", "direction": "buy", "price": "20000"}


def test_locks_and_trading_account_mirrors_make_no_transaction() -> None:
    ops = [
        op("l1", "lock", "-200", "EUR", 100), op("l2", "lock", "200", "EUR", 100, trading=True),
        op("t1", "trade_btc", "0.01", "BTC", 200), op("t2", "trade_currency", "-200", "EUR", 200),
        op("t3", "trade_fee", "-0.00005", "BTC", 200),
        op("u1", "unlock", "200", "EUR", 200), op("u2", "unlock", "-200", "EUR", 200, trading=True),
    ]
    txs = list(normalize_operations(raws(BUY, ops)))
    assert len(txs) == 1
    (tx,) = txs
    assert tx.kind is TransactionKind.TRADE and tx.key == "trade:t1"
    assert [s.source_id for s in tx.sources] == ["t1", "t2", "t3"]
    assert tx.net() == {"BTC": Decimal("0.00995"), "EUR": Decimal("-200")}
    assert [leg.role for leg in tx.legs] == [LegRole.PRINCIPAL, LegRole.PRINCIPAL, LegRole.FEE]
    assert tx.meta["price"] == "20000" and tx.external_ids["order_uuid"] == "order-1"


def test_executions_split_by_second_and_by_repeated_currency() -> None:
    """Two fills in the same second are two trades; a fill a second later is a third."""
    ops = [
        op("a1", "trade_btc", "0.01", "BTC", 500, ms=10), op("a2", "trade_currency", "-200", "EUR", 500, ms=10),
        op("a3", "trade_fee", "-0.00005", "BTC", 500, ms=10),
        op("b1", "trade_btc", "0.02", "BTC", 500, ms=20), op("b2", "trade_currency", "-400", "EUR", 500, ms=20),
        op("b3", "trade_fee", "-0.0001", "BTC", 500, ms=20),
        op("c1", "trade_btc", "0.01", "BTC", 501), op("c2", "trade_currency", "-200", "EUR", 501),
    ]
    txs = list(normalize_operations(raws(BUY, ops)))
    assert [tx.key for tx in txs] == ["trade:a1", "trade:b1", "trade:c1"]
    assert [len(tx.legs) for tx in txs] == [3, 3, 2]
    assert txs[1].timestamp == datetime(1970, 1, 1, 0, 8, 20, 20_000, tzinfo=UTC)


def test_withdrawals_keep_fees_hashes_and_status() -> None:
    order = {"uuid": "w1", "type": "Transfer", "state": "executed", "currency": "BTC"}
    ops = [
        op("x1", "bitcoin_transfer", "-0.5", "BTC", 900, address="bc1qexample", tx_hash="ab" * 32),
        op("x2", "bitcoin_transfer_fee", "-0.0005", "BTC", 900),
    ]
    (tx,) = normalize_operations(raws(order, ops))
    assert tx.kind is TransactionKind.WITHDRAWAL and tx.key == "withdrawal:x1"
    assert tx.status is TransactionStatus.CONFIRMED
    assert tx.external_ids["tx_hash"] == "ab" * 32 and tx.external_ids["address"] == "bc1qexample"
    assert [leg.role for leg in tx.legs] == [LegRole.PRINCIPAL, LegRole.FEE]
    # The rule: the operations (written when the withdrawal is requested) are what moved.
    cancelled = dict(order, state="canceled")
    refund = [
        op("x3", "bitcoin_transfer", "0.5", "BTC", 950, address="bc1qexample"),
        op("x4", "bitcoin_transfer_fee", "0.0005", "BTC", 950),
    ]
    (failed,) = normalize_operations(raws(cancelled, [*ops, *refund]))
    assert failed.status is TransactionStatus.FAILED and failed.net() == {} and failed.flags == frozenset()
    (unrefunded,) = normalize_operations(raws(cancelled, ops))
    assert unrefunded.status is TransactionStatus.CONFIRMED and unrefunded.flags == {"refund_not_listed"}
    for state in ("pending", "processing", "authorized", "pending_execution"):
        (pending,) = normalize_operations(raws(dict(order, state=state), ops))
        assert pending.status is TransactionStatus.CONFIRMED and pending.flags == {"pending_withdrawal"}
        assert pending.net() == {"BTC": Decimal("-0.5005")} and pending.meta["state"] == state
    eur = {"uuid": "w2", "type": "Transfer", "state": "executed", "currency": "EUR"}
    (fiat,) = normalize_operations(raws(eur, [op("y1", "wire_transfer", "-100", "EUR", 5)]))
    assert fiat.kind is TransactionKind.FIAT_WITHDRAWAL


def test_documented_examples_normalize() -> None:
    """The API documentation's examples: a Transfer with a bitcoin_transfer of -1.0 BTC (a BTC
    withdrawal) and an AdminOrder with an account_operation of +49.38727114 BTC (a credit)."""
    transfer = loads(
        '{"uuid": "968f4580", "amount": 1.0, "state": "executed", "currency": "BTC", "type": "Transfer"}'
    )
    first = loads(
        '{"uuid": "94b42d0f", "name": "bitcoin_transfer", "amount": -1.0, "currency": "BTC",'
        ' "created_at": "2013-10-22T19:12:02.000Z", "created_at_int": 1382469122, "is_trading_account": false}'
    )
    admin = loads('{"uuid": "1953cd1b", "state": "executed", "currency": "BTC", "type": "AdminOrder"}')
    second = loads(
        '{"uuid": "a940393b", "name": "account_operation", "amount": 49.38727114, "currency": "BTC",'
        ' "created_at": "2013-10-22T14:30:06.000Z", "created_at_int": 1382452206, "is_trading_account": false}'
    )
    (withdrawal,) = normalize_operations(raws(transfer, [first]))
    (credit,) = normalize_operations(raws(admin, [second]))
    assert withdrawal.kind is TransactionKind.WITHDRAWAL and withdrawal.net() == {"BTC": Decimal("-1.0")}
    assert withdrawal.timestamp == datetime(2013, 10, 22, 19, 12, 2, tzinfo=UTC)
    assert credit.kind is TransactionKind.OTHER and credit.net() == {"BTC": Decimal("49.38727114")}
    assert not credit.flags


def test_unknown_operation_and_order_types_are_other_and_flagged() -> None:
    ops = [op("t1", "trade_btc", "0.01", "BTC", 1), op("t2", "trade_currency", "-2", "EUR", 1),
           op("z1", "loyalty_bonus", "0.5", "EUR", 1)]
    txs = list(normalize_operations(raws(BUY, ops)))
    unknown = [tx for tx in txs if "unknown_type" in tx.flags]
    assert [tx.key for tx in unknown] == ["op:z1"] and unknown[0].kind is TransactionKind.OTHER
    assert "loyalty_bonus" in (unknown[0].description or "")
    stop = {"uuid": "o9", "type": "StopOrder", "state": "filled"}
    (odd,) = normalize_operations(raws(stop, ops[:2]))
    assert odd.kind is TransactionKind.OTHER and "unknown_type" in odd.flags
    assert odd.net() == {"BTC": Decimal("0.01"), "EUR": Decimal("-2")}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.00000001", "0.00000001"), (Decimal("49.38727114"), "49.38727114"), (-3, "-3"), (" 1.10 ", "1.10")],
)
def test_amounts_parse_exactly_from_numbers_and_strings(value: Any, expected: str) -> None:
    parsed = parse_amount(value, "amount")
    assert parsed == Decimal(expected) and parsed.as_tuple() == Decimal(expected).as_tuple()


@pytest.mark.parametrize("value", [0.1, None, True, "abc", "NaN", "Infinity", [], {}])
def test_inexact_or_garbage_amounts_are_bad_responses(value: Any) -> None:
    with pytest.raises(BadResponseError):
        parse_amount(value, "amount")


def test_times_fall_back_to_the_integer_timestamp() -> None:
    assert parse_time({"created_at": "garbage", "created_at_int": 10}, "x") == datetime(1970, 1, 1, 0, 0, 10, tzinfo=UTC)
    with pytest.raises(BadResponseError):
        parse_time({"created_at": None}, "x")


def test_a_record_without_its_order_is_a_bad_response() -> None:
    raw = RawTransaction(connection_id="c", account_id="a", stream="orders", source_id="s",
                         payload={"operation": {}}, fetched_at=FETCHED)
    with pytest.raises(BadResponseError):
        list(normalize_operations([raw]))


# -- the sweep ------------------------------------------------------------------------------------------


def listing(n: int, open_at: set[int] = frozenset()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """``n`` orders created at seconds 1..n, newest first."""
    return [{"uuid": f"o{i}", "at": i, "state": "active" if i in open_at else "filled"} for i in range(n, 0, -1)]


def sweep(rows: list[dict[str, Any]], calls: list[int], limit: int = 3) -> NewestFirstSweep:
    async def fetch(offset: int, size: int) -> Sequence[dict[str, Any]]:
        calls.append(offset)
        return rows[offset : offset + size]

    return NewestFirstSweep(
        fetch, limit=limit, created_us=lambda r: r["at"] * 1_000_000,
        is_open=lambda r: r["state"] == "active", key=lambda r: r["uuid"], what="/test",
    )


def test_a_full_sweep_then_incremental_ones_read_only_the_top() -> None:
    rows = listing(8)
    calls: list[int] = []
    full = asyncio.run(collect(sweep(rows, calls)))
    assert [r["uuid"] for r in full.items] == [f"o{i}" for i in range(8, 0, -1)]
    assert full.cursor == {"mark": 8_000_000} and calls == [0, 3, 6]
    rows[:0] = [{"uuid": "o10", "at": 10, "state": "filled"}, {"uuid": "o9", "at": 9, "state": "filled"}]
    calls.clear()
    again = asyncio.run(collect(sweep(rows, calls), full.cursor))
    assert [r["uuid"] for r in again.items] == ["o10", "o9", "o8"]  # the mark's own row again
    assert again.cursor == {"mark": 10_000_000} and calls == [0, 3]


def test_the_mark_stays_at_the_oldest_open_entry() -> None:
    rows = listing(6, open_at={2})
    first = asyncio.run(collect(sweep(rows, [])))
    assert first.cursor == {"mark": 2_000_000}
    rows[4]["state"] = "filled"  # o2 gets filled later
    again = asyncio.run(collect(sweep(rows, []), first.cursor))
    assert "o2" in [r["uuid"] for r in again.items] and again.cursor == {"mark": 6_000_000}


def test_a_sweep_resumes_at_its_offset_and_skips_nothing_when_rows_arrive() -> None:
    rows = listing(7)
    steps = []

    async def first_two() -> None:
        async for step in sweep(rows, []).steps(None):
            steps.append(step)
            if len(steps) == 1:
                return

    asyncio.run(first_two())
    cursor = steps[0].cursor
    assert cursor == {"stop": None, "offset": 3, "top": 7_000_000, "low": None}
    rows.insert(0, {"uuid": "o8", "at": 8, "state": "filled"})  # pushes o5 back to offset 3
    rest = asyncio.run(collect(sweep(rows, []), cursor))
    seen = {r["uuid"] for r in steps[0].items} | {r["uuid"] for r in rest.items}
    assert seen == {f"o{i}" for i in range(1, 8)}


def test_a_repeated_page_and_foreign_cursors_are_refused() -> None:
    rows = listing(6)

    async def same_page(offset: int, size: int) -> Sequence[dict[str, Any]]:
        return rows[:size]

    stuck = NewestFirstSweep(same_page, limit=3, created_us=lambda r: r["at"], is_open=lambda r: False,
                             key=lambda r: r["uuid"], what="/test")
    with pytest.raises(PaginationLoopError):
        asyncio.run(collect(stuck))
    for bad in ("x", {"offset": 3}, {"stop": None, "offset": -1, "top": None, "low": None}, {"mark": "1"}):
        with pytest.raises(InvalidCursorError):
            asyncio.run(collect(sweep(rows, []), bad))


def test_an_empty_list_yields_nothing_and_a_too_long_page_is_refused() -> None:
    assert asyncio.run(collect(sweep([], []))).steps == 0

    async def long_page(offset: int, size: int) -> Sequence[dict[str, Any]]:
        return listing(size + 1)

    greedy = NewestFirstSweep(long_page, limit=3, created_us=lambda r: r["at"], is_open=lambda r: False,
                              key=lambda r: r["uuid"], what="/test")
    with pytest.raises(BadResponseError):
        asyncio.run(collect(greedy))


def test_a_cycle_of_pages_and_conflicting_duplicates_are_refused() -> None:
    """A server serving pages A, B, A, B... (whatever the offset) is caught at the first A again, not
    only when a page repeats the one just before; two different orders under one uuid are refused."""
    rows = listing(6)

    async def cycle(offset: int, size: int) -> Sequence[dict[str, Any]]:
        return rows[:size] if (offset // size) % 2 == 0 else rows[size : 2 * size]

    endless = NewestFirstSweep(cycle, limit=3, created_us=lambda r: r["at"], is_open=lambda r: False,
                               key=lambda r: r["uuid"], what="/test")
    with pytest.raises(PaginationLoopError, match="earlier page again"):
        asyncio.run(collect(endless))

    twins = [{"uuid": "o1", "at": 1, "state": "filled"}, {"uuid": "o1", "at": 2, "state": "filled"}]

    async def conflicting(offset: int, size: int) -> Sequence[dict[str, Any]]:
        return twins if offset == 0 else []

    bad = NewestFirstSweep(conflicting, limit=3, created_us=lambda r: r["at"], is_open=lambda r: False,
                           key=lambda r: r["uuid"], what="/test")
    with pytest.raises(DuplicateRecordError):
        asyncio.run(collect(bad))


@pytest.mark.parametrize(
    ("field", "value"),
    [("uuid", None), ("uuid", "o\u202e1"), ("amount", "1e400"), ("amount", [1]), ("currency", "B\x00TC"),
     ("created_at_int", 10**30), ("name", {"x": 1})],
)
def test_hostile_operation_fields_are_typed_errors_naming_the_record(field: str, value: Any) -> None:
    op = {"uuid": "op-1", "name": "trade_btc", "amount": "0.1", "currency": "BTC", "created_at_int": 1_600_000_000}
    op[field] = value
    raw = RawTransaction(connection_id="c", account_id="a", stream="orders", source_id="op-1",
                         payload={"order": {"uuid": "ord-1", "type": "LimitOrder", "state": "filled"},
                                  "operation": op}, fetched_at=FETCHED)
    with pytest.raises(InvalidRecordError) as caught:
        list(normalize_operations([raw]))
    assert caught.value.stream == "orders" and caught.value.record == "op-1"


def test_the_confirmed_trade_operation_names_and_a_fee_rebate() -> None:
    """Paymium's own names (public clients): btc_purchase / btc_sale on both legs of a fill, the
    counter-currency leg first, then <name>_fee, and <name>_fee_incentive crediting a rebate; the
    documented lock pair (main account -300 EUR, trading account +300 EUR) moves nothing."""
    sell = {"uuid": "s1", "type": "LimitOrder", "state": "filled", "currency": "EUR", "direction": "sell",
            "price": "60000"}  # fmt: skip
    ops = [
        op("l1", "lock", "-0.02", "BTC", 100), op("l2", "lock", "0.02", "BTC", 100, trading=True),
        op("a1", "btc_sale", "600", "EUR", 700), op("a2", "btc_sale", "-0.01", "BTC", 700),
        op("a3", "btc_sale_fee", "-1.80", "EUR", 700), op("a4", "btc_sale_fee_incentive", "0.60", "EUR", 700),
        op("b1", "btc_sale", "600", "EUR", 700), op("b2", "btc_sale", "-0.01", "BTC", 700),
        op("b3", "btc_sale_fee", "-1.80", "EUR", 700),
    ]  # fmt: skip
    first, second = normalize_operations(raws(sell, ops))
    assert first.kind is TransactionKind.TRADE and first.key == "trade:a1" and second.key == "trade:b1"
    assert [(leg.asset, leg.amount, leg.role) for leg in first.legs] == [
        ("EUR", Decimal("600"), LegRole.PRINCIPAL),
        ("BTC", Decimal("-0.01"), LegRole.PRINCIPAL),
        ("EUR", Decimal("-1.80"), LegRole.FEE),
        ("EUR", Decimal("0.60"), LegRole.REBATE),
    ]
    assert "unknown_type" not in first.flags | second.flags and len(second.legs) == 3
    buy = dict(sell, uuid="p1", direction="buy")
    (bought,) = normalize_operations(raws(buy, [
        op("c1", "btc_purchase", "-600", "EUR", 800), op("c2", "btc_purchase", "0.01", "BTC", 800),
        op("c3", "btc_purchase_fee", "-0.00003", "BTC", 800),
    ]))  # fmt: skip
    assert bought.net() == {"EUR": Decimal("-600"), "BTC": Decimal("0.00997")}

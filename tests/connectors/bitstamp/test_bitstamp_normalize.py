"""Normalizing Bitstamp user transactions, matching crypto-transactions, mapping errors, balances."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from txsync import jsonutil
from txsync.connectors.bitstamp import bitstamp_error, parse_balances
from txsync.connectors.bitstamp._matching import crypto_source_id
from txsync.connectors.bitstamp._normalize import normalize_page
from txsync.errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    InvalidRecordError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
)
from txsync.models import LegRole, NormalizedTransaction, RawTransaction, TransactionKind

FETCHED = datetime(2024, 1, 1, tzinfo=UTC)


def raw(row: Any, source_id: str | None = None) -> RawTransaction:
    return RawTransaction(
        connection_id="con",
        account_id="acc",
        stream="user_transactions",
        source_id=source_id or str(row["id"]),
        payload=row,
        fetched_at=FETCHED,
    )


def crypto(kind: str, row: dict[str, Any]) -> RawTransaction:
    return raw(row, crypto_source_id(kind, row))  # type: ignore[arg-type]


def one(row: dict[str, Any]) -> NormalizedTransaction:
    (tx,) = normalize_page([raw(row)])
    return tx


def legs(tx: NormalizedTransaction) -> list[tuple[str, Decimal, LegRole]]:
    return [(leg.asset, leg.amount, leg.role) for leg in tx.legs]


# The documented example, parsed exactly as the HTTP layer does (numbers as Decimal).
TRADE = jsonutil.loads(
    '{"fee":"0.11128","eth_usdt":4451.25,"datetime":"2021-11-25 12:59:59.322000","usdt":"-22.26",'
    '"order_id":1429545880227846,"usd":0,"btc":0,"eth":"0.00500000","type":"2","id":209895701,"eur":0}'
)


def test_the_documented_trade() -> None:
    tx = one(TRADE)
    assert tx.kind == TransactionKind.TRADE and tx.key == "utx:209895701"
    assert tx.timestamp == datetime(2021, 11, 25, 12, 59, 59, 322000, tzinfo=UTC)
    assert legs(tx) == [
        ("ETH", Decimal("0.005"), LegRole.PRINCIPAL),
        ("USDT", Decimal("-22.26"), LegRole.PRINCIPAL),
        ("USDT", Decimal("-0.11128"), LegRole.FEE),
    ]
    assert tx.meta["pair"] == "ETH/USDT" and tx.meta["price"] == "4451.25"
    assert tx.meta["side"] == "buy" and tx.meta["cost"] == "22.26"
    assert tx.external_ids == {"transaction_id": "209895701", "order_id": "1429545880227846"}
    assert all(isinstance(leg.amount, Decimal) for leg in tx.legs) and not tx.flags


def test_a_sell_with_the_fee_in_the_quote_currency() -> None:
    row = {
        "id": 5,
        "datetime": "2020-01-02 03:04:05",
        "type": "2",
        "fee": "1.20",
        "btc": "-0.01000000",
        "eur": "400.00",
        "btc_eur": "40000.00",
        "eth": 0,
        "eth_eur": "0.00",
        "order_id": 9,
    }
    tx = one(row)
    assert tx.meta["side"] == "sell" and tx.meta["pair"] == "BTC/EUR"
    assert legs(tx) == [
        ("BTC", Decimal("-0.01"), LegRole.PRINCIPAL),
        ("EUR", Decimal("400.00"), LegRole.PRINCIPAL),
        ("EUR", Decimal("-1.20"), LegRole.FEE),
    ]
    assert tx.timestamp == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_trade_without_a_readable_pair_is_flagged_not_guessed() -> None:
    row = {"id": 6, "datetime": "2020-01-02 03:04:05", "type": "2", "fee": "1", "btc": "-1", "eur": "10"}
    tx = one(row)
    assert tx.kind == TransactionKind.TRADE
    assert {"pair_unknown", "fee_currency_unknown"} <= tx.flags
    assert all(leg.role == LegRole.PRINCIPAL for leg in tx.legs)


@pytest.mark.parametrize(
    ("type_code", "amounts", "fee", "kind", "expected"),
    [
        ("0", {"eur": "1000.00"}, "0", TransactionKind.FIAT_DEPOSIT, [("EUR", "1000.00", LegRole.PRINCIPAL)]),
        ("0", {"btc": "0.5"}, "0", TransactionKind.DEPOSIT, [("BTC", "0.5", LegRole.PRINCIPAL)]),
        (
            "1",
            {"eur": "-200.00"},
            "3.00",
            TransactionKind.FIAT_WITHDRAWAL,
            [("EUR", "-200.00", LegRole.PRINCIPAL), ("EUR", "-3.00", LegRole.FEE)],
        ),
        (
            "1",
            {"btc": "-0.1"},
            "0.0005",
            TransactionKind.WITHDRAWAL,
            [("BTC", "-0.1", LegRole.PRINCIPAL), ("BTC", "-0.0005", LegRole.FEE)],
        ),
        ("14", {"eur": "-500"}, "0", TransactionKind.TRANSFER, [("EUR", "-500", LegRole.PRINCIPAL)]),
        ("25", {"eth": "0.5"}, "0", TransactionKind.TRANSFER, [("ETH", "0.5", LegRole.PRINCIPAL)]),
        ("26", {"eth": "-1"}, "0", TransactionKind.TRANSFER, [("ETH", "-1", LegRole.PRINCIPAL)]),
        ("27", {"eth": "0.0035"}, "0", TransactionKind.REWARD, [("ETH", "0.0035", LegRole.REWARD)]),
        ("32", {"btc": "0.0001"}, "0", TransactionKind.REFERRAL, [("BTC", "0.0001", LegRole.REWARD)]),
        ("33", {"eur": "12.34"}, "0", TransactionKind.TRANSFER, [("EUR", "12.34", LegRole.PRINCIPAL)]),
        ("35", {"usdt": "-50"}, "0", TransactionKind.TRANSFER, [("USDT", "-50", LegRole.PRINCIPAL)]),
    ],
)
def test_every_documented_type(
    type_code: str,
    amounts: dict[str, str],
    fee: str,
    kind: TransactionKind,
    expected: list[tuple[str, str, LegRole]],
) -> None:
    row = {
        "id": 7,
        "datetime": "2022-05-06 07:08:09.100000",
        "type": type_code,
        "fee": fee,
        "usd": 0,
        "eur": 0,
        "btc": "0.0",
        "eth": 0,
        "usdt": "0.0",
        **amounts,
    }
    tx = one(row)
    assert tx.kind == kind
    assert legs(tx) == [(a, Decimal(v), r) for a, v, r in expected]
    assert "unknown_type" not in tx.flags and tx.meta["type"] == type_code


def test_unknown_types_are_kept_and_flagged() -> None:
    tx = one({"id": 8, "datetime": "2023-01-01 00:00:00", "type": "99", "fee": "0", "eur": "5", "btc": 0})
    assert tx.kind == TransactionKind.OTHER and "unknown_type" in tx.flags
    assert legs(tx) == [("EUR", Decimal(5), LegRole.PRINCIPAL)] and "99" in (tx.description or "")
    empty = one({"id": 9, "datetime": "2023-01-01 00:00:00", "type": "98", "fee": "0", "eur": 0})
    assert {"unknown_type", "no_amount"} <= empty.flags and legs(empty) == [
        ("EUR", Decimal(0), LegRole.PRINCIPAL)
    ]


def test_hostile_rows_fail_loudly() -> None:
    with pytest.raises(BadResponseError):
        one({"id": 1, "datetime": "yesterday", "type": "0", "eur": "1"})
    with pytest.raises(BadResponseError):
        one({"id": "x1", "datetime": "2023-01-01 00:00:00", "type": "0", "eur": "1"})


# -- matching crypto-transactions ----------------------------------------------------------------------


def deposit(ident: int, when: str, amount: str = "0.25", fee: str = "0") -> dict[str, Any]:
    return {"id": ident, "datetime": when, "type": "0", "fee": fee, "btc": amount, "eur": 0}


def withdrawal(ident: int, when: str, amount: str, fee: str) -> dict[str, Any]:
    return {"id": ident, "datetime": when, "type": "1", "fee": fee, "btc": f"-{amount}", "eur": 0}


def chain(amount: str, when: datetime, txid: str) -> dict[str, Any]:
    return {
        "currency": "BTC",
        "amount": Decimal(amount),
        "datetime": int(when.timestamp()),
        "txid": txid,
        "destinationAddress": f"bc1q{txid}",
        "network": "bitcoin",
    }


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2022, 3, 4, hour, minute, tzinfo=UTC)


def test_a_unique_candidate_gives_the_txid_and_address() -> None:
    page = [raw(deposit(1, "2022-03-04 10:00:00")), crypto("deposit", chain("0.25", at(9, 40), "aa"))]
    (tx,) = normalize_page(page)
    assert tx.external_ids["tx_hash"] == "aa" and tx.external_ids["address"] == "bc1qaa"
    assert tx.meta["network"] == "bitcoin" and not tx.flags


def test_a_withdrawal_matches_its_amount_net_or_gross_of_the_fee() -> None:
    page = [
        raw(withdrawal(2, "2022-03-04 10:00:00", "0.1", "0.0005")),
        crypto("withdrawal", chain("0.0995", at(10, 30), "bb")),
    ]
    (tx,) = normalize_page(page)
    assert tx.external_ids["tx_hash"] == "bb"


def test_kind_asset_and_window_must_agree() -> None:
    page = [
        raw(deposit(1, "2022-03-04 10:00:00")),
        crypto("withdrawal", chain("0.25", at(10), "wrong-kind")),
        crypto("deposit", {**chain("0.25", at(10), "wrong-asset"), "currency": "ETH"}),
        crypto("deposit", chain("0.25", at(11, 1), "too-late")),
        crypto("deposit", chain("0.26", at(10), "wrong-amount")),
    ]
    (tx,) = normalize_page(page)
    assert "tx_hash" not in tx.external_ids and "crypto_unmatched" in tx.flags


def test_identical_deposits_are_ambiguous_never_guessed() -> None:
    page = [
        raw(deposit(1, "2022-03-04 10:00:00")),
        raw(deposit(2, "2022-03-04 10:20:00")),
        crypto("deposit", chain("0.25", at(9, 55), "t1")),
        crypto("deposit", chain("0.25", at(10, 15), "t2")),
    ]
    first, second = normalize_page(page)
    for tx in (first, second):
        assert "tx_hash" not in tx.external_ids and "crypto_match_ambiguous" in tx.flags
        assert sorted(c["txid"] for c in tx.meta["crypto_candidates"]) == ["t1", "t2"]


def test_two_movements_sharing_one_candidate_are_ambiguous() -> None:
    page = [
        raw(deposit(1, "2022-03-04 10:00:00")),
        raw(deposit(2, "2022-03-04 10:30:00")),
        crypto("deposit", chain("0.25", at(10, 10), "only")),
    ]
    assert all("crypto_match_ambiguous" in tx.flags for tx in normalize_page(page))


def test_crypto_rows_make_no_transaction_and_fiat_needs_no_match() -> None:
    page = [
        raw({"id": 3, "datetime": "2022-03-04 10:00:00", "type": "0", "fee": "0", "eur": "10"}),
        crypto("deposit", chain("0.25", at(10), "x")),
    ]
    (tx,) = normalize_page(page)
    assert tx.kind == TransactionKind.FIAT_DEPOSIT and not tx.flags


# -- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (403, {"status": "error", "reason": "Invalid signature", "code": "API0005"}, AuthError),
        (403, {"status": "error", "reason": "API key not found", "code": "API0001"}, AuthError),
        (403, {"status": "error", "reason": "IP address not allowed", "code": "API0002"}, AuthError),
        (403, {"status": "error", "reason": "Invalid nonce", "code": "API0004"}, TransientError),
        (403, {"status": "error", "reason": "Timestamp too old", "code": "API0017"}, BadRequestError),
        (
            400,
            {
                "status": "error",
                "reason": "Request rejected due to exceeded rate limit.",
                "response_code": "400.002",
            },
            RateLimitedError,
        ),
        (200, {"error": "No permission found"}, PermissionDeniedError),
        (403, {"error": "No permission found"}, PermissionDeniedError),
        (
            400,
            {
                "status": "error",
                "reason": {"limit": ["Ensure this value is between 1 and 1000."]},
                "response_code": "400.011",
            },
            BadRequestError,
        ),
        (503, {"status": "error", "reason": "Maintenance"}, TransientError),
    ],
)
def test_error_bodies_map_onto_the_taxonomy(
    status: int, body: dict[str, Any], error: type[Exception]
) -> None:
    mapped = bitstamp_error(status, body)
    assert type(mapped) is error
    assert mapped is not None and "Bitstamp" in str(mapped)


def test_success_bodies_are_not_errors_and_secrets_are_redacted() -> None:
    assert bitstamp_error(200, [{"id": 1}]) is None
    assert bitstamp_error(200, {"btc_balance": "1.0"}) is None
    assert bitstamp_error(200, {"deposits": [], "withdrawals": []}) is None
    mapped = bitstamp_error(
        403, {"status": "error", "reason": "bad key sekrit-123456", "code": "API0008"}, ("sekrit-123456",)
    )
    assert mapped is not None and "sekrit-123456" not in str(mapped)


def test_balances_in_both_shapes() -> None:
    old = parse_balances(
        {
            "btc_balance": "1.5",
            "btc_reserved": "0.5",
            "btc_available": "1.0",
            "eur_balance": "0.00",
            "btceur_fee": "0.3",
        }
    )
    assert [(b.asset, b.amount, b.locked) for b in old] == [("BTC", Decimal("1.5"), Decimal("0.5"))]
    new = parse_balances([{"currency": "eth", "total": "2", "available": "2", "reserved": "0"}])
    assert [(b.asset, b.amount, b.locked) for b in new] == [("ETH", Decimal(2), None)]
    with pytest.raises(BadResponseError):
        parse_balances("nope")


def test_crypto_transactions_served_again_is_a_loop_not_200_pages_silently() -> None:
    """crypto-transactions is paged by offset inside the connector: a server answering the same
    full page for every offset is a PaginationLoopError (it used to read 200 pages and stop ok)."""
    import asyncio

    import httpx

    from txsync.connector import ConnectorContext
    from txsync.connectors.bitstamp import Bitstamp
    from txsync.errors import PaginationLoopError
    from txsync.models import Credential
    from txsync.testing.harness import NO_SLEEP_RETRY

    page = {
        "deposits": [
            {"currency": "BTC", "amount": f"0.{n:08d}", "datetime": "2021-01-02 03:04:05", "txid": f"t{n}"}
            for n in range(1, 1001)
        ],
        "withdrawals": [],
    }
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.content.decode())
        return httpx.Response(200, content=jsonutil.dumps(page).encode(),
                              headers={"Content-Type": "application/json"})

    context = ConnectorContext(
        connection_id="c", account_id="a",
        credential=Credential(connector_id="bitstamp", secrets={"api_key": "k" * 32, "api_secret": "s" * 32}),
        options={"verify_response_signature": "off"}, transport=httpx.MockTransport(handle), retry=NO_SLEEP_RETRY,
    )

    async def read() -> None:
        async with Bitstamp(context) as connector:
            await connector.crypto_rows()

    with pytest.raises(PaginationLoopError, match="repeats an earlier one"):
        asyncio.run(read())
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("id", None, "field 'id' is missing"),
        ("id", "2\u202e1", "not an id of ASCII digits"),
        ("id", [1], "not an integer id"),
        ("type", "two", "field 'type' is 'two', not an integer"),
        ("btc", "1e400", "field 'btc' is not a usable amount"),
        ("btc", [1], "field 'btc' is not a usable amount"),
        ("eur\u202e", "1.0", "is not a currency or pair key"),
        ("datetime", "2021-13-45 99:99:99", "not a Bitstamp datetime"),
        ("fee", "NaN", "field 'fee' is not a usable amount"),
    ],
)
def test_hostile_fields_are_typed_errors_naming_the_row(field: str, value: Any, problem: str) -> None:
    row = {**TRADE, field: value}
    with pytest.raises(InvalidRecordError, match=re.escape(problem)) as caught:
        normalize_page([raw(row, "209895701")])
    assert caught.value.stream == "user_transactions"


def test_a_pair_key_names_a_currency_outside_the_snapshot_and_unknown_keys_stay_out() -> None:
    row = {
        "id": 7, "datetime": "2024-05-01 10:00:00", "type": "2", "fee": "0.10", "order_id": 9,
        "zzq": "150.0", "eur": "-30.00", "zzq_eur": "0.2", "usd": 0, "btc": 0,
        "price": "0.2", "trade-uti": "5230012345", "volume": 0,
    }
    tx = one(row)
    assert legs(tx) == [
        ("EUR", Decimal("-30.00"), LegRole.PRINCIPAL),
        ("ZZQ", Decimal("150.0"), LegRole.PRINCIPAL),
        ("EUR", Decimal("-0.10"), LegRole.FEE),
    ]
    assert tx.meta["pair"] == "ZZQ/EUR" and tx.meta["side"] == "buy"
    assert tx.meta["unknown_keys"] == {"price": "0.2", "trade-uti": "5230012345"}
    assert tx.flags == {"unknown_keys"}


def test_a_row_of_only_unknown_keys_keeps_a_zero_leg_of_a_currency_key() -> None:
    tx = one({"id": 8, "datetime": "2024-05-01 10:00:00", "type": "0", "fee": "0", "eur": 0, "rate": "3"})
    assert legs(tx) == [("EUR", Decimal(0), LegRole.PRINCIPAL)]
    assert tx.flags >= {"unknown_keys", "no_amount"} and tx.meta["unknown_keys"] == {"rate": "3"}


def test_without_unknown_keys_nothing_is_flagged() -> None:
    assert "unknown_keys" not in one(TRADE).flags and "unknown_keys" not in one(TRADE).meta


def test_a_currency_list_entry_kept_in_the_page_makes_a_code_a_currency() -> None:
    row = {"id": 9, "datetime": "2024-05-01 10:00:00", "type": "0", "fee": "0", "eur": 0, "zzx": "40.5"}
    listed = raw({"currency": "ZZX", "name": "Zzx", "type": "crypto", "decimals": 8}, "currency:zzx")
    (alone,) = normalize_page([raw(row)])
    assert "unknown_keys" in alone.flags and alone.net() == {}
    with_list = normalize_page([raw(row), listed])
    assert len(with_list) == 1, "a currency-list entry makes no transaction"
    assert legs(with_list[0]) == [("ZZX", Decimal("40.5"), LegRole.PRINCIPAL)]
    assert with_list[0].kind is TransactionKind.DEPOSIT and "unknown_keys" not in with_list[0].flags

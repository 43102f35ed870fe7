"""Normalization of every Binance stream."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from txsync.connectors.binance._normalize import normalize_raws, parse_time
from txsync.errors import InvalidRecordError
from txsync.models import LegRole, NormalizedTransaction, RawTransaction, TransactionKind, TransactionStatus

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def norm(stream: str, payload: Any, source_id: str = "1") -> list[NormalizedTransaction]:
    raw = RawTransaction(
        connection_id="c", account_id="a", stream=stream, source_id=source_id, payload=payload, fetched_at=NOW
    )
    return list(normalize_raws(stream, [raw]))


def legs(tx: NormalizedTransaction) -> list[tuple[str, Decimal, LegRole]]:
    return [(leg.asset, leg.amount, leg.role) for leg in tx.legs]


TRADE = {
    "symbol": "BNBBTC",
    "id": 28457,
    "orderId": 100234,
    "orderListId": -1,
    "price": "4.00000100",
    "qty": "12.00000000",
    "quoteQty": "48.000012",
    "commission": "10.10000000",
    "commissionAsset": "BNB",
    "time": 1499865549590,
    "isBuyer": True,
    "isMaker": False,
    "isBestMatch": True,
    "baseAsset": "BNB",
    "quoteAsset": "BTC",
}


def test_buy_trade_has_base_quote_and_fee_legs() -> None:
    [tx] = norm("trades", TRADE)
    assert tx.key == "trade:BNBBTC:28457" and tx.kind == TransactionKind.TRADE
    assert legs(tx) == [
        ("BNB", Decimal(12), LegRole.PRINCIPAL),
        ("BTC", Decimal("-48.000012"), LegRole.PRINCIPAL),
        ("BNB", Decimal("-10.1"), LegRole.FEE),
    ]
    assert tx.external_ids == {"trade_id": "28457", "order_id": "100234"}
    assert tx.timestamp == datetime(2017, 7, 12, 13, 19, 9, 590000, tzinfo=UTC)


def test_sell_against_fiat_carries_the_fiat_amount() -> None:
    row = dict(
        TRADE,
        symbol="BTCEUR",
        baseAsset="BTC",
        quoteAsset="EUR",
        qty="0.5",
        quoteQty="15000.5",
        price="30001",
        isBuyer=False,
        commission="15.0005",
        commissionAsset="EUR",
    )
    [tx] = norm("trades", row)
    assert legs(tx)[:2] == [
        ("BTC", Decimal("-0.5"), LegRole.PRINCIPAL),
        ("EUR", Decimal("15000.5"), LegRole.PRINCIPAL),
    ]
    assert tx.meta["fiat_amount"] == "15000.5" and tx.meta["fiat_currency"] == "EUR"


def test_trade_without_side_is_kept_as_unknown() -> None:
    [tx] = norm("trades", {k: v for k, v in TRADE.items() if k != "isBuyer"})
    assert tx.kind == TransactionKind.OTHER and "unknown_type" in tx.flags


def test_same_millisecond_fills_are_distinct() -> None:
    one = norm("trades", TRADE, "BNBBTC:28457")[0]
    two = norm("trades", dict(TRADE, id=28458), "BNBBTC:28458")[0]
    assert one.timestamp == two.timestamp and one.id != two.id


@pytest.mark.parametrize(
    ("status", "expected"),
    [(1, "confirmed"), (0, "pending"), (6, "confirmed"), (8, "pending"), (2, "failed"), (7, "failed")],
)
def test_deposit_status(status: int, expected: str) -> None:
    row = {
        "id": "769800519366885376",
        "amount": "0.001",
        "coin": "BNB",
        "network": "BNB",
        "status": status,
        "txId": "98A3",
        "insertTime": 1661493146000,
        "walletType": 1,
    }
    [tx] = norm("deposits", row)
    assert tx.status == expected and tx.kind == TransactionKind.DEPOSIT
    assert tx.legs[0].wallet == "funding" and tx.external_ids["tx_hash"] == "98A3"


def test_unknown_deposit_status_is_pending_and_flagged() -> None:
    row = {"id": "1", "amount": "1", "coin": "BTC", "status": 42, "insertTime": 1661493146000}
    [tx] = norm("deposits", row)
    assert tx.status == TransactionStatus.PENDING and "unknown_status" in tx.flags


def test_withdrawal_has_fee_leg_and_tx_id() -> None:
    row = {
        "id": "b6ae22b3aa844210a7041aee7589627c",
        "amount": "8.91000000",
        "transactionFee": "0.004",
        "coin": "USDT",
        "status": 6,
        "address": "0x94df",
        "txId": "0xb5ef",
        "applyTime": "2019-10-12 11:12:02",
        "network": "ETH",
    }
    [tx] = norm("withdrawals", row)
    assert legs(tx) == [
        ("USDT", Decimal("-8.91"), LegRole.PRINCIPAL),
        ("USDT", Decimal("-0.004"), LegRole.FEE),
    ]
    assert tx.timestamp == datetime(2019, 10, 12, 11, 12, 2, tzinfo=UTC)
    assert tx.external_ids["tx_hash"] == "0xb5ef" and tx.status == "confirmed"
    assert norm("withdrawals", dict(row, status=1))[0].status == "failed"
    assert norm("withdrawals", dict(row, status=4))[0].status == "pending"


def test_dust_turns_several_assets_into_bnb_with_the_charge() -> None:
    row = {
        "operateTime": 1615985535000,
        "totalTransferedAmount": "0.00132256",
        "totalServiceChargeAmount": "0.00002699",
        "transId": 45178372831,
        "userAssetDribbletDetails": [
            {
                "transId": 4359321,
                "serviceChargeAmount": "0.000009",
                "amount": "0.0009",
                "operateTime": 1615985535000,
                "transferedAmount": "0.000441",
                "fromAsset": "USDT",
            },
            {
                "transId": 4359322,
                "serviceChargeAmount": "0.00001799",
                "amount": "0.0058",
                "operateTime": 1615985535000,
                "transferedAmount": "0.00088156",
                "fromAsset": "ADA",
            },
        ],
    }
    [tx] = norm("dust", row)
    assert tx.kind == TransactionKind.DUST_CONVERSION and tx.key == "dust:45178372831"
    assert tx.net() == {"USDT": Decimal("-0.0009"), "ADA": Decimal("-0.0058"), "BNB": Decimal("0.00132256")}
    assert ("BNB", Decimal("-0.00002699"), LegRole.FEE) in legs(tx)


def test_convert() -> None:
    row = {
        "quoteId": "f3b9",
        "orderId": 940708407462087195,
        "orderStatus": "SUCCESS",
        "fromAsset": "USDT",
        "fromAmount": "20",
        "toAsset": "BNB",
        "toAmount": "0.06154036",
        "ratio": "0.00307702",
        "inverseRatio": "324.99",
        "createTime": 1624248872184,
    }
    [tx] = norm("convert", row)
    assert tx.kind == TransactionKind.CONVERT and tx.net() == {
        "USDT": Decimal(-20),
        "BNB": Decimal("0.06154036"),
    }
    assert norm("convert", dict(row, orderStatus="FAIL"))[0].status == "failed"
    assert norm("convert", dict(row, fromAsset="EUR"))[0].meta["fiat_currency"] == "EUR"


def test_fiat_order_and_card_payment() -> None:
    order = {
        "orderNo": "7d76",
        "fiatCurrency": "EUR",
        "indicatedAmount": "101.5",
        "amount": "100",
        "totalFee": "1.5",
        "method": "BankAccount",
        "status": "Successful",
        "createTime": 1626144956000,
        "transactionType": "0",
    }
    [deposit] = norm("fiat_orders", order)
    assert deposit.kind == TransactionKind.FIAT_DEPOSIT and deposit.net() == {"EUR": Decimal("98.5")}
    assert norm("fiat_orders", dict(order, transactionType="1"))[0].kind == TransactionKind.FIAT_WITHDRAWAL
    assert norm("fiat_orders", dict(order, status="Processing"))[0].status == "pending"
    payment = {
        "orderNo": "353f",
        "sourceAmount": "20.0",
        "fiatCurrency": "EUR",
        "obtainAmount": "0.0006",
        "cryptoCurrency": "BTC",
        "totalFee": "0.4",
        "price": "32000",
        "status": "Completed",
        "paymentMethod": "Card",
        "createTime": 1624529919000,
        "transactionType": "0",
    }
    [buy] = norm("fiat_payments", payment)
    assert buy.kind == TransactionKind.TRADE and buy.net() == {"BTC": Decimal("0.0006")}
    assert buy.meta["fiat_amount"] == "20.0" and buy.meta["fiat_currency"] == "EUR"
    assert ("EUR", Decimal("-0.4"), LegRole.FEE) in legs(buy)
    [cash] = norm("fiat_payments", dict(payment, paymentMethod="Cash Balance"))
    assert cash.net() == {"EUR": Decimal("-20.0"), "BTC": Decimal("0.0006")}


@pytest.mark.parametrize(
    ("info", "kind"),
    [
        ("BNB Vault", "reward"),
        ("Launchpool", "distribution"),
        ("ETH 2.0 Staking", "reward"),
        ("AXS airdrop", "airdrop"),
        ("Flexible Savings", "interest"),
    ],
)
def test_dividend_kinds(info: str, kind: str) -> None:
    row = {
        "id": 242006910,
        "amount": "10.00000000",
        "asset": "BHFT",
        "divTime": 1563189166000,
        "enInfo": info,
        "tranId": 2968885920,
        "direction": 1,
    }
    [tx] = norm("dividends", row)
    assert tx.kind == kind and tx.net() == {"BHFT": Decimal(10)}


def test_unknown_dividend_is_kept_as_other() -> None:
    row = {
        "id": 1,
        "amount": "3",
        "asset": "BNB",
        "divTime": 1563189166000,
        "enInfo": "Mystery Box Reward",
        "tranId": 2,
    }
    [tx] = norm("dividends", row)
    assert tx.kind == TransactionKind.OTHER and "unknown_type" in tx.flags and tx.net() == {"BNB": Decimal(3)}


def test_earn_rewards() -> None:
    [flex] = norm(
        "earn_flexible",
        {
            "asset": "USDT",
            "rewards": "0.00687654",
            "projectId": "USDT001",
            "type": "REALTIME",
            "time": 1577233562000,
        },
    )
    assert (
        flex.kind == TransactionKind.INTEREST
        and flex.key == "earn_flexible:1577233562000:USDT:USDT001:REALTIME"
    )
    [locked] = norm(
        "earn_locked",
        {
            "positionId": 123,
            "time": 1646182276000,
            "asset": "AXS",
            "lockPeriod": "30",
            "amount": "2.00",
            "type": "Locked Rewards",
        },
    )
    assert locked.kind == TransactionKind.REWARD and locked.net() == {"AXS": Decimal(2)}


def test_futures_income() -> None:
    base = {
        "symbol": "BTCUSDT",
        "asset": "USDT",
        "info": "",
        "time": 1570636800000,
        "tranId": 9689322392,
        "tradeId": "2059192",
    }
    [pnl] = norm("futures_income", dict(base, incomeType="REALIZED_PNL", income="-0.37500000"))
    assert pnl.kind == TransactionKind.REALIZED_PNL and pnl.legs[0].wallet == "futures:usdm"
    [transfer] = norm("futures_income", dict(base, symbol="", incomeType="TRANSFER", income="100"))
    assert transfer.kind == TransactionKind.TRANSFER and transfer.net() == {}
    [odd] = norm("futures_income", dict(base, incomeType="SOMETHING_NEW", income="1"))
    assert odd.kind == TransactionKind.OTHER and "unknown_type" in odd.flags


def test_swap_and_margin() -> None:
    [swap] = norm(
        "liquidity_swaps",
        {
            "swapId": 2314,
            "swapTime": 1565770342148,
            "status": 1,
            "quoteAsset": "USDT",
            "baseAsset": "BUSD",
            "quoteQty": "300000",
            "baseQty": "299975",
            "price": "1.00008334",
            "fee": "120",
        },
    )
    assert swap.net() == {"USDT": Decimal(-300120), "BUSD": Decimal(299975)}
    [interest] = norm(
        "margin_interest",
        {
            "txId": 1352286576452864727,
            "interestAccuredTime": 1672160400000,
            "asset": "USDT",
            "principal": "45.3313",
            "interest": "0.00024995",
            "interestRate": "0.00013233",
            "type": "ON_BORROW",
        },
    )
    assert interest.kind == TransactionKind.FEE and interest.legs[0].role == LegRole.INTEREST
    [trade] = norm("margin_trades", dict(TRADE, isIsolated=False))
    assert trade.key == "margin_trade:BNBBTC:28457" and trade.legs[0].wallet == "margin"


def test_a_malformed_record_is_a_typed_error_naming_it_never_kept() -> None:
    with pytest.raises(InvalidRecordError) as caught:
        norm("withdrawals", {"coin": "BTC", "amount": "1", "status": 6})  # no id, no applyTime
    assert str(caught.value) == "withdrawals record '1': field 'id' is missing"
    assert (caught.value.stream, caught.value.record, caught.value.field) == ("withdrawals", "1", "id")


@pytest.mark.parametrize(
    ("stream", "field", "value"),
    [
        ("trades", "qty", "1e400"),
        ("trades", "qty", "NaN"),
        ("trades", "id", None),
        ("trades", "id", [1]),
        ("trades", "id", "28\x0057"),
        ("trades", "id", "\u0662\u0668"),
        ("trades", "symbol", "BNB\u202eBTC"),
        ("trades", "baseAsset", {"a": 1}),
        ("trades", "time", "yesterday"),
        ("trades", "time", 10**30),
        ("trades", "commission", [1, 2]),
        ("trades", "orderId", "x" * 1000),
    ],
)
def test_hostile_fields_are_typed_errors_naming_stream_record_and_field(
    stream: str, field: str, value: Any
) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        norm(stream, dict(TRADE, **{field: value}), source_id="BNBBTC:28457")
    assert caught.value.stream == stream and caught.value.record == "BNBBTC:28457"
    assert caught.value.field == field
    assert len(str(caught.value)) < 400


def test_a_deposit_of_1e400_is_refused_with_the_record_named() -> None:
    row = {"id": "d1", "coin": "BTC", "amount": "1e400", "status": 1, "insertTime": 1661493146000}
    with pytest.raises(InvalidRecordError, match=r"deposits record 'd1': field 'amount' is not a usable amount"):
        norm("deposits", row, source_id="d1")


def test_parse_time_forms() -> None:
    assert parse_time(1661493146000) == parse_time("1661493146000") == parse_time("2022-08-26 05:52:26")

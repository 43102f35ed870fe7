"""The valuation rules over ledger transactions, with prices from a table (no HTTP)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from helpers.valuation import NOW, FxTable, TableSource, context, ledger_tx
from txsync.models import TransactionKind
from txsync.valuation import (
    InMemoryPriceCache,
    PricePolicy,
    TransactionValuation,
    ValuationMethod,
    ValuationStatus,
    Valuator,
)

TABLE = {
    ("coin:bitcoin", "fiat:EUR"): "25000",
    ("coin:ethereum", "coin:bitcoin"): "0.06",
    ("coin:binancecoin", "fiat:EUR"): "300",
    ("coin:tether", "fiat:EUR"): "0.92",
}
FX = {("fiat:EUR", "fiat:USD"): "1.25", ("fiat:EUR", "fiat:GBP"): "0.8"}


def value(*txs: Any, connector: str = "binance", table: dict[tuple[str, str], str] | None = None,
          base: str = "EUR") -> list[TransactionValuation]:  # fmt: skip
    market = TableSource(context(TABLE if table is None else table))
    fx = FxTable(context(FX))
    valuator = Valuator(
        PricePolicy([market], [fx]), InMemoryPriceCache(), base_currency=base, clock=lambda: NOW
    )
    run = asyncio.run(valuator.value(txs, connector_of=lambda _a: connector))
    return run.valuations


def test_a_buy_with_a_fiat_leg_is_valued_exactly_from_it() -> None:
    (v,) = value(ledger_tx(("BTC", "0.5"), ("EUR", "-12000.10"), ("EUR", "-12", "fee")))
    assert (v.status, v.method, v.amount, v.currency) == (ValuationStatus.VALUED, ValuationMethod.FIAT_LEG,
                                                          Decimal("12000.10"), "EUR")  # fmt: skip
    btc, eur, fee = v.legs
    assert btc.amount == Decimal("12000.10") and btc.derived and btc.method is ValuationMethod.FIAT_LEG
    assert btc.unit_price == Decimal("24000.2")  # follows from the fiat leg, not from the market (25000)
    assert (eur.amount, eur.method, fee.amount) == (Decimal("-12000.10"), ValuationMethod.FIAT, Decimal(-12))
    assert v.fees == Decimal(12) and v.source is None


def test_a_sale_for_fiat_and_a_card_top_up_passing_through() -> None:
    sale, card = value(
        ledger_tx(("ETH", "-2"), ("EUR", "3000"), ("EUR", "-3", "fee"), tx_id="sale"),
        # a card purchase: the card's money comes in and goes out; only what paid for the BTC is its price
        ledger_tx(
            ("EUR", "166"), ("EUR", "-162.68"), ("EUR", "-3.32", "fee"), ("BTC", "0.00585648"), tx_id="card"
        ),
    )
    assert (sale.method, sale.amount) == (ValuationMethod.FIAT_LEG, Decimal(3000))
    assert sale.legs[0].amount == Decimal(-3000)
    assert (card.method, card.amount) == (ValuationMethod.FIAT_LEG, Decimal("162.68"))
    assert card.legs[3].amount == Decimal("162.68")


def test_a_fiat_leg_in_another_currency_is_converted_by_the_days_fx_rate() -> None:
    (v,) = value(ledger_tx(("BTC", "1"), ("USD", "-30000")))
    assert v.method is ValuationMethod.FIAT_LEG
    assert v.amount == Decimal(24000)  # 30000 USD / 1.25 USD per EUR
    assert v.fx_rate == Decimal("0.8") and v.conversions[0].source == "fxtable"


def test_a_crypto_trade_is_valued_from_the_leg_priced_best_and_the_others_follow() -> None:
    (v,) = value(
        ledger_tx(("ETH", "2"), ("BTC", "-0.12"), ("BTC", "-0.0001", "fee"), ("BNB", "-0.01", "fee"))
    )
    assert (v.method, v.amount) == (ValuationMethod.MARKET, Decimal("3000.00"))  # 2 ETH x 0.06 BTC x 25000
    eth, btc, btc_fee, bnb_fee = v.legs
    assert eth.price is not None and eth.price.pair == "coin:ethereum/coin:bitcoin"
    assert v.source == "table" and v.fx_rate == Decimal(25000)  # the ETH price was in BTC, converted on
    assert btc.derived and btc.amount == Decimal("-3000.00") and btc.unit_price == Decimal(25000)
    assert btc_fee.amount == Decimal("-2.5000") and btc_fee.derived  # same unit price as its side
    assert (
        bnb_fee.method is ValuationMethod.MARKET
        and bnb_fee.amount == Decimal("-3.00")
        and not bnb_fee.derived
    )


def test_stablecoins_are_priced_by_the_market_never_assumed_at_one() -> None:
    (v,) = value(ledger_tx(("USDT", "100"), kind=TransactionKind.REWARD))
    assert v.amount == Decimal("92.00") and v.legs[0].unit_price == Decimal("0.92")


def test_the_users_override_always_wins_and_is_converted_when_in_another_currency() -> None:
    plain, converted = value(
        ledger_tx(("BTC", "1"), ("EUR", "-99"), tx_id="a", fiat_value=Decimal("2500"), fiat_currency="EUR"),
        ledger_tx(
            ("BTC", "1"),
            kind=TransactionKind.DEPOSIT,
            tx_id="b",
            fiat_value=Decimal("100"),
            fiat_currency="GBP",
        ),
    )
    assert (plain.status, plain.method, plain.amount) == (
        ValuationStatus.OVERRIDE,
        ValuationMethod.OVERRIDE,
        2500,
    )
    assert plain.legs[0].status is ValuationStatus.OVERRIDE and plain.legs[0].amount == 2500
    assert converted.status is ValuationStatus.OVERRIDE and converted.amount == Decimal(125)  # 100 GBP / 0.8


def test_an_imported_value_comes_before_the_fiat_leg_and_the_market() -> None:
    meta = {"value": {"amount": "1234.5", "currency": "EUR"}}
    (v,) = value(ledger_tx(("BTC", "0.1"), ("EUR", "-1000"), meta=meta))
    assert (v.method, v.amount, v.status) == (
        ValuationMethod.IMPORTED,
        Decimal("1234.5"),
        ValuationStatus.VALUED,
    )
    # a malformed imported value is ignored, the next rule applies
    (w,) = value(
        ledger_tx(("BTC", "0.1"), ("EUR", "-1000"), meta={"value": {"amount": "lots", "currency": "EUR"}})
    )
    assert w.method is ValuationMethod.FIAT_LEG


@pytest.mark.parametrize("flag", ["spam", "spam_suspect"])
def test_spam_is_unpriceable_with_the_reason_never_zero(flag: str) -> None:
    token = "eip155:1/erc20:0x00000000000000000000000000000000000000aa"
    (v,) = value(ledger_tx((token, "1000000"), ("ETH", "-0.001", "fee"), kind=TransactionKind.AIRDROP,
                           flags=frozenset({flag})), connector="evm",
                 table={**TABLE, ("coin:ethereum", "fiat:EUR"): "2000"})  # fmt: skip
    assert v.status is ValuationStatus.UNPRICEABLE and v.amount is None
    assert v.reason is not None and "spam" in v.reason
    assert v.legs[0].amount is None and v.legs[0].status is ValuationStatus.UNPRICEABLE
    assert v.legs[1].amount == Decimal("-2.000")  # the fee in the chain's own coin still has a value


def test_unknown_assets_and_nfts_are_unpriceable_and_reported() -> None:
    nft = "eip155:1/erc721:0x00000000000000000000000000000000000000bb/7"
    unknown, art = value(
        ledger_tx(("XYZ", "5"), kind=TransactionKind.DEPOSIT, tx_id="u"),
        ledger_tx((nft, "1"), kind=TransactionKind.DEPOSIT, tx_id="n"),
        connector="evm",
    )
    assert unknown.status is ValuationStatus.UNPRICEABLE and "unknown asset 'XYZ'" in (unknown.reason or "")
    assert art.status is ValuationStatus.UNPRICEABLE and "NFT" in (art.reason or "")


def test_an_asset_no_source_prices_is_unpriceable_with_every_sources_reason() -> None:
    (v,) = value(ledger_tx(("DOGE", "5"), kind=TransactionKind.REWARD))
    assert v.status is ValuationStatus.UNPRICEABLE and v.amount is None
    assert "table: no coin:dogecoin" in (v.reason or "")


def test_a_fiat_only_transaction_is_its_money() -> None:
    deposit, withdrawal = value(
        ledger_tx(("EUR", "1847"), ("EUR", "-1.5", "fee"), kind=TransactionKind.FIAT_DEPOSIT, tx_id="d"),
        ledger_tx(("USD", "-125"), ("USD", "-1.25", "fee"), kind=TransactionKind.FIAT_WITHDRAWAL, tx_id="w"),
    )
    assert (deposit.method, deposit.amount, deposit.fees) == (
        ValuationMethod.FIAT_LEG,
        Decimal(1847),
        Decimal("1.5"),
    )
    assert withdrawal.amount == Decimal(100) and withdrawal.legs[1].amount == Decimal("-1.000")


def test_a_trade_with_several_assets_on_both_sides_values_each_leg_at_its_own_price() -> None:
    (v,) = value(ledger_tx(("BTC", "0.1"), ("BNB", "1"), ("ETH", "-1"), ("USDT", "-10")))
    assert v.method is ValuationMethod.MARKET and v.amount == Decimal("2800.00")  # 2500 + 300 received
    assert [leg.derived for leg in v.legs] == [False, False, False, False]


def test_valuations_round_trip_through_json_and_expose_the_fixed_names() -> None:
    (v,) = value(ledger_tx(("ETH", "2"), ("BTC", "-0.12"), ("BNB", "-0.01", "fee")))
    data = v.value_json()
    assert list(data)[:5] == ["amount", "currency", "status", "method", "source"]
    assert data["amount"] == "3000.00" and data["status"] == "valued" and data["method"] == "market"
    assert TransactionValuation.from_dict(v.to_dict()) == v


def test_a_named_spam_token_is_unpriceable_and_never_marks_the_other_legs() -> None:
    spam = "eip155:1/erc20:0x00000000000000000000000000000000000000aa"
    flags = frozenset({"spam_suspect", f"spam_asset:{spam}"})  # a part of only spam, merged with a swap
    (v,) = value(ledger_tx(("ETH", "-0.5"), (spam, "1000000"), ("ETH", "-0.001", "fee"),
                           kind=TransactionKind.TRADE, flags=flags), connector="evm",
                 table={**TABLE, ("coin:ethereum", "fiat:EUR"): "2000"})  # fmt: skip
    assert v.legs[1].amount is None and v.legs[1].status is ValuationStatus.UNPRICEABLE
    assert "spam-flagged token" in (v.legs[1].reason or "")
    assert v.legs[0].amount == Decimal("-1000.0") and v.legs[2].amount == Decimal("-2.000")

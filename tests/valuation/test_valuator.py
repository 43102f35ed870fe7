"""The Valuator: batching, passes kept in a store, pending retried, overrides kept, FX-only conversion."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from helpers.valuation import NOW, T0, FxTable, TableSource, context, ledger_tx
from txsync.models import TransactionKind
from txsync.valuation import (
    InMemoryPriceCache,
    InMemoryValuationStore,
    PricePolicy,
    ValuationMethod,
    ValuationStatus,
    Valuator,
)

TABLE = {("coin:bitcoin", "fiat:EUR"): "25000", ("coin:binancecoin", "fiat:EUR"): "300"}
FX = {("fiat:EUR", "fiat:USD"): "1.25", ("fiat:EUR", "fiat:GBP"): "0.8"}


def valuator(
    *, now: Any = NOW, table: dict[tuple[str, str], str] = TABLE
) -> tuple[Valuator, TableSource, FxTable]:
    market = TableSource(context(table, now=now))
    fx = FxTable(context(FX, now=now))
    return Valuator(PricePolicy([market], [fx]), InMemoryPriceCache(), clock=lambda: now), market, fx


def binance(_account: str) -> str:
    return "binance"


def test_requests_follow_the_distinct_prices_a_history_needs_not_its_transactions() -> None:
    counts = []
    for n in (3, 300):
        val, market, _ = valuator()
        # n rewards at the same minute, and n trades whose BNB fees fall in 2 distinct minutes
        txs = [ledger_tx(("BTC", "0.001"), kind=TransactionKind.REWARD, tx_id=f"r{i}") for i in range(n)]
        txs += [
            ledger_tx(("BTC", "0.1"), ("EUR", "-2000"), ("BNB", "-0.01", "fee"), tx_id=f"t{i}",
                      at=T0 + timedelta(minutes=i % 2))
            for i in range(n)
        ]  # fmt: skip
        run = asyncio.run(val.value(txs, connector_of=binance))
        assert run.report.valued == 2 * n
        counts.append((market.context.stats.requests, run.report.prices))
    assert counts[0] == counts[1] == (2, 3)  # one request per instrument (BTC, BNB); 3 distinct prices


def test_a_second_pass_over_a_warm_cache_makes_no_request() -> None:
    val, market, fx = valuator()
    txs = [
        ledger_tx(("BTC", "0.1"), ("USD", "-2500"), ("BNB", "-0.01", "fee"), tx_id="a"),
        ledger_tx(("BTC", "1"), kind=TransactionKind.DEPOSIT, tx_id="b", at=T0 + timedelta(days=3)),
    ]
    first = asyncio.run(val.value(txs, connector_of=binance))
    before = (market.context.stats.requests, fx.context.stats.requests)
    second = asyncio.run(val.value(txs, connector_of=binance))
    assert before == (market.context.stats.requests, fx.context.stats.requests)
    assert second.report.total_requests == 0 and first.report.total_requests > 0
    assert [v.amount for v in first.valuations] == [v.amount for v in second.valuations]


def test_a_same_day_movement_is_pending_then_valued_by_the_next_pass() -> None:
    store = InMemoryValuationStore()
    tx = ledger_tx(("BTC", "0.1"), kind=TransactionKind.REWARD, at=T0)
    early, _, _ = valuator(now=T0 + timedelta(seconds=20))  # its minute candle is not closed yet
    run = asyncio.run(early.run([tx], store, connector_of=binance))
    (pending,) = run.valuations
    assert pending.status is ValuationStatus.PENDING and pending.amount is None and pending.needs_retry
    assert "published at" in (pending.reason or "") and store.pending() == [tx.id]
    assert run.report.pending == 1
    later, market, _ = valuator(now=T0 + timedelta(minutes=5))
    run = asyncio.run(later.run([tx], store, connector_of=binance))
    assert run.valuations[0].status is ValuationStatus.VALUED and run.valuations[0].amount == Decimal(2500)
    assert store.pending() == [] and market.context.stats.requests == 1
    # a third pass keeps it as it is: nothing to do
    again = asyncio.run(later.run([tx], store, connector_of=binance))
    assert again.report.kept == 1 and again.report.total_requests == 0 and again.report.valued == 1


def test_an_override_is_untouched_by_every_revaluation() -> None:
    store = InMemoryValuationStore()
    val, _, _ = valuator()
    tx = ledger_tx(("BTC", "1"), kind=TransactionKind.DEPOSIT)
    first = asyncio.run(val.run([tx], store, connector_of=binance)).valuations[0]
    assert first.method is ValuationMethod.MARKET and first.amount == 25000
    overridden = tx.model_copy(update={"fiat_value": Decimal("19999.99"), "fiat_currency": "EUR"})
    for revalue in (False, True, True):
        (v,) = asyncio.run(val.run([overridden], store, connector_of=binance, revalue=revalue)).valuations
        assert (v.status, v.method, v.amount) == (
            ValuationStatus.OVERRIDE,
            ValuationMethod.OVERRIDE,
            Decimal("19999.99"),
        )
    assert store.load([tx.id])[tx.id].status is ValuationStatus.OVERRIDE


def test_pending_valuations_are_retried_first() -> None:
    store = InMemoryValuationStore()
    early, _, _ = valuator(now=T0 + timedelta(seconds=10))
    old = ledger_tx(("BTC", "1"), kind=TransactionKind.DEPOSIT, tx_id="old")
    asyncio.run(early.run([old], store, connector_of=binance))
    assert store.pending() == ["old"]
    seen: list[str] = []
    val, _, _ = valuator()
    original = val.value

    async def spy(transactions: Any, **kw: Any) -> Any:
        items = list(transactions)
        seen.extend(tx.id for tx in items)
        return await original(items, **kw)

    val.value = spy  # type: ignore[method-assign]
    new = ledger_tx(("BNB", "1"), kind=TransactionKind.DEPOSIT, tx_id="new")
    asyncio.run(val.run([new, old], store, connector_of=binance))
    assert seen == ["old", "new"]


def test_values_in_another_currency_need_fx_rates_only() -> None:
    val, market, fx = valuator()
    txs = [
        ledger_tx(("BTC", "1"), kind=TransactionKind.DEPOSIT, tx_id="a"),
        ledger_tx(("BTC", "1"), ("EUR", "-24000"), tx_id="b"),
    ]
    valued = asyncio.run(val.value(txs, connector_of=binance)).valuations
    market_requests, fx_requests = market.context.stats.requests, fx.context.stats.requests
    in_usd = asyncio.run(val.convert(valued, "USD"))
    assert market.context.stats.requests == market_requests  # no crypto price fetched again
    assert fx.context.stats.requests == fx_requests + 1
    assert [(v.currency, v.amount) for v in in_usd] == [
        ("USD", Decimal("31250.00")),
        ("USD", Decimal("30000.00")),
    ]
    assert in_usd[0].fx_rate == Decimal("1.25") and in_usd[0].legs[0].amount == Decimal("31250.00")
    assert asyncio.run(val.convert(valued, "EUR")) == valued


def test_the_report_counts_and_names_unknown_assets() -> None:
    val, _, _ = valuator()
    txs = [
        ledger_tx(("BTC", "1"), kind=TransactionKind.DEPOSIT, tx_id="a"),
        ledger_tx(("LDBTC", "1"), kind=TransactionKind.DEPOSIT, tx_id="b"),
        ledger_tx(("BTC", "1"), kind=TransactionKind.DEPOSIT, tx_id="c", fiat_value=Decimal(1)),
    ]
    report = asyncio.run(val.value(txs, connector_of=binance)).report
    assert (report.valued, report.unpriceable, report.overridden, report.pending) == (1, 1, 1, 0)
    assert report.unknown_assets == {"binance:LDBTC": 1}
    assert report.to_dict()["requests"] == {"table": 1}

"""The recorded Binance and Bitstamp accounts, synced from their cassettes into SQLite, then valued.

* Every fiat trade is valued exactly from its own fiat leg, with no price source at all; and so again
  with the price cache and the valuations in the store, on SQLite and PostgreSQL (read back from the
  table as stored; a second pass keeps everything and sends nothing).
* The Binance account's year 2020 (the year its euro pairs were listed) valued through the three
  built-in sources, replayed from ``cassettes/prices/valuation/binance_2020.yaml``: everything valued,
  the evidence as expected, and a second pass without any request.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.binance.test_binance_main_job import run_main_job
from helpers.price_cassettes import price_cassette
from txsync.connectors.bitstamp import Bitstamp
from txsync.connectors.bitstamp.sandbox import NOW as BITSTAMP_NOW
from txsync.connectors.bitstamp.sandbox import SANDBOX_KEY, SANDBOX_SECRET
from txsync.models import Credential, LegRole
from txsync.store import LedgerTransaction, SqliteStore
from txsync.testing import NO_SLEEP_RETRY
from txsync.testing.cassettes import cassette_vcr, offline_transport
from txsync.testing.harness import ContractHarness
from txsync.valuation import (
    AssetResolver,
    InMemoryPriceCache,
    PricePolicy,
    ValuationMethod,
    ValuationStatus,
    Valuator,
    is_fiat,
)
from txsync.valuation.sources.sandboxes import PriceSandboxes

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"


@pytest.fixture(scope="module")
def binance_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LedgerTransaction]]:
    report, _, store, account_id = run_main_job(
        tmp_path_factory.mktemp("binance") / "ledger.sqlite3", record=False
    )
    assert report.ok
    yield list(store.transactions(account_id=account_id))
    store.close()


@pytest.fixture(scope="module")
def bitstamp_ledger() -> Iterator[list[LedgerTransaction]]:
    credential = Credential(
        connector_id="bitstamp", secrets={"api_key": SANDBOX_KEY, "api_secret": SANDBOX_SECRET}
    )
    recorder = cassette_vcr(CASSETTES / "bitstamp", "none", secrets=(SANDBOX_KEY, SANDBOX_SECRET))
    store = SqliteStore(":memory:")
    with recorder.use_cassette("full_sync.yaml"):
        harness = ContractHarness(
            Bitstamp, credential, options={"verify_response_signature": "if_present"},
            transport=offline_transport, clock=lambda: BITSTAMP_NOW, store_factory=lambda: store,
        )  # fmt: skip
        run = asyncio.run(harness.sync(harness.new_store()))
    assert run.report.ok
    yield list(store.transactions(account_id=harness.account_id))
    store.close()


def fiat_legs(tx: LedgerTransaction, connector: str) -> list[int] | None:
    """The legs a trade paid or was paid with: fiat principal legs of the sign opposite to its crypto."""
    assets = AssetResolver()
    ids = [assets.resolve(connector, leg.asset, tx.timestamp).asset_id or "" for leg in tx.legs]
    crypto = {
        leg.amount > 0 for i, leg in enumerate(tx.legs) if leg.role is not LegRole.FEE and not is_fiat(ids[i])
    }
    if tx.kind != "trade" or len(crypto) != 1:
        return None
    (bought,) = crypto
    legs = [
        i for i, leg in enumerate(tx.legs)
        if leg.role is not LegRole.FEE and is_fiat(ids[i]) and leg.amount != 0 and (leg.amount > 0) != bought
    ]  # fmt: skip
    return legs or None


@pytest.mark.parametrize(
    ("account", "connector", "expected"),
    [("binance_ledger", "binance", 16), ("bitstamp_ledger", "bitstamp", 689)],
)
def test_every_fiat_trade_is_valued_exactly_from_its_fiat_leg(
    account: str, connector: str, expected: int, request: pytest.FixtureRequest
) -> None:
    ledger: list[LedgerTransaction] = request.getfixturevalue(account)
    trades = {tx.id: legs for tx in ledger if (legs := fiat_legs(tx, connector)) is not None}
    assert len(trades) == expected
    chosen = [tx for tx in ledger if tx.id in trades]
    valuator = Valuator(PricePolicy(), InMemoryPriceCache(), base_currency="EUR")  # no price source at all
    run = asyncio.run(valuator.value(chosen, connector_of=lambda _a: connector))
    assert run.report.total_requests == 0 and run.report.valued == expected
    for tx, valuation in zip(chosen, run.valuations, strict=True):
        paid = sum((abs(tx.legs[i].amount) for i in trades[tx.id]), Decimal(0))
        assert (valuation.status, valuation.method, valuation.currency) == (
            ValuationStatus.VALUED, ValuationMethod.FIAT_LEG, "EUR",
        )  # fmt: skip
        assert valuation.amount == paid, tx.id
        crypto = [
            leg for leg in valuation.legs if leg.role is not LegRole.FEE and not is_fiat(leg.asset_id or "")
        ]
        assert sum((abs(leg.amount or 0) for leg in crypto), Decimal(0)) == paid
        assert all(leg.method is ValuationMethod.FIAT_LEG and leg.derived for leg in crypto)
        for leg in valuation.legs:  # a fee in another asset (BNB) needs a market price: none configured here
            assert leg.status is ValuationStatus.VALUED or (
                leg.role is LegRole.FEE and "no market price source" in (leg.reason or "")
            )


@pytest.mark.parametrize(
    ("account", "connector"), [("binance_ledger", "binance"), ("bitstamp_ledger", "bitstamp")]
)
def test_every_asset_of_the_recorded_accounts_has_an_identity(
    account: str, connector: str, request: pytest.FixtureRequest
) -> None:
    ledger: list[LedgerTransaction] = request.getfixturevalue(account)
    assets = AssetResolver()
    unknown = {
        leg.asset
        for tx in ledger
        for leg in tx.legs
        if not assets.resolve(connector, leg.asset, tx.timestamp).known
    }
    assert unknown == set()


def test_the_binance_accounts_2020_through_the_builtin_sources(
    binance_ledger: list[LedgerTransaction],
) -> None:
    year = [tx for tx in binance_ledger if tx.timestamp.year == 2020]
    sandboxes = PriceSandboxes()
    with price_cassette("valuation", "binance_2020", sandboxes) as transport:
        policy = sandboxes.policy(transport=transport, retry=NO_SLEEP_RETRY)
        valuator = Valuator(policy, InMemoryPriceCache(), base_currency="EUR", clock=sandboxes.clock)
        run = asyncio.run(valuator.value(year, connector_of=lambda _a: "binance"))
        report = run.report
        assert (report.transactions, report.valued, report.pending, report.unpriceable) == (
            len(year),
            len(year),
            0,
            0,
        )
        assert report.unknown_assets == {}
        methods = Counter(v.method for v in run.valuations)
        assert methods[ValuationMethod.FIAT_LEG] >= 1 and methods[ValuationMethod.MARKET] >= 100
        sources = Counter(leg.price.source for v in run.valuations for leg in v.legs if leg.price is not None)
        assert set(sources) <= {"binance", "coingecko"} and sources["binance"] > sources["coingecko"]
        priced = [v for v in run.valuations if v.price is not None]
        assert any(v.price.pair.endswith("EUR") and not v.conversions for v in priced if v.price)  # direct
        assert any(v.price.quote == "coin:tether" and v.conversions for v in priced if v.price)  # via USDT
        first = report.total_requests
        again = asyncio.run(valuator.value(year, connector_of=lambda _a: "binance"))
        assert again.report.total_requests == 0 and first > 0
        assert [v.amount for v in again.valuations] == [v.amount for v in run.valuations]


@pytest.mark.parametrize(
    ("account", "connector", "expected"),
    [("binance_ledger", "binance", 16), ("bitstamp_ledger", "bitstamp", 689)],
)
def test_every_fiat_trade_is_valued_from_its_fiat_leg_with_the_valuations_in_the_store(
    store: Any, account: str, connector: str, expected: int, request: pytest.FixtureRequest
) -> None:
    ledger: list[LedgerTransaction] = request.getfixturevalue(account)
    store.add_account("owner", connector, account_id=ledger[0].account_id)
    trades = {tx.id: legs for tx in ledger if (legs := fiat_legs(tx, connector)) is not None}
    assert len(trades) == expected
    # no price source at all: the fiat legs are the evidence; the cache and valuations are the store's
    valuator = Valuator(PricePolicy(), store.price_cache(), base_currency="EUR")
    first = asyncio.run(valuator.run(ledger, store.valuation_store(), connector_of=lambda _a: connector))
    assert first.report.total_requests == 0 and first.report.transactions == len(ledger)
    stored = store.load_valuations(trades)  # read back from the table
    assert len(stored) == expected
    for tx in ledger:
        if tx.id not in trades:
            continue
        valuation = stored[tx.id]
        paid = sum((abs(tx.legs[i].amount) for i in trades[tx.id]), Decimal(0))
        assert (valuation.status, valuation.method, valuation.currency, valuation.amount) == (
            ValuationStatus.VALUED, ValuationMethod.FIAT_LEG, "EUR", paid,
        ), tx.id  # fmt: skip
        assert valuation.source is None and valuation.fingerprint
        assert valuation.to_dict() == first.by_id()[tx.id].to_dict()  # the provenance, unchanged
    again = asyncio.run(valuator.run(ledger, store.valuation_store(), connector_of=lambda _a: connector))
    assert again.report.kept == len(ledger) and again.report.total_requests == 0
    assert store.valuation_counts(owner_id="owner")["valued"] >= expected

"""Whole passes over the three built-in sources' sandboxes, their clock moving: a same-day movement
pending, then valued by the next pass; hostile answers fed to every parser."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import pickle
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.valuation import ledger_tx
from txsync.errors import BadResponseError
from txsync.models import TransactionKind
from txsync.testing import NO_SLEEP_RETRY
from txsync.valuation import (
    InMemoryPriceCache,
    InMemoryValuationStore,
    PricePolicy,
    PriceSourceContext,
    Route,
    ValuationMethod,
    ValuationStatus,
    Valuator,
)
from txsync.valuation.prices import Granularity
from txsync.valuation.sandbox import SANDBOX_NOW
from txsync.valuation.sources.binance import BinanceKlines
from txsync.valuation.sources.coingecko import CoinGecko
from txsync.valuation.sources.coingecko.sandbox import PRO_KEY
from txsync.valuation.sources.ecb import EcbReferenceRates
from txsync.valuation.sources.sandboxes import PriceSandboxes


class Clock:
    def __init__(self) -> None:
        self.now = SANDBOX_NOW - timedelta(hours=14) + timedelta(seconds=30)  # 10:00:30 UTC on 2024-05-31

    def __call__(self) -> Any:
        return self.now


def test_a_same_day_movement_is_pending_then_valued_by_the_next_pass() -> None:
    clock = Clock()
    sandboxes = PriceSandboxes(clock=clock)
    store = InMemoryValuationStore()
    reward = ledger_tx(("BNB", "0.5"), kind=TransactionKind.REWARD, at=clock.now - timedelta(seconds=20))
    deposit = ledger_tx(
        ("DOGE", "100"), kind=TransactionKind.DEPOSIT, at=clock.now - timedelta(hours=2), tx_id="d"
    )

    def valuator(**options: Any) -> Valuator:
        policy = sandboxes.policy(retry=NO_SLEEP_RETRY, options=options)
        return Valuator(policy, InMemoryPriceCache(), base_currency="EUR", clock=clock)

    first = asyncio.run(valuator().run([reward, deposit], store, connector_of=lambda _a: "binance"))
    assert [v.status for v in first.valuations] == [ValuationStatus.PENDING, ValuationStatus.VALUED]
    assert "1m interval of BNBEUR" in (first.valuations[0].reason or "")
    assert store.pending() == [reward.id]
    clock.now += timedelta(minutes=5)
    second = asyncio.run(valuator().run([reward, deposit], store, connector_of=lambda _a: "binance"))
    valued = second.valuations[0]
    assert valued.status is ValuationStatus.VALUED and valued.method is ValuationMethod.MARKET
    assert valued.price is not None and valued.price.pair == "BNBEUR" and second.report.kept == 1
    assert store.pending() == []


def test_a_day_priced_only_by_its_daily_close_waits_for_the_day_to_end() -> None:
    clock = Clock()
    sandboxes = PriceSandboxes(clock=clock)
    store = InMemoryValuationStore()
    tx = ledger_tx(("XZC", "3"), kind=TransactionKind.REWARD, at=clock.now - timedelta(hours=1))
    options = {"plan": "pro", "granularity": "daily", "rate_limit": "off"}

    def run() -> Any:
        context = PriceSourceContext(
            options=options, secrets={"api_key": PRO_KEY}, transport=sandboxes.transport(), clock=clock,
            retry=NO_SLEEP_RETRY,
        )  # fmt: skip
        valuator = Valuator(PricePolicy([CoinGecko(context)]), InMemoryPriceCache(), clock=clock)
        return asyncio.run(valuator.run([tx], store, connector_of=lambda _a: "binance")).valuations[0]

    pending = run()
    assert pending.status is ValuationStatus.PENDING and "00:35" in (pending.reason or "")
    clock.now += timedelta(hours=13)  # 23:00: the day is still not over
    assert run().status is ValuationStatus.PENDING
    clock.now += timedelta(hours=2)  # 01:00 the next day
    valued = run()
    assert valued.status is ValuationStatus.VALUED and valued.price is not None
    assert valued.price.source == "coingecko" and valued.price.granularity is Granularity.DAY


def test_a_source_context_with_keys_cannot_be_pickled() -> None:
    context = PriceSourceContext(secrets={"api_key": "CG-not-to-be-pickled-123456"})
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(context)
    assert "CG-not-to-be-pickled" not in repr(context)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=30,
)
ROUTE = Route("BTCEUR", "coin:bitcoin", "fiat:EUR", Granularity.MINUTE)


@functools.cache
def _parsers() -> tuple[BinanceKlines, CoinGecko, EcbReferenceRates]:
    context = PriceSourceContext(options={"rate_limit": "off"}, clock=lambda: SANDBOX_NOW)
    return BinanceKlines(context), CoinGecko(context), EcbReferenceRates(context)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON | st.builds(lambda rows: {"prices": rows}, st.lists(st.lists(JSON, min_size=2, max_size=2))))
def test_hostile_answers_are_bad_responses_or_prices_never_a_crash(body: Any) -> None:
    klines, gecko, ecb = _parsers()
    parsers = [
        lambda: klines._entries(ROUTE, body, SANDBOX_NOW),
        lambda: gecko._entries(ROUTE, body, SANDBOX_NOW),
        lambda: ecb._observations(body, "USD"),
    ]
    for parse in parsers:
        with contextlib.suppress(BadResponseError):
            parse()

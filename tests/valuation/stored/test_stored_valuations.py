"""Valuations kept in the store (SQLite and PostgreSQL): the price cache table, the valuations table
with provenance, passes after each sync and on demand, pending retried, overrides kept, FX-only
conversion, erasure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from helpers.demo import demo_credential, demo_engine
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.engine import SyncMode
from txsync.errors import ConfigurationError, StoreError
from txsync.testing import NO_SLEEP_RETRY
from txsync.valuation import (
    CachedPrice,
    PriceKey,
    PricePolicy,
    ValuationMethod,
    ValuationStatus,
    ValuationSyncHook,
    value_owner,
    values_in,
)
from txsync.valuation.sources.sandboxes import PriceSandboxes

T = datetime(2023, 5, 1, 12, 0, tzinfo=UTC)
#: One hour after the Demo Exchange account's last transaction (a BTC deposit at 23:00:00).
LAST = datetime(2023, 9, 30, 23, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def synced(store: Any, *, prices: PriceSandboxes | None = None, hook: bool = True) -> tuple[Any, str, str]:
    """The Demo Exchange account synced into ``store`` (valued after the sync when ``hook``)."""
    sandbox = DemoSandbox()
    kwargs: dict[str, Any] = {}
    if hook:
        sandboxes = prices or PriceSandboxes()
        kwargs["valuation"] = ValuationSyncHook(policy=lambda _e: sandboxes.policy(retry=NO_SLEEP_RETRY))
    engine = demo_engine(store, sandbox, **kwargs)
    connection = engine.connect("alice", demo_credential())
    return engine, connection.id, connection.account_id


def run(store: Any, sandboxes: PriceSandboxes, **kw: Any) -> Any:
    policy = sandboxes.policy(retry=NO_SLEEP_RETRY)
    return asyncio.run(value_owner(store, "alice", policy, clock=sandboxes.clock, **kw))


def test_the_price_cache_table_keeps_prices_absences_and_evidence(store: Any) -> None:
    cache = store.price_cache()
    btc = PriceKey("binance", "coin:bitcoin", "fiat:EUR", "1m", T)
    gone = PriceKey.symbol("binance", "coin:bitcoin-cash", "fiat:EUR")
    friday = datetime(2023, 4, 28, tzinfo=UTC)
    fx = PriceKey("ecb", "fiat:USD", "fiat:EUR", "1d", T)
    cache.put_many([
        CachedPrice(btc, Decimal("26512.123456789012345678901234567890"), T, "BTCEUR"),
        CachedPrice(gone, None, T, "BCHEUR", note="Invalid symbol."),
        CachedPrice(fx, Decimal("1.1016E+0"), T, "EXR.D.USD.EUR.SP00.A", observed_at=friday),
    ])  # fmt: skip
    fresh = store.price_cache()  # another object: read from the table, not from memory
    missing = PriceKey("binance", "coin:bitcoin", "fiat:EUR", "1m", T + timedelta(minutes=1))
    found = fresh.get_many([btc, gone, fx, missing])
    assert set(found) == {btc, gone, fx}
    assert found[btc].price == Decimal("26512.123456789012345678901234567890") and found[btc].pair == "BTCEUR"
    assert found[gone].price is None and found[gone].note == "Invalid symbol."
    assert found[fx].observed_at == friday and found[fx].price == Decimal("1.1016")
    assert (fresh.hits, fresh.misses) == (3, 1)
    # a later entry of a key replaces it, also twice in one call (the last one wins)
    fresh.put_many([CachedPrice(btc, Decimal("1"), T, "BTCEUR"), CachedPrice(btc, Decimal("2"), T, "BTCEUR")])
    assert store.price_cache().get_many([btc])[btc].price == Decimal("2")
    assert len(store.price_cache()) == 3


def test_a_sync_values_the_account_and_a_second_pass_fetches_nothing(store: Any) -> None:
    sandboxes = PriceSandboxes()
    engine, connection_id, account_id = synced(store, prices=sandboxes)
    report = engine.sync_blocking(connection_id)
    assert report.ok and report.valuation is not None
    txs = list(store.transactions(account_id=account_id))
    assert report.valuation["transactions"] == len(txs) == 262
    assert (report.valuation["valued"], report.valuation["pending"], report.valuation["unpriceable"]) == (
        262, 0, 0,
    )  # fmt: skip
    first = sum(sandboxes.requests.values())
    assert first > 0 and report.valuation["requests"]
    assert store.valuation_counts(owner_id="alice") == {"valued": 262, "pending": 0, "unpriceable": 0,
                                                        "override": 0}  # fmt: skip
    # every EUR trade is valued from its fiat leg, with its provenance stored
    stored = store.load_valuations(tx.id for tx in txs)
    trade = next(tx for tx in txs if tx.kind == "trade" and {leg.asset for leg in tx.legs} == {"BTC", "EUR"})
    assert stored[trade.id].method is ValuationMethod.FIAT_LEG
    eur = [leg for leg in trade.legs if leg.asset == "EUR" and leg.role == "principal"]
    assert stored[trade.id].amount == abs(eur[0].amount)
    market = next(v for v in stored.values() if v.method is ValuationMethod.MARKET)
    assert market.source in {"binance", "coingecko"} and market.pair and market.candle_time and market.rate
    # a second pass - a new process would be the same: nothing is remembered outside the store
    again = run(store, sandboxes)
    assert sum(sandboxes.requests.values()) == first and again.report.total_requests == 0
    assert again.report.kept == 262 and again.report.valued == 262
    # a sync with nothing new values nothing
    quiet = engine.sync_blocking(connection_id)
    assert quiet.valuation == {"skipped": "nothing new and nothing pending"}
    assert sum(sandboxes.requests.values()) == first


def test_a_same_day_transaction_is_pending_then_valued_by_the_next_pass_first(store: Any) -> None:
    clock = Clock(LAST + timedelta(seconds=30))  # the deposit's minute candle is not closed yet
    sandboxes = PriceSandboxes(clock=clock)
    engine, connection_id, account_id = synced(store, hook=False)
    assert engine.sync_blocking(connection_id).ok
    first = run(store, sandboxes)
    deposit = next(tx for tx in store.transactions(account_id=account_id) if tx.timestamp == LAST)
    assert first.report.pending == 1 and first.report.valued == 261
    assert store.pending_valuations(owner_id="alice") == [deposit.id]
    pending = store.valuation_of(deposit.id)
    assert pending.status is ValuationStatus.PENDING and pending.amount is None and "1m" in pending.reason
    clock.now += timedelta(minutes=3)
    # a pass limited to what was written since the sync still retries the pending one, and only it
    second = run(store, sandboxes, since=DemoSandbox().clock() + timedelta(seconds=1))
    assert (second.report.transactions, second.report.valued, second.report.pending) == (1, 1, 0)
    valued = store.valuation_of(deposit.id)
    assert valued.status is ValuationStatus.VALUED and valued.method is ValuationMethod.MARKET
    assert valued.amount == deposit.legs[0].amount * valued.legs[0].unit_price
    assert store.pending_valuations(owner_id="alice") == []
    assert store.valuation_counts(account_id=account_id)["pending"] == 0


def test_an_override_is_untouched_by_every_revaluation_and_resync(store: Any) -> None:
    sandboxes = PriceSandboxes()
    engine, connection_id, account_id = synced(store, prices=sandboxes)
    engine.sync_blocking(connection_id)
    tx = next(tx for tx in store.transactions(account_id=account_id) if tx.kind == "deposit")
    store.set_override(tx.id, fiat_value=Decimal("1234.56"), fiat_currency="EUR")
    changed = run(store, sandboxes)  # the override changed the fingerprint: valued again
    assert changed.report.overridden == 1 and changed.report.kept == 261
    for step in ("revalue", "full resync"):
        if step == "revalue":
            run(store, sandboxes, revalue=True)
        else:
            assert engine.sync_blocking(connection_id, SyncMode.FULL).ok
        kept = store.valuation_of(tx.id)
        assert (kept.status, kept.method, kept.amount) == (
            ValuationStatus.OVERRIDE, ValuationMethod.OVERRIDE, Decimal("1234.56")
        ), step
    assert store.valuation_counts(owner_id="alice")["override"] == 1


def test_the_base_currency_is_per_owner_and_other_currencies_come_from_fx_only(store: Any) -> None:
    sandboxes = PriceSandboxes()
    engine, connection_id, account_id = synced(store, hook=False)
    engine.sync_blocking(connection_id)
    with pytest.raises(ConfigurationError):
        store.set_base_currency("alice", "euro")
    assert store.base_currency("alice") is None
    run(store, sandboxes)
    stored = list(store.load_valuations(tx.id for tx in store.transactions(account_id=account_id)).values())
    assert {v.currency for v in stored} == {"EUR"}
    before = dict(sandboxes.requests)
    policy = sandboxes.policy(retry=NO_SLEEP_RETRY)
    usd = asyncio.run(values_in(store, stored, "USD", policy))
    after = sandboxes.requests
    assert after["binance"] == before["binance"] and after["coingecko"] == before["coingecko"]
    assert after["ecb"] > before["ecb"]
    assert {v.currency for v in usd} == {"USD"} and all(v.amount is not None for v in usd)
    assert all(v.conversions and v.conversions[-1].source == "ecb" for v in usd)
    # setting the owner's base currency values everything again in it
    store.set_base_currency("alice", "gbp")
    assert store.base_currency("alice") == "GBP"
    fx_only = PricePolicy((), policy.fx)  # enough to see every transaction valued again, quickly
    again = asyncio.run(value_owner(store, "alice", fx_only, clock=sandboxes.clock))
    assert again.report.kept == 0 and again.report.currency == "GBP"
    fiat_trade = next(v for v in again.valuations if v.method is ValuationMethod.FIAT_LEG)
    assert fiat_trade.currency == "GBP" and fiat_trade.fx_rate is not None


def test_an_erased_account_takes_its_valuations_with_it(store: Any) -> None:
    engine, connection_id, account_id = synced(store)
    engine.sync_blocking(connection_id)
    store.set_base_currency("alice", "EUR")
    assert store.valuation_counts(owner_id="alice")["valued"] == 262
    prices = len(store.price_cache())
    store.remove_account(account_id)
    assert store.valuation_counts(owner_id="alice") == {"valued": 0, "pending": 0, "unpriceable": 0,
                                                        "override": 0}  # fmt: skip
    assert store.base_currency("alice") is None
    assert len(store.price_cache()) == prices  # public data, no one's personal record


def test_a_corrupt_stored_valuation_is_a_store_error(store: Any) -> None:
    engine, connection_id, account_id = synced(store)
    engine.sync_blocking(connection_id)
    tx = next(iter(store.transactions(account_id=account_id)))
    from sqlalchemy import update

    from txsync.store import schema

    with store._write() as conn:
        conn.execute(update(schema.valuations).where(schema.valuations.c.transaction_id == tx.id)
                     .values(body='{"transaction_id": 3}'))  # fmt: skip
    with pytest.raises(StoreError, match="stored valuation"):
        store.valuation_of(tx.id)


def test_an_owner_scope_values_its_own_owner_only(store: Any) -> None:
    from txsync.errors import UnknownConnectionError

    engine, connection_id, _ = synced(store, hook=False)
    engine.sync_blocking(connection_id)
    policy = PricePolicy()
    with pytest.raises(UnknownConnectionError):
        asyncio.run(value_owner(store.for_owner("mallory"), "alice", policy))
    run = asyncio.run(value_owner(store.for_owner("alice"), "alice", policy))
    assert run.report.transactions == 262
    tx_id = run.valuations[0].transaction_id
    assert store.for_owner("alice").valuation_of(tx_id).transaction_id == tx_id
    with pytest.raises(StoreError, match="no transaction"):
        store.for_owner("mallory").valuation_of(tx_id)  # another owner's id behaves like a missing one
    assert store.for_owner("mallory").valuation_counts() == {"valued": 0, "pending": 0, "unpriceable": 0,
                                                             "override": 0}  # fmt: skip
    assert sum(store.for_owner("alice").valuation_counts().values()) == 262
    store.for_owner("alice").set_base_currency("CHF")
    assert (store.for_owner("alice").base_currency(), store.for_owner("mallory").base_currency()) == ("CHF", None)


def test_a_failing_or_disabled_valuation_hook_never_fails_the_sync(store: Any) -> None:
    sandbox = DemoSandbox()

    def broken(_engine: Any) -> PricePolicy:
        raise RuntimeError("no price service configured")

    engine = demo_engine(store, sandbox, valuation=ValuationSyncHook(policy=broken))
    connection = engine.connect("alice", demo_credential())
    report = engine.sync_blocking(connection.id)
    assert report.ok and report.valuation is None
    assert any("ValuationSyncHook failed" in w and "no price service" in w for w in report.warnings)
    idle = demo_engine(store, sandbox, valuation=ValuationSyncHook(policy=broken, enabled=False))
    assert idle.sync_blocking(connection.id, SyncMode.FULL).ok
    assert store.valuation_counts(owner_id="alice")["valued"] == 0


def test_two_passes_writing_the_same_prices_at_once_never_fail(store: Any) -> None:
    import threading

    keys = [PriceKey("binance", "coin:bitcoin", "fiat:EUR", "1m", T + timedelta(minutes=i)) for i in range(600)]
    errors: list[BaseException] = []

    def write(price: str) -> None:
        try:
            cache = store.price_cache()
            for _ in range(3):
                cache.put_many(CachedPrice(key, Decimal(price), T, "BTCEUR") for key in keys)
        except BaseException as exc:  # pragma: no cover - what the test looks for
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in ("1", "2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    found = store.price_cache().get_many(keys)
    assert len(found) == 600 and {e.price for e in found.values()} <= {Decimal(1), Decimal(2)}

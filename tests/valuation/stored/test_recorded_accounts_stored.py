"""The recorded Binance and Bitstamp accounts (synced once from their cassettes) valued with the
valuations kept in each store (SQLite and PostgreSQL): every fiat trade valued exactly from its own
fiat leg, with no price source at all; read back from the table as stored; a second pass keeps
everything and sends nothing."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from txsync.store import LedgerTransaction
from txsync.valuation import PricePolicy, ValuationMethod, ValuationStatus, Valuator
from valuation.test_recorded_accounts import binance_ledger, bitstamp_ledger, fiat_legs

__all__ = ["binance_ledger", "bitstamp_ledger"]  # the module-scoped fixtures, synced once


@pytest.mark.parametrize(
    ("account", "connector", "expected"),
    [("binance_ledger", "binance", 16), ("bitstamp_ledger", "bitstamp", 689)],
)
def test_every_fiat_trade_is_stored_valued_exactly_from_its_fiat_leg(
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

"""Issue 18: isolated margin pairs: their trades and interest per pair, their balances, their
transfers (in ``universal_transfers``)."""

from __future__ import annotations

import asyncio
import copy
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.binance.binance_rig import make_rig
from connectors.binance.test_binance_auth import _context
from connectors.binance.test_binance_normalize import norm
from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import BinanceSandbox, ScenarioAccount
from txsync.engine import SyncMode
from txsync.errors import InvalidRecordError
from txsync.models import LegRole, TransactionKind
from txsync.pagination import InvalidCursorError

TRADE = {
    "symbol": "BTCUSDT",
    "id": 88000,
    "orderId": 9100000,
    "price": "30000",
    "qty": "0.01",
    "quoteQty": "300",
    "commission": "0.00001",
    "commissionAsset": "BTC",
    "time": 1709251200000,
    "isBuyer": True,
    "isMaker": False,
    "isBestMatch": True,
    "isIsolated": True,
    "baseAsset": "BTC",
    "quoteAsset": "USDT",
}
INTEREST = {
    "txId": 1352286576452999001,
    "interestAccuredTime": 1709251200000,
    "asset": "USDT",
    "rawAsset": "USDT",
    "principal": "200",
    "interest": "0.15",
    "interestRate": "0.00075",
    "type": "ON_BORROW",
    "isolatedSymbol": "BTCUSDT",
}
WALLET = "margin:isolated:BTCUSDT"


def _account() -> ScenarioAccount:
    return copy.deepcopy(BinanceSandbox.small().account)


def _sync(sandbox: BinanceSandbox) -> Any:
    rig = make_rig(sandbox.transport)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    return rig, report


def test_isolated_trades_and_interest_move_the_pairs_own_wallet() -> None:
    [trade] = norm("isolated_margin_trades", TRADE, "BTCUSDT:88000")
    assert trade.kind == TransactionKind.TRADE and trade.key == "isolated_margin_trade:BTCUSDT:88000"
    assert [(leg.asset, leg.amount, leg.wallet) for leg in trade.legs] == [
        ("BTC", Decimal("0.01"), WALLET),
        ("USDT", Decimal(-300), WALLET),
        ("BTC", Decimal("-0.00001"), WALLET),
    ]
    [fee] = norm("isolated_margin_interest", INTEREST)
    assert fee.kind == TransactionKind.FEE and fee.key == "isolated_margin_interest:1352286576452999001"
    assert [(leg.asset, leg.amount, leg.role, leg.wallet) for leg in fee.legs] == [
        ("USDT", Decimal("-0.15"), LegRole.INTEREST, WALLET)
    ]
    with pytest.raises(InvalidRecordError):
        norm("isolated_margin_interest", dict(INTEREST, isolatedSymbol=None))
    with pytest.raises(InvalidRecordError):
        norm("isolated_margin_trades", dict(TRADE, qty="x"))


def test_the_scenarios_isolated_pair_is_synced_and_its_wallet_nets_to_what_is_reported() -> None:
    account = _account()
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    rig, report = _sync(sandbox)
    assert report.ok, report.errors
    txs = list(rig.store.transactions(account_id=rig.connection.account_id))
    by_stream: dict[str, int] = {}
    for tx in txs:
        by_stream[tx.sources[0].stream] = by_stream.get(tx.sources[0].stream, 0) + 1
    assert by_stream["isolated_margin_trades"] == len(account.isolated_trades["BTCUSDT"]) == 2
    assert by_stream["isolated_margin_interest"] == len(account.isolated_interest) == 1
    # the pair's wallet: in from cross margin, the trades and interest, all back out: zero per asset
    held: dict[str, Decimal] = {}
    for tx in txs:
        if tx.status == "confirmed":
            for leg in tx.legs:
                if leg.wallet == WALLET:
                    held[leg.asset] = held.get(leg.asset, Decimal(0)) + leg.amount
    assert held and all(v == 0 for v in held.values())
    kinds = {tx.meta.get("transfer_type") for tx in txs if tx.sources[0].stream == "universal_transfers"}
    assert {"MARGIN_ISOLATEDMARGIN", "ISOLATEDMARGIN_MARGIN"} <= kinds
    assert rig.store.get_cursor(rig.connection.id, "isolated_margin_trades")["symbols"] == {
        "BTCUSDT": "BTC/USDT"
    }
    asked = len(sandbox.log)
    again = asyncio.run(rig.engine.sync(rig.connection.id))
    assert again.ok and sum(s.new for s in again.streams) == 0
    assert sandbox.log[asked:].count("/sapi/v1/margin/myTrades") <= 1 + len(account.margin_trades)


def test_isolated_balances_are_reported_per_pair() -> None:
    account = _account()
    account.isolated[0]["baseAsset"]["netAsset"] = "0.25"
    account.isolated[0]["quoteAsset"]["netAsset"] = "-10"  # owes more than it holds

    async def balances(sandbox: BinanceSandbox, options: dict[str, Any] | None = None) -> list[Any]:
        async with Binance(_context(sandbox.transport(), **(options or {}))) as connector:
            return [(b.asset, b.amount) for b in await connector.balances() if b.wallet == WALLET]

    assert asyncio.run(balances(BinanceSandbox(account=account, enforce_limits=False))) == [
        ("BTC", Decimal("0.25")),
        ("USDT", Decimal(-10)),
    ]
    account.margin_used = False  # -3003: no margin account at all
    assert asyncio.run(balances(BinanceSandbox(account=account, enforce_limits=False))) == []


def test_a_pair_binance_no_longer_knows_notes_the_gap_and_the_others_are_read() -> None:
    account = _account()

    class Delisted(BinanceSandbox):
        def handle(self, request: httpx.Request) -> httpx.Response:
            params = request.url.params
            if request.url.path == "/sapi/v1/margin/myTrades" and params.get("isIsolated") == "TRUE":
                self.requests += 1
                return self._error(400, -1121, "Invalid symbol.", "sapi_ip")
            return super().handle(request)

    rig, report = _sync(Delisted(account=account, enforce_limits=False))
    assert report.ok, report.errors
    notes = [g for g in report.coverage_gaps if g.gap_id == "delisted_pairs"]
    assert notes
    assert (
        len(
            [
                t
                for t in rig.store.transactions(account_id=rig.connection.account_id)
                if t.sources[0].stream == "isolated_margin_interest"
            ]
        )
        == 1
    )


def test_a_row_of_another_pair_fails_the_stream_and_a_corrupt_cursor_is_refused() -> None:
    account = _account()
    sandbox = BinanceSandbox(account=account, enforce_limits=False)

    def handle(request: httpx.Request) -> httpx.Response:
        response = sandbox.handle(request)
        if request.url.path == "/sapi/v1/margin/myTrades" and request.url.params.get("isIsolated") == "TRUE":
            return httpx.Response(200, json=[dict(TRADE, symbol="ETHUSDT")], headers=response.headers)
        return response

    rig = make_rig(lambda: httpx.MockTransport(handle))
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    [stream] = [s for s in report.streams if s.stream == "isolated_margin_trades"]
    assert stream.errors
    from txsync.connectors.binance._isolated import IsolatedMarginTradesStream

    with pytest.raises(InvalidCursorError):
        IsolatedMarginTradesStream.__new__(IsolatedMarginTradesStream).start(
            {"symbols": {"BTCUSDT": "BTCUSDT"}}
        )

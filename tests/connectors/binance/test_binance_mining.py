"""Issue 18: Binance Pool earnings for the mining accounts the connection names (the ``mining`` gap
otherwise)."""

from __future__ import annotations

import asyncio
import copy
from decimal import Decimal
from typing import Any

import pytest

from connectors.binance.binance_rig import SMALL_OPTIONS, make_rig
from connectors.binance.test_binance_normalize import norm
from txsync.connectors.binance import Binance
from txsync.connectors.binance._options import Options
from txsync.connectors.binance.sandbox import NOW, BinanceSandbox, ScenarioAccount
from txsync.engine import SyncMode
from txsync.errors import ConfigurationError, InvalidRecordError
from txsync.models import LegRole, TransactionKind, TransactionStatus

ROW = {
    "time": 1586188800000,
    "type": 0,
    "hashTransfer": None,
    "transferAmount": None,
    "dayHashRate": 129129903378244,
    "profitAmount": "0.00086083",
    "coinName": "BTC",
    "status": 2,
    "userName": "pool1",
    "algo": "sha256",
}
DAY = 86_400_000


def test_the_option_is_parsed_and_checked() -> None:
    assert Options.parse({}).mining_accounts == ()
    parsed = Options.parse(
        {"mining_accounts": ["pool1", "pool2/ethash", {"name": "pool3", "algo": "scrypt"}]}
    )
    assert parsed.mining_accounts == (("pool1", "sha256"), ("pool2", "ethash"), ("pool3", "scrypt"))
    assert Options.parse({"mining_accounts": "pool1"}).mining_accounts == (("pool1", "sha256"),)
    for bad in (["bad\u0000name"], [""], ["a/b/c"], 7, ["pool/sha-256"]):
        with pytest.raises(ConfigurationError):
            Options.parse({"mining_accounts": bad})


def test_earnings_are_booked_where_they_are_paid() -> None:
    [tx] = norm("mining", ROW)
    assert tx.kind == TransactionKind.MINING and tx.status == TransactionStatus.CONFIRMED
    assert [(leg.asset, leg.amount, leg.role, leg.wallet) for leg in tx.legs] == [
        ("BTC", Decimal("0.00086083"), LegRole.REWARD, "spot")
    ]
    assert tx.meta["mining_account"] == "pool1"
    [savings] = norm("mining", dict(ROW, type=7))
    assert savings.legs[0].wallet == "pool_savings"
    [outside] = norm("mining", dict(ROW, type=5))
    assert outside.net() == {} and outside.legs[0].role == LegRole.REWARD
    assert norm("mining", dict(ROW, type=8)) == []  # the income went to another account
    [unpaid] = norm("mining", dict(ROW, status=0))
    assert unpaid.status == TransactionStatus.PENDING
    [odd] = norm("mining", dict(ROW, type=99))
    assert odd.kind == TransactionKind.OTHER and "unknown_type" in odd.flags
    with pytest.raises(InvalidRecordError):
        norm("mining", dict(ROW, profitAmount="much"))


def _account(rows: int = 0, status: int = 2) -> ScenarioAccount:
    account = copy.deepcopy(BinanceSandbox.small().account)
    start = int(NOW.timestamp() * 1000) - 120 * DAY
    total = Decimal(0)
    for n in range(rows):
        amount = Decimal("0.0001") + Decimal(n) / 10**8
        account.mining.append(
            dict(ROW, time=start + n * DAY // 2, profitAmount=f"{amount:f}", status=status, type=0)
        )
        total += amount
    if status == 2:
        account.spot["BTC"] = account.spot.get("BTC", Decimal(0)) + total
    return account


def _sync(account: ScenarioAccount, **options: Any) -> Any:
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    rig = make_rig(sandbox.transport, options={**SMALL_OPTIONS, **options})
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    return sandbox, rig, report


def _mined(rig: Any) -> list[Any]:
    return [
        tx
        for tx in rig.store.transactions(account_id=rig.connection.account_id)
        if tx.sources[0].stream == "mining"
    ]


def test_without_the_option_the_gap_is_noted_and_nothing_is_asked() -> None:
    sandbox, _rig, report = _sync(_account())
    assert report.ok
    assert "mining" in {g.gap_id for g in report.coverage_gaps}
    assert "/sapi/v1/mining/payment/list" not in sandbox.log


def test_the_earnings_of_the_named_accounts_are_synced_page_by_page() -> None:
    account = _account(rows=230)  # more than one 200-row page in some 30-day windows? no: 60 a window
    sandbox, rig, report = _sync(account, mining_accounts=["pool1"])
    assert report.ok, report.errors
    assert "mining" not in {g.gap_id for g in report.coverage_gaps}
    assert len(_mined(rig)) == 230
    total = sum(leg.amount for tx in _mined(rig) for leg in tx.legs)
    assert total == sum(Decimal(r["profitAmount"]) for r in account.mining)
    asked = len(sandbox.log)
    again = asyncio.run(rig.engine.sync(rig.connection.id))
    assert again.ok and sum(s.new for s in again.streams) == 0
    assert sandbox.log[asked:].count("/sapi/v1/mining/payment/list") <= 1


def test_a_window_of_more_than_one_page_is_read_whole() -> None:
    account = _account()
    start = int(NOW.timestamp() * 1000) - 20 * DAY
    for n in range(450):  # 450 earnings in one 30-day window: three pages of 200
        account.mining.append(
            dict(ROW, time=start + n * 1000, coinName="BTC", type=0, profitAmount="0.00000001")
        )
    account.spot["BTC"] = account.spot.get("BTC", Decimal(0)) + Decimal("0.0000045")
    _, rig, report = _sync(account, mining_accounts=["pool1"])
    assert report.ok, report.errors
    assert len(_mined(rig)) == 450


def test_an_unpaid_earning_is_read_again_until_paid() -> None:
    account = _account(rows=1, status=0)
    _, rig, report = _sync(account, mining_accounts=["pool1"])
    assert report.ok
    [tx] = _mined(rig)
    assert tx.status == TransactionStatus.PENDING
    assert rig.store.get_cursor(rig.connection.id, "mining")["pending"]
    account.mining[0]["status"] = 2
    again = asyncio.run(rig.engine.sync(rig.connection.id))
    assert again.ok
    [tx] = _mined(rig)
    assert tx.status == TransactionStatus.CONFIRMED
    assert "pending" not in rig.store.get_cursor(rig.connection.id, "mining")


def test_a_refused_key_notes_the_gap_and_the_sync_stays_ok() -> None:
    class Refusing(BinanceSandbox):
        def handle(self, request: Any) -> Any:
            if request.url.path == "/sapi/v1/mining/payment/list":
                self.requests += 1
                return self._error(401, -2015, "Invalid API-key, IP, or permissions for action.", "sapi_ip")
            return super().handle(request)

    rig = make_rig(
        Refusing(account=_account(), enforce_limits=False).transport,
        options={**SMALL_OPTIONS, "mining_accounts": ["pool1"]},
    )
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors
    assert "mining" in {g.gap_id for g in report.coverage_gaps}


def test_the_stream_is_declared() -> None:
    assert "mining" in {s.name for s in Binance.info.streams}

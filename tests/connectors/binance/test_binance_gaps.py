"""Coverage gaps noted when they apply to the account."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from connectors.binance.binance_rig import make_rig
from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import NOW, BinanceSandbox, Scenario, ScenarioAccount
from txsync.engine import SyncMode


def _sync(account: ScenarioAccount) -> dict[str, str]:
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    rig = make_rig(sandbox.transport)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors
    return {gap.gap_id: gap.detail for gap in report.coverage_gaps if not gap.always}


def test_the_small_account_has_no_gap_to_report() -> None:
    # only that its connection names no Binance Pool account (the mining_accounts option)
    assert set(_sync(ScenarioAccount.generate(Scenario.small()))) == {"mining"}


def test_a_full_dust_answer_notes_dust_beyond_100() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    template = account.dust[0]
    start = int((NOW - timedelta(days=100)).timestamp() * 1000)
    account.dust = [
        dict(
            template,
            transId=50_000_000 + n,
            operateTime=start + n * 60_000,
            totalTransferedAmount="0",
            totalServiceChargeAmount="0",
            userAssetDribbletDetails=[],
        )
        for n in range(120)
    ]
    gaps = _sync(account)
    assert "dust_beyond_100" in gaps and "100" in gaps["dust_beyond_100"]


def test_futures_income_at_the_edge_of_the_3_months_notes_the_gap() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    edge = int((NOW - timedelta(days=88)).timestamp() * 1000)
    account.futures_income.append(
        {
            "symbol": "BTCUSDT",
            "incomeType": "FUNDING_FEE",
            "income": "0",
            "asset": "USDT",
            "info": "",
            "time": edge,
            "tranId": 1,
            "tradeId": "",
        }
    )
    assert "futures_beyond_3_months" in _sync(account)


def test_every_declared_gap_has_a_remedy() -> None:
    ids = {gap.id for gap in Binance.info.coverage_gaps}
    assert {
        "dust_beyond_100",
        "futures_beyond_3_months",
        "delisted_pairs",
        "launchpad",
        "eth2_staking",
        "pos_savings",
        "card",
        "p2p",
        "coin_m_futures",
        "loans",
        "mining",
        "vanilla_options",
    } <= ids
    assert all(gap.remedy for gap in Binance.info.coverage_gaps)

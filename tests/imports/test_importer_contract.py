"""Every importer meets the connector contract: a kill after any page then a resume gives the same
ledger and cursor, a second import (incremental, full, since-latest) adds nothing, pages come in cursor
order, and normalizing a page again gives the same transactions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from helpers.files import CT_HEADER, KOINLY_HEADER, TEMPLATE_HEADER, write
from txsync.connector import Connector
from txsync.connectors.binance_statement import BinanceStatement
from txsync.connectors.cointracking_csv import CoinTrackingCsv
from txsync.connectors.koinly_csv import KoinlyUniversal
from txsync.connectors.txsync_template import TxsyncTemplate
from txsync.models import Credential
from txsync.store import SqliteStore
from txsync.testing import ContractHarness

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tests" / "connectors" / "binance" / "statement_data" / "scenario.csv"

KOINLY = KOINLY_HEADER + "".join(
    f"2021-03-{1 + i // 4:02d} 1{i % 4}:00:00,{'' if i % 3 else '100'},{'' if i % 3 else 'EUR'},"
    f"{i + 1}.5,BTC,,,,,{'staking' if i % 5 == 0 else ''},,\n"
    for i in range(14)
) + "2021-03-09 10:00:00,,,1,BTC,,,,,,,\n" * 3  # three identical rows
COINTRACKING = CT_HEADER + "".join(
    f'"{"Trade" if i % 2 else "Deposit"}","{i + 1}","BTC","{100 * (i % 2)}","{"EUR" if i % 2 else ""}","","",'
    f'"Kraken","","","0{1 + i % 9}.03.2021 12:00:0{i % 10}"\n'
    for i in range(12)
).replace(',"0",""', ',"",""')
TEMPLATE = TEMPLATE_HEADER + "".join(
    f"2021-03-0{1 + i % 9} 12:00:00,tx{i},trade,BTC,0.{i + 1},,,,,,,\n,tx{i},,EUR,-{i + 1}00,,,,,,,\n"
    for i in range(7)
) + "2021-03-02 12:00:00,,deposit,ETH,1,,,,,,,\n" * 2


CASES: dict[str, tuple[type[Connector], str]] = {
    "koinly": (KoinlyUniversal, KOINLY),
    "cointracking": (CoinTrackingCsv, COINTRACKING),
    "txsync": (TxsyncTemplate, TEMPLATE),
    "binance-statement": (BinanceStatement, SCENARIO.read_text(encoding="utf-8-sig")),
}


def harness(name: str, tmp_path: Path) -> ContractHarness:
    cls, text = CASES[name]
    path = write(tmp_path / f"{name}.csv", text)
    counter = iter(range(10**6))

    def store_factory() -> Any:
        return SqliteStore(tmp_path / f"store-{next(counter)}.sqlite3")

    return ContractHarness(cls, Credential(connector_id=cls.info.id), options={"path": str(path), "page_size": 2},
                           store_factory=store_factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_importer_meets_the_contract(name: str, tmp_path: Path) -> None:
    h = harness(name, tmp_path)

    async def scenario() -> None:
        h.check_info(await h.stream_names())
        run = await h.check_full_sync()
        assert len(run.pages) > 3
        assert await h.check_normalization(run) > 0
        summary = await h.check_resume_from_every_checkpoint(independent=2)
        assert summary.kills >= len(run.pages) - 1
        await h.check_second_sync_adds_nothing()

    asyncio.run(scenario())

"""Binance statement strictness (issue 11, part 6): malformed files are typed errors naming row and column,
nothing of them is stored; archives and devices are read under limits; planning streams."""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from helpers.files import connect, engine, errors, run
from txsync.connectors.binance_statement import BinanceStatement, load_plan
from txsync.connectors.binance_statement._events import plan_rows
from txsync.connectors.binance_statement._parse import StatementRow
from txsync.errors import ConfigurationError, FileLimitError
from txsync.models import Credential
from txsync.store import SqliteStore
from txsync.testing import ContractHarness

DATA = Path(__file__).parent / "statement_data"
SCENARIO = DATA / "scenario.csv"


def scenario_with(last_line: str) -> str:
    return SCENARIO.read_text(encoding="utf-8-sig").rstrip("\r\n") + "\r\n" + last_line


@pytest.mark.parametrize(
    ("last_line", "expected"),
    [
        # an unquoted decimal comma adds a field
        ('12345678,2021-04-01 00:00:00,Spot,Deposit,BTC,1,5,\r\n',
         "row 53 (line 54), column Change: '1,5' looks like an amount written with a decimal comma"),
        # one field too many
        ('"12345678","2021-04-01 00:00:00","Spot","Deposit","BTC","1.5","","surprise"\r\n',
         "row 53 (line 54), column Remark: the row has 8 fields, the header 7"),
        # the file cut inside its last amount, quoted as Binance exports it
        ('"12345678","2021-04-01 00:00:00","Spot","Deposit","BTC","1.',
         "row 53 (line 54): malformed CSV: the file ends inside a quoted value: it looks truncated"),
        # ... and unquoted
        ("12345678,2021-04-01 00:00:00,Spot,Deposit,BTC,1.",
         "row 53 (line 54), column Remark: the file ends inside this row: it looks truncated"),
        # an amount the ledger cannot sum
        ('"12345678","2021-04-01 00:00:00","Spot","Deposit","BTC","1e400",""\r\n',
         "row 53 (line 54), column Change: '1e400' is too large for an amount"),
        ('"12345678","2021-04-01 00:00:00","Spot","Deposit","BTC","NaN",""\r\n',
         "row 53 (line 54), column Change: 'NaN' is not a number"),
        ('"12345678","2021-04-01 00:00:00","Spot","Deposit","B\u202eTC","1",""\r\n',
         "row 53 (line 54), column Coin"),
    ],
)
async def test_a_malformed_last_row_stores_nothing_of_the_file(store: SqliteStore, tmp_path: Path, last_line: str,
                                                               expected: str) -> None:
    path = tmp_path / "statement.csv"
    path.write_bytes(scenario_with(last_line).encode())
    eng = engine(store)
    connection = connect(eng, "binance_statement", path=str(path), page_size=2)
    report = await run(eng, connection)
    assert not report.ok
    [error] = errors(report)
    assert error.startswith("StatementFormatError: statement.csv: "), error
    assert expected in error, error
    account = store.get_connection(connection).account_id
    assert store.count_raws(connection) == 0 and store.count_transactions(account) == 0
    assert store.get_cursor(connection, "statement") is None


async def test_archives_and_devices_under_limits(store: SqliteStore, tmp_path: Path) -> None:
    eng = engine(store)
    bomb = tmp_path / "statement.zip"
    line = b'"12345678","2021-04-01 00:00:00","Spot","Deposit","BTC","1.00000000",""\r\n'
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive, \
            archive.open("statement.csv", "w") as member:
        member.write(b"User_ID,UTC_Time,Account,Operation,Coin,Change,Remark\r\n")
        for _ in range(6):
            member.write(line * (2**20 // len(line)))
    connection = connect(eng, "binance_statement", path=str(bomb))
    [error] = errors(await run(eng, connection))
    assert error.startswith("FileLimitError: statement.zip/statement.csv: expands more than 200 times")
    assert store.count_raws(connection) == 0
    small = connect(eng, "binance_statement", path=str(SCENARIO), max_bytes=1000)
    [error] = errors(await run(eng, small))
    assert "FileLimitError: scenario.csv:" in error and "more than the 1000 bytes" in error
    zero = connect(eng, "binance_statement", path="/dev/zero")
    [error] = errors(await run(eng, zero))
    assert error == ("FileLimitError: zero: is not a regular file (a device, a pipe or a socket): give the path "
                     "of a file")
    with pytest.raises(FileLimitError):
        load_plan({"path": "/dev/urandom"})


def test_the_statement_is_utc_whatever_the_timezone_option() -> None:
    harness = ContractHarness(BinanceStatement, Credential(connector_id="binance_statement"),
                              options={"path": str(SCENARIO), "timezone": "Europe/Paris"})
    with pytest.raises(ConfigurationError, match="UTC_Time"):
        BinanceStatement(harness.context())


def test_planning_streams_rows_it_has_not_seen_yet() -> None:
    """The planner holds about a second of rows: it plans the start of an endless statement."""

    def endless() -> Iterator[StatementRow]:
        at = datetime(2021, 1, 1, tzinfo=UTC)
        for i in itertools.count():
            at += timedelta(seconds=3)
            for coin, change in (("BTC", Decimal("0.01")), ("USDT", Decimal(-500))):
                yield StatementRow("s", i, i, "1", at, "Spot", "Buy", coin, change, str(change), "")

    planned = list(itertools.islice(plan_rows(endless()), 10_000))
    assert len({p.event for p in planned}) == 5_000
    assert all(p.cut_after == (i % 2 == 1) for i, p in enumerate(planned))

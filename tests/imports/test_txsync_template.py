"""The txsync template (CSV and Excel) imported end to end."""

from __future__ import annotations

import csv
import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from helpers.files import TEMPLATE_HEADER, connect, engine, errors, ledger, run
from txsync.connectors.txsync_template import TxsyncTemplate
from txsync.imports.xlsx import cell_text
from txsync.models import LegRole, TransactionKind, TransactionStatus, net_deltas
from txsync.store import SqliteStore

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "txsync_template.csv"


async def test_the_sample_file_expresses_everything_a_transaction_holds(store: SqliteStore) -> None:
    eng = engine(store)
    connection = connect(eng, "txsync_template", path=str(SAMPLE))
    report = await run(eng, connection)
    assert report.ok, errors(report)
    account = store.get_connection(connection).account_id
    txs = sorted(store.transactions(account_id=account), key=lambda t: (t.timestamp, t.id))
    deposit, trade, withdrawal, reward1, reward2, pending = txs
    assert deposit.kind == TransactionKind.FIAT_DEPOSIT and deposit.description == "SEPA transfer from my bank"
    assert deposit.meta["value"] == {"amount": "5000", "currency": "EUR"}
    assert trade.kind == TransactionKind.TRADE and trade.external_ids == {"order_id": "A-1001"}
    assert {(leg.asset, leg.amount, leg.role, leg.wallet) for leg in trade.legs} == {
        ("BTC", Decimal("0.1"), LegRole.PRINCIPAL, "spot"), ("EUR", Decimal("-4350.2"), LegRole.PRINCIPAL, "spot"),
        ("EUR", Decimal("-4.35"), LegRole.FEE, "spot")}
    assert withdrawal.timestamp == dt.datetime(2021, 3, 5, 17, tzinfo=dt.UTC)  # written at +01:00
    assert net_deltas(withdrawal.legs) == {"BTC": Decimal("-0.0502")}
    assert withdrawal.external_ids["tx_hash"].startswith("4a5e1e4b")
    assert reward1.id != reward2.id and reward1.legs[0].role == LegRole.REWARD
    assert reward1.legs[0].wallet == "staking"
    assert pending.status == TransactionStatus.PENDING
    assert store.balances(account) == {"EUR": Decimal("645.45"), "BTC": Decimal("0.0498"),
                                       "ETH": Decimal("0.025")}


def _workbook(path: Path, rows: list[list[object]], title: str = "Transactions") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _sample_as_cells() -> list[list[object]]:
    """The sample file as a user keeps it in a spreadsheet: numbers as numbers, dates as dates."""
    rows: list[list[object]] = []
    for i, row in enumerate(csv.reader(SAMPLE.open(encoding="utf-8"))):
        cells: list[object] = []
        for j, value in enumerate(row):
            if i and j == 4:
                cells.append(float(value))
            elif i and j == 0 and value and "+" not in value:
                cells.append(dt.datetime.fromisoformat(value))
            else:
                cells.append(value or None)
        rows.append(cells)
    return rows


async def test_the_same_template_as_xlsx_gives_the_same_ledger(store: SqliteStore, tmp_path: Path) -> None:
    eng = engine(store)
    from_csv = connect(eng, "txsync_template", path=str(SAMPLE))
    assert (await run(eng, from_csv)).ok
    csv_account = store.get_connection(from_csv).account_id
    book = _workbook(tmp_path / "records.xlsx", _sample_as_cells())
    from_xlsx = connect(eng, "txsync_template", path=str(book))
    report = await run(eng, from_xlsx)
    assert report.ok, errors(report)
    xlsx_account = store.get_connection(from_xlsx).account_id
    assert ledger(store, xlsx_account) == ledger(store, csv_account)
    # and into the account the CSV went into, nothing is added: same identities
    again = connect(eng, "txsync_template", account_id=csv_account, path=str(book))
    assert (await run(eng, again)).total("new") == 0


def _patch(path: Path, old: bytes, new: bytes) -> None:
    """Rewrite the workbook's parts with ``old`` replaced (a cell value openpyxl would not write)."""
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    assert any(old in data for data in parts.values())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data.replace(old, new))


def test_cells_become_the_text_a_user_typed() -> None:
    assert cell_text(0.1) == "0.1" and cell_text(1e-8) == "0.00000001" and cell_text(12.0) == "12"
    assert cell_text(dt.datetime(2021, 3, 4, 12, 0, 0, 250000)) == "2021-03-04 12:00:00.250000"
    assert cell_text(dt.date(2021, 3, 4)) == "2021-03-04 00:00:00" and cell_text(None) == ""
    assert cell_text(True) == "TRUE" and cell_text(7) == "7"
    for bad in (0.1 + 0.2, float("nan"), float("inf"), dt.time(12, 0)):
        with pytest.raises(ValueError, match=r"digits|finite|cannot be read"):
            cell_text(bad)


async def test_xlsx_problems_are_typed_errors(store: SqliteStore, tmp_path: Path) -> None:
    eng = engine(store)
    header = TEMPLATE_HEADER.strip().split(",")
    # a number with more digits than a spreadsheet keeps: the typed value was rounded
    rounded = _workbook(tmp_path / "rounded.xlsx", [header, ["2021-03-04 12:00:00", None, "deposit", "ETH", 0.3]])
    _patch(rounded, b"<v>0.3</v>", b"<v>0.30000000000000004</v>")
    [error] = errors(await run(eng, connect(eng, "txsync_template", path=str(rounded))))
    assert "rounded.xlsx[Transactions]: row 1 (sheet row 2)" in error and "enter it as text" in error
    # a value beyond the header
    wide = _workbook(tmp_path / "wide.xlsx", [header, ["2021-03-04 12:00:00", None, "deposit", "ETH", "1",
                                                       *[None] * 7, "EUR", "surprise"]])
    [error] = errors(await run(eng, connect(eng, "txsync_template", path=str(wide))))
    assert "row 1 (sheet row 2), column #13: a value beyond the header's 12 columns" in error
    # a sheet that is not there, a workbook that is not one
    [error] = errors(await run(eng, connect(eng, "txsync_template", path=str(wide), sheet="Other")))
    assert "has no sheet 'Other'" in error
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<not-a-workbook")
    [error] = errors(await run(eng, connect(eng, "txsync_template", path=str(broken))))
    assert "broken.xlsx: not a readable Excel workbook" in error
    # a workbook bomb: a sheet part expanding far beyond its compressed size
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            for _ in range(8):
                part.write(b"<row/>" * (2**20 // 6))
    [error] = errors(await run(eng, connect(eng, "txsync_template", path=str(bomb))))
    assert "FileLimitError" in error and "expands more than 200 times" in error
    # the CSV importers do not read workbooks
    [error] = errors(await run(eng, connect(eng, "koinly_csv", path=str(wide))))
    assert "is an Excel workbook" in error


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["2021-03-04 12:00:00,t1,trade,BTC,1,,,,,,,\n", "2021-03-04 12:00:01,t1,,EUR,-100,,,,,,,\n"],
         "row 2 (line 3), column Date: the rows of one transaction disagree"),
        (["2021-03-04 12:00:00,t1,trade,BTC,1,,,,,,,\n", ",t1,deposit,EUR,-100,,,,,,,\n"],
         "row 2 (line 3), column Kind: the rows of one transaction disagree"),
        ([",t1,trade,BTC,1,,,,,,,\n", ",t1,,EUR,-100,,,,,,,\n"], "column Date: is empty on every row"),
        (["2021-03-04 12:00:00,,swapp,BTC,1,,,,,,,\n"], "column Kind: 'swapp' is not one of trade, convert"),
        (["2021-03-04 12:00:00,,,BTC,1,feee,,,,,,\n"], "column Role: 'feee' is not one of"),
        (["2021-03-04 12:00:00,,,BTC,1,,,done,,,,\n"], "column Status: 'done' is not one of"),
        (["2021-03-04 12:00:00,,,BTC,,,,,,,,\n"], "column Amount: is empty"),
        (["2021-03-04 12:00:00,,,BTC,1e400,,,,,,,\n"], "column Amount: '1e400' is too large"),
        (["2021-03-04 12:00:00,,,BTC,1,,,,,,100,\n"], "column Value Currency: is empty while Value"),
        ([",,,BTC,1,,,,,,,\n"], "column Date: is empty"),
    ],
)
async def test_bad_template_rows(store: SqliteStore, rows: list[str], message: str) -> None:
    eng = engine(store)
    connection = connect(eng, "txsync_template", text=TEMPLATE_HEADER + "".join(rows))
    [error] = errors(await run(eng, connection))
    assert message in error, error
    assert store.count_raws(connection) == 0


async def test_rows_of_a_transaction_may_be_anywhere_and_kinds_are_inferred(store: SqliteStore) -> None:
    text = TEMPLATE_HEADER + (
        "2021-03-04 12:00:00,a,,BTC,0.5,,,,,,,\n"
        "2021-03-05 12:00:00,,,ETH,2,,,,,,,\n"  # alone: a deposit
        ",a,,USDT,-20000,,,,,,,\n"  # joins 'a', far from its first row: a trade
        ",a,,BNB,-0.01,fee,,,,,,\n"
        "2021-03-06 12:00:00,,,ETH,0.01,reward,,,,,,\n"  # only a reward leg: a reward
    )
    eng = engine(store)
    connection = connect(eng, "txsync_template", text=text)
    assert (await run(eng, connection)).ok
    kinds = sorted(str(t.kind) for t in store.transactions(account_id=store.get_connection(connection).account_id))
    assert kinds == ["deposit", "reward", "trade"]


def test_sniffing() -> None:
    assert TxsyncTemplate.sniff(TEMPLATE_HEADER.strip().split(","))
    assert TxsyncTemplate.sniff(["date", "kind", "asset", "amount"])
    assert not TxsyncTemplate.sniff(["Date", "Asset", "Amount"])

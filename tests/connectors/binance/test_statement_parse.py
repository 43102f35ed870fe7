"""Binance statement importer: reading the file (sources, CSV, times, amounts) and the operation table."""

from __future__ import annotations

import io
import tarfile
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from txsync.connectors.binance_statement import OPERATIONS, StatementFormatError, load_plan, lookup
from txsync.connectors.binance_statement._events import normalize_rows
from txsync.connectors.binance_statement._parse import parse_amount, parse_rows, parse_time
from txsync.errors import ConfigurationError, TxsyncError
from txsync.models import LegRole, RawTransaction, TransactionKind

DATA = Path(__file__).parent / "statement_data"
HEADER = "User_ID,UTC_Time,Account,Operation,Coin,Change,Remark\n"
T = datetime(2021, 3, 4, 12, 0, 0, tzinfo=UTC)


def rows(text: str) -> list[object]:
    return list(parse_rows("s.csv", text))


def normalized(options: dict[str, object]) -> list[object]:
    plan = load_plan(options)
    raws = [
        RawTransaction(
            connection_id="c",
            account_id="a",
            stream="statement",
            source_id=p.source_id,
            payload=p.payload(),
            fetched_at=T,
        )
        for p in plan.rows
    ]
    return list(normalize_rows(raws))


# -- times and amounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-03-04 12:00:00", T),
        (" 2021-03-04 12:00:00 ", T),
        ("2021-03-04T12:00:00", T),
        ("2021-03-04T12:00:00Z", T),
        ("2021-03-04 12:00:00 UTC", T),
        ("2021/03/04 12:00:00", T),
        ("2021.3.4 12:00", T),
        ("21-03-04 12:00:00", T),
        ("2021-03-04 12:00:00.250", T.replace(microsecond=250000)),
        ("2021-03-04 14:00:00+02:00", T),
        ("2021-03-04 07:00:00-0500", T),
    ],
)
def test_times_in_every_variant_become_aware_utc(text: str, expected: datetime) -> None:
    got = parse_time(text)
    assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "04/03/2021 12:00:00",
        "2021-13-01 00:00:00",
        "2021-03-04",
        "yesterday",
        "44256.5",
        "2021-02-30 10:00:00",
    ],
)
def test_ambiguous_or_invalid_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.00100000", "0.001"),
        ("-1500.2", "-1500.2"),
        ("1E-8", "0.00000001"),
        ("-2.5e-05", "-0.000025"),
        ("+3", "3"),
        ("1.234567E-2", "0.01234567"),
        ("-0", "0"),
        (".5", "0.5"),
        ("1e+3", "1000"),
    ],
)
def test_amounts_are_exact_decimals_including_scientific_notation(text: str, expected: str) -> None:
    amount = parse_amount(text)
    assert isinstance(amount, Decimal) and amount == Decimal(expected)
    assert amount.as_tuple().exponent <= 0  # type: ignore[operator]  # plain, never 1E+3


@pytest.mark.parametrize("text", ["", "abc", "1,5", "NaN", "inf", "1.2.3", "0x10", "--1"])
def test_non_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        parse_amount(text)


# -- CSV ----------------------------------------------------------------------------------------------


def test_bom_quotes_embedded_commas_and_newlines_blank_lines_and_column_order() -> None:
    text = (
        '\ufeff"Remark","Change","Coin","Operation","Account","UTC_Time","User_ID","Extra"\r\n'
        '"Spot Trading, BTC/USDT","0.1","BTC","Buy","Spot","2021-03-04 12:00:00","1","x"\r\n'
        "\r\n"
        '"two\nlines","-5000","USDT","Buy","Spot","2021-03-04 12:00:00","1","y"\r\n'
    )
    first, second = rows(text)
    assert first.remark == "Spot Trading, BTC/USDT" and first.change == Decimal("0.1")  # type: ignore[attr-defined]
    assert second.remark == "two\nlines" and second.line == 4  # type: ignore[attr-defined]


def test_header_only_file_has_no_rows_and_loose_header_names() -> None:
    assert rows(" utc_time , ACCOUNT,operation,Coin , change\n") == []
    [row] = rows("UTC_Time,Account,Operation,Coin,Change\n2021-03-04 12:00:00,Spot,Deposit,BTC,1\n")
    assert (row.user_id, row.remark, row.time) == ("", "", T)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            "1,2021-03-04 12:00:00,Spot,Buy,BTC,abc,\n",
            r"s\.csv: row 1 \(line 2\), column Change: 'abc' is not a number",
        ),
        (
            "1,2021-03-04 12:00:00,Spot,Buy,BTC,1,\n1,not a time,Spot,Buy,BTC,1,\n",
            r"row 2 \(line 3\), column UTC_Time",
        ),
        ("1,2021-03-04 12:00:00,Spot,,BTC,1,\n", r"row 1 \(line 2\), column Operation: is empty"),
        ("1,2021-03-04 12:00:00,Spot,Buy\n", r"row 1 \(line 2\), column Change: the row has 4 fields"),
        ("1,2021-03-04 12:00:00,Spot,Buy,B T C,1,\n", r"column Coin: 'B T C' is not a coin symbol"),
        ('1,"2021-03-04 12:00:00,Spot,Buy,BTC,1,\n', r"row 1 \(line \d\): malformed CSV"),
    ],
)
def test_malformed_rows_raise_a_typed_error_naming_the_row(body: str, match: str) -> None:
    with pytest.raises(StatementFormatError, match=match) as info:
        rows(HEADER + body)
    assert isinstance(info.value, TxsyncError) and info.value.source == "s.csv"


def test_a_file_that_is_not_a_statement_is_refused() -> None:
    with pytest.raises(StatementFormatError, match="header lacks Account, Operation, Coin, Change"):
        rows("Date(UTC),Pair,Side,Price,Executed,Amount,Fee\n")
    with pytest.raises(StatementFormatError, match="empty file"):
        rows("\n\n")


# -- sources ------------------------------------------------------------------------------------------


def test_path_text_zip_and_tar_sources_give_the_same_plan(tmp_path: Path) -> None:
    csv_bytes = (DATA / "scenario.csv").read_bytes()
    zipped = tmp_path / "statement.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("part-1.csv", csv_bytes)
        archive.writestr("__MACOSX/.part-1.csv", b"junk")
    tarred = tmp_path / "statement.tar.gz"
    with tarfile.open(tarred, "w:gz") as archive:
        info = tarfile.TarInfo("export/part-1.csv")
        info.size = len(csv_bytes)
        archive.addfile(info, io.BytesIO(csv_bytes))
    plans = [
        load_plan({"path": str(DATA / "scenario.csv")}),
        load_plan({"text": csv_bytes.decode("utf-8-sig")}),
        load_plan({"text": "\ufeff" + csv_bytes.decode("utf-8-sig")}),
        load_plan({"path": str(zipped)}),
        load_plan({"path": str(tarred)}),
    ]
    ids = [[p.source_id for p in plan.rows] for plan in plans]
    assert len(ids[0]) == 52 and all(i == ids[0] for i in ids)


def test_source_problems_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="exactly one of the options 'path'"):
        load_plan({})
    with pytest.raises(ConfigurationError, match="exactly one"):
        load_plan({"path": "a.csv", "text": "x"})
    with pytest.raises(ConfigurationError, match=r"not found: missing\.csv"):
        load_plan({"path": str(tmp_path / "missing.csv")})
    (tmp_path / "latin1.csv").write_bytes(
        HEADER.encode() + "1,2021-03-04 12:00:00,Spot,Buy,\xc9UR,1,\n".encode("latin-1")
    )
    with pytest.raises(StatementFormatError, match="not UTF-8"):
        load_plan({"path": str(tmp_path / "latin1.csv")})
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("readme.txt", "no csv here")
    with pytest.raises(StatementFormatError, match=r"no \.csv file"):
        load_plan({"path": str(empty_zip)})
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(StatementFormatError, match="zip"):
        load_plan({"path": str(tmp_path / "bad.zip")})


# -- operations ---------------------------------------------------------------------------------------

# The operations the reference names, and what they become.
REFERENCE = {
    "Deposit": TransactionKind.DEPOSIT,
    "Withdraw": TransactionKind.WITHDRAWAL,
    "Buy": TransactionKind.TRADE,
    "Sell": TransactionKind.TRADE,
    "Fee": TransactionKind.TRADE,
    "Transaction Related": TransactionKind.TRADE,
    "Small assets exchange BNB": TransactionKind.DUST_CONVERSION,
    "Commission History": TransactionKind.REFERRAL,
    "Commission Fee Shared With You": TransactionKind.REFERRAL,
    "Launchpool Interest": TransactionKind.REWARD,
    "Launchpad Token Distribution": TransactionKind.DISTRIBUTION,
    "Simple Earn Flexible Interest": TransactionKind.INTEREST,
    "ETH 2.0 Staking": TransactionKind.CONVERT,
    "POS savings interest": TransactionKind.REWARD,
    "Liquid Swap add": TransactionKind.LIQUIDITY,
    "Liquid Swap remove": TransactionKind.LIQUIDITY,
    "Binance Card Spending": TransactionKind.WITHDRAWAL,  # a negative change: money spent
    "Cashback Voucher": TransactionKind.REWARD,
    "P2P Trading": TransactionKind.DEPOSIT,  # a positive change: bought through P2P
    "Realized Profit and Loss": TransactionKind.REALIZED_PNL,
    "Funding Fee": TransactionKind.FUNDING_FEE,
    "Insurance Fund Compensation": TransactionKind.FEE,
}


def test_every_operation_of_the_table_is_in_the_fixture_and_maps_to_its_kind() -> None:
    txs = normalized({"path": str(DATA / "all_operations.csv")})
    by_op: dict[str, list[object]] = {}
    for tx in txs:
        for name in tx.meta["operations"]:  # type: ignore[attr-defined]
            by_op.setdefault(name, []).append(tx)
    assert set(by_op) >= {op.name for op in OPERATIONS.values()}
    for op in OPERATIONS.values():
        [tx] = [t for t in by_op[op.name] if t.meta["accounts"] == ["Spot"]]  # type: ignore[attr-defined]
        expected = op.negative_kind if op.negative_kind and tx.legs[0].amount < 0 else op.kind  # type: ignore[attr-defined]
        assert tx.kind == expected, op.name  # type: ignore[attr-defined]
        assert "unknown_type" not in tx.flags  # type: ignore[attr-defined]
        assert {leg.role for leg in tx.legs} == {op.role}  # type: ignore[attr-defined]
    for name, kind in REFERENCE.items():
        assert any(tx.kind == kind for tx in by_op[name]), name  # type: ignore[attr-defined]
    # a futures account's Fee is a commission, not a trade leg
    [futures_fee] = [tx for tx in by_op["Fee"] if "USDT-Futures" in tx.meta["accounts"]]  # type: ignore[attr-defined]
    assert futures_fee.kind == TransactionKind.FEE and futures_fee.legs[0].role == LegRole.FEE  # type: ignore[attr-defined]
    # an unknown operation is kept, as OTHER with the unknown_type flag and its amount
    [unknown] = by_op["Options Premium Fee"]
    assert unknown.kind == TransactionKind.OTHER and "unknown_type" in unknown.flags  # type: ignore[attr-defined]
    assert unknown.legs[0].amount == Decimal("-2")  # type: ignore[attr-defined]
    assert "Options Premium Fee" in unknown.description  # type: ignore[attr-defined]


def test_operation_names_match_whatever_their_case_and_spacing() -> None:
    assert lookup("Small Assets Exchange BNB", "Spot") is lookup("small  assets exchange bnb ", "Spot")
    assert lookup("TRANSACTION FEE", "Spot").role == LegRole.FEE
    assert not lookup("Something New", "Spot").known

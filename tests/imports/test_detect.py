"""Format detection by header, and the format -> connector mapping."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from helpers.files import CT_HEADER, KOINLY_HEADER, TEMPLATE_HEADER, registry, write
from txsync.errors import ConfigurationError, FileImportError
from txsync.imports import BUILTIN_FORMATS, connector_for, detect_format, format_connectors, read_header
from txsync.registry import default_registry

STATEMENT = Path(__file__).resolve().parents[1] / "connectors" / "binance" / "statement_data" / "scenario.csv"


def test_each_format_is_recognised_by_its_header(tmp_path: Path) -> None:
    reg = registry()
    files = {
        "koinly": write(tmp_path / "k.csv", KOINLY_HEADER + "2021-03-04 12:00:00,,,1,BTC,,,,,,,\n"),
        "cointracking": write(tmp_path / "c.csv", CT_HEADER),
        "txsync": write(tmp_path / "t.csv", "\ufeff" + TEMPLATE_HEADER),
        "binance-statement": STATEMENT,
    }
    for expected, path in files.items():
        assert detect_format(path, registry=reg) == expected, path
    zipped = tmp_path / "statement.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("part-1.csv", STATEMENT.read_bytes())
    assert detect_format(zipped, registry=reg) == "binance-statement"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([None])  # a blank first row
    sheet.append(TEMPLATE_HEADER.strip().split(","))
    book.save(tmp_path / "records.xlsx")
    assert detect_format(tmp_path / "records.xlsx", registry=reg) == "txsync"
    assert read_header({"text": "a , b,c\n1,2,3\n"}) == ["a", "b", "c"]
    assert detect_format({"text": KOINLY_HEADER}, registry=reg) == "koinly"


def test_an_unknown_header_lists_the_formats_txsync_knows(tmp_path: Path) -> None:
    path = write(tmp_path / "kraken.csv", "txid,refid,time,type,aclass,asset,amount,fee,balance\n")
    with pytest.raises(FileImportError) as info:
        detect_format(path, registry=registry())
    message = str(info.value)
    assert message.startswith("kraken.csv: unknown file format: the header (txid, refid, time, type")
    for name in ("koinly (Date, Sent Amount", "cointracking (Type, Buy, Cur.", "txsync (Date, Tx, Kind",
                 "binance-statement (User_ID, UTC_Time"):
        assert name in message
    with pytest.raises(FileImportError, match="empty file"):
        detect_format(write(tmp_path / "empty.csv", "\n"), registry=registry())
    with pytest.raises(ConfigurationError, match="not found"):
        detect_format(tmp_path / "nope.csv", registry=registry())


def test_the_mapping_from_format_to_connector() -> None:
    assert format_connectors(registry()) == dict(BUILTIN_FORMATS)
    assert format_connectors(default_registry()) == dict(BUILTIN_FORMATS)  # published through entry points
    assert connector_for("koinly", registry()) == "koinly_csv"
    with pytest.raises(ConfigurationError, match="unknown import format 'blockpit': txsync knows binance-statement"):
        connector_for("blockpit", registry())

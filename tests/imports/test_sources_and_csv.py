"""Reading files to import: sources and archives under limits, and the strict CSV reader."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from txsync.errors import ConfigurationError, FileImportError, FileLimitError
from txsync.imports.limits import ImportLimits
from txsync.imports.sources import iter_sources
from txsync.imports.table import Column, Layout, Row, match_header, read_table

COLUMNS = (
    Column("date", ("Date",), required=True),
    Column("amount", ("Amount",), required=True, numeric=True),
    Column("asset", ("Asset",), required=True),
    Column("note", ("Note",)),
)
HEADER = "Date,Amount,Asset,Note\n"
BODY = "2021-03-04 12:00:00,1.5,BTC,first\n2021-03-05 12:00:00,-2,ETH,\"two, with a comma\"\n"
LIMITS = ImportLimits()


def layout(source: str, cells: list[str]) -> Layout:
    return match_header(source, cells, COLUMNS, what="a test file", expected="Date, Amount, Asset, Note")


def rows(options: dict[str, Any], limits: ImportLimits = LIMITS, **kw: Any) -> list[tuple[str, int, int, list[str]]]:
    out = []
    for source in iter_sources(options, limits, label="test", text_name="upload.csv", **kw):
        for row in read_table(source, layout):
            out.append((source.name, row.row, row.line, list(row.cells)))
    return out


def table(text: str) -> list[Row]:
    return [row for source in iter_sources({"text": text}, LIMITS, label="t", text_name="t.csv")
            for row in read_table(source, layout)]


# -- sources --------------------------------------------------------------------------------------------


def _archives(tmp_path: Path, data: bytes) -> Iterator[Path]:
    plain = tmp_path / "plain.csv"
    plain.write_bytes(data)
    yield plain
    zipped = tmp_path / "export.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__MACOSX/._part.csv", b"junk")
        archive.writestr("readme.txt", b"not a csv")
        archive.writestr("part.csv", data)
    yield zipped
    for suffix, mode in ((".tar.gz", "w:gz"), (".tar.bz2", "w:bz2"), (".tar.xz", "w:xz"), (".tar", "w")):
        tarred = tmp_path / f"export{suffix}"
        with tarfile.open(tarred, mode) as archive:  # type: ignore[call-overload]
            info = tarfile.TarInfo("export/part.csv")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        yield tarred
    for suffix, compress in ((".csv.gz", gzip.compress), (".csv.bz2", bz2.compress), (".csv.xz", lzma.compress)):
        packed = tmp_path / f"single{suffix}"
        packed.write_bytes(compress(data))
        yield packed


def test_plain_zipped_tarred_and_compressed_files_read_the_same(tmp_path: Path) -> None:
    data = (HEADER + BODY).encode()
    expected = [(1, 2, ["2021-03-04 12:00:00", "1.5", "BTC", "first"]),
                (2, 3, ["2021-03-05 12:00:00", "-2", "ETH", "two, with a comma"])]
    for path in _archives(tmp_path, data):
        got = rows({"path": str(path)})
        assert [(r, line, cells) for _, r, line, cells in got] == expected, path.name
    names = {got[0][0] for got in (rows({"path": str(p)}) for p in _archives(tmp_path, data))}
    assert {"plain.csv", "export.zip/part.csv", "export.tar.gz/export/part.csv", "single.csv"} <= names
    # in memory: text, bytes, zipped bytes
    assert [c for *_, c in rows({"text": HEADER + BODY})] == [c for *_, c in expected]
    assert [c for *_, c in rows({"text": data})] == [c for *_, c in expected]
    assert [c for *_, c in rows({"text": (tmp_path / "export.zip").read_bytes(), "name": "up.zip"})] == [
        c for *_, c in expected]


def test_encodings_bom_and_utf16(tmp_path: Path) -> None:
    text = HEADER + "2021-03-04 12:00:00,1,€UR,caf\u00e9\n"
    for data in (text.encode("utf-8-sig"), text.encode("utf-16"), text.encode()):
        path = tmp_path / "enc.csv"
        path.write_bytes(data)
        [(_, _, _, cells)] = rows({"path": str(path)})
        assert cells[2:] == ["€UR", "caf\u00e9"]
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "2021-03-04 12:00:00,1,BTC,ok\n" * 3 + "2021-03-04 12:00:00,1,BTC,caf\u00e9\n")
                     .encode("latin-1"))
    with pytest.raises(FileImportError, match=r"latin1\.csv: row 4 \(line 5\): not UTF-8"):
        rows({"path": str(path)})


def test_options_and_paths_that_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="exactly one of the options 'path'"):
        rows({})
    with pytest.raises(ConfigurationError, match="exactly one"):
        rows({"path": "a.csv", "text": "x"})
    with pytest.raises(ConfigurationError, match=r"not found: missing\.csv"):
        rows({"path": str(tmp_path / "missing.csv")})
    with pytest.raises(ConfigurationError, match="directory"):
        rows({"path": str(tmp_path)})
    with pytest.raises(ConfigurationError, match="'text' must be"):
        rows({"text": 42})
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("readme.txt", "no csv here")
    with pytest.raises(FileImportError, match=r"no \.csv file"):
        rows({"path": str(empty_zip)})
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(FileImportError, match="not a readable zip archive"):
        rows({"path": str(tmp_path / "bad.zip")})
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress((HEADER + BODY * 50).encode())[:-30])
    with pytest.raises(FileImportError, match=r"cut\.csv\.gz: cannot be read: EOFError"):
        rows({"path": str(tmp_path / "cut.csv.gz")})


def test_device_files_and_pipes_are_refused_before_any_byte_is_read(tmp_path: Path) -> None:
    with pytest.raises(FileLimitError, match=r"zero: is not a regular file"):
        rows({"path": "/dev/zero"})
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # nobody writes to it: opening it must not block
    with pytest.raises(FileLimitError, match=r"pipe\.csv: is not a regular file"):
        rows({"path": str(fifo)})
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    with pytest.raises(FileLimitError, match="not a regular file"):
        rows({"path": str(link)})


def test_size_limits(tmp_path: Path) -> None:
    data = (HEADER + BODY * 100).encode()
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    small = ImportLimits(max_bytes=len(data) - 1)
    with pytest.raises(FileLimitError, match=r"big\.csv: \d+ bytes is more than"):
        rows({"path": str(path)}, small)
    with pytest.raises(FileLimitError, match="more than"):
        rows({"text": data.decode()}, small)
    # an archive whose members expand beyond the limit in total, whatever its headers claim
    zipped = tmp_path / "two.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.csv", data)
        archive.writestr("b.csv", data)
    with pytest.raises(FileLimitError, match=r"two\.zip: more than \d+ bytes to read"):
        rows({"path": str(zipped)}, ImportLimits(max_bytes=len(data) + 100))
    assert len(rows({"path": str(zipped)}, ImportLimits(max_bytes=3 * len(data)))) == 400
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(5):
            archive.writestr(f"{i}.csv", HEADER)
    with pytest.raises(FileLimitError, match="holds 5 files"):
        rows({"path": str(many)}, ImportLimits(max_members=4))


def _bomb(path: Path, megabytes: int) -> None:
    line = b"2021-03-04 12:00:00,1,BTC,same row again and again\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive, \
            archive.open("statement.csv", "w") as member:
        member.write(HEADER.encode())
        block = line * (2**20 // len(line))
        for _ in range(megabytes):
            member.write(block)


def test_a_zip_bomb_is_refused_while_it_expands(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    _bomb(bomb, 8)
    assert bomb.stat().st_size < 2**20 // 32  # 8 MiB in well under 32 KiB: a ratio above 200
    with pytest.raises(FileLimitError, match=r"bomb\.zip/statement\.csv: expands more than 200 times"):
        rows({"path": str(bomb)})
    # the same content, allowed a higher ratio but a total cap, stops at the cap
    with pytest.raises(FileLimitError, match="more than 4194304 bytes"):
        rows({"path": str(bomb)}, ImportLimits(max_ratio=10**6, max_bytes=4 * 2**20))
    gz_bomb = tmp_path / "bomb.csv.gz"
    with gzip.open(gz_bomb, "wb", compresslevel=9) as out:
        out.write(HEADER.encode())
        out.write(b"2021-03-04 12:00:00,1,BTC,x\n" * (2**18))
    with pytest.raises(FileLimitError, match="expands more than 200 times"):
        rows({"path": str(gz_bomb)})


def test_limits_from_options() -> None:
    assert ImportLimits.from_options({"max_bytes": 10, "max_ratio": 5}) == ImportLimits(max_bytes=10, max_ratio=5)
    for bad in (0, -1, "10", True, 1.5):
        with pytest.raises(ConfigurationError, match="positive integer"):
            ImportLimits.from_options({"max_bytes": bad})


# -- the strict CSV reader ----------------------------------------------------------------------------


def test_quotes_blank_lines_line_numbers_and_column_order() -> None:
    text = ('\ufeff"Note","Asset","Amount","Date","Extra"\r\n'
            '"a, b","BTC","1","2021-03-04 12:00:00","x"\r\n'
            "\r\n"
            '"two\nlines","ETH","2","2021-03-05 12:00:00","y"\r\n'
            '"last","BTC","3","2021-03-06 12:00:00","z"')  # no final line break, complete row: fine
    first, second, third = table(text)
    assert (first.get("note"), first.get("amount"), first.line) == ("a, b", "1", 2)
    assert (second.get("note"), second.row, second.line) == ("two\nlines", 2, 4)
    assert (third.row, third.line, third.get("date")) == (3, 6, "2021-03-06 12:00:00")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        # an unquoted decimal comma adds a field: named precisely
        ("2021-03-04 12:00:00,1,5,BTC,\n",
         r"t\.csv: row 1 \(line 2\), column Amount: '1,5' looks like an amount written with a decimal comma"),
        # one field too many
        ("2021-03-04 12:00:00,1.5,BTC,note,extra\n",
         r"row 1 \(line 2\), column Note: the row has 5 fields, the header 4 .*extra: 'extra'"),
        # one field too few, in the middle of the file
        ("2021-03-04 12:00:00,1.5,BTC\n2021-03-05 12:00:00,1,BTC,\n",
         r"row 1 \(line 2\), column Note: the row has 3 fields, the header 4$"),
        # the file cut inside its last amount (no final line break, row incomplete)
        ("2021-03-04 12:00:00,1.5,BTC,\n2021-03-05 12:00:00,0.00",
         r"row 2 \(line 3\), column Asset: the file ends inside this row: it looks truncated"),
        # the file cut inside a quoted value
        ('2021-03-04 12:00:00,1.5,BTC,\n2021-03-05 12:00:00,"0.00',
         r"row 2 \(line 3\): malformed CSV: the file ends inside a quoted value"),
        # a stray quote
        ('2021-03-04 12:00:00,"1"5,BTC,\n', r"row 1 \(line 2\): malformed CSV"),
    ],
)
def test_malformed_rows_are_typed_errors_naming_row_and_column(body: str, match: str) -> None:
    with pytest.raises(FileImportError, match=match) as info:
        table(HEADER + body)
    assert info.value.source == "t.csv" and info.value.row is not None


def test_header_problems() -> None:
    with pytest.raises(FileImportError, match=r"t\.csv: row 0 \(line 1\): not a test file: the header lacks Amount"):
        table("Date,Asset\n2021-03-04 12:00:00,BTC\n")
    with pytest.raises(FileImportError, match="empty file"):
        table("\n\n")


def test_a_line_without_breaks_is_refused_not_read_whole() -> None:
    limits = ImportLimits(max_line_chars=1000)
    with pytest.raises(FileLimitError, match=r"line 2: line is longer than 1000 characters"):
        rows({"text": HEADER + "x" * 5000}, limits)

"""Reading the statement file: sources (path, text, zip / tar archives), CSV rows, times, amounts.

Strict by design: a row that cannot be read raises :class:`StatementFormatError` naming the file,
the data row and the line, and nothing of the file is imported (the connector parses the whole file
before it yields its first page).
"""

from __future__ import annotations

import csv
import io
import re
import tarfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from txsync.errors import ConfigurationError, TxsyncError
from txsync.models import to_amount

__all__ = [
    "StatementFormatError",
    "StatementRow",
    "normalize_amount",
    "parse_amount",
    "parse_rows",
    "parse_time",
    "read_sources",
]

#: Biggest file (or archive member) read, in bytes: a guard against feeding the importer a disk image.
MAX_BYTES = 512 * 1024 * 1024

_COLUMNS = {
    "userid": "user_id",
    "utctime": "utc_time",
    "time": "utc_time",
    "dateutc": "utc_time",
    "timeutc": "utc_time",
    "account": "account",
    "operation": "operation",
    "coin": "coin",
    "change": "change",
    "remark": "remark",
}
_REQUIRED = ("utc_time", "account", "operation", "coin", "change")
_TITLES = {"utc_time": "UTC_Time", "account": "Account", "operation": "Operation", "coin": "Coin",
           "change": "Change", "remark": "Remark", "user_id": "User_ID"}


class StatementFormatError(TxsyncError, ValueError):
    """The statement file cannot be read: bad header, malformed row, time or amount.

    ``source`` names the file (or archive member), ``row`` the 1-based data row (header excluded),
    ``line`` the physical line where the row starts, ``column`` the column at fault.
    """

    def __init__(self, message: str, *, source: str, row: int | None = None, line: int | None = None,
                 column: str | None = None) -> None:
        where = source
        if row is not None:
            where += f": row {row}"
            if line is not None:
                where += f" (line {line})"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.row = row
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One balance change of the statement, parsed (the original text of ``change`` is kept)."""

    source: str
    row: int
    line: int
    user_id: str
    time: datetime
    account: str
    operation: str
    coin: str
    change: Decimal
    change_text: str
    remark: str


# -- sources ------------------------------------------------------------------------------------------


def read_sources(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The CSV texts the connection names, as (name, text): ``options["path"]`` (a CSV file, or a
    .zip / .tar / .tar.gz / .tgz archive of CSV files) or ``options["text"]`` (the CSV itself)."""
    path, text = options.get("path"), options.get("text")
    if (path is None) == (text is None):
        raise ConfigurationError(
            "binance_statement needs exactly one of the options 'path' (the downloaded file) or "
            "'text' (its content)"
        )
    if text is not None:
        if isinstance(text, bytes):
            return [("statement", _decode(text, "statement"))]
        if not isinstance(text, str):
            raise ConfigurationError("binance_statement option 'text' must be a string")
        return [("statement", text.removeprefix("\ufeff"))]
    if not isinstance(path, (str, Path)):
        raise ConfigurationError("binance_statement option 'path' must be a file path")
    file = Path(path)
    name = file.name
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            raise ConfigurationError(f"{name}: {size} bytes is more than the {MAX_BYTES} bytes read")
        data = file.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"statement file not found: {name}") from None
    except IsADirectoryError:
        raise ConfigurationError(f"statement path is a directory: {name}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read statement file {name}: {exc.strerror}") from None
    return _unpack(name, data)


def _unpack(name: str, data: bytes) -> list[tuple[str, str]]:
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = sorted((i for i in archive.infolist() if _is_csv(i.filename) and not i.is_dir()),
                                 key=lambda i: i.filename)
                out = []
                for info in members:
                    if info.file_size > MAX_BYTES:
                        raise ConfigurationError(f"{name}/{info.filename}: member too large")
                    out.append((f"{name}/{info.filename}", _decode(archive.read(info), info.filename)))
        except zipfile.BadZipFile:
            raise StatementFormatError("not a readable zip archive", source=name) from None
        return _some(name, out)
    if data[:2] == b"\x1f\x8b" or name.lower().endswith((".tar", ".tar.gz", ".tgz")):
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                out = []
                for member in sorted(archive.getmembers(), key=lambda m: m.name):
                    if not member.isfile() or not _is_csv(member.name):
                        continue
                    if member.size > MAX_BYTES:
                        raise ConfigurationError(f"{name}/{member.name}: member too large")
                    handle = archive.extractfile(member)
                    if handle is not None:
                        out.append((f"{name}/{member.name}", _decode(handle.read(), member.name)))
        except tarfile.TarError:
            raise StatementFormatError("not a readable tar archive", source=name) from None
        return _some(name, out)
    return [(name, _decode(data, name))]


def _is_csv(filename: str) -> bool:
    base = filename.rsplit("/", 1)[-1]
    return base.lower().endswith(".csv") and not base.startswith(".")


def _some(name: str, out: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if not out:
        raise StatementFormatError("the archive holds no .csv file", source=name)
    return out


def _decode(data: bytes, name: str) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16").removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StatementFormatError(
            "not UTF-8 text: export the statement again (CSV) or save it as UTF-8", source=name
        ) from None


# -- rows ---------------------------------------------------------------------------------------------


def _header_key(title: str) -> str:
    return re.sub(r"[^0-9a-z]", "", title.strip().removeprefix("\ufeff").casefold())


def parse_rows(name: str, text: str) -> Iterator[StatementRow]:
    """The rows of one CSV text, validated; raises :class:`StatementFormatError` on the first bad one."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: dict[str, int] | None = None
    row_no = 0
    end = 0  # the line the previous record ended on
    try:
        for fields in reader:
            line, end = end + 1, reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            if header is None:
                header = _header(name, fields)
                continue
            row_no += 1
            yield _row(name, row_no, line, fields, header)
    except csv.Error as exc:
        raise StatementFormatError(f"malformed CSV ({exc})", source=name, row=row_no + 1,
                                   line=end + 1) from None
    if header is None:
        raise StatementFormatError("empty file: no header row", source=name)


def _header(name: str, fields: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, title in enumerate(fields):
        column = _COLUMNS.get(_header_key(title))
        if column is not None and column not in found:
            found[column] = index
    missing = [_TITLES[c] for c in _REQUIRED if c not in found]
    if missing:
        raise StatementFormatError(
            "not a Binance account statement: the header lacks " + ", ".join(missing)
            + " (expected User_ID, UTC_Time, Account, Operation, Coin, Change, Remark)",
            source=name, row=0, line=1,
        )
    return found


def _row(name: str, row_no: int, line: int, fields: list[str], header: dict[str, int]) -> StatementRow:
    def get(column: str) -> str:
        index = header.get(column)
        if index is None:
            return ""
        if index >= len(fields):
            if column in _REQUIRED:
                raise StatementFormatError(
                    f"the row has {len(fields)} fields, the header {max(header.values()) + 1}",
                    source=name, row=row_no, line=line, column=_TITLES[column])
            return ""
        return fields[index].strip()

    def required(column: str) -> str:
        value = get(column)
        if not value:
            raise StatementFormatError("is empty", source=name, row=row_no, line=line, column=_TITLES[column])
        return value

    time_text = required("utc_time")
    try:
        at = parse_time(time_text)
    except ValueError as exc:
        raise StatementFormatError(str(exc), source=name, row=row_no, line=line, column="UTC_Time") from None
    change_text = required("change")
    try:
        change = parse_amount(change_text)
    except ValueError as exc:
        raise StatementFormatError(str(exc), source=name, row=row_no, line=line, column="Change") from None
    coin = required("coin")
    if any(c.isspace() for c in coin) or len(coin) > 200:
        raise StatementFormatError(f"{coin[:40]!r} is not a coin symbol", source=name, row=row_no, line=line,
                                   column="Coin")
    return StatementRow(
        source=name, row=row_no, line=line, user_id=get("user_id"), time=at, account=required("account"),
        operation=required("operation"), coin=coin, change=change, change_text=change_text,
        remark=get("remark"),
    )


# -- values -------------------------------------------------------------------------------------------

_TIME = re.compile(
    r"""^(?P<y>\d{4}|\d{2})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})
        (?:[ T]+|\s*,\s*)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?
        \s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$""",
    re.VERBOSE | re.IGNORECASE,
)


def parse_time(text: str) -> datetime:
    """A statement time as an aware UTC datetime.

    Accepted: ``YYYY-MM-DD HH:MM:SS`` (Binance's format) and its variants: ``T`` as separator, ``/``
    or ``.`` between date parts, a two-digit year (``21-03-04``, read as 2021), no seconds, a
    fraction, a ``Z`` / ``UTC`` / ``+hh:mm`` suffix (converted to UTC). Day-first or month-first dates
    (``04/03/2021``) are refused: they are ambiguous.
    """
    match = _TIME.match(text.strip())
    if match is None:
        raise ValueError(f"{text[:40]!r} is not a time like 2021-03-04 12:00:00")
    year = int(match["y"])
    if len(match["y"]) == 2:
        year += 2000
    fraction = (match["f"] or "").ljust(6, "0")[:6]
    try:
        at = datetime(year, int(match["m"]), int(match["d"]), int(match["H"]), int(match["M"]),
                      int(match["S"] or 0), int(fraction or 0), tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"{text[:40]!r} is not a valid time ({exc})") from None
    tz = (match["tz"] or "").upper()
    if tz and tz[0] in "+-":
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        at = at.replace(tzinfo=timezone(offset if tz[0] == "+" else -offset)).astimezone(UTC)
    return at


_AMOUNT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def parse_amount(text: str) -> Decimal:
    """A signed exact amount: plain decimals and scientific notation (``-1.5E-7``); nothing else."""
    value = text.strip()
    if not _AMOUNT.match(value):
        raise ValueError(f"{value[:40]!r} is not a number")
    amount = to_amount(value)  # the ledger's one amount rule: an AmountError (a ValueError) if out of range
    return Decimal(format(amount, "f")) if amount else Decimal(0)


def normalize_amount(amount: Decimal) -> str:
    """The canonical text of an amount (no exponent, no trailing zeros, no negative zero)."""
    if not amount:
        return "0"
    return format(amount.normalize(), "f")

"""Reading the statement: its columns, one row, times and amounts (the shared file-import rules).

Strict by design: a row that cannot be read raises :class:`StatementFormatError` naming the file,
the data row, the line and the column, and nothing of the file is imported (the connector validates
the whole file before it yields its first page). The reading itself (sources, archives, limits, the
strict CSV reader) is :mod:`txsync.imports`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal

from txsync.errors import FileImportError, FileLimitError
from txsync.imports import values
from txsync.imports.limits import DEFAULT_LIMITS
from txsync.imports.sources import Source
from txsync.imports.table import Column, Layout, Row, match_header, read_table

__all__ = [
    "COLUMNS",
    "StatementFormatError",
    "StatementRow",
    "normalize_amount",
    "parse_amount",
    "parse_rows",
    "parse_time",
    "statement_error",
    "statement_layout",
    "statement_row",
]

COLUMNS = (
    Column("user_id", ("User_ID",)),
    Column("utc_time", ("UTC_Time", "Time", "Date(UTC)", "Time(UTC)"), required=True),
    Column("account", ("Account",), required=True),
    Column("operation", ("Operation",), required=True),
    Column("coin", ("Coin",), required=True),
    Column("change", ("Change",), required=True, numeric=True),
    Column("remark", ("Remark",)),
)
#: The order a short row's first missing column is named in (the values that matter most first).
_ORDER = ("utc_time", "change", "coin", "account", "operation", "remark", "user_id")


class StatementFormatError(FileImportError):
    """The statement file cannot be read: bad header, malformed row, time or amount.

    ``source`` names the file (or archive member), ``row`` the 1-based data row (header excluded),
    ``line`` the physical line where the row starts, ``column`` the column at fault.
    """


def statement_error(exc: FileImportError) -> FileImportError:
    """``exc`` as a :class:`StatementFormatError` (limit errors keep their own type)."""
    if isinstance(exc, (StatementFormatError, FileLimitError)):
        return exc
    return StatementFormatError(exc.detail, source=exc.source, row=exc.row, line=exc.line, column=exc.column,
                                value=exc.value, line_label=exc.line_label)


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
    #: The canonical text of ``change`` (no exponent, no trailing zeros); computed when empty.
    canonical: str = ""

    def canonical_change(self) -> str:
        """The canonical text of the change."""
        return self.canonical or values.canonical_amount(self.change)


def statement_layout(source: str, cells: list[str]) -> Layout:
    """Where the statement's columns are in a header (a header lacking one is not a statement)."""
    return match_header(
        source, cells, COLUMNS, what="a Binance account statement",
        expected="User_ID, UTC_Time, Account, Operation, Coin, Change, Remark", order=_ORDER,
    )


def statement_row(row: Row, tz: tzinfo = UTC) -> StatementRow:
    """One validated row; :class:`FileImportError` naming the column at fault otherwise."""

    def required(field: str) -> str:
        value = row.get(field)
        if not value:
            raise row.error(field, "is empty")
        return value

    def text(field: str, limit: int = 1000, multiline: bool = False) -> str:
        value = row.get(field)
        if value:
            try:
                values.check_text(value, limit=limit, multiline=multiline)
            except ValueError as exc:
                raise row.error(field, str(exc), value) from None
        return value

    required("utc_time")
    at = row.parse("utc_time", lambda t: values.parse_time(t, tz))
    change_text = required("change")
    try:
        change, canonical = values.parse_amount_canonical(change_text)
    except ValueError as exc:
        raise row.error("change", str(exc), change_text) from None
    coin = required("coin")
    if any(c.isspace() for c in coin) or len(coin) > 200:
        raise row.error("coin", f"{values.short(coin)!r} is not a coin symbol", coin)
    row.parse("coin", values.check_symbol)
    required("account")
    required("operation")
    assert isinstance(at, datetime)
    return StatementRow(
        source=row.layout.source, row=row.row, line=row.line, user_id=text("user_id", 100),
        time=at, account=text("account", 200), operation=text("operation", 200), coin=coin, change=change,
        change_text=change_text, remark=text("remark", 2000, multiline=True), canonical=canonical,
    )


def parse_rows(name: str, text: str) -> Iterator[StatementRow]:
    """The rows of one CSV text, validated; raises :class:`StatementFormatError` on the first bad one."""
    source = Source(name, "csv", limits=DEFAULT_LIMITS, in_memory_text=text)
    try:
        for row in read_table(source, statement_layout):
            yield statement_row(row)
    except FileImportError as exc:
        raise statement_error(exc) from None


def parse_time(text: str, tz: tzinfo = UTC) -> datetime:
    """A statement time as an aware UTC datetime (see :func:`txsync.imports.values.parse_time`)."""
    return values.parse_time(text, tz)


def parse_amount(text: str) -> Decimal:
    """A signed exact amount (see :func:`txsync.imports.values.parse_amount`)."""
    return values.parse_amount(text)


def normalize_amount(amount: Decimal) -> str:
    """The canonical text of an amount (no exponent, no trailing zeros, no negative zero)."""
    return values.canonical_amount(amount)


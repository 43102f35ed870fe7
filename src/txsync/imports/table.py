"""Strict reading of tabular files (CSV, and Excel sheets through :mod:`txsync.imports.xlsx`).

A format describes the columns it reads as :class:`Column` s; :func:`match_header` finds them in a
file's header and gives a :class:`Layout`. :func:`read_table` then yields one :class:`Row` per data
row and raises :class:`~txsync.errors.FileImportError` naming file, row, line, column and value on:

* a row with more fields than the header (with a precise hint when an unquoted decimal comma split
  an amount in two) or fewer (with "looks truncated" when the file ends inside that row);
* a quoted value that is never closed (a file cut inside its last value), a stray quote;
* text that is not UTF-8 (or UTF-16 with a BOM); a physical line longer than the limit.

Blank lines are skipped. Nothing is read whole: lines are pulled one by one.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from txsync.errors import FileImportError, FileLimitError
from txsync.imports.sources import Source
from txsync.imports.values import short

__all__ = ["Column", "Layout", "Row", "header_key", "match_header", "read_table"]


def header_key(title: str) -> str:
    """A header title reduced to lower-case letters and digits (``"UTC_Time"`` -> ``"utctime"``)."""
    return re.sub(r"[^0-9a-z]", "", title.strip().removeprefix("\ufeff").casefold())


@dataclass(frozen=True, slots=True)
class Column:
    """A column a format reads: its field name, the header titles it goes by, whether it must be there
    and whether it holds amounts (for the decimal-comma diagnosis)."""

    field: str
    titles: tuple[str, ...]
    required: bool = False
    numeric: bool = False

    @property
    def title(self) -> str:
        """The column's main title, as documentation spells it."""
        return self.titles[0]


@dataclass(frozen=True)
class Layout:
    """Where a format's columns are in one file's header.

    ``index`` maps field -> position, ``titles`` field -> the title as the file spells it, ``width``
    is the number of header cells, ``order`` the fields in the order a short row's first missing
    column is looked for.
    """

    source: str
    header: tuple[str, ...]
    index: dict[str, int]
    titles: dict[str, str]
    numeric: frozenset[str]
    order: tuple[str, ...]

    @property
    def width(self) -> int:
        """Number of header cells."""
        return len(self.header)

    def title_at(self, position: int) -> str:
        """The header title of ``position`` (or a description of a position beyond the header)."""
        if 0 <= position < len(self.header) and self.header[position].strip():
            return self.header[position].strip().removeprefix("\ufeff")
        return f"#{position + 1}"


def match_header(source: str, cells: Sequence[str], columns: Sequence[Column], *, what: str,
                 expected: str, order: Sequence[str] | None = None) -> Layout:
    """The layout of ``columns`` in a header; :class:`FileImportError` naming what is missing if a
    required column is not there (``what``: "a Koinly universal file"; ``expected``: the titles).
    ``order``: the fields in the order a short row's missing column is named (default: ``columns``)."""
    wanted = {header_key(t): c for c in columns for t in c.titles}
    index: dict[str, int] = {}
    titles: dict[str, str] = {}
    for position, title in enumerate(cells):
        column = wanted.get(header_key(title))
        if column is not None and column.field not in index:
            index[column.field] = position
            titles[column.field] = title.strip().removeprefix("\ufeff")
    missing = [c.title for c in columns if c.required and c.field not in index]
    if missing:
        raise FileImportError(f"not {what}: the header lacks {', '.join(missing)} (expected {expected})",
                              source=source, row=0, line=1)
    numeric = frozenset(c.field for c in columns if c.numeric and c.field in index)
    return Layout(source, tuple(cells), index, titles, numeric,
                  tuple(order) if order is not None else tuple(c.field for c in columns))


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: 1-based ``row`` (header excluded), ``line`` where it starts, its cells as text."""

    layout: Layout
    row: int
    line: int
    cells: Sequence[str]
    line_label: str = "line"

    def has(self, field: str) -> bool:
        """Whether the file has the column ``field``."""
        return field in self.layout.index

    def get(self, field: str) -> str:
        """The stripped text of ``field`` (``""`` when the file has no such column)."""
        position = self.layout.index.get(field)
        return "" if position is None else self.cells[position].strip()

    def error(self, field: str | None, message: str, value: str | None = None) -> FileImportError:
        """A :class:`FileImportError` for this row, naming ``field`` 's column."""
        column = None if field is None else self.layout.titles.get(field, field)
        return FileImportError(message, source=self.layout.source, row=self.row, line=self.line,
                               column=column, value=value, line_label=self.line_label)

    def parse(self, field: str, parser: Callable[[str], object]) -> object:
        """``parser(self.get(field))``, its ``ValueError`` turned into this row's error."""
        text = self.get(field)
        try:
            return parser(text)
        except ValueError as exc:
            raise self.error(field, str(exc), text) from None


class _NotText(Exception):
    """A line that is not valid text in the file's encoding."""


class _Lines:
    """Physical lines of a source, each at most ``limit`` characters (bytes for UTF-8); remembers
    whether the last one had a line break. UTF-8 is decoded line by line, so an invalid byte is
    reported on its own line."""

    def __init__(self, source: Source, limit: int) -> None:
        self.source = source
        self.limit = limit
        self.count = 0
        self.unterminated = False

    def _too_long(self) -> FileLimitError:
        return FileLimitError(f"line is longer than {self.limit} characters: not a CSV file?",
                              source=self.source.name, line=self.count + 1)

    def __iter__(self) -> Iterator[str]:
        binary = self.source.binary_reader()
        if binary is None or binary.peek(2)[:2] in (b"\xff\xfe", b"\xfe\xff"):
            yield from self._text_lines(self.source.text())
            return
        first = True
        while True:
            raw = binary.readline(self.limit + 1)
            if not raw:
                return
            if len(raw) > self.limit and not raw.endswith((b"\n", b"\r")):
                raise self._too_long()
            self.count += 1
            if first:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
                first = False
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _NotText(self.count) from None
            if not line.endswith(("\n", "\r")):
                self.unterminated = True
            yield line

    def _text_lines(self, text: TextIO) -> Iterator[str]:
        while True:
            try:
                line = text.readline(self.limit + 1)
            except UnicodeDecodeError:
                raise _NotText(self.count + 1) from None
            if not line:
                return
            if len(line) > self.limit and not line.endswith(("\n", "\r")):
                raise self._too_long()
            self.count += 1
            if not line.endswith(("\n", "\r")):
                self.unterminated = True
            yield line


def read_table(source: Source, layout_of: Callable[[str, list[str]], Layout]) -> Iterator[Row]:
    """The data rows of a CSV source (the header is the first non-blank line, given to ``layout_of``)."""
    lines = _Lines(source, source.limits.max_line_chars)
    reader = csv.reader(iter(lines), strict=True)
    layout: Layout | None = None
    row_no = 0
    end = 0  # the physical line the previous record ended on
    try:
        for fields in reader:
            line, end = end + 1, lines.count
            if not fields or all(not f.strip() for f in fields):
                continue
            if layout is None:
                layout = layout_of(source.name, fields)
                continue
            row_no += 1
            if len(fields) != layout.width:
                raise _width_error(layout, row_no, line, fields, truncated=lines.unterminated)
            yield Row(layout, row_no, line, fields)
    except csv.Error as exc:
        if "unexpected end of data" in str(exc) or lines.unterminated:
            raise FileImportError(
                "malformed CSV: the file ends inside a quoted value: it looks truncated (or a quote is "
                "never closed)",
                source=source.name, row=row_no + 1, line=end + 1) from None
        raise FileImportError(f"malformed CSV ({exc})", source=source.name, row=row_no + 1,
                              line=end + 1) from None
    except _NotText as bad:
        raise FileImportError(
            "not UTF-8 text: export the file again (CSV, UTF-8) or save it as UTF-8",
            source=source.name, row=row_no + 1, line=bad.args[0]) from None
    if layout is None:
        raise FileImportError("empty file: no header row", source=source.name)


def _width_error(layout: Layout, row: int, line: int, fields: Sequence[str], *,
                 truncated: bool) -> FileImportError:
    width = layout.width
    count = len(fields)
    if count > width:
        for field in layout.order:
            position = layout.index.get(field)
            if (field in layout.numeric and position is not None and position + 1 < count
                    and re.fullmatch(r"\s*[+-]?\d+\s*", fields[position])
                    and re.fullmatch(r"\s*\d+\s*", fields[position + 1])):
                value = f"{fields[position].strip()},{fields[position + 1].strip()}"
                return FileImportError(
                    f"{value!r} looks like an amount written with a decimal comma: unquoted, the comma "
                    f"splits it and the row has {count} fields for the header's {width}; write decimals with "
                    "a point",
                    source=layout.source, row=row, line=line, column=layout.titles[field], value=value)
        extra = ",".join(fields[width:])
        return FileImportError(
            f"the row has {count} fields, the header {width} (a separator inside an unquoted value?); "
            f"extra: {short(extra)!r}",
            source=layout.source, row=row, line=line, column=layout.title_at(width - 1), value=extra)
    missing = [f for f in layout.order if layout.index.get(f, -1) >= count]
    column = layout.titles[missing[0]] if missing else layout.title_at(count)
    if truncated:
        return FileImportError(
            f"the file ends inside this row: it looks truncated (the row has {count} fields, the header "
            f"{width})",
            source=layout.source, row=row, line=line, column=column)
    return FileImportError(f"the row has {count} fields, the header {width}", source=layout.source,
                           row=row, line=line, column=column)

"""Excel workbooks (.xlsx) read as tables, through openpyxl in read-only (streaming) mode.

Optional: ``pip install 'txsync[xlsx]'`` (openpyxl, and defusedxml, which openpyxl uses to refuse XML
entity attacks). Before openpyxl sees the workbook, every part of it is decompressed once through the
same limits as any archive (total size, compression ratio), so a workbook bomb is refused early.

Cells become text the readers parse like CSV fields: numbers in their shortest exact decimal form (a
number cell with more significant digits than a spreadsheet keeps, 15, is refused: enter such amounts
as text), dates and times as ``YYYY-MM-DD HH:MM:SS`` in the file's time zone.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from collections.abc import Callable, Iterator
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any

from txsync.errors import ConfigurationError, FileImportError
from txsync.imports.table import Layout, Row

if TYPE_CHECKING:
    from txsync.imports.limits import ImportLimits
    from txsync.imports.sources import Source, _Budget

__all__ = ["SPREADSHEET_DIGITS", "cell_text", "check_workbook", "read_sheet"]

#: Significant digits a spreadsheet number keeps.
SPREADSHEET_DIGITS = 15
_CHUNK = 1024 * 1024
_WIDE = Context(prec=400)


def check_workbook(archive: zipfile.ZipFile, name: str, budget: _Budget, limits: ImportLimits,
                   total: int) -> None:
    """Decompress every part of the workbook once through the import limits (bombs are refused)."""
    from txsync.imports.sources import _READ_ERRORS, _Capped, _constant

    for info in archive.infolist():
        if info.is_dir():
            continue
        packed = _constant(max(1, min(info.compress_size, total)))
        try:
            with archive.open(info) as handle:
                capped = _Capped(handle, f"{name}/{info.filename}", budget, packed)
                buffer = bytearray(_CHUNK)
                while capped.readinto(buffer):
                    pass
        except FileImportError:
            raise
        except _READ_ERRORS as exc:
            raise FileImportError(f"not a readable Excel workbook ({exc})", source=name) from None


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - the test extra installs it
        raise ConfigurationError(
            "reading .xlsx files needs the optional dependency openpyxl: pip install 'txsync[xlsx]'"
        ) from None
    return openpyxl


def cell_text(value: object) -> str:
    """The text a cell stands for (see the module documentation); ``ValueError`` if it has none."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"the number cell {value!r} is not a finite number")
        exact = Decimal(repr(value)).normalize(_WIDE)
        if len(exact.as_tuple().digits) > SPREADSHEET_DIGITS:
            raise ValueError(
                f"the number cell {value!r} has more significant digits than a spreadsheet keeps "
                f"({SPREADSHEET_DIGITS}): the value typed was rounded; enter it as text"
            )
        return format(exact, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.isoformat(sep=" ")
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return f"{text}.{value.microsecond:06d}" if value.microsecond else text
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d 00:00:00")
    raise ValueError(f"a {type(value).__name__} cell cannot be read here ({str(value)[:40]!r})")


def _sheet_rows(worksheet: Any, source: str) -> Iterator[tuple[Any, ...]]:
    """The sheet's rows as value tuples; a malformed sheet is a :class:`FileImportError`."""
    rows = worksheet.iter_rows(values_only=True)
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # openpyxl raises many types (XML, zip, KeyError...) for a bad sheet
            raise FileImportError(f"not a readable Excel workbook ({type(exc).__name__}: {exc})",
                                  source=source) from None
        yield values


def read_sheet(source: Source, layout_of: Callable[[str, list[str]], Layout], *, sheet: str | None = None
               ) -> Iterator[Row]:
    """The data rows of a workbook's sheet (``sheet`` by name, else the first), like :func:`read_table`."""
    openpyxl = _openpyxl()
    assert source.workbook is not None
    try:
        book = openpyxl.load_workbook(source.workbook, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types (zip, XML, KeyError...) for a bad workbook
        raise FileImportError(f"not a readable Excel workbook ({type(exc).__name__}: {exc})",
                              source=source.name) from None
    try:
        if sheet is not None:
            if sheet not in book.sheetnames:
                raise FileImportError(f"the workbook has no sheet {sheet!r} (it has {book.sheetnames})",
                                      source=source.name)
            worksheet = book[sheet]
        elif not book.worksheets:
            raise FileImportError("the workbook has no sheet", source=source.name)
        else:
            worksheet = book.worksheets[0]
        name = f"{source.name}[{worksheet.title}]"
        layout: Layout | None = None
        row_no = 0
        for line, values in enumerate(_sheet_rows(worksheet, source.name), start=1):
            try:
                cells = [cell_text(v) for v in values]
            except ValueError as exc:
                raise FileImportError(str(exc), source=name, row=row_no + 1 if layout else 0, line=line,
                                      line_label="sheet row") from None
            while cells and not cells[-1].strip():
                cells.pop()
            if not cells:
                continue
            if layout is None:
                layout = layout_of(name, cells)
                continue
            row_no += 1
            if len(cells) > layout.width:
                extra = ",".join(cells[layout.width:])
                raise FileImportError(f"a value beyond the header's {layout.width} columns: {extra[:40]!r}",
                                      source=name, row=row_no, line=line, column=f"#{layout.width + 1}",
                                      value=extra, line_label="sheet row")
            cells.extend([""] * (layout.width - len(cells)))
            yield Row(layout, row_no, line, cells, line_label="sheet row")
        if layout is None:
            raise FileImportError("empty sheet: no header row", source=name)
    finally:
        book.close()

"""File imports: the shared machinery of every file connector (Koinly, CoinTracking, the txsync
template, the Binance statement) and format detection.

* :mod:`~txsync.imports.sources`: paths, archives and in-memory content, read as streams under
  :class:`ImportLimits` (size, decompression ratio, line length).
* :mod:`~txsync.imports.table`: the strict CSV reader; :mod:`~txsync.imports.xlsx` the Excel one.
* :mod:`~txsync.imports.values`: exact bounded amounts, times in UTC or a named zone, symbols, text.
* :mod:`~txsync.imports.importer`: :class:`FileImporter`, the two-pass (validate, then import)
  streaming connector base, and its resumable stream.
* :mod:`~txsync.imports.detect`: :func:`detect_format` and the format -> connector mapping.

Errors are :class:`~txsync.errors.FileImportError` (naming file, row, line, column and value) and
:class:`~txsync.errors.FileLimitError`.
"""

from txsync.errors import FileImportError, FileLimitError
from txsync.imports.detect import (
    BUILTIN_FORMATS,
    connector_for,
    detect_format,
    format_connectors,
    read_header,
)
from txsync.imports.importer import FileImporter, FileStream, PlannedRecord, Prepared
from txsync.imports.limits import DEFAULT_LIMITS, ImportLimits

__all__ = [
    "BUILTIN_FORMATS",
    "DEFAULT_LIMITS",
    "FileImportError",
    "FileImporter",
    "FileLimitError",
    "FileStream",
    "ImportLimits",
    "PlannedRecord",
    "Prepared",
    "connector_for",
    "detect_format",
    "format_connectors",
    "read_header",
]

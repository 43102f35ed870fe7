"""Which importer reads a file: detection by its header row.

Every file connector (a :class:`~txsync.imports.FileImporter` registered through the
``txsync.connectors`` entry points, built-in or third-party) names its ``format_name`` and says, from
a header row, whether a file is in its format (:meth:`~txsync.imports.FileImporter.sniff`).
:func:`detect_format` reads only the first row of a file (the first CSV of an archive, the first
sheet of a workbook) and asks each of them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from txsync.errors import ConfigurationError, FileImportError
from txsync.imports.limits import DEFAULT_LIMITS, ImportLimits
from txsync.imports.sources import iter_sources
from txsync.imports.table import Layout

if TYPE_CHECKING:
    from txsync.imports.importer import FileImporter
    from txsync.registry import Registry

__all__ = ["BUILTIN_FORMATS", "connector_for", "detect_format", "format_connectors", "read_header"]

#: The formats txsync ships importers for, and their connector ids.
BUILTIN_FORMATS: Mapping[str, str] = {
    "koinly": "koinly_csv",
    "cointracking": "cointracking_csv",
    "txsync": "txsync_template",
    "binance-statement": "binance_statement",
}


class _HeaderFound(Exception):
    def __init__(self, cells: list[str]) -> None:
        self.cells = cells


def _stop(_source: str, cells: list[str]) -> Layout:
    raise _HeaderFound(cells)


def read_header(options: Mapping[str, Any] | str | os.PathLike[str], *,
                limits: ImportLimits = DEFAULT_LIMITS) -> list[str]:
    """The header row of a file (a path, or import options with ``path`` / ``text``)."""
    if isinstance(options, (str, os.PathLike)):
        options = {"path": options}
    from txsync.imports.table import read_table
    from txsync.imports.xlsx import read_sheet

    for source in iter_sources(options, limits, label="detect_format", text_name="file", xlsx=True):
        rows = read_sheet(source, _stop) if source.kind == "xlsx" else read_table(source, _stop)
        try:
            for _ in rows:  # pragma: no cover - _stop raises at the header
                break
        except _HeaderFound as found:
            return [c.strip().removeprefix("\ufeff") for c in found.cells]
        except csv.Error as exc:  # pragma: no cover - read_table wraps CSV errors
            raise FileImportError(f"malformed CSV ({exc})", source=source.name) from None
        break
    raise FileImportError("empty file: no header row", source=_name_of(options))


def _name_of(options: Mapping[str, Any]) -> str:
    path = options.get("path")
    return os.path.basename(str(path)) if path is not None else str(options.get("name") or "file")


def _importers(registry: Registry | None) -> dict[str, type[FileImporter]]:
    from txsync.imports.importer import FileImporter

    if registry is None:
        from txsync.registry import default_registry

        registry = default_registry()
    found: dict[str, type[FileImporter]] = {}
    for connector in registry.available().values():
        if isinstance(connector, type) and issubclass(connector, FileImporter):
            found[connector.format_name] = connector
    return found


def format_connectors(registry: Registry | None = None) -> dict[str, str]:
    """Every known format name -> the id of the connector that imports it (installed plugins included)."""
    return {name: cls.info.id for name, cls in sorted(_importers(registry).items())}


def connector_for(format_name: str, registry: Registry | None = None) -> str:
    """The connector id importing ``format_name`` (``koinly``, ``cointracking``, ``txsync``,
    ``binance-statement``, or a plugin's); :class:`ConfigurationError` listing the known ones."""
    known = format_connectors(registry)
    try:
        return known[format_name]
    except KeyError:
        raise ConfigurationError(f"unknown import format {format_name!r}: txsync knows "
                                 + ", ".join(sorted(known))) from None


def detect_format(path: str | os.PathLike[str] | Mapping[str, Any], *, registry: Registry | None = None,
                  limits: ImportLimits = DEFAULT_LIMITS) -> str:
    """The format name of the file at ``path`` (or of import options), from its header row.

    Raises :class:`FileImportError` when no importer (or more than one) recognises the header,
    listing the formats txsync knows and the columns each expects.
    """
    header = read_header(path, limits=limits)
    importers = _importers(registry)
    matches = sorted(name for name, cls in importers.items() if cls.sniff(header))
    name = _name_of(path if isinstance(path, Mapping) else {"path": path})
    if len(matches) == 1:
        return matches[0]
    shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
    if matches:
        raise FileImportError(f"the header ({shown}) fits several formats: {', '.join(matches)}; "
                              "name the format explicitly", source=name)
    known = "; ".join(f"{fmt} ({cls.expected_header()})" for fmt, cls in sorted(importers.items()))
    raise FileImportError(f"unknown file format: the header ({shown}) is none of the formats txsync knows: "
                          f"{known}", source=name)

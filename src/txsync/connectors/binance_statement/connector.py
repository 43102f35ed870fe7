"""The Binance account statement connector: a FILE connector reading the "Generate all statements" CSV.

Connect it to the same account as the Binance API connection (``Engine.connect(...,
account_id=<that account>, options={"path": ...})``): its events are stored with origin FILE and
merged with the API's (see :mod:`txsync.merge`), so a trade both describe is one transaction and
what only the file knows (dust beyond the API's last 100, delisted pairs, launchpad, ETH 2.0, card,
P2P, COIN-M futures, loans, mining...) is added.

It is a :class:`~txsync.imports.FileImporter`: the whole file is validated first (a bad row stores
nothing), its rows are sorted on disk, and pages of whole events are streamed from there, so memory
stays flat whatever the size of the statement.

Cursor (one stream, ``statement``): ``{"v": 1, "rows": R, "digest": D}`` - the number of rows
imported, in canonical order, and the SHA-256 of those rows. A re-import of the same file (or of a
longer, newer export whose first R rows are the same) resumes after row R; any other file is read
from its first row, which deduplication makes safe (row and event identities come from content).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from txsync.connector import ConnectorContext, ConnectorInfo, CoverageGap, StreamInfo
from txsync.connectors.binance_statement._events import Plan, PlannedRow, normalize_rows, plan_rows, sort_key
from txsync.connectors.binance_statement._operations import lookup
from txsync.connectors.binance_statement._parse import (
    StatementRow,
    statement_error,
    statement_layout,
    statement_row,
)
from txsync.errors import ConfigurationError, FileImportError
from txsync.imports.importer import FileImporter, FileStream, PlannedRecord, Prepared
from txsync.imports.limits import ImportLimits
from txsync.imports.sources import iter_sources
from txsync.imports.spill import Spill
from txsync.imports.table import header_key, read_table
from txsync.models import ConnectorKind, NormalizedTransaction, RawTransaction

__all__ = ["BinanceStatement", "StatementStream", "load_plan", "prepare_statement", "statement_rows"]

_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DECODE = json.JSONDecoder().decode



def prepare_statement(options: Mapping[str, Any], spill: Spill, limits: ImportLimits) -> Prepared:
    """Pass 1: read and validate every row of the statement the options name into ``spill``.

    Raises :class:`StatementFormatError` on the first bad row (or
    :class:`~txsync.errors.FileLimitError` / :class:`~txsync.errors.ConfigurationError`)."""
    prepared = Prepared()
    try:
        for source in iter_sources(options, limits, label="binance_statement", text_name="statement"):
            prepared.sources.append(source.name)
            for table_row in read_table(source, statement_layout):
                row = statement_row(table_row)
                op = lookup(row.operation, row.account)
                if not op.known:
                    prepared.note_unknown(op.name)
                spill.add(sort_key(row), _ENCODE(
                    [row.time.isoformat(), row.account, row.operation, row.coin, row.change_text, row.remark,
                     row.user_id, row.source, row.row, row.line, format(row.change, "f"), row.canonical]))
                prepared.rows += 1
    except FileImportError as exc:
        raise statement_error(exc) from None
    return prepared


def statement_rows(spill: Spill) -> Iterator[StatementRow]:
    """The validated rows of a spill, in canonical order."""
    for _, value in spill.sorted():
        (at, account, operation, coin, text, remark, user, source, row, line, change,
         canonical) = _DECODE(value)
        yield StatementRow(
            source=source, row=row, line=line, user_id=user, time=datetime.fromisoformat(at),
            account=account, operation=operation, coin=coin, change=Decimal(change), change_text=text,
            remark=remark, canonical=canonical,
        )


def load_plan(options: Any, *, limits: ImportLimits | None = None) -> Plan:
    """Read, validate and plan a whole statement in memory (for tests and tools; the connector streams)."""
    spill = Spill()
    try:
        prepared = prepare_statement(options, spill, limits or ImportLimits.from_options(options))
        rows = list(plan_rows(statement_rows(spill)))
    finally:
        spill.close()
    unknown = dict(prepared.unknown)
    return Plan(rows, [i for i, p in enumerate(rows) if p.cut_after], unknown)


class StatementStream(FileStream):
    """Every row of the statement, in canonical order, paged by whole events."""

    name = "statement"


class BinanceStatement(FileImporter):
    """Imports a Binance account statement file ("Generate all statements" CSV).

    Options: ``path`` (the downloaded .csv, or the .zip / .tar.gz it came in) or ``text`` (the CSV
    content itself, for a host that holds the upload in memory); ``page_size`` (events per page,
    default 500); ``max_bytes`` / ``max_ratio`` (see :class:`~txsync.imports.ImportLimits`). Times are
    the statement's UTC_Time (a ``timezone`` option other than UTC is refused). No credential is
    needed: connect with ``Credential(connector_id="binance_statement")``.
    """

    info = ConnectorInfo(
        id="binance_statement",
        display_name="Binance account statement (CSV)",
        kind=ConnectorKind.FILE,
        credential_fields=(),
        streams=(StreamInfo(name="statement", description="Every balance change of the statement file"),),
        coverage_gaps=(
            CoverageGap(
                id="unknown_operations",
                title="Statement operations txsync does not know",
                description="Rows whose Operation is not in txsync's table are kept as 'other' "
                "transactions flagged unknown_type, with their amounts.",
                remedy="Check those transactions and set their kind by hand, and tell the txsync "
                "maintainers the operation name so the next version maps it.",
            ),
        ),
        reports_permissions=True,
        minimal_permissions="None: a file downloaded from Binance (Wallet > Transaction History > "
        "Generate all statements); no API key.",
    )
    format_name = "binance-statement"
    unknown_gap = "unknown_operations"
    stream_class = StatementStream

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        if self.tz is not UTC:
            raise ConfigurationError("binance_statement: the statement's times are UTC (its UTC_Time "
                                     "column); the 'timezone' option does not apply")

    @classmethod
    def sniff(cls, header: Sequence[str]) -> bool:
        keys = {header_key(h) for h in header}
        times = {"utctime", "time", "dateutc", "timeutc"}
        return {"operation", "coin", "change"} <= keys and bool(keys & times)

    @classmethod
    def expected_header(cls) -> str:
        return "User_ID, UTC_Time, Account, Operation, Coin, Change, Remark"

    def prepare_into(self, spill: Spill) -> Prepared:
        return prepare_statement(self.context.options, spill, self.limits)

    def plan(self, spill: Spill) -> Iterator[PlannedRecord]:
        for p in plan_rows(statement_rows(spill)):
            yield _record(p)

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        return normalize_rows(raws)


def _record(p: PlannedRow) -> PlannedRecord:
    return PlannedRecord(p.source_id, p.payload(), p.digest_line, p.event, p.cut_after)

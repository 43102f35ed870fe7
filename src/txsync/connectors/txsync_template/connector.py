"""The txsync template importer (CSV and .xlsx): one row per leg, rows grouped into transactions.

Columns (case and punctuation in titles do not matter; ``docs/imports.md`` has the full reference and
``examples/txsync_template.csv`` a sample):

========================  ========  ==========================================================
column                    required  meaning
========================  ========  ==========================================================
Date                      yes       the transaction's time (UTC unless it has an offset, or the
                                    connection's ``timezone`` option names the file's zone)
Tx                        no        a label grouping the rows (legs) of one transaction; a row
                                    without one is a transaction of its own
Kind                      column    trade, deposit, withdrawal, reward, ... (blank: inferred)
Asset, Amount             yes       the leg: a symbol and a signed amount (+ in, - out)
Role                      no        principal (default), fee, reward, interest, rebate, pnl...
Wallet                    no        where inside the account the leg moved (spot, funding...)
Status                    no        confirmed (default), pending, failed
Description               no        free text
Tx Hash, ext:<name>       no        external ids (``ext:order_id`` -> ``external_ids["order_id"]``)
Value, Value Currency     no        the transaction's fiat value -> ``meta["value"]``
========================  ========  ==========================================================

Transaction-level columns (Date, Kind, Status, Description, ids, Value) may be filled on one row of a
transaction and left blank on the others; where several rows fill them they must agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from txsync.connector import ConnectorInfo, StreamInfo
from txsync.errors import FileImportError
from txsync.imports import records as rec
from txsync.imports.importer import FileImporter, PlannedRecord, Prepared
from txsync.imports.sources import iter_sources
from txsync.imports.spill import Spill
from txsync.imports.table import Column, Layout, Row, header_key, match_header, read_table
from txsync.imports.values import (
    check_symbol,
    minute_precision,
    parse_amount_canonical,
    parse_time,
    time_text,
)
from txsync.imports.xlsx import read_sheet
from txsync.merge import MATCH_WINDOW_META
from txsync.models import (
    ConnectorKind,
    Leg,
    LegRole,
    NormalizedTransaction,
    Origin,
    RawTransaction,
    TransactionKind,
    TransactionStatus,
)

__all__ = ["COLUMNS", "MAX_LEGS", "TxsyncTemplate", "template_layout"]

COLUMNS = (
    Column("date", ("Date", "Date (UTC)", "Time", "Timestamp"), required=True),
    Column("tx", ("Tx", "Transaction", "Tx Label")),
    Column("kind", ("Kind",), required=True),
    Column("asset", ("Asset",), required=True),
    Column("amount", ("Amount",), required=True, numeric=True),
    Column("role", ("Role",)),
    Column("wallet", ("Wallet",)),
    Column("status", ("Status",)),
    Column("description", ("Description",)),
    Column("tx_hash", ("Tx Hash", "TxHash")),
    Column("value", ("Value",), numeric=True),
    Column("value_currency", ("Value Currency",)),
)
_EXPECTED = "Date, Tx, Kind, Asset, Amount, Role, Wallet, Status, Description, Tx Hash, Value, Value Currency"
_EXT = re.compile(r"^\s*ext\s*:\s*([a-z][a-z0-9_]{0,39})\s*$", re.IGNORECASE)
#: The most legs one transaction may have.
MAX_LEGS = 10_000
_TX_FIELDS = ("date", "kind", "status", "description", "value", "value_currency")


def template_layout(source: str, cells: list[str]) -> Layout:
    """The template's columns in a header, ``ext:<name>`` columns as fields ``ext:<name>``."""
    layout = match_header(source, cells, COLUMNS, what="a txsync template file", expected=_EXPECTED)
    index, titles = dict(layout.index), dict(layout.titles)
    for position, title in enumerate(cells):
        match = _EXT.match(title)
        if match:
            field = f"ext:{match[1].lower()}"
            if field in index or (field == "ext:tx_hash" and "tx_hash" in index):
                raise FileImportError(f"the column {title.strip()!r} appears twice", source=source, row=0,
                                      line=1)
            index[field] = position
            titles[field] = title.strip()
    return Layout(source, layout.header, index, titles, layout.numeric, layout.order)


def _enum(row: Row, field: str, enum: type[Any]) -> Any:
    text = row.get(field)
    if not text:
        return None
    try:
        return enum(text.strip().lower().replace(" ", "_").replace("-", "_"))
    except ValueError:
        known = ", ".join(m.value for m in enum)
        raise row.error(field, f"{text[:40]!r} is not one of {known}", text) from None


class TxsyncTemplate(FileImporter):
    """Imports a file in the txsync template (CSV, a .zip / .tar.gz of CSVs, or an Excel .xlsx).

    Options: see :class:`~txsync.imports.FileImporter`, plus ``sheet`` (the workbook's sheet to read;
    default the first). No credential: connect with ``Credential(connector_id="txsync_template")``.
    Reading .xlsx needs the ``xlsx`` extra (``pip install 'txsync[xlsx]'``).
    """

    info = ConnectorInfo(
        id="txsync_template",
        display_name="txsync template (CSV or Excel)",
        kind=ConnectorKind.FILE,
        streams=(StreamInfo(name="rows", description="Every transaction of the file"),),
        reports_permissions=True,
        minimal_permissions="None: a file in the txsync template; no API key.",
    )
    format_name = "txsync"
    reads_xlsx = True

    @classmethod
    def sniff(cls, header: Sequence[str]) -> bool:
        keys = {header_key(h) for h in header}
        return {"kind", "asset", "amount"} <= keys and bool(keys & {"date", "dateutc", "time", "timestamp"})

    @classmethod
    def expected_header(cls) -> str:
        return _EXPECTED

    def prepare_into(self, spill: Spill) -> Prepared:
        prepared = Prepared()
        options = self.context.options
        sheet = options.get("sheet")
        legs = Spill()  # rows by transaction label, then file order
        try:
            for source in iter_sources(options, self.limits, label=self.info.id, text_name="txsync.csv",
                                       xlsx=True):
                prepared.sources.append(source.name)
                if source.kind == "xlsx":
                    rows = read_sheet(source, template_layout, sheet=str(sheet) if sheet else None)
                else:
                    rows = read_table(source, template_layout)
                for row in rows:
                    self._spill_leg(row, source.name, legs)
                    prepared.rows += 1
            for group in _groups(legs):
                _spill_transaction(group, spill)
        finally:
            legs.close()
        return prepared

    def _spill_leg(self, row: Row, source: str, legs: Spill) -> None:
        date_text = row.get("date")
        at = row.parse("date", lambda t: parse_time(t, self.tz)) if date_text else None
        label = rec.text_cell(row, "tx", multiline=False, limit=200)
        kind = _enum(row, "kind", TransactionKind)
        asset = row.parse("asset", check_symbol)
        if not row.get("amount"):
            raise row.error("amount", "is empty")
        try:
            _, amount_text = parse_amount_canonical(row.get("amount"))
        except ValueError as exc:
            raise row.error("amount", str(exc), row.get("amount")) from None
        role = _enum(row, "role", LegRole)
        status = _enum(row, "status", TransactionStatus)
        wallet = rec.text_cell(row, "wallet", multiline=False, limit=100)
        description = rec.text_cell(row, "description")
        ext: dict[str, str] = {}
        for field in row.layout.index:
            name = "tx_hash" if field == "tx_hash" else field[4:] if field.startswith("ext:") else None
            if name is not None:
                value = rec.text_cell(row, field, multiline=False, limit=300)
                if value:
                    ext[name] = value
        value_pair = rec.amount_pair(row, "value", "value_currency")
        if not label and at is None:
            raise row.error("date", "is empty")
        leg = {
            "row": row.row, "line": row.line, "line_label": row.line_label, "source": row.layout.source,
            "titles": {f: row.layout.titles.get(f, f) for f in _TX_FIELDS},
            "time": at.isoformat() if isinstance(at, datetime) else None,
            "minute": minute_precision(date_text) if date_text else None,
            "kind": kind.value if kind else None, "status": status.value if status else None,
            "description": description or None, "ext": ext,
            "value": [value_pair.text, value_pair.currency.upper()] if value_pair else None,
            "leg": [asset, amount_text, (role or LegRole.PRINCIPAL).value, wallet],
        }
        group = f"{source}\x00{label}" if label else f"{source}\x01{row.row:012d}"
        legs.add(f"{group}\x00{row.row:012d}".encode(), json.dumps(leg, separators=(",", ":"),
                                                               ensure_ascii=False), table="legs")

    def plan(self, spill: Spill) -> Iterator[PlannedRecord]:
        return rec.plan_records(spill)

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        for raw in raws:
            try:
                yield _transaction(raw, rec.stored(raw, self.info.id))
            except FileImportError:
                raise
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise FileImportError(f"stored row {raw.source_id} is malformed ({exc})",
                                      source=f"{self.info.id}/{raw.stream}") from None


def _groups(legs: Spill) -> Iterator[list[dict[str, Any]]]:
    """The legs of each transaction (rows sharing a label, in file order)."""
    group: list[dict[str, Any]] = []
    current = b""
    for key, value in legs.sorted("legs"):
        name = key.rsplit(b"\x00", 1)[0]
        if group and name != current:
            yield group
            group = []
        current = name
        if len(group) >= MAX_LEGS:
            leg = json.loads(value)
            raise FileImportError(f"a transaction has more than {MAX_LEGS} rows", source=leg["source"],
                                  row=leg["row"], line=leg["line"], line_label=leg["line_label"])
        group.append(json.loads(value))
    if group:
        yield group


def _agreed(group: list[dict[str, Any]], field: str, title: str) -> Any:
    """The value the rows of a transaction give ``field`` (blank rows inherit it; a conflict is an error)."""
    found: Any = None
    for leg in group:
        value = leg[field]
        if value in (None, {}, ""):
            continue
        if found is None:
            found = value
        elif value != found:
            raise FileImportError(
                f"the rows of one transaction disagree: {str(value)[:40]!r} here, {str(found)[:40]!r} on an "
                "earlier row (fill it on one row, or the same on all)",
                source=leg["source"], row=leg["row"], line=leg["line"], column=title,
                line_label=leg["line_label"])
    return found


def _spill_transaction(group: list[dict[str, Any]], spill: Spill) -> None:
    first = group[0]
    titles = first["titles"]
    when = _agreed(group, "time", titles["date"])
    if when is None:
        raise FileImportError("is empty on every row of the transaction", source=first["source"],
                              row=first["row"], line=first["line"], column=titles["date"],
                              line_label=first["line_label"])
    at = datetime.fromisoformat(when)
    ext: dict[str, str] = {}
    for leg in group:
        for name, value in leg["ext"].items():
            if ext.setdefault(name, value) != value:
                raise FileImportError(
                    f"the rows of one transaction disagree on the id {name}: {value[:40]!r} here, "
                    f"{ext[name][:40]!r} on an earlier row",
                    source=leg["source"], row=leg["row"], line=leg["line"], column=name,
                    line_label=leg["line_label"])
    legs = sorted(leg["leg"] for leg in group)
    kind = _agreed(group, "kind", titles["kind"]) or _infer(legs).value
    status = _agreed(group, "status", titles["status"]) or TransactionStatus.CONFIRMED.value
    description = _agreed(group, "description", titles["description"]) or ""
    value = _agreed(group, "value", titles["value"])
    minute = any(leg["minute"] for leg in group)
    window = rec.match_window(move=TransactionKind(kind) in rec.MOVES, minute_precision=minute)
    payload: dict[str, Any] = {"time": time_text(at), "kind": kind, "legs": legs}
    optional = {"status": status if status != TransactionStatus.CONFIRMED.value else None,
                "description": description, "ext": ext, "value": value, "window": window}
    payload.update({k: v for k, v in optional.items() if v})
    identity = ["\x1f".join(leg) for leg in legs]
    details = [kind, status, description, json.dumps(sorted(ext.items())), *(value or ["", ""])]
    rec.spill_record(spill, at, identity, details, payload)


def _infer(legs: list[list[str]]) -> TransactionKind:
    principal = [(asset, Decimal(amount)) for asset, amount, role, _ in legs
                 if role == LegRole.PRINCIPAL.value]
    incoming = next((asset for asset, amount in principal if amount > 0), None)
    outgoing = next((asset for asset, amount in principal if amount < 0), None)
    if incoming is None and outgoing is None:
        rewards = [leg for leg in legs if leg[2] in (LegRole.REWARD.value, LegRole.INTEREST.value)]
        if rewards:
            return TransactionKind.REWARD
    return rec.natural_kind(incoming, outgoing)


def _transaction(raw: RawTransaction, p: dict[str, Any]) -> NormalizedTransaction:
    meta: dict[str, Any] = {}
    if p.get("value"):
        meta["value"] = rec.value_meta(Decimal(p["value"][0]), p["value"][1])
    if p.get("window"):
        meta[MATCH_WINDOW_META] = int(p["window"])
    return NormalizedTransaction(
        account_id=raw.account_id,
        key=f"txsync:{raw.source_id}",
        kind=TransactionKind(p["kind"]),
        timestamp=parse_time(str(p["time"])),
        status=TransactionStatus(p.get("status") or TransactionStatus.CONFIRMED.value),
        legs=[Leg(asset=a, amount=Decimal(n), role=LegRole(r), wallet=w or None) for a, n, r, w in p["legs"]],
        origin=Origin.FILE,
        external_ids=dict(p.get("ext") or {}),
        sources=[raw.ref],
        description=str(p["description"]) if p.get("description") else None,
        meta=meta,
    )

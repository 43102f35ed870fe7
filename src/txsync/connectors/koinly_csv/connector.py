"""The Koinly Universal template importer: one row, one transaction.

Columns (Koinly's Universal template): Date, Sent Amount, Sent Currency, Received Amount, Received
Currency, Fee Amount, Fee Currency, Net Worth Amount, Net Worth Currency, Label, Description, TxHash.
Amounts are positive; the fee is paid on top of what was sent (Koinly's convention), so a row's legs
are ``-sent``, ``+received`` and ``-fee`` (role fee). Times are UTC (Koinly's rule) unless they carry an
offset, or the connection's ``timezone`` option names the zone the file was written in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from txsync.connector import ConnectorInfo, CoverageGap, StreamInfo
from txsync.connectors.koinly_csv._labels import meaning
from txsync.errors import FileImportError
from txsync.imports import records as rec
from txsync.imports.importer import FileImporter, PlannedRecord, Prepared
from txsync.imports.sources import iter_sources
from txsync.imports.spill import Spill
from txsync.imports.table import Column, Layout, Row, header_key, match_header, read_table
from txsync.imports.values import minute_precision, parse_time, time_text
from txsync.merge import MATCH_WINDOW_META
from txsync.models import ConnectorKind, Leg, LegRole, NormalizedTransaction, Origin, RawTransaction

__all__ = ["COLUMNS", "KoinlyUniversal"]

COLUMNS = (
    Column("date", ("Date", "Koinly Date", "Date (UTC)", "Date UTC"), required=True),
    Column("sent_amount", ("Sent Amount",), required=True, numeric=True),
    Column("sent_currency", ("Sent Currency",), required=True),
    Column("received_amount", ("Received Amount",), required=True, numeric=True),
    Column("received_currency", ("Received Currency",), required=True),
    Column("fee_amount", ("Fee Amount",), numeric=True),
    Column("fee_currency", ("Fee Currency",)),
    Column("value_amount", ("Net Worth Amount",), numeric=True),
    Column("value_currency", ("Net Worth Currency",)),
    Column("label", ("Label", "Tag")),
    Column("description", ("Description",)),
    Column("tx_hash", ("TxHash", "Tx Hash", "Transaction Hash")),
)
_EXPECTED = ", ".join(c.title for c in COLUMNS)


class KoinlyUniversal(FileImporter):
    """Imports a file in Koinly's Universal template (CSV, or a .zip / .tar.gz of such files).

    Options: see :class:`~txsync.imports.FileImporter` (``path`` or ``text``, ``timezone``,
    ``page_size``, ``max_bytes``, ``max_ratio``). No credential: connect with
    ``Credential(connector_id="koinly_csv")``.
    """

    info = ConnectorInfo(
        id="koinly_csv",
        display_name="Koinly universal template (CSV)",
        kind=ConnectorKind.FILE,
        streams=(StreamInfo(name="rows", description="Every row of the file"),),
        coverage_gaps=(
            CoverageGap(
                id="unknown_labels",
                title="Labels txsync does not know",
                description="Rows whose Label is not one of Koinly's tags keep the kind their direction "
                "gives (deposit, withdrawal, trade), flagged unknown_label, with the label in meta.",
                remedy="Check those transactions and set their kind by hand, or fix the label in the file "
                "and import it again (a label change updates the transaction, it adds none).",
            ),
        ),
        reports_permissions=True,
        minimal_permissions="None: a file in Koinly's Universal template; no API key.",
    )
    format_name = "koinly"
    unknown_gap = "unknown_labels"

    @classmethod
    def sniff(cls, header: Sequence[str]) -> bool:
        keys = {header_key(h) for h in header}
        return {"sentamount", "receivedamount"} <= keys

    @classmethod
    def expected_header(cls) -> str:
        return _EXPECTED

    def _layout(self, source: str, cells: list[str]) -> Layout:
        return match_header(source, cells, COLUMNS, what="a Koinly universal template file",
                            expected=_EXPECTED)

    def prepare_into(self, spill: Spill) -> Prepared:
        prepared = Prepared()
        options = self.context.options
        for source in iter_sources(options, self.limits, label=self.info.id, text_name="koinly.csv"):
            prepared.sources.append(source.name)
            for row in read_table(source, self._layout):
                self._spill_row(row, spill, prepared)
                prepared.rows += 1
        return prepared

    def _spill_row(self, row: Row, spill: Spill, prepared: Prepared) -> None:
        date_text = row.get("date")
        if not date_text:
            raise row.error("date", "is empty")
        at = row.parse("date", lambda t: parse_time(t, self.tz))
        sent = rec.amount_pair(row, "sent_amount", "sent_currency")
        received = rec.amount_pair(row, "received_amount", "received_currency")
        fee = rec.amount_pair(row, "fee_amount", "fee_currency")
        value = rec.amount_pair(row, "value_amount", "value_currency")
        if sent is None and received is None and fee is None:
            raise row.error("sent_amount", "the row moves nothing: no sent, received or fee amount")
        label = rec.text_cell(row, "label", multiline=False, limit=200)
        description = rec.text_cell(row, "description")
        tx_hash = rec.text_cell(row, "tx_hash", multiline=False, limit=300)
        meant = meaning(label) if label else None
        if label and meant is None:
            prepared.note_unknown(label)
        kind = (meant.kind if meant and meant.kind else None) or rec.natural_kind(
            received.currency if received else None, sent.currency if sent else None)
        assert isinstance(at, datetime)
        window = rec.match_window(move=kind in rec.MOVES, minute_precision=minute_precision(date_text))

        def pair(p: rec.Money | None) -> list[str] | None:
            return None if p is None else p.pair()

        payload: dict[str, Any] = {"time": time_text(at), "sent": pair(sent), "received": pair(received),
                                   "fee": pair(fee)}
        if value is not None:
            payload["value"] = pair(value)
        if label:
            payload["label"] = label
        if description:
            payload["description"] = description
        if tx_hash:
            payload["tx_hash"] = tx_hash
        if window:
            payload["window"] = window
        blank = ["", ""]
        identity = [*(pair(sent) or blank), *(pair(received) or blank), *(pair(fee) or blank), tx_hash]
        details = [label, description, *(pair(value) or blank)]
        rec.spill_record(spill, at, identity, details, payload)

    def plan(self, spill: Spill) -> Iterator[PlannedRecord]:
        return rec.plan_records(spill)

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        for raw in raws:
            try:
                yield _transaction(raw, rec.stored(raw, self.info.id))
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                if isinstance(exc, FileImportError):
                    raise
                raise FileImportError(f"stored row {raw.source_id} is malformed ({exc})",
                                      source=f"{self.info.id}/{raw.stream}") from None


def _transaction(raw: RawTransaction, p: dict[str, Any]) -> NormalizedTransaction:
    label = str(p.get("label") or "")
    meant = meaning(label) if label else None
    sent, received, fee = p.get("sent"), p.get("received"), p.get("fee")
    legs: list[Leg] = []
    in_role = meant.in_role if meant else LegRole.PRINCIPAL
    out_role = meant.out_role if meant else LegRole.PRINCIPAL
    if sent:
        legs.append(Leg(asset=sent[1], amount=-Decimal(sent[0]), role=out_role))
    if received:
        legs.append(Leg(asset=received[1], amount=Decimal(received[0]), role=in_role))
    if fee:
        legs.append(Leg(asset=fee[1], amount=-Decimal(fee[0]), role=LegRole.FEE))
    kind = (meant.kind if meant and meant.kind else None) or rec.natural_kind(
        received[1] if received else None, sent[1] if sent else None)
    flags: set[str] = set()
    meta: dict[str, Any] = {}
    if label:
        meta["label"] = label
        if meant is None:
            flags.add("unknown_label")
        elif meant.category:
            meta["category"] = meant.category
    if p.get("value"):
        meta["value"] = rec.value_meta(Decimal(p["value"][0]), p["value"][1])
    if p.get("window"):
        meta[MATCH_WINDOW_META] = int(p["window"])
    external = {"tx_hash": str(p["tx_hash"])} if p.get("tx_hash") else {}
    return NormalizedTransaction(
        account_id=raw.account_id,
        key=f"koinly:{raw.source_id}",
        kind=kind,
        timestamp=parse_time(str(p["time"])),
        legs=legs,
        origin=Origin.FILE,
        external_ids=external,
        sources=[raw.ref],
        description=str(p["description"]) if p.get("description") else None,
        flags=frozenset(flags),
        meta=meta,
    )

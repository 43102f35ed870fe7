"""The CoinTracking CSV importer: one row, one transaction.

Reads CoinTracking's Trade List export (``"Type","Buy","Cur.","Sell","Cur.","Fee","Cur.","Exchange",
"Group","Comment","Date"``, optionally with ``Tx-ID`` / ``Trade ID``, ``Imported From``, ``Add Date``
and, in the full view, ``Value in <currency>`` columns after Buy and Sell) and its CSV import template
(``Buy Amount``, ``Buy Currency``, ..., ``Trade-Group``, ``Tx-ID``, ``Buy Value in Account Currency``).
The ``Cur.`` columns belong to the amount column before them.

CoinTracking's convention on fees: Buy and Sell are the amounts actually received and given, fees
included. A fee in the buy or sell currency is therefore split out of that side (``Buy 0.99 BTC, Fee
0.01 BTC`` = +1 BTC principal, -0.01 BTC fee); a fee in a third currency is *not* deducted by
CoinTracking (its users add an "Other Fee" row for it), so it is kept in ``meta["fee_not_deducted"]``
and moves nothing. Dates: ``YYYY-MM-DD HH:MM:SS`` or ``DD.MM.YYYY HH:MM[:SS]``, UTC unless the
connection names a ``timezone``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from txsync.connector import ConnectorContext, ConnectorInfo, CoverageGap, StreamInfo
from txsync.connectors.cointracking_csv._types import meaning
from txsync.errors import ConfigurationError, FileImportError
from txsync.imports import records as rec
from txsync.imports.importer import FileImporter, PlannedRecord, Prepared
from txsync.imports.sources import iter_sources
from txsync.imports.spill import Spill
from txsync.imports.table import Layout, Row, header_key, read_table
from txsync.imports.values import canonical_amount, minute_precision, parse_amount, parse_time, time_text
from txsync.merge import MATCH_WINDOW_META
from txsync.models import ConnectorKind, Leg, LegRole, NormalizedTransaction, Origin, RawTransaction

__all__ = ["CoinTrackingCsv", "cointracking_layout"]

_EXPECTED = ("Type, Buy, Cur., Sell, Cur., Fee, Cur., Exchange, Group, Comment, Date "
             "(Trade ID, Tx-ID optional)")
_SIDES = {"buy": "buy", "buyamount": "buy", "sell": "sell", "sellamount": "sell", "fee": "fee",
          "feeamount": "fee"}
_NAMED = {
    "type": "type", "exchange": "exchange", "group": "group", "tradegroup": "group", "comment": "comment",
    "date": "date", "tradedate": "date", "txid": "tx_id", "transactionid": "tx_id", "txhash": "tx_id",
    "tradeid": "trade_id", "buycurrency": "buy_currency", "buycur": "buy_currency",
    "sellcurrency": "sell_currency", "sellcur": "sell_currency", "feecurrency": "fee_currency",
    "feecur": "fee_currency",
}
_REQUIRED = (("type", "Type"), ("buy_amount", "Buy"), ("buy_currency", "Cur. (after Buy)"),
             ("sell_amount", "Sell"), ("sell_currency", "Cur. (after Sell)"), ("date", "Date"))
_ORDER = ("date", "type", "buy_amount", "buy_currency", "sell_amount", "sell_currency", "fee_amount",
          "fee_currency", "exchange", "group", "comment", "tx_id", "trade_id")


def _value_currency(title: str, prefix: str) -> str:
    text = title.strip()
    if not text.casefold().startswith(prefix.casefold()):
        return ""
    return text[len(prefix):].strip().upper()


def cointracking_layout(source: str, cells: list[str]) -> Layout:
    """Where CoinTracking's columns are: ``Cur.`` and ``Value in X`` columns belong to the amount
    column before them; value columns keep their currency in the field name (``buy_value:EUR``)."""
    index: dict[str, int] = {}
    titles: dict[str, str] = {}
    side: str | None = None

    def put(field: str, position: int, title: str) -> None:
        if field not in index:
            index[field] = position
            titles[field] = title

    for position, raw_title in enumerate(cells):
        title = raw_title.strip().removeprefix("\ufeff")
        key = header_key(title)
        if key in _SIDES:
            side = _SIDES[key]
            put(f"{side}_amount", position, title)
        elif (key.startswith("cur") and key[3:].isdigit()) or key == "cur":
            if side is not None:
                put(f"{side}_currency", position, title)
        elif key.startswith("valuein") and side in ("buy", "sell"):
            put(f"{side}_value:{_value_currency(title, 'Value in')}", position, title)
        elif key.startswith(("buyvaluein", "sellvaluein")):
            which = "buy" if key.startswith("buy") else "sell"
            currency = _value_currency(title, f"{which.capitalize()} Value in")
            put(f"{which}_value:{'ACCOUNT' if header_key(currency) == 'accountcurrency' else currency}",
                position, title)
        elif key in _NAMED:
            put(_NAMED[key], position, title)
            side = None
        else:
            side = None
    missing = [name for field, name in _REQUIRED if field not in index]
    if missing:
        raise FileImportError(f"not a CoinTracking CSV file: the header lacks {', '.join(missing)} "
                              f"(expected {_EXPECTED})", source=source, row=0, line=1)
    numeric = frozenset(f for f in index if f.endswith("_amount") or "_value:" in f)
    return Layout(source, tuple(cells), index, titles, numeric,
                  tuple(f for f in _ORDER if f in index) + tuple(f for f in index if f not in _ORDER))


class CoinTrackingCsv(FileImporter):
    """Imports CoinTracking's CSV export (CSV, or a .zip / .tar.gz of such files).

    Options: see :class:`~txsync.imports.FileImporter`, plus ``value_currency`` (the fiat currency of
    "Value in Account Currency" columns, e.g. ``"EUR"``). No credential: connect with
    ``Credential(connector_id="cointracking_csv")``.
    """

    info = ConnectorInfo(
        id="cointracking_csv",
        display_name="CoinTracking CSV export",
        kind=ConnectorKind.FILE,
        streams=(StreamInfo(name="rows", description="Every row of the file"),),
        coverage_gaps=(
            CoverageGap(
                id="unknown_labels",
                title="Transaction types txsync does not know",
                description="Rows whose Type is not one of CoinTracking's types keep the kind their "
                "direction gives (deposit, withdrawal, trade), flagged unknown_label, with the type in meta.",
                remedy="Check those transactions and set their kind by hand, or fix the type in the file "
                "and import it again (a type change updates the transaction, it adds none).",
            ),
        ),
        reports_permissions=True,
        minimal_permissions="None: a CSV exported from CoinTracking's trade list; no API key.",
    )
    format_name = "cointracking"
    unknown_gap = "unknown_labels"

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        currency = context.options.get("value_currency")
        if currency is not None and (not isinstance(currency, str) or not currency.isalpha()):
            raise ConfigurationError("cointracking_csv option 'value_currency' must be a currency code such "
                                     "as 'EUR'")
        self.value_currency = currency.upper() if isinstance(currency, str) else None

    @classmethod
    def sniff(cls, header: Sequence[str]) -> bool:
        keys = {header_key(h) for h in header}
        return ("type" in keys and bool(keys & {"buy", "buyamount"}) and bool(keys & {"sell", "sellamount"})
                and bool(keys & {"date", "tradedate"}))

    @classmethod
    def expected_header(cls) -> str:
        return _EXPECTED

    def prepare_into(self, spill: Spill) -> Prepared:
        prepared = Prepared()
        options = self.context.options
        for source in iter_sources(options, self.limits, label=self.info.id, text_name="cointracking.csv"):
            prepared.sources.append(source.name)
            for row in read_table(source, cointracking_layout):
                self._spill_row(row, spill, prepared)
                prepared.rows += 1
        return prepared

    def _value(self, row: Row) -> rec.Money | None:
        for side in ("buy", "sell"):
            for field in row.layout.index:
                if not field.startswith(f"{side}_value:") or not row.get(field):
                    continue
                currency = field.split(":", 1)[1]
                if currency == "ACCOUNT":
                    currency = self.value_currency or ""
                if currency not in rec.FIAT:
                    continue
                amount = row.parse(field, parse_amount)
                assert isinstance(amount, Decimal)
                if amount < 0:
                    raise row.error(field, "a value cannot be negative", row.get(field))
                if amount:
                    return rec.Money(amount, currency, canonical_amount(amount))
        return None

    def _spill_row(self, row: Row, spill: Spill, prepared: Prepared) -> None:
        type_name = rec.text_cell(row, "type", multiline=False, limit=200)
        if not type_name:
            raise row.error("type", "is empty")
        date_text = row.get("date")
        if not date_text:
            raise row.error("date", "is empty")
        at = row.parse("date", lambda t: parse_time(t, self.tz, day_first_dots=True))
        assert isinstance(at, datetime)
        buy = rec.amount_pair(row, "buy_amount", "buy_currency")
        sell = rec.amount_pair(row, "sell_amount", "sell_currency")
        fee = rec.amount_pair(row, "fee_amount", "fee_currency")
        if buy is None and sell is None:
            raise row.error("buy_amount", "the row moves nothing: no Buy and no Sell amount")
        incoming, outgoing, fee_leg, not_deducted = buy, sell, None, None
        if fee is not None:
            if sell is not None and fee.currency == sell.currency:
                if fee.amount > sell.amount:
                    raise row.error("fee_amount", f"the fee {fee.text} is larger than the Sell amount "
                                    f"{sell.text} that includes it", row.get("fee_amount"))
                net = sell.amount - fee.amount
                outgoing, fee_leg = rec.Money(net, sell.currency, canonical_amount(net)), fee
            elif buy is not None and fee.currency == buy.currency:
                gross = buy.amount + fee.amount
                incoming, fee_leg = rec.Money(gross, buy.currency, canonical_amount(gross)), fee
            else:
                not_deducted = fee
        meant = meaning(type_name)
        if meant is None:
            prepared.note_unknown(type_name)
        kind = (meant.kind if meant and meant.kind else None) or rec.natural_kind(
            incoming.currency if incoming else None, outgoing.currency if outgoing else None)
        value = self._value(row)
        exchange = rec.text_cell(row, "exchange", multiline=False, limit=200)
        group = rec.text_cell(row, "group", multiline=False, limit=200)
        comment = rec.text_cell(row, "comment")
        tx_id = rec.text_cell(row, "tx_id", multiline=False, limit=300)
        trade_id = rec.text_cell(row, "trade_id", multiline=False, limit=300)
        window = rec.match_window(move=kind in rec.MOVES, minute_precision=minute_precision(date_text))

        def pair(p: rec.Money | None) -> list[str] | None:
            return None if p is None else p.pair()

        payload: dict[str, Any] = {"time": time_text(at), "type": type_name, "in": pair(incoming),
                                   "out": pair(outgoing), "fee": pair(fee_leg)}
        optional = {"fee_not_deducted": pair(not_deducted), "value": pair(value), "exchange": exchange,
                    "group": group, "comment": comment, "tx_id": tx_id, "trade_id": trade_id,
                    "window": window}
        payload.update({k: v for k, v in optional.items() if v})
        blank = ["", ""]
        identity = [*(pair(buy) or blank), *(pair(sell) or blank), *(pair(fee) or blank), tx_id, trade_id]
        details = [type_name, exchange, group, comment, *(pair(value) or blank)]
        rec.spill_record(spill, at, identity, details, payload)

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


def _transaction(raw: RawTransaction, p: dict[str, Any]) -> NormalizedTransaction:
    type_name = str(p["type"])
    meant = meaning(type_name)
    incoming, outgoing, fee = p.get("in"), p.get("out"), p.get("fee")
    in_role = meant.in_role if meant else LegRole.PRINCIPAL
    out_role = meant.out_role if meant else LegRole.PRINCIPAL
    legs: list[Leg] = []
    if outgoing and Decimal(outgoing[0]):
        legs.append(Leg(asset=outgoing[1], amount=-Decimal(outgoing[0]), role=out_role))
    if incoming:
        legs.append(Leg(asset=incoming[1], amount=Decimal(incoming[0]), role=in_role))
    if fee:
        legs.append(Leg(asset=fee[1], amount=-Decimal(fee[0]), role=LegRole.FEE))
    if not legs:  # pragma: no cover - validation keeps a non-zero side or a fee
        raise ValueError("the row moves nothing")
    kind = (meant.kind if meant and meant.kind else None) or rec.natural_kind(
        incoming[1] if incoming else None, outgoing[1] if outgoing else None)
    meta: dict[str, Any] = {"label": type_name}
    flags: set[str] = set()
    if meant is None:
        flags.add("unknown_label")
    elif meant.category:
        meta["category"] = meant.category
    for name in ("exchange", "group", "trade_id"):
        if p.get(name):
            meta[name] = str(p[name])
    if p.get("fee_not_deducted"):
        amount, currency = p["fee_not_deducted"]
        meta["fee_not_deducted"] = {"amount": str(amount), "currency": str(currency)}
    if p.get("value"):
        meta["value"] = rec.value_meta(Decimal(p["value"][0]), p["value"][1])
    if p.get("window"):
        meta[MATCH_WINDOW_META] = int(p["window"])
    return NormalizedTransaction(
        account_id=raw.account_id,
        key=f"cointracking:{raw.source_id}",
        kind=kind,
        timestamp=parse_time(str(p["time"])),
        legs=legs,
        origin=Origin.FILE,
        external_ids={"tx_hash": str(p["tx_id"])} if p.get("tx_id") else {},
        sources=[raw.ref],
        description=str(p["comment"]) if p.get("comment") else None,
        flags=frozenset(flags),
        meta=meta,
    )

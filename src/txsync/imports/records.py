"""Row-per-transaction formats: how a validated row is spilled, identified and turned back into a
transaction.

A row's **identity** is its time and its *movement* content (amounts, assets, transaction hash...):
what the format calls identity fields. Its other fields (label, description, fiat value, comment) are
*details*: re-importing a file where only details changed updates the stored transaction in place
instead of adding a second one. Rows whose time and identity fields are equal are told apart by their
rank in canonical order (two identical deposits in one file stay two).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from txsync.errors import FileImportError
from txsync.imports.importer import PlannedRecord
from txsync.imports.spill import Spill
from txsync.imports.table import Row
from txsync.imports.values import (
    canonical_amount,
    check_symbol,
    check_text,
    parse_amount_canonical,
    short,
    time_key,
)
from txsync.models import LegRole, RawTransaction, TransactionKind

__all__ = [
    "FIAT",
    "MINUTE_MATCH_WINDOW",
    "MOVES",
    "MOVE_MATCH_WINDOW",
    "Meaning",
    "Money",
    "amount_pair",
    "label_key",
    "match_window",
    "natural_kind",
    "plan_records",
    "spill_record",
    "stored",
    "text_cell",
    "value_meta",
]

_SEP = "\x00"
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DETAILS = "\x02"

#: ISO 4217 currencies that are fiat money (deposits and withdrawals of them are fiat kinds).
FIAT = frozenset({
    "AED", "ARS", "AUD", "BGN", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK", "EGP", "EUR",
    "GBP", "HKD", "HUF", "IDR", "ILS", "INR", "ISK", "JPY", "KES", "KRW", "KZT", "MXN", "MYR", "NGN",
    "NOK", "NZD", "PEN", "PHP", "PKR", "PLN", "RON", "RUB", "SAR", "SEK", "SGD", "THB", "TRY", "TWD",
    "UAH", "USD", "VND", "ZAR",
})

#: Deposits and withdrawals written in a file may be stamped when the funds moved while the exchange's
#: API stamps when it first saw them: such rows ask the merge for this window (amounts must still be
#: equal, see :data:`txsync.merge.MATCH_WINDOW_META`).
MOVE_MATCH_WINDOW = 24 * 3600
#: A file that writes times to the minute (Koinly's ``2021-03-04 12:34 UTC``) asks for this window.
MINUTE_MATCH_WINDOW = 60


def spill_record(spill: Spill, at: datetime, identity: Sequence[str], details: Sequence[str],
                 payload: Mapping[str, Any]) -> None:
    """Add one validated row: sorted by time, then identity, then details."""
    key = time_key(at) + _SEP + _SEP.join(identity) + _DETAILS + _SEP.join(details)
    spill.add(key.encode(), _ENCODE(payload))


def plan_records(spill: Spill) -> Iterator[PlannedRecord]:
    """The spilled rows in canonical order with their content identities; each row is its own event."""
    previous = b""
    rank = 0
    for key, value in spill.sorted():
        identity = key.split(_DETAILS.encode(), 1)[0]
        rank = rank + 1 if identity == previous else 0
        previous = identity
        stamp = identity[:26].decode()  # YYYY-MM-DDTHH:MM:SS.ffffff
        compact = stamp[:19].replace("-", "").replace(":", "").replace("T", "")
        micro = stamp[20:26]
        if micro != "000000":
            compact += micro
        digest = hashlib.blake2b(identity, digest_size=8).hexdigest()
        source_id = f"{compact}-{digest}-{rank}"
        yield PlannedRecord(source_id, json.loads(value), key + b"\n", source_id)


def value_meta(amount: Decimal | None, currency: str | None) -> dict[str, str] | None:
    """``meta["value"]``: a row's fiat value as ``{"amount": "<decimal>", "currency": "EUR"}``."""
    if amount is None or not currency:
        return None
    return {"amount": canonical_amount(amount), "currency": currency.upper()}


def match_window(*, move: bool, minute_precision: bool) -> int | None:
    """The match window (seconds) a row asks for: deposits / withdrawals a day, minute-precision times
    a minute, others the engine's tolerance (``None``)."""
    if move:
        return MOVE_MATCH_WINDOW
    if minute_precision:
        return MINUTE_MATCH_WINDOW
    return None


def stored(raw: RawTransaction, importer: str) -> dict[str, Any]:
    """A raw's payload as stored by the importer (a dict), or a :class:`FileImportError`."""
    payload = raw.payload
    if not isinstance(payload, dict):
        raise FileImportError(f"stored row {raw.source_id} is not a record",
                              source=f"{importer}/{raw.stream}")
    return payload


@dataclass(frozen=True, slots=True)
class Meaning:
    """What a row's label (Koinly tag, CoinTracking type...) says: the kind (``None``: decided by the
    row's direction), the roles of its incoming and outgoing legs, a category kept in ``meta``."""

    kind: TransactionKind | None = None
    in_role: LegRole = LegRole.PRINCIPAL
    out_role: LegRole = LegRole.PRINCIPAL
    category: str | None = None


def label_key(label: str) -> str:
    """A label reduced for lookup: lower case, runs of blanks collapsed."""
    return " ".join(label.casefold().split())


def natural_kind(incoming: str | None, outgoing: str | None) -> TransactionKind:
    """The kind a row's direction implies (``incoming`` / ``outgoing``: the assets, or ``None``)."""
    if incoming and outgoing:
        return TransactionKind.TRADE
    if incoming:
        return TransactionKind.FIAT_DEPOSIT if incoming.upper() in FIAT else TransactionKind.DEPOSIT
    if outgoing:
        return TransactionKind.FIAT_WITHDRAWAL if outgoing.upper() in FIAT else TransactionKind.WITHDRAWAL
    return TransactionKind.FEE


#: Kinds whose file rows ask for the wide (deposit / withdrawal) match window.
MOVES = frozenset({TransactionKind.DEPOSIT, TransactionKind.WITHDRAWAL, TransactionKind.FIAT_DEPOSIT,
                   TransactionKind.FIAT_WITHDRAWAL, TransactionKind.TRANSFER})


class Money(NamedTuple):
    """An amount of a currency read from a row, with the amount's canonical text."""

    amount: Decimal
    currency: str
    text: str

    def pair(self) -> list[str]:
        """``[canonical amount, currency]`` as stored in payloads."""
        return [self.text, self.currency]


def amount_pair(row: Row, amount_field: str, currency_field: str, *, signed: bool = False) -> Money | None:
    """An amount and its currency from two columns: both blank = ``None``; one without the other or a
    negative amount (unless ``signed``) is an error of the row; a zero amount is ``None``."""
    amount_text, currency_text = row.get(amount_field), row.get(currency_field)
    if not amount_text and not currency_text:
        return None
    titles = row.layout.titles
    if not amount_text:
        raise row.error(amount_field, f"is empty while {titles.get(currency_field, currency_field)} "
                        f"is {short(currency_text)!r}")
    try:
        amount, text = parse_amount_canonical(amount_text)
    except ValueError as exc:
        raise row.error(amount_field, str(exc), amount_text) from None
    if not currency_text:
        raise row.error(currency_field, f"is empty while {titles.get(amount_field, amount_field)} "
                        f"is {short(amount_text)!r}")
    try:
        currency = check_symbol(currency_text)
    except ValueError as exc:
        raise row.error(currency_field, str(exc), currency_text) from None
    if amount < 0 and not signed:
        raise row.error(amount_field, f"{short(amount_text)!r} is negative: this column takes the amount "
                        "as a positive number", amount_text)
    if not amount:
        return None
    return Money(amount, currency, text)


def text_cell(row: Row, field: str, *, multiline: bool = True, limit: int = 10_000) -> str:
    """A free-text cell, checked (no control or direction-override characters, bounded length)."""
    value = row.get(field)
    if value:
        try:
            check_text(value, multiline=multiline, limit=limit)
        except ValueError as exc:
            raise row.error(field, str(exc), value) from None
    return value

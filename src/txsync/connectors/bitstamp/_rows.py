"""Reading Bitstamp ``user_transactions`` rows: types, times, per-currency amounts, the pair key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from txsync.fields import Fields

__all__ = [
    "FIAT",
    "META_KEYS",
    "STREAM",
    "TYPE_NAMES",
    "PairInfo",
    "currency_amounts",
    "fee_of",
    "fields",
    "pair_of",
    "parse_datetime",
    "row_id",
    "row_time",
    "type_of",
]

#: Bitstamp's fiat currencies (a deposit of one is a fiat deposit).
FIAT = frozenset({"EUR", "USD", "GBP"})

#: Documented ``type`` values of user transactions.
TYPE_NAMES: Mapping[int, str] = {
    0: "deposit",
    1: "withdrawal",
    2: "market_trade",
    14: "sub_account_transfer",
    25: "credited_with_staked_assets",
    26: "sent_to_staking",
    27: "staking_reward",
    32: "referral_reward",
    33: "settlement_transfer",
    35: "inter_account_transfer",
}

#: Row keys that are not currencies or pairs.
META_KEYS = frozenset(
    {"id", "datetime", "type", "fee", "order_id", "self_trade", "self_trade_order_id", "market", "tid"}
)


#: The stream whose rows these helpers read (named in errors).
STREAM = "user_transactions"
#: A currency key (``btc``, ``usdt``, ``1inch``) or one side of a pair key.
_CURRENCY = re.compile(r"[a-z0-9]{1,20}", re.ASCII)


def fields(row: Any, record: str | None = None) -> Fields:
    """A reader of one ``user_transactions`` row (typed errors name the stream, row and field)."""
    return Fields(row, stream=STREAM, record=record)


def row_id(row: Mapping[str, Any]) -> int:
    """The row's integer id (an int or a string of ASCII digits); anything else is an
    :class:`~txsync.errors.InvalidRecordError`."""
    return fields(row).int_id("id")


def type_of(row: Mapping[str, Any]) -> int:
    """The row's type as an int (Bitstamp sends a string of a number); an unknown number is a type
    txsync does not know yet (kept, flagged), anything else is an
    :class:`~txsync.errors.InvalidRecordError`."""
    return fields(row, _record(row)).integer("type", minimum=0, maximum=10**6)


def _record(row: Mapping[str, Any]) -> str | None:
    value = row.get("id")
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None


def parse_datetime(value: Any) -> datetime:
    """Bitstamp's ``"2021-11-25 12:59:59.322000"`` (UTC, micro-seconds optional), or Unix seconds.

    Raises ``ValueError`` for anything else (read it through :meth:`Fields.convert`).
    """
    if isinstance(value, bool):
        raise ValueError("a datetime cannot be a boolean")
    if isinstance(value, int | Decimal):
        return datetime.fromtimestamp(int(value), UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 12:
            return datetime.fromtimestamp(int(text), UTC)
        for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    raise ValueError("unreadable Bitstamp datetime")


def row_time(row: Mapping[str, Any], record: str | None = None) -> datetime:
    """The row's ``datetime`` (a typed error naming the row when unreadable)."""
    return fields(row, record or _record(row)).convert("datetime", parse_datetime, "a Bitstamp datetime")


def _checked_key(row: Fields, key: Any, pair: bool) -> str:
    if not isinstance(key, str):
        raise row.error(None, f"has a key of type {type(key).__name__}")
    parts = key.split("_") if pair else [key]
    if len(parts) != (2 if pair else 1) or not all(_CURRENCY.fullmatch(part) for part in parts):
        raise row.error(key[:40], "is not a currency or pair key txsync knows how to read")
    return key


def currency_amounts(row: Mapping[str, Any]) -> dict[str, Decimal]:
    """Every currency key of the row with a non-zero amount, as ``{"BTC": Decimal(...)}`` (signed).

    Currency keys are the keys that are neither metadata nor pairs (no ``_``); each must hold an
    amount (``null`` or ``""`` reads as zero), else the row is an
    :class:`~txsync.errors.InvalidRecordError`. Sorted by asset so the legs come out in a stable order.
    """
    reader = fields(row, _record(row))
    found: dict[str, Decimal] = {}
    for key in row:
        if key in META_KEYS or (isinstance(key, str) and "_" in key):
            continue
        name = _checked_key(reader, key, pair=False)
        amount = reader.amount(name, default=Decimal(0))
        if amount == 0:
            continue
        found[name.upper()] = amount
    return dict(sorted(found.items()))


def fee_of(row: Mapping[str, Any]) -> Decimal:
    """The row's ``fee`` (zero when absent)."""
    return fields(row, _record(row)).amount("fee", default=Decimal(0))


class PairInfo:
    """The traded pair of a trade row: base, quote and the rate from the pair key."""

    __slots__ = ("base", "key", "quote", "rate")

    def __init__(self, key: str, base: str, quote: str, rate: Decimal) -> None:
        self.key = key
        self.base = base
        self.quote = quote
        self.rate = rate


def pair_of(row: Mapping[str, Any]) -> PairInfo | None:
    """The pair key (``"btc_eur"``) whose two currencies both moved in the row and whose rate is
    non-zero; ``None`` when there is no such key or more than one (never guessed). Every pair key
    must hold a rate (or ``null``), else the row is an :class:`~txsync.errors.InvalidRecordError`."""
    reader = fields(row, _record(row))
    amounts = currency_amounts(row)
    found: list[PairInfo] = []
    for key in row:
        if key in META_KEYS or not isinstance(key, str) or "_" not in key:
            continue
        name = _checked_key(reader, key, pair=True)
        rate = reader.amount(name, default=Decimal(0))
        if rate == 0:
            continue
        base, quote = name.split("_")
        if not amounts.get(base.upper()) or not amounts.get(quote.upper()):
            continue
        found.append(PairInfo(name, base.upper(), quote.upper(), rate))
    return found[0] if len(found) == 1 else None

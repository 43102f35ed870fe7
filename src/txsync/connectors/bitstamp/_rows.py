"""Reading Bitstamp ``user_transactions`` rows: types, times, per-currency amounts, the pair key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from txsync.errors import BadResponseError
from txsync.models import to_amount

__all__ = [
    "FIAT",
    "META_KEYS",
    "TYPE_NAMES",
    "PairInfo",
    "amount_of",
    "currency_amounts",
    "pair_of",
    "parse_datetime",
    "row_id",
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


def row_id(row: Mapping[str, Any]) -> int:
    """The row's integer id (an int or a string of digits)."""
    value = row.get("id")
    if isinstance(value, bool):
        raise BadResponseError("user transaction id is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise BadResponseError("user transaction without an integer id")


def type_of(row: Mapping[str, Any]) -> int | None:
    """The row's type as an int (Bitstamp sends a string of a number), ``None`` if unreadable."""
    value = row.get("type")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def parse_datetime(value: Any) -> datetime:
    """Bitstamp's ``"2021-11-25 12:59:59.322000"`` (UTC, micro-seconds optional), or Unix seconds."""
    if isinstance(value, bool):
        raise BadResponseError("datetime is a boolean")
    if isinstance(value, int | Decimal):
        return datetime.fromtimestamp(int(value), UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    raise BadResponseError("unreadable Bitstamp datetime")


def amount_of(value: Any) -> Decimal | None:
    """A JSON number or decimal string as an exact ``Decimal``; ``None`` if it is not a number."""
    if value is None:
        return None
    try:
        return to_amount(value)
    except ValueError:
        return None


def currency_amounts(row: Mapping[str, Any]) -> dict[str, Decimal]:
    """Every currency key of the row with a non-zero amount, as ``{"BTC": Decimal(...)}`` (signed).

    Currency keys are the keys that are neither metadata nor pairs (no ``_``) holding a number.
    Sorted by asset so the legs come out in a stable order.
    """
    found: dict[str, Decimal] = {}
    for key, value in row.items():
        if key in META_KEYS or "_" in key:
            continue
        amount = amount_of(value)
        if amount is None or amount == 0:
            continue
        found[key.upper()] = amount
    return dict(sorted(found.items()))


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
    non-zero; ``None`` when there is no such key or more than one (never guessed)."""
    found: list[PairInfo] = []
    for key, value in row.items():
        if key in META_KEYS or key.count("_") != 1:
            continue
        rate = amount_of(value)
        if rate is None or rate == 0:
            continue
        base, quote = key.split("_")
        base_amount, quote_amount = amount_of(row.get(base)), amount_of(row.get(quote))
        if not base_amount or not quote_amount:
            continue
        found.append(PairInfo(key, base.upper(), quote.upper(), rate))
    return found[0] if len(found) == 1 else None

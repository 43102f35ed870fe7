"""Matching ``crypto-transactions`` rows onto ``user_transactions`` deposits and withdrawals.

``user_transactions`` has no txid or address; ``crypto-transactions`` has them but no id linking
back. A crypto row matches a movement of the same kind (deposit / withdrawal) and asset whose amount
equals the row's (or the row's plus or minus the movement's fee) within :data:`MATCH_WINDOW` of it.

Nothing is guessed: a movement is *matched* only when it has exactly one candidate row and that row
has no other candidate movement (among those considered together). A movement with several
candidates, or sharing its only candidate with another movement, is *ambiguous*; one with none is
*unmatched*. Both are reported on the transaction (flags and meta), never resolved by picking one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from txsync.connectors.bitstamp._rows import (
    FIAT,
    STREAM,
    currency_amounts,
    fee_of,
    parse_datetime,
    row_id,
    row_time,
    type_of,
)
from txsync.fields import Fields

__all__ = [
    "CRYPTO_PREFIX",
    "MATCH_WINDOW",
    "CryptoRow",
    "Match",
    "Movement",
    "crypto_row",
    "crypto_source_id",
    "match_movements",
    "movement_of",
]

#: How far apart in time a crypto row and its user transaction may be.
MATCH_WINDOW = timedelta(hours=1)
#: Source ids of crypto rows kept beside the user transactions they were matched against.
CRYPTO_PREFIX = "crypto:"

Kind = Literal["deposit", "withdrawal"]


@dataclass(frozen=True, slots=True)
class Movement:
    """A crypto deposit or withdrawal as ``user_transactions`` lists it."""

    user_id: int
    kind: Kind
    asset: str
    amount: Decimal  # absolute
    fee: Decimal  # absolute
    at: datetime


@dataclass(frozen=True, slots=True)
class CryptoRow:
    """One row of ``crypto-transactions`` (``deposits`` or ``withdrawals``)."""

    source_id: str
    kind: Kind
    asset: str
    amount: Decimal
    at: datetime
    txid: str | None
    address: str | None
    network: str | None


@dataclass(frozen=True, slots=True)
class Match:
    """What matching found for one movement."""

    status: Literal["matched", "ambiguous", "unmatched"]
    crypto: CryptoRow | None = None
    candidates: tuple[CryptoRow, ...] = ()


def movement_of(row: Mapping[str, Any], listed: frozenset[str] = frozenset()) -> Movement | None:
    """The crypto movement a user transaction row describes, or ``None`` (fiat, a trade, another
    type, or a row moving several currencies). A malformed row is an
    :class:`~txsync.errors.InvalidRecordError`."""
    kind_code = type_of(row)
    if kind_code not in (0, 1):
        return None
    amounts = currency_amounts(row, listed)
    if len(amounts) != 1:
        return None
    ((asset, amount),) = amounts.items()
    if asset in FIAT:
        return None
    return Movement(
        user_id=row_id(row),
        kind="deposit" if kind_code == 0 else "withdrawal",
        asset=asset,
        amount=abs(amount),
        fee=abs(fee_of(row)),
        at=row_time(row),
    )


def crypto_source_id(kind: Kind, row: Mapping[str, Any]) -> str:
    """A stable source id for a crypto row (it has no id of its own): kind plus a digest of its
    currency, amount, time, txid and address."""
    text = "\x1f".join(
        str(row.get(k, "")) for k in ("currency", "amount", "datetime", "txid", "destinationAddress")
    )
    return f"{CRYPTO_PREFIX}{kind}:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:24]}"


def crypto_row(source_id: str, row: Any) -> CryptoRow | None:
    """Read a crypto row kept under ``source_id``; ``None`` if ``source_id`` is not a crypto row's.

    A crypto row without a currency, an amount or a time, or with a txid, address or network that
    is not plain text, is an :class:`~txsync.errors.InvalidRecordError`.
    """
    if not source_id.startswith(CRYPTO_PREFIX):
        return None
    kind = source_id[len(CRYPTO_PREFIX) :].split(":", 1)[0]
    if kind not in ("deposit", "withdrawal"):
        return None
    reader = Fields(row, stream=STREAM, record=source_id)
    return CryptoRow(
        source_id=source_id,
        kind="deposit" if kind == "deposit" else "withdrawal",
        asset=reader.asset("currency").upper(),
        amount=abs(reader.amount("amount")),
        at=reader.convert("datetime", parse_datetime, "a Bitstamp datetime"),
        txid=reader.optional_text("txid"),
        address=reader.optional_text("destinationAddress"),
        network=reader.optional_text("network", max_length=64),
    )


def _amounts(movement: Movement) -> set[Decimal]:
    amounts = {movement.amount}
    if movement.fee:
        amounts |= {movement.amount + movement.fee, movement.amount - movement.fee}
    return amounts


def candidates_of(movement: Movement, rows: Iterable[CryptoRow]) -> list[CryptoRow]:
    """Crypto rows that could be ``movement``: same kind and asset, amount (+/- fee), within the window."""
    amounts = _amounts(movement)
    return [
        row
        for row in rows
        if row.kind == movement.kind
        and row.asset == movement.asset
        and row.amount in amounts
        and abs(row.at - movement.at) <= MATCH_WINDOW
    ]


def match_movements(movements: Sequence[Movement], rows: Sequence[CryptoRow]) -> dict[int, Match]:
    """Match every movement (by user transaction id) against ``rows``; see the module notes."""
    found = {m.user_id: candidates_of(m, rows) for m in movements}
    claims: dict[str, int] = {}
    for cands in found.values():
        for row in cands:
            claims[row.source_id] = claims.get(row.source_id, 0) + 1
    result: dict[int, Match] = {}
    for movement in movements:
        cands = sorted(found[movement.user_id], key=lambda r: (r.at, r.source_id))
        if not cands:
            result[movement.user_id] = Match("unmatched")
        elif len(cands) == 1 and claims[cands[0].source_id] == 1:
            result[movement.user_id] = Match("matched", cands[0], tuple(cands))
        else:
            result[movement.user_id] = Match("ambiguous", None, tuple(cands))
    return result

"""Validated scalar types shared by the models: exact amounts and aware-UTC timestamps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from txsync.errors import AmountError

__all__ = [
    "AMOUNT_MAX_DECIMALS",
    "AMOUNT_MAX_DIGITS",
    "AMOUNT_MAX_INTEGER_DIGITS",
    "EXACT",
    "Amount",
    "UtcDateTime",
    "check_amount",
    "check_amount_range",
    "exact",
    "to_amount",
    "to_utc",
]

#: The decimal context of every sum of amounts: wide enough for any token amount (uint256 with its
#: decimals is 78 digits), and it raises instead of rounding if a result ever needs more.
EXACT = Context(prec=160, traps=[Inexact, InvalidOperation, Overflow])


@contextmanager
def exact() -> Iterator[None]:
    """Run the block with :data:`EXACT` arithmetic (Python's default context rounds at 28 digits)."""
    with localcontext(EXACT):
        yield


#: The largest amount magnitude, as a number of digits before the decimal point: every amount is
#: below ``10**AMOUNT_MAX_INTEGER_DIGITS`` in absolute value. 78 digits hold any uint256 (an EVM
#: token amount in its smallest unit).
AMOUNT_MAX_INTEGER_DIGITS = 78
#: The finest amount step, as a number of decimals: an amount has at most this many digits after the
#: decimal point once trailing zeros are dropped (``1.50`` has one). Real assets use at most 24.
AMOUNT_MAX_DECIMALS = 60
#: Significant digits an amount can have within both bounds (138). :data:`EXACT` adds with 160, so
#: any sum of fewer than ``10**22`` amounts is exact: ledger sums never round and never raise.
AMOUNT_MAX_DIGITS = AMOUNT_MAX_INTEGER_DIGITS + AMOUNT_MAX_DECIMALS

# A decimal number written with ASCII digits only (Decimal() itself also takes "1_000", "NaN" and
# Arabic-Indic digits).
_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_PREVIEW = 40


def _preview(value: str) -> str:
    text = value if len(value) <= _PREVIEW else value[:_PREVIEW] + "..."
    return ascii(text)


def to_amount(value: Any) -> Decimal:
    """Convert ``value`` to an exact ``Decimal`` the ledger can sum; raise :class:`AmountError` if not.

    Accepted: ``Decimal``, ``int`` (not ``bool``) and decimal strings written with ASCII digits, such
    as ``"0.00100000"`` or ``"-1.5E-7"``. Refused: floats, NaN and infinities, and amounts outside
    the ledger's exact range: ``10**AMOUNT_MAX_INTEGER_DIGITS`` or more in absolute value (``1e400``),
    or more than ``AMOUNT_MAX_DECIMALS`` digits after the point. Within both bounds an amount has at
    most ``AMOUNT_MAX_DIGITS`` significant digits, so every sum the ledger makes in :data:`EXACT` is
    exact. The digits given are kept as they are (``"1.10"`` stays ``1.10``). :class:`AmountError`
    is a ``ValueError``, so pydantic reports it as a validation error of the field.
    """
    if isinstance(value, bool):
        raise AmountError("an amount cannot be a bool")
    if isinstance(value, float):
        raise AmountError(
            f"amounts must be Decimal, int or a decimal string, never float (got {value!r}); "
            "parse JSON with txsync.jsonutil.loads or pass the amount as a string"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise AmountError(
                f"an amount must be below 10**{AMOUNT_MAX_INTEGER_DIGITS} (got an integer of "
                f"{value.bit_length()} bits)"
            )
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_TEXT or not _DECIMAL_TEXT.fullmatch(text):
            raise AmountError(f"not a decimal number: {_preview(value)}")
        result = Decimal(text)
    else:
        raise AmountError(f"an amount must be Decimal, int or str, not {type(value).__name__}")
    if not result.is_finite():
        raise AmountError(f"an amount must be finite, not {result}")
    check_amount_range(result)
    return result


#: Longer decimal strings cannot be within the bounds whatever they hold (sign, point, exponent
#: and leading or trailing zeros included, with room to spare).
_MAX_TEXT = 4 * AMOUNT_MAX_DIGITS
#: An int of more bits than this is at least 10**78 (2**260 > 10**78): refused before conversion.
_MAX_INT_BITS = 260


def check_amount_range(amount: Decimal) -> None:
    """Raise :class:`AmountError` unless the finite ``amount`` is within the ledger's exact range.

    Cheap for ordinary amounts (a few attribute reads): call it wherever a ``Decimal`` is accepted
    without going through :func:`to_amount`, so no path into the ledger skips the rule.
    """
    if not amount:
        return  # zero, whatever its exponent, adds nothing
    if amount.adjusted() >= AMOUNT_MAX_INTEGER_DIGITS:
        raise AmountError(
            f"an amount must be below 10**{AMOUNT_MAX_INTEGER_DIGITS} in absolute value "
            f"(got one of about 10**{amount.adjusted()}): the ledger could not add it exactly"
        )
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite
    if exponent >= -AMOUNT_MAX_DECIMALS:
        return
    trailing = 0
    for digit in reversed(digits):  # trailing zeros are no precision: 1.50 has one decimal
        if digit:
            break
        trailing += 1
    decimals = -(exponent + trailing)
    if decimals > AMOUNT_MAX_DECIMALS:
        raise AmountError(
            f"an amount may have at most {AMOUNT_MAX_DECIMALS} decimals (got {decimals}): the ledger "
            "could not add it exactly"
        )


def check_amount(value: Any) -> Decimal:
    """:func:`to_amount` with a fast path: a finite ``Decimal`` within the ledger's range is returned
    as it is (the same object)."""
    if type(value) is Decimal and value.is_finite():
        check_amount_range(value)
        return value
    return to_amount(value)


def to_utc(value: Any) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive datetimes are refused, never guessed."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
    if not isinstance(value, datetime):
        raise ValueError(f"a timestamp must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamp {value.isoformat()} is naive: give it a timezone (UTC)")
    return value.astimezone(UTC)


#: An exact, finite decimal amount. Serialized to JSON as a string so no digit is lost.
Amount = Annotated[Decimal, BeforeValidator(to_amount), PlainSerializer(str, when_used="json")]

#: An aware datetime converted to UTC.
UtcDateTime = Annotated[datetime, BeforeValidator(to_utc)]

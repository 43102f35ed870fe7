"""Validated scalar types shared by the models: exact amounts and aware-UTC timestamps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["EXACT", "Amount", "UtcDateTime", "check_amount", "exact", "to_amount", "to_utc"]

#: The decimal context of every sum of amounts: wide enough for any token amount (uint256 with its
#: decimals is 78 digits), and it raises instead of rounding if a result ever needs more.
EXACT = Context(prec=160, traps=[Inexact, InvalidOperation, Overflow])


@contextmanager
def exact() -> Iterator[None]:
    """Run the block with :data:`EXACT` arithmetic (Python's default context rounds at 28 digits)."""
    with localcontext(EXACT):
        yield


def to_amount(value: Any) -> Decimal:
    """Convert ``value`` to a finite ``Decimal``; floats, NaN and infinities are refused.

    Accepted: ``Decimal``, ``int`` (not ``bool``) and decimal strings such as ``"0.00100000"``.
    """
    if isinstance(value, bool):
        raise ValueError("an amount cannot be a bool")
    if isinstance(value, float):
        raise ValueError(
            f"amounts must be Decimal, int or a decimal string, never float (got {value!r}); "
            "parse JSON with txsync.jsonutil.loads or pass the amount as a string"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
    else:
        raise ValueError(f"an amount must be Decimal, int or str, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"an amount must be finite, not {result}")
    return result


def check_amount(value: Any) -> Decimal:
    """:func:`to_amount` with a fast path: a finite ``Decimal`` is returned as it is (the same object)."""
    if type(value) is Decimal and value.is_finite():
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

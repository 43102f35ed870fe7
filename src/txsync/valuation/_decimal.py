"""Decimal arithmetic of valuation: products exact, quotients to 34 significant digits.

A value is ``quantity x unit price``: computed in :data:`txsync.models.values.EXACT` (160 digits, raises
rather than rounds), so a product of two exchange-given decimals is exact. Inverting a rate (EUR per
USD from USD per EUR) or deriving a unit price (fiat amount / quantity) divides, and a quotient rarely
terminates: it is rounded half-even to :data:`QUOTIENT_DIGITS` significant digits (decimal128's
precision, far below a cent on any amount a person holds).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

from txsync.models.values import EXACT

__all__ = ["QUOTIENT_DIGITS", "div", "invert", "mul"]

#: Significant digits kept by a division.
QUOTIENT_DIGITS = 34

_QUOTIENT = Context(
    prec=QUOTIENT_DIGITS, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


def mul(a: Decimal, b: Decimal) -> Decimal:
    """``a * b`` exactly."""
    return EXACT.multiply(a, b)


def _plain(value: Decimal) -> Decimal:
    """``value`` without a positive exponent (``2.4E+4`` -> ``24000``), so it prints as a plain number."""
    if value.as_tuple().exponent > 0:  # type: ignore[operator]
        return value.quantize(Decimal(1), context=EXACT)
    return value


def div(a: Decimal, b: Decimal) -> Decimal:
    """``a / b`` to :data:`QUOTIENT_DIGITS` significant digits (``ZeroDivisionError`` never hides)."""
    return _plain(_QUOTIENT.divide(a, b))


def invert(a: Decimal) -> Decimal:
    """``1 / a`` to :data:`QUOTIENT_DIGITS` significant digits."""
    return _plain(_QUOTIENT.divide(Decimal(1), a))

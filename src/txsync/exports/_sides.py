"""A transaction seen as one-row formats see it: what was sent, received and paid as fee, per asset."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from txsync.models import LegRole
from txsync.models.values import exact
from txsync.store.records import LedgerTransaction

__all__ = ["Sides", "sides_of"]


@dataclass
class Sides:
    """Per asset, in the order the legs name them: amounts sent (positive numbers), received, and paid
    as fees (positive numbers). A fee leg that is positive (a rebate booked as fee) counts as received."""

    sent: dict[str, Decimal] = field(default_factory=dict)
    received: dict[str, Decimal] = field(default_factory=dict)
    fees: dict[str, Decimal] = field(default_factory=dict)

    def take(self, which: str) -> tuple[str, Decimal] | None:
        """Remove and return the first (asset, amount) of ``sent``, ``received`` or ``fees``."""
        side: dict[str, Decimal] = getattr(self, which)
        if not side:
            return None
        asset = next(iter(side))
        return asset, side.pop(asset)

    def empty(self) -> bool:
        """Whether every leg was written."""
        return not (self.sent or self.received or self.fees)


def sides_of(tx: LedgerTransaction) -> Sides:
    """Sum the legs of ``tx`` per side and asset (zero sums dropped)."""
    sides = Sides()
    with exact():
        for leg in tx.legs:
            if leg.amount == 0:
                continue
            if leg.role == LegRole.FEE and leg.amount < 0:
                target = sides.fees
            elif leg.amount < 0:
                target = sides.sent
            else:
                target = sides.received
            target[leg.asset] = target.get(leg.asset, Decimal(0)) + abs(leg.amount)
    for side in (sides.sent, sides.received, sides.fees):
        for asset in [a for a, v in side.items() if v == 0]:
            del side[asset]
    return sides

"""Balances that add up: the ledger's computed balances checked against what the source reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from txsync.models import Balance
from txsync.models.values import exact

__all__ = ["BalanceCheck", "reconcile"]


@dataclass(frozen=True)
class BalanceCheck:
    """One asset: what the ledger says, what the source says, and the difference (reported - computed)."""

    asset: str
    computed: Decimal
    reported: Decimal

    @property
    def difference(self) -> Decimal:
        """How much the ledger misses (positive) or has too much (negative)."""
        with exact():
            return self.reported - self.computed

    @property
    def ok(self) -> bool:
        """Whether the two agree exactly."""
        return self.difference == 0


def reconcile(computed: Mapping[str, Decimal], reported: Sequence[Balance]) -> list[BalanceCheck]:
    """Compare per asset (wallets summed), every asset either side knows, sorted by asset."""
    totals: dict[str, Decimal] = {}
    with exact():
        for balance in reported:
            totals[balance.asset] = totals.get(balance.asset, Decimal(0)) + balance.amount
    assets = sorted(set(computed) | set(totals))
    return [
        BalanceCheck(asset, computed.get(asset, Decimal(0)), totals.get(asset, Decimal(0)))
        for asset in assets
        if computed.get(asset, Decimal(0)) != 0 or totals.get(asset, Decimal(0)) != 0
    ]

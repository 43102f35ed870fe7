"""Balances that add up: the ledger's computed balances checked against what the source reports.

The sign convention is Koinly's: ``difference = computed - reported``. Positive, the ledger holds more
than the source: a withdrawal or a sale is missing from the history (or a deposit is there twice);
negative, the ledger holds less: a deposit or a purchase is missing. The explanations of a difference
(coverage gaps, deleted and pending transactions, unlinked transfers, a running balance that goes
negative) are built by :meth:`txsync.owner.OwnerLedger.balances`; see docs/reconciliation.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from txsync.models import Balance
from txsync.models.values import exact

__all__ = ["BalanceCheck", "reconcile", "reported_totals"]


@dataclass(frozen=True)
class BalanceCheck:
    """One asset: what the ledger says, what the source says, and the difference (computed - reported)."""

    asset: str
    computed: Decimal
    reported: Decimal

    @property
    def difference(self) -> Decimal:
        """``computed - reported``: positive, a withdrawal or sale is missing; negative, a deposit or
        purchase is missing."""
        with exact():
            return self.computed - self.reported

    @property
    def ok(self) -> bool:
        """Whether the two agree exactly."""
        return self.difference == 0


def reported_totals(reported: Sequence[Balance]) -> dict[str, Decimal]:
    """What the source reports per asset, its wallets summed (exact)."""
    totals: dict[str, Decimal] = {}
    with exact():
        for balance in reported:
            totals[balance.asset] = totals.get(balance.asset, Decimal(0)) + balance.amount
    return totals


def reconcile(computed: Mapping[str, Decimal], reported: Sequence[Balance]) -> list[BalanceCheck]:
    """Compare per asset (wallets summed), every asset either side knows, sorted by asset."""
    totals = reported_totals(reported)
    assets = sorted(set(computed) | set(totals))
    return [
        BalanceCheck(asset, computed.get(asset, Decimal(0)), totals.get(asset, Decimal(0)))
        for asset in assets
        if computed.get(asset, Decimal(0)) != 0 or totals.get(asset, Decimal(0)) != 0
    ]

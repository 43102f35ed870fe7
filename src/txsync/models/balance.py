"""Balances as a source reports them, for reconciliation against computed ones."""

from __future__ import annotations

from pydantic import Field

from txsync.models.base import TxsyncModel
from txsync.models.values import Amount, UtcDateTime

__all__ = ["Balance"]


class Balance(TxsyncModel):
    """How much of ``asset`` the account holds (``locked`` is part of ``amount``)."""

    asset: str = Field(min_length=1)
    amount: Amount
    locked: Amount | None = None
    wallet: str | None = None
    as_of: UtcDateTime | None = None

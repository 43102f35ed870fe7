"""Raw and normalized transactions, their legs and where they came from."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import Field, computed_field, field_validator

from txsync.models.base import TxsyncModel
from txsync.models.enums import LegRole, Origin, TransactionKind, TransactionStatus
from txsync.models.values import Amount, UtcDateTime, exact

__all__ = [
    "Leg",
    "NormalizedTransaction",
    "RawTransaction",
    "SourceRef",
    "net_deltas",
    "transaction_id",
]


def transaction_id(account_id: str, origin: Origin | str, key: str) -> str:
    """The deterministic id of the transaction a source describes with ``key`` in ``account_id``.

    The same event always gets the same id, whichever connection (or replaced key) of the account
    reads it, so user edits keyed by id survive every re-sync.
    """
    digest = hashlib.sha256(f"{account_id}\x1f{origin}\x1f{key}".encode()).hexdigest()
    return digest[:32]


class SourceRef(TxsyncModel):
    """The identity of one raw record: (connection, stream, source id)."""

    connection_id: str = Field(min_length=1)
    stream: str = Field(min_length=1)
    source_id: str = Field(min_length=1)


class RawTransaction(TxsyncModel):
    """One record exactly as a source returned it (JSON numbers kept as Decimal)."""

    connection_id: str = Field(min_length=1)
    account_id: str = Field(min_length=1)
    stream: str = Field(min_length=1)
    source_id: str = Field(min_length=1)
    payload: Any
    fetched_at: UtcDateTime

    @property
    def ref(self) -> SourceRef:
        """This record's identity."""
        return SourceRef(connection_id=self.connection_id, stream=self.stream, source_id=self.source_id)


class Leg(TxsyncModel):
    """A signed movement of one asset: positive in, negative out."""

    asset: str = Field(min_length=1, max_length=200)
    amount: Amount
    role: LegRole = LegRole.PRINCIPAL
    #: Where inside the account the value moved (spot, funding, an address...), if it matters.
    wallet: str | None = None

    @field_validator("asset")
    @classmethod
    def _asset_not_blank(cls, value: str) -> str:
        if not value.strip() or value != value.strip():
            raise ValueError("asset must be a non-blank symbol without surrounding spaces")
        return value


class NormalizedTransaction(TxsyncModel):
    """A timestamped event of one account, made of signed legs.

    ``key`` identifies the event within the account for its source (``"trade:BTCUSDT:28457"``); the
    id is derived from (account, origin, key). ``sources`` are the raw records it was built from.
    """

    account_id: str = Field(min_length=1)
    key: str = Field(min_length=1)
    kind: TransactionKind
    timestamp: UtcDateTime
    status: TransactionStatus = TransactionStatus.CONFIRMED
    legs: tuple[Leg, ...] = Field(min_length=1)
    origin: Origin = Origin.API
    external_ids: Mapping[str, str] = Field(default_factory=dict)
    sources: tuple[SourceRef, ...] = ()
    description: str | None = None
    flags: frozenset[str] = frozenset()
    meta: Mapping[str, Any] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Deterministic id: see :func:`transaction_id`."""
        return transaction_id(self.account_id, self.origin, self.key)

    @field_validator("legs", mode="before")
    @classmethod
    def _legs_present(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, (str, bytes)) and len(value) == 0:
            raise ValueError("a transaction needs at least one leg")
        return value

    def net(self) -> dict[str, Decimal]:
        """Net amount per asset over all legs (fees included)."""
        return net_deltas(self.legs)


def net_deltas(legs: Any) -> dict[str, Decimal]:
    """Sum ``legs`` per asset, dropping assets that net to zero."""
    totals: dict[str, Decimal] = {}
    with exact():
        for leg in legs:
            totals[leg.asset] = totals.get(leg.asset, Decimal(0)) + leg.amount
    return {asset: amount for asset, amount in totals.items() if amount != 0}



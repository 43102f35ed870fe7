"""What valuation produces: a :class:`TransactionValuation` per transaction, a :class:`LegValuation` per leg.

Both carry the same provenance: ``status`` (``valued``, ``pending``, ``unpriceable``, ``override``),
``method`` (which rule gave the value), and the evidence of the price used (``source``, ``pair``,
``candle_time``, ``rate``) and of the conversion into the valuation's currency (``fx_rate``...).

A transaction's ``amount`` is the value of what it moved: for a trade, the value exchanged (its fiat
leg, or the market value of the side priced best); for anything else, the value of its incoming
non-fee legs (or outgoing ones when nothing came in), fees valued apart (:attr:`TransactionValuation.fees`).
A leg's ``amount`` is signed like the leg: negative for what left the account.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from txsync.models import LegRole
from txsync.models.values import exact
from txsync.valuation._decimal import mul
from txsync.valuation.policy import ResolvedPrice
from txsync.valuation.prices import Granularity, PricePoint

__all__ = [
    "LegValuation",
    "PriceEvidence",
    "TransactionValuation",
    "ValuationMethod",
    "ValuationStatus",
]


class ValuationStatus(StrEnum):
    """Where a valuation stands."""

    #: Valued from evidence (a fiat leg, an imported value, a market price).
    VALUED = "valued"
    #: Not valued yet: the price does not exist yet (same day, candle not closed, source lag) or the
    #: sources failed. Retried by every later pass.
    PENDING = "pending"
    #: No price anywhere (spam token, NFT, unknown asset, nothing at that time): ``reason`` says why.
    UNPRICEABLE = "unpriceable"
    #: The user's own value (``fiat_value`` override): always wins, never re-valued.
    OVERRIDE = "override"


class ValuationMethod(StrEnum):
    """Which rule produced a value (in the order the rules are tried)."""

    OVERRIDE = "override"
    #: The transaction's own value from an imported file row (``meta["value"]``).
    IMPORTED = "imported"
    #: A trade valued from its own fiat leg.
    FIAT_LEG = "fiat_leg"
    #: A market price at the movement's own time.
    MARKET = "market"
    #: Money, valued as itself (converted by a reference FX rate when in another currency).
    FIAT = "fiat"
    #: No rule could value it (pending or unpriceable).
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PriceEvidence:
    """One price used: who published it, for which instrument and interval, and the figure."""

    source: str
    pair: str
    granularity: Granularity
    #: The start of the interval (candle) the price stands for.
    candle_time: datetime
    #: The figure as the source published it for ``pair``.
    rate: Decimal
    #: One ``asset`` in ``quote`` (``rate`` itself, or its inverse when ``inverted``).
    price: Decimal
    asset: str
    quote: str
    inverted: bool = False
    #: When the figure was observed, when not at ``candle_time`` (a weekend's ECB rate is Friday's).
    observed_at: datetime | None = None

    @classmethod
    def of(cls, point: PricePoint) -> PriceEvidence:
        """The evidence of a source's price point."""
        return cls(
            source=point.source,
            pair=point.pair,
            granularity=point.granularity,
            candle_time=point.start,
            rate=point.quoted,
            price=point.price,
            asset=point.asset,
            quote=point.quote,
            inverted=point.inverted,
            observed_at=point.observed_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (decimals as strings, times in ISO 8601)."""
        return {
            "source": self.source,
            "pair": self.pair,
            "granularity": self.granularity.value,
            "candle_time": self.candle_time.isoformat(),
            "rate": _s(self.rate),
            "price": _s(self.price),
            "asset": self.asset,
            "quote": self.quote,
            "inverted": self.inverted,
            "observed_at": self.observed_at.isoformat() if self.observed_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriceEvidence:
        """The inverse of :meth:`to_dict`."""
        observed = data.get("observed_at")
        return cls(
            source=data["source"],
            pair=data["pair"],
            granularity=Granularity(data["granularity"]),
            candle_time=datetime.fromisoformat(data["candle_time"]),
            rate=Decimal(data["rate"]),
            price=Decimal(data["price"]),
            asset=data["asset"],
            quote=data["quote"],
            inverted=bool(data.get("inverted", False)),
            observed_at=datetime.fromisoformat(observed) if observed else None,
        )


def _s(value: Decimal | None) -> str | None:
    """A decimal as a plain decimal string (never in exponent form), ``None`` kept."""
    return None if value is None else format(value, "f")


def _evidence(resolved: ResolvedPrice | None) -> tuple[PriceEvidence | None, tuple[PriceEvidence, ...]]:
    if resolved is None or not resolved.points:
        return None, ()
    return PriceEvidence.of(resolved.points[0]), tuple(PriceEvidence.of(p) for p in resolved.points[1:])


def _rate_of(conversions: tuple[PriceEvidence, ...]) -> Decimal | None:
    if not conversions:
        return None
    rate = conversions[0].price
    for item in conversions[1:]:
        rate = mul(rate, item.price)
    return rate


class _Provenance:
    """Flat views of the evidence shared by leg and transaction valuations."""

    price: PriceEvidence | None
    conversions: tuple[PriceEvidence, ...]

    @property
    def source(self) -> str | None:
        """The source of the price used (``None`` for values that needed no market price)."""
        if self.price is not None:
            return self.price.source
        return self.conversions[0].source if self.conversions else None

    @property
    def pair(self) -> str | None:
        """The instrument of the price used."""
        return self.price.pair if self.price is not None else None

    @property
    def candle_time(self) -> datetime | None:
        """The start of the interval of the price used."""
        return self.price.candle_time if self.price is not None else None

    @property
    def rate(self) -> Decimal | None:
        """The figure the source published for :attr:`pair`."""
        return self.price.rate if self.price is not None else None

    @property
    def fx_rate(self) -> Decimal | None:
        """The rate that converted the price (or the fiat amount) into the valuation's currency."""
        return _rate_of(self.conversions)

    def _provenance_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "pair": self.pair,
            "candle_time": self.candle_time.isoformat() if self.candle_time else None,
            "rate": _s(self.rate),
            "fx_rate": _s(self.fx_rate),
            "price": self.price.to_dict() if self.price is not None else None,
            "conversions": [c.to_dict() for c in self.conversions],
        }


@dataclass(frozen=True, slots=True)
class LegValuation(_Provenance):
    """The value of one leg of a transaction."""

    index: int
    #: The leg's asset as its connector names it.
    asset: str
    #: Its txsync asset id, when known.
    asset_id: str | None
    #: The leg's own amount (signed).
    quantity: Decimal
    role: LegRole
    status: ValuationStatus
    method: ValuationMethod
    currency: str
    #: ``quantity x unit_price``, signed like the leg; ``None`` when not valued.
    amount: Decimal | None = None
    unit_price: Decimal | None = None
    #: Whether the unit price follows from the transaction's own value (its fiat leg, an import...).
    derived: bool = False
    reason: str | None = None
    price: PriceEvidence | None = None
    conversions: tuple[PriceEvidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "index": self.index,
            "asset": self.asset,
            "asset_id": self.asset_id,
            "quantity": _s(self.quantity),
            "role": self.role.value,
            "status": self.status.value,
            "method": self.method.value,
            "currency": self.currency,
            "amount": _s(self.amount),
            "unit_price": _s(self.unit_price),
            "derived": self.derived,
            "reason": self.reason,
            **self._provenance_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LegValuation:
        """The inverse of :meth:`to_dict`."""
        return cls(
            index=int(data["index"]),
            asset=data["asset"],
            asset_id=data.get("asset_id"),
            quantity=Decimal(data["quantity"]),
            role=LegRole(data["role"]),
            status=ValuationStatus(data["status"]),
            method=ValuationMethod(data["method"]),
            currency=data["currency"],
            amount=None if data.get("amount") is None else Decimal(data["amount"]),
            unit_price=None if data.get("unit_price") is None else Decimal(data["unit_price"]),
            derived=bool(data.get("derived", False)),
            reason=data.get("reason"),
            price=PriceEvidence.from_dict(data["price"]) if data.get("price") else None,
            conversions=tuple(PriceEvidence.from_dict(c) for c in data.get("conversions", [])),
        )


@dataclass(frozen=True, slots=True)
class TransactionValuation(_Provenance):
    """The value of one transaction in ``currency``, its provenance, and each leg's value."""

    transaction_id: str
    account_id: str
    timestamp: datetime
    currency: str
    status: ValuationStatus
    method: ValuationMethod
    amount: Decimal | None
    legs: tuple[LegValuation, ...]
    reason: str | None = None
    price: PriceEvidence | None = None
    conversions: tuple[PriceEvidence, ...] = ()
    #: A digest of what the value depends on (legs, time, overrides, imported value, currency): a
    #: stored valuation with the same fingerprint needs no re-valuation unless it waits for a price.
    fingerprint: str = ""
    valued_at: datetime | None = None

    @property
    def needs_retry(self) -> bool:
        """Whether a later pass should value it again: it, or one of its legs, is pending."""
        return self.status is ValuationStatus.PENDING or any(
            leg.status is ValuationStatus.PENDING for leg in self.legs
        )

    @property
    def fees(self) -> Decimal | None:
        """The value of the fee legs (a positive cost), ``None`` if one of them has no value."""
        total = Decimal(0)
        with exact():
            for leg in self.legs:
                if leg.role is LegRole.FEE:
                    if leg.amount is None:
                        return None
                    total -= leg.amount
        return total

    def value_json(self) -> dict[str, Any]:
        """The ``value`` object of a transaction in ``txsync ledger --json`` and the provenance query.

        ``amount`` (a decimal string or ``null``), ``currency``, ``status``, ``method`` and ``source``
        are the fixed names; the rest of the evidence follows.
        """
        return {
            "amount": _s(self.amount),
            "currency": self.currency,
            "status": self.status.value,
            "method": self.method.value,
            **self._provenance_dict(),
            "reason": self.reason,
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (what a store keeps)."""
        return {
            "transaction_id": self.transaction_id,
            "account_id": self.account_id,
            "timestamp": self.timestamp.isoformat(),
            "fingerprint": self.fingerprint,
            "valued_at": self.valued_at.isoformat() if self.valued_at else None,
            **self.value_json(),
            "legs": [leg.to_dict() for leg in self.legs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransactionValuation:
        """The inverse of :meth:`to_dict`."""
        valued_at = data.get("valued_at")
        return cls(
            transaction_id=data["transaction_id"],
            account_id=data["account_id"],
            timestamp=datetime.fromisoformat(data["timestamp"]),
            currency=data["currency"],
            status=ValuationStatus(data["status"]),
            method=ValuationMethod(data["method"]),
            amount=None if data.get("amount") is None else Decimal(data["amount"]),
            legs=tuple(LegValuation.from_dict(leg) for leg in data.get("legs", [])),
            reason=data.get("reason"),
            price=PriceEvidence.from_dict(data["price"]) if data.get("price") else None,
            conversions=tuple(PriceEvidence.from_dict(c) for c in data.get("conversions", [])),
            fingerprint=data.get("fingerprint", ""),
            valued_at=datetime.fromisoformat(valued_at) if valued_at else None,
        )

    def converted(self, currency: str, fx: ResolvedPrice) -> TransactionValuation:
        """This valuation in ``currency``: every amount times the FX rate ``fx`` (one unit of this
        valuation's currency in ``currency`` on the transaction's day), evidence appended."""
        if currency == self.currency:
            return self
        _, extra = _evidence(fx)
        if fx.primary is not None:
            extra = (PriceEvidence.of(fx.primary), *extra)
        rate = fx.price

        def scale(value: Decimal | None) -> Decimal | None:
            return None if value is None or rate is None else mul(value, rate)

        legs = tuple(
            replace(
                leg,
                currency=currency,
                amount=scale(leg.amount),
                unit_price=scale(leg.unit_price),
                conversions=(*leg.conversions, *extra),
            )
            for leg in self.legs
        )
        return replace(
            self,
            currency=currency,
            amount=scale(self.amount),
            conversions=(*self.conversions, *extra),
            legs=legs,
        )

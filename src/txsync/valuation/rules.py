"""The valuation rules: pure logic from a :class:`~txsync.store.LedgerTransaction` and prices to its value.

The transaction's own value (its *reference*) comes from the first rule that applies, recorded as the
valuation's method:

1. **override** - the user's ``fiat_value`` (in ``fiat_currency``, default the base currency) always wins;
2. **imported** - a file row's own value, ``meta["value"] = {"amount": "...", "currency": "EUR"}``;
3. **fiat_leg** - a trade with a fiat leg: the fiat given (or received) for the crypto, i.e. the fiat
   principal legs whose sign is opposite to the crypto legs' (a card top-up passing through the account
   has the crypto's sign and is not part of the price);
4. **market** - the market price of the leg the policy can price best (earliest source in the policy,
   then finest granularity; the incoming side on a tie), at the transaction's own time. Stablecoins
   are priced by their market like any asset.

A value in another currency than the base one is converted by the reference FX rate of its day.

The legs then follow: a side of the transaction made of one asset takes its unit price from the
reference (``unit price = value / quantity``: the crypto bought with a fiat leg, the other side of a
crypto-crypto trade, and fee legs in that asset); money is valued as itself (converted by FX); every
other leg (a fee in BNB, a reward, an airdrop) at its market price at the transaction's time.

Legs that can never have a price are **unpriceable** with the reason, never 0: spam-flagged transactions'
tokens, NFTs, assets no mapping knows, assets no source prices at that time.

:func:`value_transaction` is pure: given a price lookup that answers ``None`` for prices not resolved
yet, it returns either the valuation or the set of prices it still needs. The
:class:`~txsync.valuation.Valuator` resolves those in batches and asks again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from txsync.errors import ConfigurationError
from txsync.models import LegRole
from txsync.models.values import exact, to_amount
from txsync.store import LedgerTransaction
from txsync.valuation._decimal import div, mul
from txsync.valuation.assets import AssetResolution, fiat, fiat_code, is_fiat, is_nft
from txsync.valuation.policy import ResolvedPrice, ResolvedStatus
from txsync.valuation.prices import PriceRequest
from txsync.valuation.results import (
    LegValuation,
    PriceEvidence,
    TransactionValuation,
    ValuationMethod,
    ValuationStatus,
)

__all__ = [
    "DEFAULT_SPAM_FLAGS",
    "SPAM_ASSET_PREFIX",
    "RuleContext",
    "fingerprint",
    "imported_value",
    "value_transaction",
]

#: Transaction flags that mark spam (the EVM connector sets ``spam_suspect``).
DEFAULT_SPAM_FLAGS: frozenset[str] = frozenset({"spam", "spam_suspect"})
#: A flag ``spam_asset:<asset>`` names one spam asset of a transaction (the EVM connector judges
#: spam per token transfer). When a transaction names its spam assets, only their legs are
#: unpriceable: the spam flags above then never block its other legs (a swap that also received a
#: spam token keeps the value of what it swapped).
SPAM_ASSET_PREFIX = "spam_asset:"


@dataclass(frozen=True)
class RuleContext:
    """What the rules need besides the transaction.

    ``resolve_asset(ticker, at)`` names a leg's asset; ``price(asset_id, at)`` is the resolved price of
    ``asset_id`` in the base currency, or ``None`` when not resolved yet; ``rank(asset_id, at)`` how
    well the policy could price it (lower is better, ``None`` = no source could).
    """

    base_currency: str
    resolve_asset: Callable[[str, datetime], AssetResolution]
    price: Callable[[str, datetime], ResolvedPrice | None]
    rank: Callable[[str, datetime], tuple[int, ...] | None] = lambda _a, _t: (0, 0, 0)
    spam_flags: frozenset[str] = DEFAULT_SPAM_FLAGS
    connector_id: str = ""
    now: datetime | None = None


def imported_value(meta: Mapping[str, Any]) -> tuple[Decimal, str] | None:
    """The ``(amount, currency)`` of ``meta["value"]``, or ``None`` when absent or malformed."""
    value = meta.get("value")
    if not isinstance(value, Mapping):
        return None
    currency = value.get("currency")
    try:
        amount = to_amount(value.get("amount"))
        code = fiat_code(fiat(str(currency)))
    except (ValueError, TypeError, ConfigurationError):
        return None
    if amount < 0:
        amount = -amount
    return amount, code


def fingerprint(tx: LedgerTransaction, base_currency: str, connector_id: str = "") -> str:
    """A digest of everything a transaction's value depends on."""
    document = {
        "legs": [[leg.asset, str(leg.amount), leg.role.value, leg.wallet] for leg in tx.legs],
        "timestamp": tx.timestamp.isoformat(),
        "kind": tx.kind.value,
        "flags": sorted(tx.flags),
        "value": _jsonable(tx.meta.get("value")),
        "override": [None if tx.fiat_value is None else str(tx.fiat_value), tx.fiat_currency],
        "currency": base_currency,
        "connector": connector_id,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


@dataclass
class _Reference:
    """The transaction's own value in the base currency, and where it came from."""

    method: ValuationMethod
    status: ValuationStatus
    amount: Decimal | None = None
    reason: str | None = None
    price: PriceEvidence | None = None
    conversions: tuple[PriceEvidence, ...] = ()
    #: The leg priced on the market to obtain it (market rule only).
    priced_leg: int | None = None
    #: Unit prices (base currency) that follow from it, per asset id.
    units: dict[str, Decimal] = field(default_factory=dict)


def _evidence(resolved: ResolvedPrice) -> tuple[PriceEvidence | None, tuple[PriceEvidence, ...]]:
    points = [PriceEvidence.of(p) for p in resolved.points]
    return (points[0] if points else None), tuple(points[1:])


class _Valuing:
    """One evaluation of the rules over one transaction."""

    def __init__(self, tx: LedgerTransaction, ctx: RuleContext) -> None:
        self.tx = tx
        self.ctx = ctx
        self.at = tx.timestamp
        self.base = ctx.base_currency
        self.base_id = fiat(ctx.base_currency)
        self.needs: set[PriceRequest] = set()
        self.assets = [ctx.resolve_asset(leg.asset, self.at) for leg in tx.legs]
        self.spam_assets = {f[len(SPAM_ASSET_PREFIX) :] for f in tx.flags if f.startswith(SPAM_ASSET_PREFIX)}
        self.spam = bool(tx.flags & ctx.spam_flags) and not self.spam_assets
        value_legs = [i for i, leg in enumerate(tx.legs) if leg.role is not LegRole.FEE]
        self.value_legs = value_legs or list(range(len(tx.legs)))
        self.fiat_legs = [i for i in self.value_legs if self._is_fiat(i)]
        self.crypto_legs = [i for i in self.value_legs if not self._is_fiat(i)]
        self.in_side = [i for i in self.crypto_legs if tx.legs[i].amount > 0]
        self.out_side = [i for i in self.crypto_legs if tx.legs[i].amount < 0]

    # -- helpers -----------------------------------------------------------------------------------

    def _is_fiat(self, index: int) -> bool:
        asset_id = self.assets[index].asset_id
        return asset_id is not None and is_fiat(asset_id)

    def lookup(self, asset_id: str) -> ResolvedPrice | None:
        request = PriceRequest(asset_id, self.base_id, self.at)
        if asset_id == self.base_id:
            return ResolvedPrice(request, ResolvedStatus.FOUND, Decimal(1))
        found = self.ctx.price(asset_id, self.at)
        if found is None:
            self.needs.add(request)
        return found

    def fx(self, currency: str) -> ResolvedPrice | None:
        return self.lookup(fiat(currency))

    def blocked(self, index: int) -> str | None:
        """Why leg ``index`` can never have a market price, if so."""
        resolution = self.assets[index]
        if resolution.asset_id is None:
            return resolution.reason or f"unknown asset {resolution.ticker!r}"
        if is_fiat(resolution.asset_id):
            return None
        if self.spam and self.tx.legs[index].role is not LegRole.FEE:
            flags = ", ".join(sorted(self.tx.flags & self.ctx.spam_flags))
            return f"spam-flagged transaction ({flags}): its tokens are not valued"
        if self.tx.legs[index].asset in self.spam_assets and self.tx.legs[index].role is not LegRole.FEE:
            return "spam-flagged token: it is not valued"
        if is_nft(resolution.asset_id):
            return "an NFT has no market price in the configured sources"
        return None

    def single_asset(self, side: Sequence[int]) -> str | None:
        """The asset id of ``side`` when all its legs are of one known asset."""
        ids = {self.assets[i].asset_id for i in side}
        if len(ids) != 1:
            return None
        (only,) = ids
        return only

    @staticmethod
    def quantity(legs: Sequence[Any], side: Sequence[int]) -> Decimal:
        with exact():
            return sum((abs(legs[i].amount) for i in side), Decimal(0))

    # -- the reference value ---------------------------------------------------------------------------

    def converted(
        self, amount: Decimal, currency: str, method: ValuationMethod, status: ValuationStatus
    ) -> _Reference:
        """``amount`` of ``currency`` as a reference in the base currency (FX when needed)."""
        if currency == self.base:
            return _Reference(method, status, amount)
        fx = self.fx(currency)
        if fx is None:
            return _Reference(method, ValuationStatus.PENDING, reason="waiting for prices")
        if fx.status is not ResolvedStatus.FOUND or fx.price is None:
            if status is ValuationStatus.OVERRIDE:
                final = ValuationStatus.OVERRIDE
            elif fx.status is ResolvedStatus.PENDING:
                final = ValuationStatus.PENDING
            else:
                final = ValuationStatus.UNPRICEABLE
            return _Reference(method, final, reason=f"no {currency} -> {self.base} rate: {fx.reason}")
        price, conversions = _evidence(fx)
        chain = tuple(c for c in (price, *conversions) if c is not None)
        return _Reference(method, status, mul(amount, fx.price), conversions=chain)

    def reference(self) -> _Reference:
        tx = self.tx
        if tx.fiat_value is not None:
            amount = abs(tx.fiat_value)
            return self.converted(
                amount,
                (tx.fiat_currency or self.base).upper(),
                ValuationMethod.OVERRIDE,
                ValuationStatus.OVERRIDE,
            )
        imported = imported_value(tx.meta)
        if imported is not None:
            return self.converted(imported[0], imported[1], ValuationMethod.IMPORTED, ValuationStatus.VALUED)
        signs = {tx.legs[i].amount > 0 for i in self.crypto_legs if tx.legs[i].amount != 0}
        if len(signs) == 1 and self.fiat_legs:
            (crypto_in,) = signs
            opposite = [
                i for i in self.fiat_legs if tx.legs[i].amount != 0 and (tx.legs[i].amount > 0) != crypto_in
            ]
            if opposite:
                return self.fiat_leg_reference(opposite)
        if not self.crypto_legs:
            return self.fiat_reference()
        return self.market_reference()

    def fiat_leg_reference(self, legs: Sequence[int]) -> _Reference:
        total = Decimal(0)
        conversions: list[PriceEvidence] = []
        for index in legs:
            leg = self.tx.legs[index]
            asset_id = self.assets[index].asset_id
            assert asset_id is not None
            part = self.converted(
                abs(leg.amount), fiat_code(asset_id), ValuationMethod.FIAT_LEG, ValuationStatus.VALUED
            )
            if part.amount is None:
                return part
            with exact():
                total += part.amount
            conversions.extend(part.conversions)
        return _Reference(
            ValuationMethod.FIAT_LEG, ValuationStatus.VALUED, total, conversions=tuple(conversions)
        )

    def fiat_reference(self) -> _Reference:
        """A transaction of money only (a fiat deposit): the money it moved."""
        side = [i for i in self.fiat_legs if self.tx.legs[i].amount > 0] or self.fiat_legs
        return self.fiat_leg_reference(side)

    def market_reference(self) -> _Reference:
        candidates: list[tuple[tuple[int, ...], int, list[int]]] = []
        for order, side in enumerate((self.in_side, self.out_side)):
            asset_id = self.single_asset(side) if side else None
            if asset_id is None or any(self.blocked(i) for i in side):
                continue
            rank = self.ctx.rank(asset_id, self.at) or (1_000, 1_000, 1_000)
            candidates.append(((*rank, order), order, side))
        reasons: list[str] = []
        for _, _, side in sorted(candidates, key=lambda c: c[0]):
            index = side[0]
            asset_id = self.assets[index].asset_id
            assert asset_id is not None
            found = self.lookup(asset_id)
            if found is None:
                return _Reference(ValuationMethod.NONE, ValuationStatus.PENDING, reason="waiting for prices")
            if found.status is ResolvedStatus.PENDING:
                return _Reference(ValuationMethod.NONE, ValuationStatus.PENDING, reason=found.reason)
            if found.status is ResolvedStatus.FOUND and found.price is not None:
                price, conversions = _evidence(found)
                amount = mul(self.quantity(self.tx.legs, side), found.price)
                return _Reference(
                    ValuationMethod.MARKET,
                    ValuationStatus.VALUED,
                    amount,
                    price=price,
                    conversions=conversions,
                    priced_leg=index,
                )
            reasons.append(f"{self.assets[index].ticker}: {found.reason}")
        # no single-asset side could be priced: the sum of the incoming (else outgoing) legs' own values
        side = self.in_side or self.out_side
        if candidates and len({self.assets[i].asset_id for i in side}) == 1:
            return _Reference(ValuationMethod.NONE, ValuationStatus.UNPRICEABLE, reason="; ".join(reasons))
        return _Reference(
            ValuationMethod.MARKET, ValuationStatus.VALUED, None, reason="; ".join(reasons) or None
        )

    def derive_units(self, ref: _Reference) -> None:
        """The unit prices that follow from the reference value, per single-asset side."""
        if ref.amount is None:
            return
        if ref.method is ValuationMethod.FIAT_LEG:
            sides = [self.crypto_legs]
        else:
            sides = [self.in_side, self.out_side]
        for side in sides:
            asset_id = self.single_asset(side) if side else None
            if asset_id is None or asset_id in ref.units:
                continue
            quantity = self.quantity(self.tx.legs, side)
            if quantity:
                ref.units[asset_id] = div(ref.amount, quantity)

    # -- the legs ----------------------------------------------------------------------------------

    def leg(self, index: int, ref: _Reference) -> LegValuation:
        leg = self.tx.legs[index]
        resolution = self.assets[index]
        base: dict[str, Any] = {
            "index": index,
            "asset": leg.asset,
            "asset_id": resolution.asset_id,
            "quantity": leg.amount,
            "role": leg.role,
            "currency": self.base,
        }
        blocked = self.blocked(index)
        if blocked is not None:
            return LegValuation(
                **base, status=ValuationStatus.UNPRICEABLE, method=ValuationMethod.NONE, reason=blocked
            )
        asset_id = resolution.asset_id
        assert asset_id is not None
        if is_fiat(asset_id):
            found = self.lookup(asset_id)
            return self.priced(base, found, ValuationMethod.FIAT)
        status = (
            ValuationStatus.OVERRIDE if ref.status is ValuationStatus.OVERRIDE else ValuationStatus.VALUED
        )
        unit = ref.units.get(asset_id)
        if unit is not None:
            amount = self.share(index, ref, unit)
            return LegValuation(
                **base,
                status=status,
                method=ref.method,
                amount=amount,
                unit_price=unit,
                derived=index != ref.priced_leg,
                price=ref.price if ref.method is ValuationMethod.MARKET else None,
                conversions=ref.conversions,
            )
        return self.priced(base, self.lookup(asset_id), ValuationMethod.MARKET)

    def side_of(self, ref: _Reference) -> list[int]:
        if ref.priced_leg is None:
            return []
        return self.in_side if ref.priced_leg in self.in_side else self.out_side

    def share(self, index: int, ref: _Reference, unit: Decimal) -> Decimal:
        """The value of leg ``index`` at ``unit``; a side of a single leg takes the reference exactly."""
        leg = self.tx.legs[index]
        for side in (self.in_side, self.out_side, self.crypto_legs):
            if side == [index] and ref.amount is not None and leg.role is not LegRole.FEE:
                return ref.amount if leg.amount > 0 else -ref.amount
        return mul(leg.amount, unit)

    def priced(
        self, base: dict[str, Any], found: ResolvedPrice | None, method: ValuationMethod
    ) -> LegValuation:
        quantity: Decimal = base["quantity"]
        if found is None:
            return LegValuation(**base, status=ValuationStatus.PENDING, method=ValuationMethod.NONE,
                                reason="waiting for prices")  # fmt: skip
        if found.status is ResolvedStatus.FOUND and found.price is not None:
            price, conversions = _evidence(found)
            if method is ValuationMethod.FIAT and price is not None:
                conversions, price = (price, *conversions), None
            return LegValuation(
                **base, status=ValuationStatus.VALUED, method=method, amount=mul(quantity, found.price),
                unit_price=found.price, price=price, conversions=conversions,
            )  # fmt: skip
        status = (
            ValuationStatus.PENDING if found.status is ResolvedStatus.PENDING else ValuationStatus.UNPRICEABLE
        )
        return LegValuation(**base, status=status, method=ValuationMethod.NONE, reason=found.reason)

    # -- assembly ----------------------------------------------------------------------------------

    def run(self) -> TransactionValuation | set[PriceRequest]:
        ref = self.reference()
        if self.needs:
            # the reference waits for a price: ask now only for legs that cannot follow from it
            # (a fee in another asset), not for the sides whose unit price it will give
            follows = {self.single_asset(side) for side in (self.in_side, self.out_side) if side}
            for index in range(len(self.tx.legs)):
                if self.assets[index].asset_id not in follows and self.blocked(index) is None:
                    self.leg(index, ref)
            return self.needs
        self.derive_units(ref)
        legs = [self.leg(i, ref) for i in range(len(self.tx.legs))]
        if self.needs:
            return self.needs
        amount, status, reason = ref.amount, ref.status, ref.reason
        if ref.method is ValuationMethod.MARKET and amount is None and status is ValuationStatus.VALUED:
            amount, status, reason = self.sum_side(legs, reason)
        if status is ValuationStatus.VALUED and amount is None:
            status = ValuationStatus.UNPRICEABLE
        if status is ValuationStatus.UNPRICEABLE and not reason:
            reason = next((leg.reason for leg in legs if leg.reason), "no price anywhere")
        method = (
            ref.method if amount is not None or status is ValuationStatus.OVERRIDE else ValuationMethod.NONE
        )
        return TransactionValuation(
            transaction_id=self.tx.id,
            account_id=self.tx.account_id,
            timestamp=self.tx.timestamp,
            currency=self.base,
            status=status,
            method=method,
            amount=amount,
            legs=tuple(legs),
            reason=reason if amount is None or status is not ValuationStatus.VALUED else None,
            price=ref.price,
            conversions=ref.conversions,
            fingerprint=fingerprint(self.tx, self.base, self.ctx.connector_id),
            valued_at=self.ctx.now,
        )

    def sum_side(
        self, legs: Sequence[LegValuation], reason: str | None
    ) -> tuple[Decimal | None, ValuationStatus, str | None]:
        """The value of the incoming (else outgoing) non-fee legs, each priced on its own."""
        side = self.in_side or self.out_side or self.value_legs
        total = Decimal(0)
        for index in side:
            leg = legs[index]
            if leg.amount is None:
                status = (
                    ValuationStatus.PENDING
                    if leg.status is ValuationStatus.PENDING
                    else ValuationStatus.UNPRICEABLE
                )
                return None, status, leg.reason or reason
            with exact():
                total += abs(leg.amount)
        return total, ValuationStatus.VALUED, None


def value_transaction(tx: LedgerTransaction, ctx: RuleContext) -> TransactionValuation | set[PriceRequest]:
    """Value ``tx`` by the rules (module notes), or return the prices it still needs."""
    return _Valuing(tx, ctx).run()

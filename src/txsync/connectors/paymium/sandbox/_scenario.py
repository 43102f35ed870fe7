"""A deterministic multi-year Paymium account, built as the exchange books it: orders whose account
operations move the main account (and, for locks, the trading account)."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

__all__ = ["Operation", "Order", "PaymiumAccount"]

BTC_Q = Decimal("0.00000001")
EUR_Q = Decimal("0.01")
FEE_RATE = Decimal("0.005")
START = datetime(2019, 3, 4, 9, 0, tzinfo=UTC)
END = datetime(2024, 2, 26, 18, 0, tzinfo=UTC)
#: (time, BTC price in EUR) anchors of the price path.
_PRICES = [
    (datetime(2019, 3, 1, tzinfo=UTC), Decimal(3_400)),
    (datetime(2019, 7, 1, tzinfo=UTC), Decimal(9_500)),
    (datetime(2020, 3, 15, tzinfo=UTC), Decimal(5_200)),
    (datetime(2021, 1, 1, tzinfo=UTC), Decimal(24_000)),
    (datetime(2021, 11, 1, tzinfo=UTC), Decimal(55_000)),
    (datetime(2022, 6, 20, tzinfo=UTC), Decimal(19_000)),
    (datetime(2023, 1, 1, tzinfo=UTC), Decimal(15_500)),
    (datetime(2024, 3, 1, tzinfo=UTC), Decimal(47_000)),
]


def price_at(moment: datetime) -> Decimal:
    """The BTC/EUR price path (linear between anchors)."""
    for (t0, p0), (t1, p1) in itertools.pairwise(_PRICES):
        if t0 <= moment <= t1:
            share = Decimal((moment - t0).total_seconds()) / Decimal((t1 - t0).total_seconds())
            return (p0 + (p1 - p0) * share).quantize(EUR_Q)
    return _PRICES[-1][1]


@dataclass
class Operation:
    """One account operation (signed amount; ``trading`` = on the trading account)."""

    uuid: str
    name: str
    amount: Decimal
    currency: str
    at: datetime
    trading: bool = False
    address: str | None = None
    tx_hash: str | None = None


@dataclass
class Order:
    """One order with its operations, as ``/user/orders`` or ``/user/withdrawals`` lists it."""

    uuid: str
    type: str
    currency: str
    created_at: datetime
    state: str
    amount: Decimal
    direction: str | None = None
    price: Decimal | None = None
    currency_amount: Decimal | None = None
    comment: str | None = None
    operations: list[Operation] = field(default_factory=list)

    @property
    def updated_at(self) -> datetime:
        return max([self.created_at, *(op.at for op in self.operations)])


@dataclass
class PaymiumAccount:
    """Every order of the account, oldest first (deposits included: the API no longer lists them)."""

    orders: list[Order] = field(default_factory=list)

    def by_type(self, *types: str) -> list[Order]:
        return [o for o in self.orders if o.type in types]

    def operations(self) -> Iterator[Operation]:
        for order in self.orders:
            yield from order.operations

    def balances(self, now: datetime | None = None) -> dict[str, tuple[Decimal, Decimal]]:
        """``{currency: (available on the main account, locked on the trading account)}`` at ``now``."""
        out: dict[str, list[Decimal]] = {}
        for op in self.operations():
            if now is not None and op.at > now:
                continue
            slot = out.setdefault(op.currency, [Decimal(0), Decimal(0)])
            slot[1 if op.trading else 0] += op.amount
        return {cur: (v[0], v[1]) for cur, v in sorted(out.items())}

    @classmethod
    def generate(cls, *, seed: int = 11, trades: int = 52) -> PaymiumAccount:
        """A five-year account: EUR and BTC deposits, buy and sell orders (limit and market, filled
        over several executions, some cancelled, two still open), BTC withdrawals with fees (one
        cancelled, one pending), a EUR withdrawal, an e-mail transfer, an admin credit."""
        return _Builder(random.Random(seed)).build(trades)  # noqa: S311 - test data


class _Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.account = PaymiumAccount()
        self.available = {"EUR": Decimal(0), "BTC": Decimal(0)}

    # -- helpers ------------------------------------------------------------------------------------

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hexid(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def address(self) -> str:
        alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
        return "bc1q" + "".join(self.rng.choice(alphabet).lower() for _ in range(38))

    def op(self, order: Order, name: str, amount: Decimal, currency: str, at: datetime, *,
           trading: bool = False, **extra: Any) -> None:
        order.operations.append(Operation(self.uid(), name, amount, currency, at, trading, **extra))
        if not trading:
            self.available[currency] += amount

    def lock(self, order: Order, amount: Decimal, currency: str, at: datetime, name: str = "lock") -> None:
        sign = 1 if name == "lock" else -1
        self.op(order, name, -sign * amount, currency, at)
        self.op(order, name, sign * amount, currency, at, trading=True)

    def moment(self, at: datetime) -> datetime:
        return at.replace(microsecond=self.rng.randrange(1000) * 1000)

    # -- events ---------------------------------------------------------------------------------------

    def deposit(self, at: datetime, currency: str, amount: Decimal) -> None:
        kind = "WireDeposit" if currency == "EUR" else "BitcoinDeposit"
        name = "wire_deposit" if currency == "EUR" else "bitcoin_deposit"
        order = Order(self.uid(), kind, currency, at, "executed", amount)
        at_op = self.moment(at + timedelta(minutes=20))
        if currency == "EUR":
            self.op(order, name, amount, currency, at_op)
        else:
            self.op(order, name, amount, currency, at_op, address=self.address(), tx_hash=self.hexid())
        self.account.orders.append(order)

    def trade(self, at: datetime, *, state: str = "filled", fills: int = 1, market: bool = False,
              same_second: bool = False, direction: str | None = None) -> Order | None:
        rng = self.rng
        price = (price_at(at) * Decimal(rng.randrange(97, 104)) / 100).quantize(EUR_Q)
        if direction is None:
            direction = "buy" if self.available["BTC"] < Decimal("0.05") or rng.random() < 0.55 else "sell"
        if direction == "buy":
            budget = self.available["EUR"] * Decimal(rng.randrange(8, 30)) / 100
            qty = (budget / price).quantize(Decimal("0.0001"), ROUND_DOWN)
        else:
            qty = (self.available["BTC"] * Decimal(rng.randrange(10, 45)) / 100).quantize(
                Decimal("0.0001"), ROUND_DOWN
            )
        if qty < Decimal("0.001"):
            return None
        order = Order(self.uid(), "MarketOrder" if market else "LimitOrder", "EUR", at, state, qty,
                      direction=direction, price=None if market else price)
        locked_cur, locked = ("EUR", (qty * price).quantize(BTC_Q)) if direction == "buy" else ("BTC", qty)
        self.lock(order, locked, locked_cur, at)
        # Split the filled quantity over the executions.
        filled_share = Decimal(1) if state == "filled" else Decimal(rng.randrange(0, 70)) / 100
        if state in ("canceled", "active") and fills == 0:
            filled_share = Decimal(0)
        to_fill = (qty * filled_share).quantize(Decimal("0.0001"), ROUND_DOWN)
        parts = self._split(to_fill, max(fills, 1)) if to_fill > 0 else []
        when = at
        used = Decimal(0)
        for i, part in enumerate(parts):
            if not (market or same_second) or i == 0:
                when = when + (timedelta(0) if market or same_second else
                               timedelta(minutes=rng.randrange(1, 60 * 24 * 3)))
            t = self.moment(when) if not (market or same_second) else when.replace(
                microsecond=(i * 137_000) % 1_000_000)
            eur = (part * price).quantize(BTC_Q)
            # Paymium's names (public clients): both legs of a fill are ``btc_purchase`` (a buy)
            # or ``btc_sale`` (a sell), the counter-currency leg first; the fee ``<name>_fee``; a
            # fee rebate (maker incentive) ``<name>_fee_incentive``.
            if direction == "buy":
                self.op(order, "btc_purchase", -eur, "EUR", t)
                self.op(order, "btc_purchase", part, "BTC", t)
                self.op(order, "btc_purchase_fee", -(part * FEE_RATE).quantize(BTC_Q), "BTC", t)
                release, cur = eur, "EUR"
            else:
                self.op(order, "btc_sale", eur, "EUR", t)
                self.op(order, "btc_sale", -part, "BTC", t)
                fee = (eur * FEE_RATE).quantize(BTC_Q)
                self.op(order, "btc_sale_fee", -fee, "EUR", t)
                if not market and i % 2 == 1:  # a limit order resting in the book earns a rebate
                    self.op(order, "btc_sale_fee_incentive", (fee / 3).quantize(EUR_Q), "EUR", t)
                release, cur = part, "BTC"
            self.lock(order, release, cur, t, name="unlock")
            used += release
        if state in ("filled", "canceled"):
            rest = locked - used
            if rest > 0:
                end = (order.updated_at if parts else at) + timedelta(hours=rng.randrange(1, 200))
                self.lock(order, rest, locked_cur, self.moment(end), name="unlock")
        self.account.orders.append(order)
        return order

    def _split(self, total: Decimal, n: int) -> list[Decimal]:
        if n == 1:
            return [total]
        cuts = sorted(self.rng.randrange(1, 99) for _ in range(n - 1))
        shares = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
        parts = [(total * s / 100).quantize(Decimal("0.0001"), ROUND_DOWN) for s in shares]
        parts[-1] = total - sum(parts[:-1])
        return [p for p in parts if p > 0]

    def withdraw(self, at: datetime, currency: str, *, state: str = "executed",
                 email: bool = False) -> None:
        rng = self.rng
        if currency == "BTC":
            amount = (self.available["BTC"] * Decimal(rng.randrange(15, 40)) / 100).quantize(
                Decimal("0.0001"), ROUND_DOWN
            )
            fee = Decimal("0.0005") if at.year < 2022 else Decimal("0.0003")
        else:
            amount = (self.available["EUR"] * Decimal(rng.randrange(10, 30)) / 100).quantize(EUR_Q)
            fee = Decimal("0.50")
        if amount <= 0:
            return
        kind = "EmailTransfer" if email else "Transfer"
        order = Order(self.uid(), kind, currency, at, state, amount)
        t = self.moment(at)
        if email:
            order.comment = "for the bicycle"
            self.op(order, "email_transfer", -amount, currency, t)
        elif currency == "BTC":
            address = self.address()
            tx = self.hexid() if state == "executed" else None
            self.op(order, "bitcoin_transfer", -amount, "BTC", t, address=address, tx_hash=tx)
            self.op(order, "bitcoin_transfer_fee", -fee, "BTC", t)
            if state == "canceled":
                back = self.moment(at + timedelta(hours=5))
                self.op(order, "bitcoin_transfer", amount, "BTC", back, address=address)
                self.op(order, "bitcoin_transfer_fee", fee, "BTC", back)
        else:
            self.op(order, "wire_transfer", -amount, "EUR", t)
            self.op(order, "wire_transfer_fee", -fee, "EUR", t)
        self.account.orders.append(order)

    def admin_credit(self, at: datetime, amount: Decimal) -> None:
        order = Order(self.uid(), "AdminOrder", "BTC", at, "executed", amount)
        self.op(order, "account_operation", amount, "BTC", self.moment(at))
        self.account.orders.append(order)

    # -- the account ------------------------------------------------------------------------------------

    def build(self, trades: int) -> PaymiumAccount:
        rng = self.rng
        span = (END - START).total_seconds()
        slots = sorted(START + timedelta(seconds=rng.randrange(int(span * 0.02), int(span * 0.97)))
                       for _ in range(trades))
        deposits = sorted(START + timedelta(seconds=rng.randrange(int(span * 0.8))) for _ in range(10))
        deposits[0] = START
        deposits[1] = START + timedelta(days=2, hours=3)
        withdrawals = sorted(START + timedelta(seconds=rng.randrange(int(span * 0.1), int(span * 0.9)))
                             for _ in range(8))
        events: list[tuple[datetime, str, int]] = []
        events += [(t, "deposit", i) for i, t in enumerate(deposits)]
        events += [(t, "trade", i) for i, t in enumerate(slots)]
        events += [(t, "withdraw", i) for i, t in enumerate(withdrawals)]
        events.append((datetime(2021, 6, 1, 12, tzinfo=UTC), "admin", 0))
        events.append((datetime(2023, 2, 14, 10, 30, 15, tzinfo=UTC), "same_second", 0))
        events.append((datetime(2023, 3, 20, 9, tzinfo=UTC), "old_open", 0))
        events.append((END - timedelta(days=2), "recent_open", 0))
        events.append((END - timedelta(hours=20), "pending_withdrawal", 0))
        for at, kind, i in sorted(events, key=lambda e: e[0]):
            at = at.replace(microsecond=0)
            if kind == "deposit":
                if i % 3 == 1:
                    self.deposit(at, "BTC", Decimal(rng.randrange(20, 150)) / 100)
                else:
                    self.deposit(at, "EUR", Decimal(rng.randrange(2_000, 15_000)))
            elif kind == "trade":
                roll = i % 9
                if roll == 0:
                    self.trade(at, state="canceled", fills=0)
                elif roll == 4:
                    self.trade(at, state="canceled", fills=2)
                elif roll in (2, 6):
                    self.trade(at, market=True, fills=1 + i % 3)
                else:
                    self.trade(at, fills=1 + (i % 3))
            elif kind == "withdraw":
                if i == 3:
                    self.withdraw(at, "EUR")
                elif i == 5:
                    self.withdraw(at, "BTC", state="canceled")
                elif i == 6:
                    self.withdraw(at, "BTC", email=True, state="executed")
                else:
                    self.withdraw(at, "BTC")
            elif kind == "admin":
                self.admin_credit(at, Decimal("0.01250000"))
            elif kind == "same_second":
                # Two market orders of different sides executed in the same second, and a market
                # order filled in two executions within that second.
                self.trade(at, market=True, fills=2, direction="buy")
                self.trade(at, market=True, fills=1, direction="sell")
            elif kind == "old_open":
                self.trade(at, state="active", fills=1, direction="sell")
            elif kind == "recent_open":
                self.trade(at, state="active", fills=0, direction="buy")
            elif kind == "pending_withdrawal":
                self.withdraw(at, "BTC", state="pending")
        return self.account

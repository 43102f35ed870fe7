"""The deterministic multi-year Bitstamp account the sandbox serves."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["CURRENCIES", "NOW", "PAIRS", "BitstampAccount", "format_datetime"]

#: The sandbox's "now": every account ends before it.
NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
#: The currency keys every row of the sandbox account carries (0 when untouched).
CURRENCIES: tuple[str, ...] = ("usd", "eur", "btc", "eth", "xrp", "usdt")
#: Traded pairs and a starting price.
PAIRS: tuple[tuple[str, str, Decimal], ...] = (
    ("btc", "eur", Decimal(8000)),
    ("eth", "eur", Decimal(200)),
    ("eth", "btc", Decimal("0.025")),
    ("xrp", "eur", Decimal("0.20")),
    ("btc", "usdt", Decimal(9000)),
    ("usdt", "eur", Decimal("0.92")),
)
_PLACES = {
    "eur": Decimal("0.01"),
    "usd": Decimal("0.01"),
    "usdt": Decimal("0.01"),
    "xrp": Decimal("0.000001"),
}
_CRYPTO_PLACES = Decimal("0.00000001")


def _q(currency: str, value: Decimal) -> Decimal:
    return value.quantize(_PLACES.get(currency, _CRYPTO_PLACES), rounding=ROUND_HALF_UP)


def format_datetime(moment: datetime) -> str:
    """Bitstamp's ``"2021-11-25 12:59:59.322000"`` (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


@dataclass
class BitstampAccount:
    """User transactions (ascending ids) and the crypto-transactions rows of one Bitstamp account.

    ``generate`` builds a realistic account over several years: monthly EUR deposits, BTC and ETH
    deposits (two identical BTC deposits twenty minutes apart, which no rule can tell apart),
    about a thousand trades in six pairs with orders filled in several rows of the same second,
    EUR and crypto withdrawals (one old BTC withdrawal Bitstamp lists no crypto row for, one ETH
    withdrawal two hours before :data:`NOW` not broadcast yet), sub-account and inter-account
    transfers, staking in and out with monthly rewards, referral rewards and a settlement transfer.
    """

    transactions: list[dict[str, Any]] = field(default_factory=list)
    crypto_deposits: list[dict[str, Any]] = field(default_factory=list)
    crypto_withdrawals: list[dict[str, Any]] = field(default_factory=list)
    reserved: dict[str, Decimal] = field(default_factory=dict)
    next_id: int = 200_000_000
    #: Currencies Bitstamp lists beyond :data:`CURRENCIES` (a coin listed later): rows carry them
    #: only when they move (``add(..., extra=...)``); ``/api/v2/currencies/`` lists them.
    extra_currencies: tuple[str, ...] = ()

    # -- building ---------------------------------------------------------------------------------

    def add(
        self,
        type_code: int | str,
        at: datetime,
        amounts: dict[str, Decimal],
        *,
        fee: Decimal = Decimal(0),
        pair: tuple[str, str, Decimal] | None = None,
        order_id: int | None = None,
        step: int = 1,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append a user transaction row (ids increase by ``step``) and return it. ``extra`` adds
        keys as given (a field Bitstamp added later, a currency outside :data:`CURRENCIES`)."""
        self.next_id += step
        row: dict[str, Any] = {"id": self.next_id, "datetime": format_datetime(at), "type": str(type_code)}
        row["fee"] = f"{fee:f}"
        for currency in CURRENCIES:
            amount = amounts.get(currency)
            row[currency] = f"{_q(currency, amount):f}" if amount else (0 if currency != "usdt" else "0.0")
        if order_id is not None:
            row["order_id"] = order_id
        if pair is not None:
            base, quote, rate = pair
            row[f"{base}_{quote}"] = rate
        row.update(extra or {})
        self.transactions.append(row)
        return row

    def add_crypto(
        self, kind: str, currency: str, amount: Decimal, at: datetime, *, network: str
    ) -> dict[str, Any]:
        """Add a crypto-transactions row (``kind`` ``"deposit"`` or ``"withdrawal"``)."""
        seed = _digest(kind, currency, amount, at.isoformat())
        address = ("bc1q" + seed[:38]) if currency == "BTC" else ("0x" + seed[:40])
        item = {
            "currency": currency,
            "destinationAddress": address,
            "txid": ("0x" + seed) if currency != "BTC" else seed,
            "amount": amount,
            "datetime": int(at.timestamp()),
            "network": network,
        }
        (self.crypto_deposits if kind == "deposit" else self.crypto_withdrawals).append(item)
        return item

    @classmethod
    def generate(
        cls,
        *,
        seed: int = 11,
        orders: int = 860,
        start: datetime = datetime(2020, 3, 2, 9, 0, tzinfo=UTC),
        end: datetime = NOW - timedelta(hours=2),
        first_id: int = 200_000_000,
    ) -> BitstampAccount:
        """A deterministic multi-year account (see the class notes)."""
        rng = random.Random(seed)  # noqa: S311 - deterministic test data
        account = cls(next_id=first_id)
        span = (end - start).total_seconds()
        events: list[tuple[datetime, int, str, dict[str, Any]]] = []

        def at_fraction(x: float) -> datetime:
            return start + timedelta(seconds=span * x, microseconds=rng.randrange(1_000_000))

        def event(at: datetime, kind: str, **params: Any) -> None:
            events.append((at, len(events), kind, params))

        month = start
        while month < end - timedelta(days=3):
            event(
                month + timedelta(hours=rng.randrange(1, 48)),
                "eur_deposit",
                amount=Decimal(rng.randrange(10, 60) * 100),
            )
            month += timedelta(days=30)
        for i in range(10):
            event(
                at_fraction(0.02 + i * 0.09),
                "crypto_deposit",
                currency="btc",
                amount=Decimal(rng.randrange(5, 60)) / 100,
            )
        twins = at_fraction(0.41)
        event(twins, "crypto_deposit", currency="btc", amount=Decimal("0.25"))
        event(twins + timedelta(minutes=20), "crypto_deposit", currency="btc", amount=Decimal("0.25"))
        for x in (0.15, 0.63):
            event(at_fraction(x), "crypto_deposit", currency="eth", amount=Decimal(rng.randrange(2, 9)))
        for i in range(6):
            event(at_fraction(0.2 + i * 0.13), "crypto_withdrawal", currency="btc", crypto_row=i != 2)
        event(at_fraction(0.7), "crypto_withdrawal", currency="eth", crypto_row=True)
        event(end, "crypto_withdrawal", currency="eth", crypto_row=False)  # not broadcast yet
        for x in (0.33, 0.81):
            event(at_fraction(x), "eur_withdrawal")
        for x, currency, sign in ((0.12, "eur", -1), (0.27, "btc", -1), (0.52, "eur", 1), (0.88, "btc", 1)):
            event(at_fraction(x), "sub_account", currency=currency, sign=sign)
        event(at_fraction(0.45), "staking_out", amount=Decimal(1))
        event(at_fraction(0.9), "staking_in", amount=Decimal("0.5"))
        reward_at = at_fraction(0.46)
        while reward_at < end - timedelta(days=1):
            event(reward_at, "staking_reward")
            reward_at += timedelta(days=30)
        for x in (0.3, 0.77):
            event(at_fraction(x), "referral")
        event(at_fraction(0.58), "settlement")
        for x, sign in ((0.6, 1), (0.74, -1)):
            event(at_fraction(x), "inter_account", sign=sign)
        for _ in range(orders):
            event(at_fraction(0.03 + rng.random() * 0.96), "order")
        events.sort(key=lambda e: (e[0], e[1]))

        balance: dict[str, Decimal] = dict.fromkeys(CURRENCIES, Decimal(0))
        prices = {f"{b}_{q}": p for b, q, p in PAIRS}
        staked = Decimal(0)
        order_id = 1_400_000_000_000_000

        def book(
            row_amounts: dict[str, Decimal], fee_currency: str | None = None, fee: Decimal = Decimal(0)
        ) -> None:
            for currency, amount in row_amounts.items():
                balance[currency] += amount
            if fee_currency is not None:
                balance[fee_currency] -= fee

        step: Callable[[], int] = lambda: rng.randrange(1, 40)  # noqa: E731 - ids increase, with gaps
        for at, _, kind, params in events:
            if kind == "eur_deposit":
                amounts = {"eur": params["amount"]}
                account.add(0, at, amounts, step=step())
                book(amounts)
            elif kind == "crypto_deposit":
                currency, amount = params["currency"], params["amount"]
                account.add(0, at, {currency: amount}, step=step())
                book({currency: amount})
                account.add_crypto(
                    "deposit",
                    currency.upper(),
                    amount,
                    at - timedelta(minutes=rng.randrange(5, 40)),
                    network="bitcoin" if currency == "btc" else "ethereum",
                )
            elif kind == "crypto_withdrawal":
                currency = params["currency"]
                fee = Decimal("0.0005") if currency == "btc" else Decimal("0.004")
                amount = _q(currency, (balance[currency] - fee) * Decimal(rng.randrange(20, 50)) / 100)
                if amount <= 0:
                    continue
                account.add(1, at, {currency: -amount}, fee=fee, step=step())
                book({currency: -amount}, currency, fee)
                if params["crypto_row"]:
                    account.add_crypto(
                        "withdrawal",
                        currency.upper(),
                        amount,
                        at + timedelta(minutes=rng.randrange(2, 50)),
                        network="bitcoin" if currency == "btc" else "ethereum",
                    )
            elif kind == "eur_withdrawal":
                amount = _q("eur", balance["eur"] * Decimal("0.3"))
                if amount > 10:
                    account.add(1, at, {"eur": -amount}, fee=Decimal("3.00"), step=step())
                    book({"eur": -amount}, "eur", Decimal("3.00"))
            elif kind == "sub_account":
                currency = params["currency"]
                amount = _q(currency, Decimal(500) if currency == "eur" else Decimal("0.05"))
                if params["sign"] < 0 and balance[currency] < amount:
                    continue
                amounts = {currency: params["sign"] * amount}
                account.add(14, at, amounts, step=step())
                book(amounts)
            elif kind == "staking_out":
                amount = min(params["amount"], balance["eth"])
                if amount > 0:
                    account.add(26, at, {"eth": -amount}, step=step())
                    book({"eth": -amount})
                    staked += amount
            elif kind == "staking_in":
                amount = min(params["amount"], staked)
                if amount > 0:
                    account.add(25, at, {"eth": amount}, step=step())
                    book({"eth": amount})
                    staked -= amount
            elif kind == "staking_reward":
                if staked > 0:
                    reward = _q("eth", staked * Decimal("0.0035"))
                    account.add(27, at, {"eth": reward}, step=step())
                    book({"eth": reward})
            elif kind == "referral":
                account.add(32, at, {"btc": Decimal("0.00010000")}, step=step())
                book({"btc": Decimal("0.0001")})
            elif kind == "settlement":
                account.add(33, at, {"eur": Decimal("12.34")}, step=step())
                book({"eur": Decimal("12.34")})
            elif kind == "inter_account":
                amount = Decimal(100) if params["sign"] > 0 else Decimal(-50)
                if balance["usdt"] + amount >= 0:
                    account.add(35, at, {"usdt": amount}, step=step())
                    book({"usdt": amount})
            elif kind == "order":
                base, quote, _start = PAIRS[rng.randrange(len(PAIRS))]
                key = f"{base}_{quote}"
                price = prices[key] * Decimal(rng.randrange(94, 107)) / 100
                prices[key] = price
                rate = price.quantize(Decimal("0.00001") if quote == "btc" else Decimal("0.01"))
                buy = rng.random() < 0.55
                if buy:
                    budget = balance[quote] * Decimal(rng.randrange(5, 25)) / 100
                    qty = _q(base, budget / rate) if rate else Decimal(0)
                else:
                    qty = _q(base, balance[base] * Decimal(rng.randrange(10, 40)) / 100)
                if qty <= 0:
                    continue
                fills = 3 if rng.random() < 0.04 else 2 if rng.random() < 0.08 else 1
                order_id += rng.randrange(1, 10_000)
                parts = [_q(base, qty / fills) for _ in range(fills - 1)]
                parts.append(qty - sum(parts, Decimal(0)))
                for part in parts:
                    cost = _q(quote, part * rate)
                    fee = _q(quote, cost * Decimal("0.003"))
                    sign = 1 if buy else -1
                    if part <= 0 or cost <= 0:
                        continue
                    if buy and balance[quote] < cost + fee:
                        break
                    if not buy and balance[base] < part:
                        break
                    amounts = {base: sign * part, quote: -sign * cost}
                    account.add(
                        2,
                        at,
                        amounts,
                        fee=fee,
                        pair=(base, quote, rate),
                        order_id=order_id,
                        step=rng.randrange(1, 3),
                    )
                    book(amounts, quote, fee)
        account.reserved = {"eur": Decimal(100)} if balance["eur"] > 100 else {}
        return account

    # -- reading ----------------------------------------------------------------------------------

    def balances(self) -> dict[str, Decimal]:
        """What the account holds after every row (fees in the quote currency for trades, in the
        row's currency otherwise): what ``/api/v2/balance/`` reports."""
        currencies = (*CURRENCIES, *self.extra_currencies)
        totals: dict[str, Decimal] = dict.fromkeys(currencies, Decimal(0))
        for row in self.transactions:
            moved = {c: Decimal(str(row[c])) for c in currencies if c in row and Decimal(str(row[c])) != 0}
            for currency, amount in moved.items():
                totals[currency] = totals.get(currency, Decimal(0)) + amount
            fee = Decimal(row["fee"])
            if not fee:
                continue
            pair = next(
                (k for k in row if "_" in k and k.count("_") == 1 and k.split("_")[0] in currencies), None
            )
            fee_currency = pair.split("_")[1] if pair else (next(iter(moved)) if len(moved) == 1 else None)
            if fee_currency is not None:
                totals[fee_currency] -= fee
        return totals

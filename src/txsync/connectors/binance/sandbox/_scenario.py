"""The scenario account the Binance sandbox serves: years of history in every stream, generated
deterministically from a seed by simulating the account's wallets (nothing goes negative).

Simplifications, all consistent with the balances the sandbox reports: Simple Earn rewards,
dividends, converts, dust, swaps and fiat land in the spot wallet; the cross margin account was
emptied back to spot (its net result is in the spot balance; only the universal transfers of the
last 6 months are served, as on Binance, so its older moves are not); USD-M futures activity lies
within the last 3 months, funded by a transfer that ``/fapi/v1/income`` (and
``/sapi/v1/asset/transfer``) shows; one isolated margin pair (BTCUSDT) is funded from cross
margin, trades, pays interest and is emptied back; the account is a sub-account (its transfers
from the master and to a sibling are served).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ._market import MAJORS, Listing, Market, generate_listing

__all__ = ["NOW", "Scenario", "ScenarioAccount"]

#: The sandbox's "now": every scenario's history ends before it.
NOW = datetime(2024, 6, 1, tzinfo=UTC)
_Q = Decimal("0.00000001")
_DAY_MS = 86_400_000

_USD: dict[str, Decimal] = {
    "BTC": Decimal(30000),
    "ETH": Decimal(2000),
    "BNB": Decimal(300),
    "USDT": Decimal(1),
    "BUSD": Decimal(1),
    "FDUSD": Decimal(1),
    "USDC": Decimal(1),
    "TUSD": Decimal(1),
    "EUR": Decimal("1.08"),
    "TRY": Decimal("0.03"),
    "BRL": Decimal("0.2"),
    "GBP": Decimal("1.25"),
    "AUD": Decimal("0.66"),
    "BCC": Decimal(800),
}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _q(value: Decimal) -> Decimal:
    return value.quantize(_Q, rounding=ROUND_DOWN)


def _s(value: Decimal) -> str:
    return f"{_q(value):f}"


@dataclass(frozen=True)
class Scenario:
    """How big an account to generate."""

    seed: int = 20240601
    start: datetime = datetime(2017, 9, 1, tzinfo=UTC)
    now: datetime = NOW
    #: Alts traded (each in one pair, some in two), besides the hub pairs.
    alts: int = 30
    second_pairs: int = 10
    #: Pairs each of the first ``second_pairs`` alts trades in (the others trade in one).
    pairs_per_alt: int = 2
    #: The quotes alts trade against, with their weights.
    quote_weights: tuple[tuple[str, int], ...] = (
        ("USDT", 60),
        ("BTC", 25),
        ("BNB", 8),
        ("ETH", 4),
        ("BUSD", 3),
    )
    trades_per_pair: tuple[int, int] = (4, 28)
    #: Alts bought against ETH and sold back entirely in that one pair, seen in no other stream.
    sold_out: int = 0
    listed: int = 2100
    dividends: int = 40
    converts: int = 10
    dust: int = 8
    withdrawals: int = 12
    deposits: int = 24

    @classmethod
    def many_pairs(cls) -> Scenario:
        """Every alt traded in up to four pairs (benchmarks of pair discovery)."""
        return cls(seed=4242, second_pairs=30, pairs_per_alt=4)

    @classmethod
    def hub_alts(cls) -> Scenario:
        """Alts traded only against BTC, BNB and ETH (benchmarks of pair discovery)."""
        return cls(seed=777, quote_weights=(("BTC", 50), ("BNB", 30), ("ETH", 20)))

    @classmethod
    def with_sold_out(cls) -> Scenario:
        """An account opened in 2019 (no delisted BCC pair to blur the hubs' balances) with two alts
        bought and sold back entirely against ETH."""
        return cls(seed=1818, start=datetime(2019, 3, 1, tzinfo=UTC), sold_out=2)

    @classmethod
    def small(cls) -> Scenario:
        """A five-month account in a dozen pairs among ~300 listed (the contract cassettes)."""
        return cls(
            seed=7,
            start=datetime(2024, 1, 1, tzinfo=UTC),
            alts=3,
            second_pairs=1,
            trades_per_pair=(2, 6),
            listed=150,
            dividends=4,
            converts=3,
            dust=2,
            withdrawals=3,
            deposits=4,
        )


@dataclass
class ScenarioAccount:
    """Everything the sandbox serves for the account."""

    scenario: Scenario
    listing: Listing
    trades: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    margin_trades: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deposits: list[dict[str, Any]] = field(default_factory=list)
    withdrawals: list[dict[str, Any]] = field(default_factory=list)
    fiat_orders: list[dict[str, Any]] = field(default_factory=list)
    fiat_payments: list[dict[str, Any]] = field(default_factory=list)
    converts: list[dict[str, Any]] = field(default_factory=list)
    dust: list[dict[str, Any]] = field(default_factory=list)
    dividends: list[dict[str, Any]] = field(default_factory=list)
    earn_flexible: list[dict[str, Any]] = field(default_factory=list)
    earn_locked: list[dict[str, Any]] = field(default_factory=list)
    swaps: list[dict[str, Any]] = field(default_factory=list)
    futures_income: list[dict[str, Any]] = field(default_factory=list)
    margin_interest: list[dict[str, Any]] = field(default_factory=list)
    coin_futures_income: list[dict[str, Any]] = field(default_factory=list)
    option_bills: list[dict[str, Any]] = field(default_factory=list)
    pay: list[dict[str, Any]] = field(default_factory=list)
    p2p: list[dict[str, Any]] = field(default_factory=list)
    eth_staking: list[dict[str, Any]] = field(default_factory=list)
    rebates: list[dict[str, Any]] = field(default_factory=list)
    loans: list[dict[str, Any]] = field(default_factory=list)
    auto_invest: list[dict[str, Any]] = field(default_factory=list)
    universal_transfers: list[dict[str, Any]] = field(default_factory=list)
    sub_transfers: list[dict[str, Any]] = field(default_factory=list)
    #: ``/sapi/v1/margin/isolated/account`` ``assets[]`` rows (one per isolated pair).
    isolated: list[dict[str, Any]] = field(default_factory=list)
    isolated_trades: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    isolated_interest: list[dict[str, Any]] = field(default_factory=list)
    spot: dict[str, Decimal] = field(default_factory=dict)
    funding: dict[str, Decimal] = field(default_factory=dict)
    futures: dict[str, Decimal] = field(default_factory=dict)
    coin_futures: dict[str, Decimal] = field(default_factory=dict)
    #: Binance Pool earnings (``/sapi/v1/mining/payment/list`` rows with their ``userName`` and
    #: ``algo``): none in the generated scenario (its connection names no mining account).
    mining: list[dict[str, Any]] = field(default_factory=list)
    #: The options wallet (``/eapi/v1/account``): emptied back to spot in the scenario.
    options: dict[str, Decimal] = field(default_factory=dict)
    margin_used: bool = True
    #: Whether the account is a sub-account (its sub-account transfer history is served).
    sub_account: bool = True

    @property
    def traded_symbols(self) -> list[str]:
        """Symbols with spot trades (vanished ones included)."""
        return sorted(s for s, rows in self.trades.items() if rows)

    @classmethod
    def generate(cls, scenario: Scenario | None = None) -> ScenarioAccount:
        """Simulate the account (see the module notes)."""
        return _Generator(scenario or Scenario()).run()


class _Generator:
    def __init__(self, scenario: Scenario) -> None:
        self.sc = scenario
        self.rng = random.Random(scenario.seed)  # noqa: S311 - deterministic test data
        fixed = {
            "XZCBTC": Market("XZCBTC", "XZC", "BTC", status="BREAK"),
            "PEPEUSDT": Market("PEPEUSDT", "PEPE", "USDT", permissions=("TRD_GRP_005",)),
        }
        self.listing = generate_listing(scenario.seed, scenario.listed, fixed=fixed)
        self.acc = ScenarioAccount(scenario=scenario, listing=self.listing)
        self.wallets: dict[str, dict[str, Decimal]] = {
            "spot": {},
            "funding": {},
            "margin": {},
            "futures": {},
            "isolated": {},
        }
        self.events: list[tuple[int, int, Any]] = []
        self.seq = 0
        self.order_id = 5_000_000
        self.trade_ids: dict[str, int] = {}
        self.usd = dict(_USD)

    # -- helpers ----------------------------------------------------------------------------------------

    def price(self, asset: str) -> Decimal:
        if asset not in self.usd:
            self.usd[asset] = Decimal(self.rng.randrange(5, 5000)) / 100
        return self.usd[asset]

    def held(self, asset: str, wallet: str = "spot") -> Decimal:
        return self.wallets[wallet].get(asset, Decimal(0))

    def move(self, asset: str, amount: Decimal, wallet: str = "spot") -> None:
        book = self.wallets[wallet]
        book[asset] = book.get(asset, Decimal(0)) + amount

    def at(self, when: datetime, action: Any) -> None:
        self.seq += 1
        self.events.append((_ms(when), self.seq, action))

    def moment(self, low: datetime, high: datetime) -> datetime:
        span = int((high - low).total_seconds())
        return low + timedelta(
            seconds=self.rng.randrange(max(span, 1)), milliseconds=self.rng.randrange(1000)
        )

    def universal(
        self,
        when: datetime,
        kind: str,
        asset: str,
        amount: Decimal,
        status: str = "CONFIRMED",
        **symbols: str,
    ) -> None:
        """Record a universal transfer row (``/sapi/v1/asset/transfer``); the caller moves the
        wallets. ``fromSymbol``/``toSymbol`` (isolated pairs) are what the server filters on."""
        self.acc.universal_transfers.append(
            {
                "asset": asset,
                "amount": _s(abs(amount)),
                "type": kind,
                "status": status,
                "tranId": 13_526_853_623 + 7 * len(self.acc.universal_transfers),
                "timestamp": _ms(when),
                **symbols,
            }
        )

    def txid(self, *parts: object) -> str:
        return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()

    # -- the story ---------------------------------------------------------------------------------------

    def run(self) -> ScenarioAccount:
        sc = self.sc
        early = sc.start + timedelta(days=3)
        self.plan_deposits(early)
        self.plan_fiat(early)
        self.plan_trades()
        self.plan_converts()
        self.plan_dust()
        self.plan_dividends()
        self.plan_earn()
        self.plan_swaps()
        self.plan_margin()
        self.plan_futures()
        self.plan_withdrawals()
        self.plan_documented()
        self.plan_categories()
        for _, _, action in sorted(self.events, key=lambda e: (e[0], e[1])):
            action()
        self.finish()
        return self.acc

    def deposit(
        self, when: datetime, coin: str, amount: Decimal, *, status: int = 1, wallet: int = 0
    ) -> None:
        def apply() -> None:
            index = len(self.acc.deposits)
            self.acc.deposits.append(
                {
                    "id": str(769800519366885376 + index * 7919),
                    "amount": _s(amount),
                    "coin": coin,
                    "network": coin if coin != "USDT" else "ETH",
                    "status": status,
                    "address": "addr" + self.txid("a", coin)[:30],
                    "addressTag": "",
                    "txId": "0x" + self.txid("dep", index),
                    "insertTime": _ms(when),
                    "completeTime": _ms(when) + 600_000,
                    "transferType": 0,
                    "confirmTimes": "12/12",
                    "unlockConfirm": 0,
                    "walletType": wallet,
                }
            )
            if status in (1, 6):  # 6: credited, not withdrawable yet
                self.move(coin, amount, "funding" if wallet == 1 else "spot")

        self.at(when, apply)

    def plan_deposits(self, early: datetime) -> None:
        sc = self.sc
        for coin, initial in (("USDT", "250000"), ("BTC", "6"), ("ETH", "60"), ("BNB", "400")):
            self.deposit(early, coin, Decimal(initial))
        if sc.start.year <= 2018:
            self.deposit(datetime(2018, 3, 5, 12, tzinfo=UTC), "BCC", Decimal("2.5"))
        coins = ["BTC", "ETH", "USDT", "BNB", "ADA", "DOT", "LINK"]
        for _ in range(sc.deposits):
            coin = self.rng.choice(coins)
            amount = _q(Decimal(self.rng.randrange(100, 3000)) / self.price(coin))
            self.deposit(self.moment(early, sc.now - timedelta(days=5)), coin, amount)
        self.deposit(self.moment(early, sc.now - timedelta(days=30)), "USDT", Decimal(500), wallet=1)
        self.deposit(self.moment(early, sc.now - timedelta(days=30)), "ETH", Decimal("0.3"), status=7)
        self.deposit(sc.now - timedelta(hours=2), "BTC", Decimal("0.05"), status=0)

    def plan_fiat(self, early: datetime) -> None:
        sc = self.sc

        def order(when: datetime, kind: str, amount: Decimal, fee: Decimal, status: str) -> None:
            def apply() -> None:
                number = len(self.acc.fiat_orders)
                self.acc.fiat_orders.append(
                    {
                        "orderNo": f"7d76d611-0568-4f43-afb6-{number:012d}",
                        "fiatCurrency": "EUR",
                        "indicatedAmount": _s(amount + fee if kind == "0" else amount),
                        "amount": _s(amount),
                        "totalFee": _s(fee),
                        "method": "BankAccount",
                        "status": status,
                        "createTime": _ms(when),
                        "updateTime": _ms(when) + 3_600_000,
                        "transactionType": kind,
                    }
                )
                if status == "Successful":
                    sign = 1 if kind == "0" else -1
                    self.move("EUR", sign * amount - fee)

            self.at(when, apply)

        order(early, "0", Decimal(20000), Decimal(0), "Successful")
        for _ in range(3):
            order(
                self.moment(early, sc.now - timedelta(days=10)),
                "0",
                Decimal(self.rng.randrange(500, 3000)),
                Decimal("1.5"),
                "Successful",
            )
        order(self.moment(early, sc.now - timedelta(days=10)), "0", Decimal(900), Decimal(0), "Failed")
        order(sc.now - timedelta(days=20), "1", Decimal(1000), Decimal("1.5"), "Successful")

        def payment(when: datetime, crypto: str, eur: Decimal, method: str) -> None:
            def apply() -> None:
                number = len(self.acc.fiat_payments)
                fee = _q(eur * Decimal("0.02"))
                price = self.price(crypto) / self.usd["EUR"]
                got = _q((eur - fee) / price)
                self.acc.fiat_payments.append(
                    {
                        "orderNo": f"353fca443f06466db0c4dc89f94f{number:04d}",
                        "sourceAmount": _s(eur),
                        "fiatCurrency": "EUR",
                        "obtainAmount": _s(got),
                        "cryptoCurrency": crypto,
                        "totalFee": _s(fee),
                        "price": _s(price),
                        "status": "Completed",
                        "paymentMethod": method,
                        "createTime": _ms(when),
                        "updateTime": _ms(when) + 60_000,
                        "transactionType": "0",
                    }
                )
                if method == "Cash Balance":
                    self.move("EUR", -eur)
                self.move(crypto, got)

            self.at(when, apply)

        for _ in range(3):
            payment(
                self.moment(early, sc.now - timedelta(days=10)),
                "BTC",
                Decimal(self.rng.randrange(50, 500)),
                "Card",
            )
        payment(self.moment(early, sc.now - timedelta(days=10)), "ETH", Decimal(300), "Cash Balance")

    # -- trades --------------------------------------------------------------------------------------------

    def choose_pairs(self) -> list[Market]:
        sc, markets = self.sc, self.listing.markets
        chosen: list[str] = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "ETHBTC", "BNBBTC", "BTCEUR"]
        quotes = sc.quote_weights
        alts = [a for a in MAJORS if a not in ("XZC", "PEPE") and f"{a}USDT" in markets]
        self.rng.shuffle(alts)
        picked = alts[: sc.alts]
        for index, alt in enumerate(picked):
            options = [(q, w) for q, w in quotes if f"{alt}{q}" in markets]
            count = sc.pairs_per_alt if index < sc.second_pairs else 1
            for _ in range(count):
                left = [(q, w) for q, w in options if f"{alt}{q}" not in chosen]
                if not left:
                    break
                quote = self.rng.choices([q for q, _ in left], [w for _, w in left])[0]
                chosen.append(f"{alt}{quote}")
        chosen += ["XZCBTC", "PEPEUSDT"]
        return [markets[s] for s in chosen if s in markets]

    def plan_trades(self) -> None:
        sc = self.sc
        pairs = self.choose_pairs()
        if sc.start.year <= 2018:
            self.plan_pair_trades(
                Market("BCCBTC", "BCC", "BTC"),
                datetime(2018, 3, 10, tzinfo=UTC),
                datetime(2018, 10, 1, tzinfo=UTC),
                6,
                sell_only=True,
            )
        self.plan_sold_out({m.base for m in pairs})
        for market in pairs:
            low, high = sc.trades_per_pair
            hub = market.base in ("BTC", "ETH", "BNB")
            count = self.rng.randrange(low, high + 1) * (3 if hub else 1)
            begin = self.moment(sc.start + timedelta(days=10), sc.start + (sc.now - sc.start) / 2)
            self.plan_pair_trades(market, begin, sc.now - timedelta(days=2), count)

    def plan_sold_out(self, traded: set[str]) -> None:
        """``sold_out`` alts (not otherwise traded) bought against ETH and sold back entirely later,
        commissions in BNB: nothing of them is left, and no other stream mentions them. Times and
        amounts come from a random stream of their own (the rest of the scenario is unchanged)."""
        sc = self.sc
        if not sc.sold_out:
            return
        rng = random.Random(sc.seed + 18)  # noqa: S311 - deterministic test data
        markets = self.listing.markets
        alts = sorted(
            a for a in MAJORS if a not in traded and f"{a}ETH" in markets and a not in ("XZC", "PEPE")
        )
        for alt in alts[: sc.sold_out]:
            market = markets[f"{alt}ETH"]
            price = Decimal(rng.randrange(100, 900)) / 100000
            qty = Decimal(rng.randrange(50, 500))
            span = sc.now - sc.start
            bought = sc.start + span * rng.randrange(20, 50) / 100
            sold = bought + span * rng.randrange(5, 30) / 100
            for when, buy in ((bought, True), (sold, False)):
                self.at(when, lambda m=market, t=when, b=buy, p=price, q=qty: self.round_trip(m, t, b, p, q))

    def round_trip(self, market: Market, when: datetime, buy: bool, price: Decimal, qty: Decimal) -> None:
        """One fill of a sold-out alt: ``qty`` at ``price`` (the sell at 5% more), fee in BNB."""
        price = price if buy else _q(price * Decimal("1.05"))
        quote_qty = _q(qty * price)
        fee = _q(quote_qty * self.price(market.quote) / self.price("BNB") / 1000)
        self.order_id += 7
        ident = self.trade_ids.get(market.symbol, 900) + 3
        self.trade_ids[market.symbol] = ident
        self.acc.trades.setdefault(market.symbol, []).append(
            {
                "symbol": market.symbol,
                "id": ident,
                "orderId": self.order_id,
                "orderListId": -1,
                "price": _s(price),
                "qty": _s(qty),
                "quoteQty": _s(quote_qty),
                "commission": _s(fee),
                "commissionAsset": "BNB",
                "time": _ms(when),
                "isBuyer": buy,
                "isMaker": False,
                "isBestMatch": True,
            }
        )
        sign = 1 if buy else -1
        self.move(market.base, sign * qty)
        self.move(market.quote, -sign * quote_qty)
        self.move("BNB", -fee)

    def plan_pair_trades(
        self, market: Market, begin: datetime, end: datetime, count: int, *, sell_only: bool = False
    ) -> None:
        times = sorted(self.moment(begin, end) for _ in range(count))
        for index, when in enumerate(times):
            fills = self.rng.choice((2, 3)) if self.rng.random() < 0.07 else 1
            buy = not sell_only and (index < 2 or self.rng.random() < 0.62)
            self.at(when, lambda m=market, t=when, b=buy, f=fills: self.trade(m, t, b, f))

    def trade(self, market: Market, when: datetime, buy: bool, fills: int) -> None:
        base, quote = market.base, market.quote
        price = _q(self.price(base) / self.price(quote) * Decimal(self.rng.randrange(85, 116)) / 100)
        if price <= 0:
            return
        budget_usd = Decimal(self.rng.randrange(50, 2500))
        qty = _q(budget_usd / self.price(base))
        if buy:
            qty = min(qty, _q(self.held(quote) * Decimal("0.5") / price))
        else:
            qty = min(qty, _q(self.held(base) * Decimal("0.6")))
            if market.base == "BCC":
                qty = _q(self.held(base) / 2) if self.held(base) > Decimal("0.01") else self.held(base)
        if qty <= 0:
            return
        self.order_id += self.rng.randrange(1, 50)
        part = _q(qty / fills)
        for fill in range(fills):
            amount = part if fill < fills - 1 else qty - part * (fills - 1)
            if amount <= 0:
                continue
            quote_qty = _q(amount * price)
            received = base if buy else quote
            got = amount if buy else quote_qty
            fee_bnb = _q(quote_qty * self.price(quote) / self.price("BNB") / 1000)
            if self.held("BNB") > fee_bnb * 4 and fee_bnb > 0 and "BNB" not in (base, quote):
                fee_asset, fee = "BNB", fee_bnb
            else:
                fee_asset, fee = received, _q(got / 1000)
            ident = self.trade_ids.get(
                market.symbol, 1000 + self.rng.randrange(0, 90000)
            ) + self.rng.randrange(1, 9)
            self.trade_ids[market.symbol] = ident
            self.acc.trades.setdefault(market.symbol, []).append(
                {
                    "symbol": market.symbol,
                    "id": ident,
                    "orderId": self.order_id,
                    "orderListId": -1,
                    "price": _s(price),
                    "qty": _s(amount),
                    "quoteQty": _s(quote_qty),
                    "commission": _s(fee),
                    "commissionAsset": fee_asset,
                    "time": _ms(when),
                    "isBuyer": buy,
                    "isMaker": self.rng.random() < 0.4,
                    "isBestMatch": True,
                }
            )
            sign = 1 if buy else -1
            self.move(base, sign * amount)
            self.move(quote, -sign * quote_qty)
            self.move(fee_asset, -fee)

    # -- other streams ---------------------------------------------------------------------------------------

    def plan_converts(self) -> None:
        sc = self.sc
        low = max(sc.start, datetime(2021, 1, 1, tzinfo=UTC))
        routes = (("USDT", "BUSD"), ("BTC", "ETH"), ("USDT", "ADA"), ("BNB", "USDT"), ("EUR", "BTC"))
        for index in range(sc.converts):
            when = self.moment(low, sc.now - timedelta(days=3))
            src, dst = routes[index % len(routes)]
            failed = index == 3

            def apply(t: datetime = when, s: str = src, d: str = dst, bad: bool = failed) -> None:
                out = _q(
                    min(Decimal(self.rng.randrange(100, 1500)) / self.price(s), self.held(s) * Decimal("0.3"))
                )
                if out <= 0:
                    return
                ratio = _q(self.price(s) / self.price(d))
                got = _q(out * ratio)
                self.acc.converts.append(
                    {
                        "quoteId": self.txid("quote", t)[:32],
                        "orderId": 940708407462087195 + len(self.acc.converts),
                        "orderStatus": "FAIL" if bad else "SUCCESS",
                        "fromAsset": s,
                        "fromAmount": _s(out),
                        "toAsset": d,
                        "toAmount": _s(got),
                        "ratio": _s(ratio),
                        "inverseRatio": _s(Decimal(1) / ratio) if ratio else "0",
                        "createTime": _ms(t),
                    }
                )
                if not bad:
                    self.move(s, -out)
                    self.move(d, got)

            self.at(when, apply)

    def plan_dust(self) -> None:
        sc = self.sc
        low = max(sc.start, datetime(2021, 1, 1, tzinfo=UTC))
        for index in range(sc.dust):
            when = self.moment(low, sc.now - timedelta(days=3))

            def apply(t: datetime = when, n: int = index) -> None:
                owned = sorted(
                    a for a, v in self.wallets["spot"].items() if v > 0 and a not in ("BNB", "EUR", "USDT")
                )
                if not owned:
                    return
                details = []
                total_bnb = total_fee = Decimal(0)
                for offset, asset in enumerate(self.rng.sample(owned, min(3, len(owned)))):
                    amount = _q(min(self.held(asset) * Decimal("0.002"), Decimal(5) / self.price(asset)))
                    if amount <= 0:
                        continue
                    bnb = _q(amount * self.price(asset) / self.price("BNB"))
                    fee = _q(bnb * Decimal("0.02"))
                    details.append(
                        {
                            "transId": 4359321 + n * 10 + offset,
                            "serviceChargeAmount": _s(fee),
                            "amount": _s(amount),
                            "operateTime": _ms(t),
                            "transferedAmount": _s(bnb - fee),
                            "fromAsset": asset,
                        }
                    )
                    self.move(asset, -amount)
                    total_bnb += bnb - fee
                    total_fee += fee
                if not details:
                    return
                self.move("BNB", total_bnb)
                self.acc.dust.append(
                    {
                        "operateTime": _ms(t),
                        "totalTransferedAmount": _s(total_bnb),
                        "totalServiceChargeAmount": _s(total_fee),
                        "transId": 45178372831 + n,
                        "userAssetDribbletDetails": details,
                    }
                )

            self.at(when, apply)

    def plan_dividends(self) -> None:
        sc = self.sc
        kinds = ("BNB Vault", "Launchpool", "ETH 2.0 Staking", "BNB Vault", "Airdrop", "Launchpool")
        airdropped = [a for a in ("ARB", "SUI", "INJ", "OP") if f"{a}USDT" in self.listing.markets]
        for index in range(sc.dividends):
            when = self.moment(sc.start + timedelta(days=20), sc.now - timedelta(days=3))
            info = kinds[index % len(kinds)]
            if index == sc.dividends - 1:
                info = "Mystery Box Reward"
            asset = (
                "BNB"
                if info == "BNB Vault"
                else "ETH"
                if "ETH" in info
                else self.rng.choice(airdropped or ["BNB"])
            )
            amount = _q(Decimal(self.rng.randrange(1, 60)) / self.price(asset))

            def apply(
                t: datetime = when, a: str = asset, v: Decimal = amount, i: str = info, n: int = index
            ) -> None:
                self.acc.dividends.append(
                    {
                        "id": 242006910 + n,
                        "amount": _s(v),
                        "asset": a,
                        "divTime": _ms(t),
                        "enInfo": i,
                        "tranId": 2968885920 + n,
                        "direction": 1,
                    }
                )
                self.move(a, v)

            self.at(when, apply)

    def plan_earn(self) -> None:
        sc = self.sc
        start = max(sc.start, datetime(2022, 12, 1, tzinfo=UTC))
        week = timedelta(days=7)
        when = start + timedelta(days=2, hours=3)
        kinds = ("REALTIME", "BONUS", "REWARDS")
        number = 0
        while when < sc.now - timedelta(days=1):
            for asset in ("USDT", "BNB"):
                number += 1
                reward = _q(Decimal(self.rng.randrange(10, 900)) / 100 / self.price(asset))

                def flex(
                    t: datetime = when, a: str = asset, v: Decimal = reward, k: str = kinds[number % 3]
                ) -> None:
                    self.acc.earn_flexible.append(
                        {"asset": a, "rewards": _s(v), "projectId": f"{a}001", "type": k, "time": _ms(t)}
                    )
                    self.move(a, v)

                self.at(when, flex)
            if number % 8 == 0:
                for asset in ("DOT", "ADA"):
                    amount = _q(Decimal(self.rng.randrange(20, 400)) / 100 / self.price(asset))

                    def locked(t: datetime = when, a: str = asset, v: Decimal = amount) -> None:
                        self.acc.earn_locked.append(
                            {
                                "positionId": 123123 + hash(a) % 1000,
                                "time": _ms(t) + 1,
                                "asset": a,
                                "lockPeriod": "30",
                                "amount": _s(v),
                                "type": "Locked Rewards",
                            }
                        )
                        self.move(a, v)

                    self.at(when, locked)
            when += week

    def plan_swaps(self) -> None:
        sc = self.sc
        low = max(sc.start, datetime(2020, 9, 1, tzinfo=UTC))
        for index in range(4 if sc.alts > 10 else 2):
            when = self.moment(low, sc.now - timedelta(days=3))

            def apply(t: datetime = when, n: int = index) -> None:
                quote, base = ("USDT", "BUSD") if n % 2 == 0 else ("BUSD", "USDT")
                qty = _q(min(Decimal(self.rng.randrange(100, 900)), self.held(quote) * Decimal("0.2")))
                if qty <= 0:
                    return
                fee = _q(qty * Decimal("0.0005"))
                got = _q(qty * Decimal("0.999"))
                self.acc.swaps.append(
                    {
                        "swapId": 2314 + n,
                        "swapTime": _ms(t),
                        "status": 1,
                        "quoteAsset": quote,
                        "baseAsset": base,
                        "quoteQty": _s(qty),
                        "baseQty": _s(got),
                        "price": "0.999",
                        "fee": _s(fee),
                    }
                )
                self.move(quote, -qty - fee)
                self.move(base, got)

            self.at(when, apply)

    def plan_margin(self) -> None:
        sc = self.sc
        low = max(sc.start, sc.now - timedelta(days=500))
        for symbol in ("BTCUSDT", "ETHUSDT"):
            market = self.listing.markets[symbol]
            for _ in range(5 if sc.alts > 10 else 3):
                when = self.moment(low, sc.now - timedelta(days=5))
                self.at(when, lambda m=market, t=when: self.margin_trade(m, t))
        for index in range(12 if sc.alts > 10 else 5):
            when = self.moment(low, sc.now - timedelta(days=5))
            asset = "USDT" if index % 2 else "BTC"
            interest = _q(Decimal(self.rng.randrange(1, 300)) / 100 / self.price(asset))

            def apply(t: datetime = when, a: str = asset, v: Decimal = interest, n: int = index) -> None:
                self.acc.margin_interest.append(
                    {
                        "txId": 1352286576452864727 + n,
                        "interestAccuredTime": _ms(t),
                        "asset": a,
                        "rawAsset": a,
                        "principal": _s(v * 5000),
                        "interest": _s(v),
                        "interestRate": "0.00013",
                        "type": "ON_BORROW",
                        "isolatedSymbol": "",
                    }
                )
                self.move(a, -v, "margin")

            self.at(when, apply)

    def margin_trade(self, market: Market, when: datetime) -> None:
        price = _q(
            self.price(market.base) / self.price(market.quote) * Decimal(self.rng.randrange(90, 111)) / 100
        )
        qty = _q(Decimal(self.rng.randrange(100, 2000)) / self.price(market.base))
        buy = self.rng.random() < 0.5
        quote_qty = _q(qty * price)
        fee = _q((qty if buy else quote_qty) / 1000)
        ident = self.trade_ids.get("margin:" + market.symbol, 70000) + self.rng.randrange(1, 9)
        self.trade_ids["margin:" + market.symbol] = ident
        self.order_id += 3
        self.acc.margin_trades.setdefault(market.symbol, []).append(
            {
                "symbol": market.symbol,
                "id": ident,
                "orderId": self.order_id,
                "price": _s(price),
                "qty": _s(qty),
                "quoteQty": _s(quote_qty),
                "commission": _s(fee),
                "commissionAsset": market.base if buy else market.quote,
                "time": _ms(when),
                "isBuyer": buy,
                "isMaker": False,
                "isBestMatch": True,
                "isIsolated": False,
            }
        )
        sign = 1 if buy else -1
        self.move(market.base, sign * qty, "margin")
        self.move(market.quote, -sign * quote_qty, "margin")
        self.move(market.base if buy else market.quote, -fee, "margin")

    def plan_futures(self) -> None:
        sc = self.sc
        begin = sc.now - timedelta(days=80)
        ident = 9689322392

        def income(t: datetime, kind: str, amount: Decimal, symbol: str = "BTCUSDT") -> None:
            nonlocal ident
            ident += self.rng.randrange(1, 500)
            row_id = ident

            def apply() -> None:
                self.acc.futures_income.append(
                    {
                        "symbol": "" if kind == "TRANSFER" else symbol,
                        "incomeType": kind,
                        "income": _s(amount),
                        "asset": "USDT",
                        "info": kind,
                        "time": _ms(t),
                        "tranId": row_id,
                        "tradeId": "" if kind in ("TRANSFER", "FUNDING_FEE") else str(row_id % 100000),
                    }
                )
                self.move("USDT", amount, "futures")
                if kind == "TRANSFER":
                    self.move("USDT", -amount)
                    self.universal(t, "MAIN_UMFUTURE" if amount > 0 else "UMFUTURE_MAIN", "USDT", amount)

            self.at(t, apply)

        income(begin, "TRANSFER", Decimal(5000))
        for index in range(30 if sc.alts > 10 else 8):
            when = self.moment(begin + timedelta(days=1), sc.now - timedelta(days=2))
            kind = ("REALIZED_PNL", "FUNDING_FEE", "COMMISSION")[index % 3]
            value = (
                Decimal(self.rng.randrange(-4000, 6000)) / 100
                if kind == "REALIZED_PNL"
                else -Decimal(self.rng.randrange(1, 300)) / 100
            )
            income(when, kind, value)
        income(
            self.moment(begin + timedelta(days=1), sc.now - timedelta(days=2)), "STRATEGY_BONUS", Decimal(3)
        )
        income(sc.now - timedelta(days=1), "TRANSFER", Decimal(-2000))

    def plan_withdrawals(self) -> None:
        sc = self.sc
        coins = ("BTC", "ETH", "USDT", "BNB")
        for index in range(sc.withdrawals):
            when = self.moment(sc.start + timedelta(days=30), sc.now - timedelta(days=3))
            coin = coins[index % len(coins)]
            cancelled = index == 2

            def apply(t: datetime = when, c: str = coin, bad: bool = cancelled, n: int = index) -> None:
                amount = _q(
                    min(Decimal(self.rng.randrange(100, 2000)) / self.price(c), self.held(c) * Decimal("0.2"))
                )
                fee = _q(Decimal(1) / self.price(c))
                if amount <= 0:
                    return
                self.acc.withdrawals.append(
                    {
                        "id": self.txid("wd", n)[:32],
                        "amount": _s(amount),
                        "transactionFee": _s(fee),
                        "coin": c,
                        "status": 1 if bad else 6,
                        "address": "0x" + self.txid("to", c)[:40],
                        "txId": "" if bad else "0x" + self.txid("wtx", n),
                        "applyTime": t.strftime("%Y-%m-%d %H:%M:%S"),
                        "network": c if c != "USDT" else "ETH",
                        "transferType": 0,
                        "info": "",
                        "confirmNo": 12,
                        "walletType": 0,
                        "txKey": "",
                        "completeTime": (t + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S"),
                    }
                )
                if not bad:
                    self.move(c, -amount - fee)

            self.at(when, apply)

    def plan_documented(self) -> None:
        """Deposits and withdrawals shaped like Binance's documented examples (the withdraw-history
        example: 8.91 USDT sent, 0.004 fee charged on top), a deposit credited but locked (status
        6), internal (off-chain, ``transferType`` 1) transfers both ways, a memo, and a fiat
        deposit still processing. Times are fixed offsets from ``now`` (no draw from the shared
        random stream, so the rest of the scenario is unchanged)."""
        now = self.sc.now

        def deposit(when: datetime, row: dict[str, Any], credited: bool) -> None:
            def apply() -> None:
                self.acc.deposits.append(dict(row, insertTime=_ms(when), completeTime=_ms(when) + 60_000))
                if credited:
                    self.move(row["coin"], Decimal(row["amount"]))

            self.at(when, apply)

        def withdraw(when: datetime, row: dict[str, Any]) -> None:
            def apply() -> None:
                self.acc.withdrawals.append(
                    dict(
                        row,
                        applyTime=when.strftime("%Y-%m-%d %H:%M:%S"),
                        completeTime=(when + timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S"),
                    )
                )
                self.move(row["coin"], -Decimal(row["amount"]) - Decimal(row["transactionFee"]))

            self.at(when, apply)

        memo = {
            "id": "769800519366000001",
            "amount": "0.00100000",
            "coin": "BNB",
            "network": "BNB",
            "status": 1,
            "address": "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23",
            "addressTag": "101764890",
            "txId": "98A3EA560C6B3336D348B6C83F0F95ECE4F1F5919E94BD006E5BF3BF264FACFC",
            "transferType": 0,
            "confirmTimes": "1/1",
            "unlockConfirm": 0,
            "walletType": 0,
        }
        deposit(now - timedelta(days=9, hours=5), memo, True)
        internal_in = dict(
            memo,
            id="769800519366000002",
            amount="25.00000000",
            coin="USDT",
            network="BSC",
            address="0x94df8b352de7f46f64b01d3666bf6e936e44ce60",
            addressTag="",
            txId="Off-chain transfer 4b5c1f0e8d9a",
            transferType=1,
        )
        deposit(now - timedelta(days=8, hours=2), internal_in, True)
        locked = dict(
            memo,
            id="769800519366000003",
            amount="0.25000000",
            addressTag="",
            txId="0x" + self.txid("locked"),
            status=6,
            confirmTimes="12/15",
            unlockConfirm=15,
        )
        deposit(now - timedelta(hours=6), locked, True)
        example = {
            "id": "b6ae22b3aa844210a7041aee7589627c",
            "amount": "8.91000000",
            "transactionFee": "0.004",
            "coin": "USDT",
            "status": 6,
            "address": "0x94df8b352de7f46f64b01d3666bf6e936e44ce60",
            "txId": "0xb5ef8c13b968a406cc62a93a8bd80f9e9a906ef1b3fcf20a2e48573c17659268",
            "network": "ETH",
            "transferType": 0,
            "withdrawOrderId": "WITHDRAWtest123",
            "info": "The address is not valid. Please confirm with the recipient",
            "confirmNo": 3,
            "walletType": 0,
            "txKey": "",
        }
        withdraw(now - timedelta(days=7, hours=1), example)
        internal_out = dict(
            example,
            id="156ec387f49b41df8724fa744fa82719",
            amount="5.00000000",
            transactionFee="0",
            txId="Internal transfer 4863214970",
            transferType=1,
            withdrawOrderId="",
            info="",
        )
        withdraw(now - timedelta(days=6, hours=4), internal_out)
        processing = now - timedelta(hours=30)

        def order() -> None:
            self.acc.fiat_orders.append(
                {
                    "orderNo": "7d76d611-0568-4f43-afb6-processing01",
                    "fiatCurrency": "EUR",
                    "indicatedAmount": "150.00000000",
                    "amount": "150.00000000",
                    "totalFee": "0.00000000",
                    "method": "BankAccount",
                    "status": "Processing",
                    "createTime": _ms(processing),
                    "updateTime": _ms(processing),
                    "transactionType": "0",
                }
            )

        self.at(processing, order)

    def plan_categories(self) -> None:
        """One small story per category read since issue 18, at fixed offsets from ``now`` (shaped
        like each endpoint's documented example): COIN-M futures and options funded by a transfer
        and emptied back, Binance Pay in and out, P2P buy and sell, an ETH stake, a redemption and a
        BETH reward (and a WBETH reward row, no balance change), spot rebates, a crypto loan taken
        and repaid, an auto-invest purchase (and a failed one)."""
        now = self.sc.now

        def ago(days: float) -> datetime:
            return now - timedelta(days=days)

        def later(when: datetime, action: Any) -> None:
            self.at(when, action)

        # COIN-M futures: BTC in, income, everything back out
        coin = {"net": Decimal(0)}
        tran = [9_689_400_000]

        def coin_income(when: datetime, kind: str, amount: Decimal, symbol: str = "BTCUSD_PERP") -> None:
            def apply() -> None:
                value = -coin["net"] if kind == "TRANSFER" and amount == 0 else amount
                tran[0] += 17
                self.acc.coin_futures_income.append(
                    {
                        "symbol": "" if kind == "TRANSFER" else symbol,
                        "incomeType": kind,
                        "income": _s(value),
                        "asset": "BTC",
                        "info": "WITHDRAW" if kind == "TRANSFER" and value < 0 else "",
                        "time": _ms(when),
                        "tranId": str(tran[0]),
                        "tradeId": "2059192" if kind == "COMMISSION" else "",
                    }
                )
                coin["net"] += value
                if kind == "TRANSFER":
                    self.move("BTC", -value)
                    self.universal(when, "MAIN_CMFUTURE" if value > 0 else "CMFUTURE_MAIN", "BTC", value)

            later(when, apply)

        coin_income(ago(40), "TRANSFER", Decimal("0.05"))
        coin_income(ago(39), "COMMISSION", Decimal("-0.0001"))
        coin_income(ago(38), "FUNDING_FEE", Decimal("-0.00002"))
        coin_income(ago(37), "REALIZED_PNL", Decimal("0.0012"))
        coin_income(ago(36), "TRANSFER", Decimal(0))  # all of it back to spot

        # European options: USDT in, a premium, a fee, back out
        bills = [
            (ago(35), "TRANSFER", Decimal(100)),
            (ago(34.5), "CONTRACT", Decimal("3.5")),
            (ago(34.5), "FEE", Decimal("-0.552")),
            (ago(34), "TRANSFER", Decimal("-102.948")),
        ]
        for number, (when, kind, amount) in enumerate(bills):

            def bill(n: int = number, t: datetime = when, k: str = kind, v: Decimal = amount) -> None:
                self.acc.option_bills.append(
                    {
                        "id": 1125899906842624000 + n,
                        "asset": "USDT",
                        "amount": _s(v),
                        "type": k,
                        "createDate": _ms(t),
                    }
                )
                if k == "TRANSFER":
                    self.move("USDT", -v)
                    self.universal(t, "MAIN_OPTION" if v > 0 else "OPTION_MAIN", "USDT", v)

            later(when, bill)

        # universal transfers between spot, funding and cross margin (the last 6 months), a failed one
        moves = (
            (ago(150), "MAIN_MARGIN", "USDT", Decimal(300), "CONFIRMED"),
            (ago(140), "MARGIN_MAIN", "USDT", Decimal(300), "CONFIRMED"),
            (ago(60), "MAIN_FUNDING", "USDT", Decimal(50), "CONFIRMED"),
            (ago(25), "FUNDING_MAIN", "USDT", Decimal(20), "CONFIRMED"),
            (ago(24), "MAIN_FUNDING", "USDT", Decimal(10), "FAILED"),
        )
        wallets = {"MAIN": "spot", "FUNDING": "funding", "MARGIN": "margin"}
        for when, kind, asset, amount, state in moves:

            def move(
                t: datetime = when, k: str = kind, a: str = asset, v: Decimal = amount, st: str = state
            ) -> None:
                self.universal(t, k, a, v, st)
                if st == "CONFIRMED":
                    source, target = k.split("_")
                    self.move(a, -v, wallets[source])
                    self.move(a, v, wallets[target])

            later(when, move)

        # isolated margin BTCUSDT: USDT in from cross margin, a buy, interest, a sell, all back out
        self.plan_isolated(ago)

        # sub-account transfers: in from the master, out to another sub-account, a failed one
        subs = (
            (ago(70), 1, "USDT", Decimal(200), "SUCCESS", "master", "master@example.com"),
            (ago(15), 2, "USDT", Decimal(30), "SUCCESS", "subAccount", "sub2@example.com"),
            (ago(14), 2, "USDT", Decimal(5), "FAILURE", "subAccount", "sub2@example.com"),
        )
        for number, (when, direction, asset, amount, state, party, email) in enumerate(subs):

            def sub(
                n: int = number,
                t: datetime = when,
                d: int = direction,
                a: str = asset,
                v: Decimal = amount,
                st: str = state,
                cp: str = party,
                em: str = email,
            ) -> None:
                self.acc.sub_transfers.append(
                    {
                        "counterParty": cp,
                        "email": em,
                        "type": d,
                        "asset": a,
                        "qty": _s(v),
                        "fromAccountType": "SPOT",
                        "toAccountType": "SPOT",
                        "status": st,
                        "tranId": 11_798_835_829 + 13 * n,
                        "time": _ms(t),
                    }
                )
                if st == "SUCCESS":
                    self.move(a, v if d == 1 else -v)

            later(when, sub)

        # Binance Pay (funding wallet)
        for number, (when, amount, kind) in enumerate(
            ((ago(12), Decimal(20), "C2C"), (ago(11), Decimal(-5), "PAY"))
        ):

            def pay(n: int = number, t: datetime = when, v: Decimal = amount, k: str = kind) -> None:
                self.acc.pay.append(
                    {
                        "orderType": k,
                        "transactionId": f"M_P_7126178000{n}",
                        "transactionTime": _ms(t),
                        "amount": _s(v),
                        "currency": "USDT",
                        "walletType": 1,
                        "walletTypes": [1],
                        "fundsDetail": [{"currency": "USDT", "amount": _s(abs(v))}],
                        "payerInfo": {"name": "Someone", "type": "USER", "binanceId": "1234567"},
                        "receiverInfo": {"name": "Me", "type": "USER", "binanceId": "7654321"},
                    }
                )
                self.move("USDT", v, "funding")

            later(when, pay)

        # P2P (funding wallet): a buy, then a sell with a commission
        trades = (
            (ago(20), "BUY", Decimal(100), Decimal("92.5"), Decimal(0), "COMPLETED"),
            (ago(19), "SELL", Decimal(30), Decimal("28.2"), Decimal("0.05"), "COMPLETED"),
            (ago(18), "BUY", Decimal(50), Decimal("46"), Decimal(0), "CANCELLED"),
        )
        for number, (when, side, amount, total, fee, state) in enumerate(trades):

            def p2p(
                n: int = number,
                t: datetime = when,
                sd: str = side,
                v: Decimal = amount,
                tp: Decimal = total,
                f: Decimal = fee,
                st: str = state,
            ) -> None:
                self.acc.p2p.append(
                    {
                        "orderNumber": f"2021964464655477964{n}",
                        "advNo": "11218246497340923904",
                        "tradeType": sd,
                        "asset": "USDT",
                        "fiat": "EUR",
                        "fiatSymbol": "€",
                        "amount": _s(v),
                        "totalPrice": _s(tp),
                        "unitPrice": _s(tp / v),
                        "orderStatus": st,
                        "createTime": _ms(t),
                        "commission": _s(f),
                        "counterPartNickName": "ab***",
                        "advertisementRole": "TAKER",
                    }
                )
                if st == "COMPLETED":
                    self.move("USDT", (v if sd == "BUY" else -v) - f, "funding")

            later(when, p2p)

        # ETH staking
        def eth(when: datetime, row: dict[str, Any], moves: tuple[tuple[str, Decimal], ...]) -> None:
            def apply() -> None:
                self.acc.eth_staking.append(dict(row, time=_ms(when)))
                for asset, value in moves:
                    self.move(asset, value)

            later(when, apply)

        eth(
            ago(30),
            {
                "product": "staking",
                "asset": "ETH",
                "amount": "0.50000000",
                "distributeAsset": "WBETH",
                "distributeAmount": "0.49939467",
                "conversionRatio": "1.00121234",
                "status": "SUCCESS",
            },
            (("ETH", Decimal("-0.5")), ("WBETH", Decimal("0.49939467"))),
        )
        eth(
            ago(15),
            {
                "product": "redemption",
                "asset": "WBETH",
                "amount": "0.10000000",
                "distributeAsset": "ETH",
                "distributeAmount": "0.10012123",
                "conversionRatio": "1.00121234",
                "status": "SUCCESS",
                "arrivalTime": _ms(ago(14)),
            },
            (("WBETH", Decimal("-0.1")), ("ETH", Decimal("0.10012123"))),
        )
        eth(
            ago(25),
            {
                "product": "rewards",
                "asset": "BETH",
                "holding": "2.3223",
                "amount": "0.00123223",
                "annualPercentageRate": "0.035",
                "status": "SUCCESS",
            },
            (("BETH", Decimal("0.00123223")),),
        )
        eth(
            ago(24),
            {
                "product": "wbeth_rewards",
                "amountInETH": "0.00023223",
                "holding": "0.49939467",
                "holdingInETH": "0.5",
                "annualPercentageRate": "0.035",
            },
            (),
        )

        # spot commission rebates
        for when, asset, rebate_type, amount in (
            (ago(45), "BNB", 1, Decimal("0.0012")),
            (ago(44), "USDT", 2, Decimal("0.35")),
        ):

            def rebate(t: datetime = when, a: str = asset, k: int = rebate_type, v: Decimal = amount) -> None:
                self.acc.rebates.append({"asset": a, "type": k, "amount": _s(v), "updateTime": _ms(t)})
                self.move(a, v)

            later(when, rebate)

        # a crypto loan: ETH collateral locked, USDT borrowed, repaid with interest, collateral back
        flows = (
            (ago(50), "collateralSpent", "ETH", Decimal(1), -1),
            (ago(50) + timedelta(seconds=1), "borrowIn", "USDT", Decimal(1000), 1),
            (ago(42), "repayAmount", "USDT", Decimal("1002.5"), -1),
            (ago(42) + timedelta(seconds=1), "collateralReturn", "ETH", Decimal(1), 1),
        )
        for number, (when, kind, asset, amount, sign) in enumerate(flows):

            def loan(
                n: int = number,
                t: datetime = when,
                k: str = kind,
                a: str = asset,
                v: Decimal = amount,
                sg: int = sign,
            ) -> None:
                self.acc.loans.append(
                    {
                        "asset": a,
                        "type": k,
                        "amount": _s(v),
                        "timestamp": _ms(t),
                        "tranId": str(80423589583 + n),
                    }
                )
                self.move(a, sg * v)

            later(when, loan)

        # auto-invest
        for number, (when, state) in enumerate(((ago(9), "SUCCESS"), (ago(8), "FAILED"))):

            def invest(n: int = number, t: datetime = when, st: str = state) -> None:
                self.acc.auto_invest.append(
                    {
                        "id": 1000000 + n,
                        "targetAsset": "BTC",
                        "planType": "SINGLE",
                        "planName": "Plan BTC",
                        "planId": 104,
                        "transactionDateTime": _ms(t),
                        "transactionStatus": st,
                        "failedType": "" if st == "SUCCESS" else "INSUFFICIENT_BALANCE",
                        "sourceAsset": "USDT",
                        "sourceAssetAmount": "50.00000000",
                        "targetAssetAmount": "0.00078000" if st == "SUCCESS" else "0",
                        "sourceWallet": "SPOT_WALLET",
                        "flexibleAllowedToUse": True,
                        "transactionFee": "0.05000000" if st == "SUCCESS" else "0",
                        "transactionFeeUnit": "USDT",
                        "executionPrice": "64102.56",
                        "executionType": "RECURRING",
                        "subscriptionCycle": "DAILY",
                    }
                )
                if st == "SUCCESS":
                    self.move("USDT", Decimal("-50.05"))
                    self.move("BTC", Decimal("0.00078"))

            later(when, invest)

    def plan_isolated(self, ago: Any) -> None:
        """One isolated pair, funded from cross margin and emptied back to it."""
        symbol, wallet = "BTCUSDT", "isolated"

        def fund() -> None:
            self.universal(ago(100), "MARGIN_ISOLATEDMARGIN", "USDT", Decimal(500), toSymbol=symbol)
            self.move("USDT", Decimal(-500), "margin")
            self.move("USDT", Decimal(500), wallet)

        def trade(n: int, when: datetime, buy: bool, qty: Decimal, price: Decimal) -> Any:
            def apply() -> None:
                quote_qty = _q(qty * price)
                fee = _q(qty / 1000) if buy else _q(quote_qty / 1000)
                self.acc.isolated_trades.setdefault(symbol, []).append(
                    {
                        "symbol": symbol,
                        "id": 88_000 + 5 * n,
                        "orderId": 9_100_000 + n,
                        "price": _s(price),
                        "qty": _s(qty),
                        "quoteQty": _s(quote_qty),
                        "commission": _s(fee),
                        "commissionAsset": "BTC" if buy else "USDT",
                        "time": _ms(when),
                        "isBuyer": buy,
                        "isMaker": False,
                        "isBestMatch": True,
                        "isIsolated": True,
                    }
                )
                sign = 1 if buy else -1
                self.move("BTC", sign * qty, wallet)
                self.move("USDT", -sign * quote_qty, wallet)
                self.move("BTC" if buy else "USDT", -fee, wallet)

            return apply

        def interest() -> None:
            self.acc.isolated_interest.append(
                {
                    "txId": 1352286576452999001,
                    "interestAccuredTime": _ms(ago(95)),
                    "asset": "USDT",
                    "rawAsset": "USDT",
                    "principal": "200",
                    "interest": "0.15",
                    "interestRate": "0.00075",
                    "type": "ON_BORROW",
                    "isolatedSymbol": symbol,
                }
            )
            self.move("USDT", Decimal("-0.15"), wallet)

        def empty() -> None:
            for asset, amount in sorted(self.wallets[wallet].items()):
                if amount:
                    self.universal(ago(90), "ISOLATEDMARGIN_MARGIN", asset, amount, fromSymbol=symbol)
                    self.move(asset, -amount, wallet)
                    self.move(asset, amount, "margin")
            zero = "0.00000000"
            side = {
                "borrowEnabled": True,
                "borrowed": zero,
                "free": zero,
                "interest": zero,
                "locked": zero,
                "netAsset": zero,
                "netAssetOfBtc": zero,
                "repayEnabled": True,
                "totalAsset": zero,
            }
            self.acc.isolated = [
                {
                    "baseAsset": dict(side, asset="BTC"),
                    "quoteAsset": dict(side, asset="USDT"),
                    "symbol": symbol,
                    "isolatedCreated": True,
                    "enabled": True,
                    "marginLevel": "999.00000000",
                    "marginLevelStatus": "EXCESSIVE",
                    "marginRatio": "5.00000000",
                    "indexPrice": "30000.00000000",
                    "liquidatePrice": zero,
                    "liquidateRate": zero,
                    "tradeEnabled": True,
                }
            ]

        self.at(ago(100), fund)
        self.at(ago(99), trade(0, ago(99), True, Decimal("0.01"), Decimal(30000)))
        self.at(ago(95), interest)
        self.at(ago(92), trade(1, ago(92), False, Decimal("0.00999"), Decimal(30500)))
        self.at(ago(90), empty)

    def finish(self) -> None:
        spot = dict(self.wallets["spot"])
        for asset, amount in self.wallets["margin"].items():
            spot[asset] = spot.get(asset, Decimal(0)) + amount  # the margin account was emptied to spot
        self.acc.spot = {a: v for a, v in sorted(spot.items()) if v != 0}
        self.acc.funding = {a: v for a, v in sorted(self.wallets["funding"].items()) if v != 0}
        self.acc.futures = {a: v for a, v in sorted(self.wallets["futures"].items()) if v != 0}
        negative = {a: v for a, v in self.acc.spot.items() if v < 0}
        if negative:
            raise AssertionError(f"the scenario simulation went negative: {negative}")

"""The Demo Exchange sandbox's account: several years of trades (including same-millisecond fills of
one order) and deposits (including a pending one), generated deterministically from a seed, and the
sandbox's clock :data:`NOW`."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

__all__ = ["NOW", "DemoAccount"]

#: The sandbox's fixed "now": the day after the last generated movement.
NOW = datetime(2023, 10, 2, tzinfo=UTC)
MS = 1000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * MS)


@dataclass
class DemoAccount:
    """The account the sandbox serves, generated deterministically from ``seed``."""

    trades: list[dict[str, Any]] = field(default_factory=list)
    deposits: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def generate(
        cls,
        *,
        seed: int = 7,
        trades: int = 240,
        deposits: int = 14,
        start: datetime = datetime(2020, 2, 1, tzinfo=UTC),
        end: datetime = datetime(2023, 10, 1, tzinfo=UTC),
    ) -> DemoAccount:
        """A multi-year account: EUR and BTC deposits, then trades in a few pairs."""
        rng = random.Random(seed)  # noqa: S311 - deterministic test data, not cryptography
        span = _ms(end) - _ms(start)
        account = cls()
        deposit_times = sorted(_ms(start) + rng.randrange(span // 2) for _ in range(deposits))
        for i, at in enumerate(deposit_times):
            asset = "EUR" if i % 2 == 0 else "BTC"
            amount = (
                Decimal(rng.randrange(5_000, 20_000))
                if asset == "EUR"
                else Decimal(rng.randrange(10, 90)) / 100
            )
            account.deposits.append(
                {
                    "id": f"dep-{i + 1:04d}",
                    "asset": asset,
                    "amount": f"{amount:.8f}",
                    "status": "success",
                    "txId": None if asset == "EUR" else hashlib.sha256(f"dep{i}".encode()).hexdigest(),
                    "insertTime": at,
                }
            )
        account.deposits.append(
            {  # a deposit still waiting for confirmations
                "id": f"dep-{deposits + 1:04d}",
                "asset": "BTC",
                "amount": "0.05000000",
                "status": "pending",
                "txId": hashlib.sha256(b"pending").hexdigest(),
                "insertTime": _ms(end) - 3_600_000,
            }
        )
        pairs: list[tuple[str, str, Decimal]] = [
            ("BTC", "EUR", Decimal(30_000)),
            ("ETH", "EUR", Decimal(2_000)),
            ("ETH", "BTC", Decimal("0.065")),
        ]
        trade_times = sorted(
            _ms(start) + span // 2 + rng.randrange(span // 2 - 7_200_000) for _ in range(trades)
        )
        trade_id = 1000
        for i, at in enumerate(trade_times):
            base, quote, price0 = pairs[i % len(pairs)]
            fills = 2 if i % 37 == 0 else 1  # same-millisecond fills of one order
            for _ in range(fills):
                trade_id += rng.randrange(1, 4)  # ids increase but are not contiguous
                qty = (Decimal(rng.randrange(1, 200)) / 1000).quantize(Decimal("0.001"))
                price = (Decimal(price0) * Decimal(rng.randrange(80, 120)) / 100).quantize(Decimal("0.00001"))
                quote_qty = (qty * price).quantize(Decimal("0.00000001"))
                side = "BUY" if rng.random() < 0.55 else "SELL"
                account.trades.append(
                    {
                        "id": trade_id,
                        "orderId": 50_000 + i,
                        "symbol": f"{base}{quote}",
                        "base": base,
                        "quote": quote,
                        "side": side,
                        "qty": f"{qty}",
                        "price": f"{price}",
                        "quoteQty": f"{quote_qty}",
                        "commission": f"{(quote_qty / 1000).quantize(Decimal('0.00000001'))}",
                        "commissionAsset": quote,
                        "time": at,
                    }
                )
        return account

    def balances(self) -> dict[str, Decimal]:
        """What the account holds after every confirmed movement."""
        totals: dict[str, Decimal] = {}

        def add(asset: str, amount: Decimal) -> None:
            totals[asset] = totals.get(asset, Decimal(0)) + amount

        for dep in self.deposits:
            if dep["status"] == "success":
                add(dep["asset"], Decimal(dep["amount"]))
        for tr in self.trades:
            sign = 1 if tr["side"] == "BUY" else -1
            add(tr["base"], sign * Decimal(tr["qty"]))
            add(tr["quote"], -sign * Decimal(tr["quoteQty"]))
            add(tr["commissionAsset"], -Decimal(tr["commission"]))
        return totals

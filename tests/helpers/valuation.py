"""A price source over a fixed table of prices, for the rule and valuator tests (no HTTP)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from txsync.models import Leg, TransactionKind, TransactionStatus
from txsync.store import LedgerTransaction
from txsync.valuation import (
    AnswerStatus,
    CachedPrice,
    CandleSource,
    Granularity,
    PriceKey,
    PriceRequest,
    PriceSourceContext,
    PriceSourceInfo,
    Refusal,
    Route,
    SourceKind,
)

T0 = datetime(2023, 5, 10, 12, 30, 15, tzinfo=UTC)
NOW = datetime(2024, 1, 1, tzinfo=UTC)


class TableSource(CandleSource):
    """Prices from ``context.options["table"]``: ``{(base id, quote id): price}`` for every minute;
    ``options["missing"]`` is a set of (base, quote) it lists but has no price for. Every fetch of one
    instrument counts as one request in ``context.stats``."""

    info: ClassVar[PriceSourceInfo] = PriceSourceInfo(
        id="table", display_name="Table", kind=SourceKind.MARKET, granularities=(Granularity.MINUTE,)
    )

    def __init__(self, context: PriceSourceContext) -> None:
        super().__init__(context)
        self.table: Mapping[tuple[str, str], Decimal] = context.options.get("table", {})
        self.missing: set[tuple[str, str]] = set(context.options.get("missing", ()))
        self.fetched: list[tuple[str, int]] = []

    def routes(self, request: PriceRequest, now: datetime) -> Sequence[Route] | Refusal:
        found = [
            Route(f"{b}/{q}", b, q, Granularity.MINUTE)
            for (b, q) in [*self.table, *self.missing]
            if b == request.asset
        ]
        found += [
            Route(f"{b}/{q}", b, q, Granularity.MINUTE, inverted=True)
            for (b, q) in self.table
            if q == request.asset and b == request.quote
        ]
        found.sort(key=lambda r: (r.base if r.inverted else r.quote) != request.quote)
        return found or Refusal(AnswerStatus.UNKNOWN, f"no {request.asset}")

    async def fetch(self, route: Route, slots: Sequence[datetime], now: datetime) -> Iterable[CachedPrice]:
        self.context.stats.requests += 1
        self.fetched.append((route.instrument, len(slots)))
        price = self.table.get((route.base, route.quote))
        key = self.info.id
        return [
            CachedPrice(PriceKey(key, route.base, route.quote, "1m", slot), price, now, route.instrument)
            for slot in slots
        ]


class FxTable(TableSource):
    """The same, as an FX source."""

    info: ClassVar[PriceSourceInfo] = PriceSourceInfo(
        id="fxtable", display_name="FX table", kind=SourceKind.FX, granularities=(Granularity.MINUTE,)
    )


def context(
    table: Mapping[tuple[str, str], str], *, now: datetime = NOW, **options: Any
) -> PriceSourceContext:
    return PriceSourceContext(
        options={"table": {k: Decimal(v) for k, v in table.items()}, **options}, clock=lambda: now
    )


def ledger_tx(
    *legs: tuple[str, str] | tuple[str, str, str],
    kind: TransactionKind = TransactionKind.TRADE,
    at: datetime = T0,
    tx_id: str = "tx1",
    account: str = "acc",
    **extra: Any,
) -> LedgerTransaction:
    built = [
        Leg(asset=leg[0], amount=Decimal(leg[1]), role=leg[2] if len(leg) > 2 else "principal")
        for leg in legs
    ]
    return LedgerTransaction(
        id=tx_id,
        account_id=account,
        kind=kind,
        timestamp=at,
        status=TransactionStatus.CONFIRMED,
        legs=tuple(built),
        origins=("api",),
        **extra,
    )


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)

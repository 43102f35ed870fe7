"""Builders for pages of raws and normalized transactions used by the store tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from txsync.merge import PageBatch
from txsync.models import Leg, NormalizedTransaction, Origin, RawTransaction, SourceRef, TransactionKind

T0 = datetime(2021, 3, 4, 12, 0, 0, tzinfo=UTC)


def trade(
    account: str,
    connection: str,
    stream: str,
    source_id: str,
    *,
    at: datetime = T0,
    base: str = "BTC",
    qty: str = "0.5",
    quote: str = "USDT",
    cost: str = "25000",
    fee: str | None = "0.001",
    origin: Origin = Origin.API,
    key: str | None = None,
) -> tuple[RawTransaction, NormalizedTransaction]:
    """A raw trade record and its normalized transaction."""
    payload = {"id": source_id, "qty": qty, "cost": cost, "time": int(at.timestamp() * 1000)}
    raw = RawTransaction(
        connection_id=connection,
        account_id=account,
        stream=stream,
        source_id=source_id,
        payload=payload,
        fetched_at=T0,
    )
    legs = [Leg(asset=base, amount=Decimal(qty)), Leg(asset=quote, amount=-Decimal(cost))]
    if fee is not None:
        legs.append(Leg(asset=base, amount=-Decimal(fee), role="fee"))
    tx = NormalizedTransaction(
        account_id=account,
        key=key or f"{stream}:{source_id}",
        kind=TransactionKind.TRADE,
        timestamp=at,
        legs=legs,
        origin=origin,
        sources=[SourceRef(connection_id=connection, stream=stream, source_id=source_id)],
        external_ids={"trade_id": source_id} if origin == Origin.API else {},
    )
    return raw, tx


def batch(
    account: str,
    connection: str,
    stream: str,
    items: Sequence[tuple[RawTransaction, NormalizedTransaction]],
    cursor: Any = None,
) -> PageBatch:
    """A page made of ``items``."""
    return PageBatch(
        connection_id=connection,
        account_id=account,
        stream=stream,
        raws=[r for r, _ in items],
        transactions=[t for _, t in items],
        cursor=cursor,
        fetched_at=T0,
    )


def later(seconds: float) -> datetime:
    """``T0`` plus some seconds."""
    return T0 + timedelta(seconds=seconds)

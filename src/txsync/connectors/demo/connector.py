"""The "Demo Exchange" connector: a complete, small connector built only on the public SDK.

It is what a third-party connector looks like (signing, limits, an id-cursor stream, a time-window
stream with offset paging inside each window, normalization, coverage gaps) and what the engine's
own tests, the contract kit's self-test and ``txsync demo`` run against. It reads the API that
:mod:`txsync.connectors.demo.sandbox` emulates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from txsync.connector import (
    Connector,
    ConnectorContext,
    ConnectorInfo,
    CoverageGap,
    CredentialField,
    Cursor,
    Page,
    RawRecord,
    Stream,
    StreamInfo,
)
from txsync.errors import BadResponseError
from txsync.http import Bucket, HmacQueryAuth, HttpClient, WeightedRateLimiter
from txsync.models import (
    Balance,
    ConnectorKind,
    Leg,
    LegRole,
    NormalizedTransaction,
    Permissions,
    RawTransaction,
    TransactionKind,
    TransactionStatus,
)
from txsync.pagination import IdCursorPaginator, OffsetPaginator, Window, WindowPaginator, as_pages, from_ms

__all__ = ["DEMO_BASE_URL", "DemoExchange", "DepositsStream", "TradesStream"]

#: The Demo Exchange API (the default ``base_url`` option).
DEMO_BASE_URL = "https://api.demo-exchange.test"

TRADES_LIMIT = 100
DEPOSITS_LIMIT = 50
DEFAULT_ORIGIN = datetime(2020, 1, 1, tzinfo=UTC)


def _trade_leg_sign(side: str) -> int:
    if side == "BUY":
        return 1
    if side == "SELL":
        return -1
    return 0


class _DemoStream(Stream):
    def __init__(self, connector: DemoExchange) -> None:
        self.connector = connector

    @property
    def context(self) -> ConnectorContext:
        return self.connector.context



class TradesStream(_DemoStream):
    """Spot trades, paged by increasing trade id (``fromId`` inclusive)."""

    name = "trades"

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        async def fetch(from_id: int) -> Sequence[dict[str, Any]]:
            rows = await self.connector.http.get_json(
                "/v1/trades",
                params={"fromId": from_id, "limit": TRADES_LIMIT},
                weights={"weight": 5},
            )
            if not isinstance(rows, list):
                raise BadResponseError("trades: expected a list", endpoint="/v1/trades")
            return rows

        paginator = IdCursorPaginator(fetch, id_of=lambda row: row["id"], inclusive=True, limit=TRADES_LIMIT)
        return as_pages(paginator.steps(cursor), lambda row: RawRecord(str(row["id"]), row))

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        for raw in raws:
            row = raw.payload
            sign = _trade_leg_sign(row["side"])
            at = from_ms(int(row["time"]))
            external = {"trade_id": str(row["id"]), "order_id": str(row["orderId"])}
            if sign == 0:  # an unknown side: keep the record, flag it, move nothing
                yield NormalizedTransaction(
                    account_id=raw.account_id,
                    key=f"trade:{row['id']}",
                    kind=TransactionKind.OTHER,
                    timestamp=at,
                    legs=[Leg(asset=row["base"], amount=0)],
                    sources=[raw.ref],
                    external_ids=external,
                    flags=frozenset({"unknown_type"}),
                    description=f"unknown trade side {row['side']!r}",
                )
                continue
            legs = [
                Leg(asset=row["base"], amount=sign * Decimal(row["qty"])),
                Leg(asset=row["quote"], amount=-sign * Decimal(row["quoteQty"])),
            ]
            if Decimal(row["commission"]):
                legs.append(
                    Leg(asset=row["commissionAsset"], amount=-Decimal(row["commission"]), role=LegRole.FEE)
                )
            yield NormalizedTransaction(
                account_id=raw.account_id,
                key=f"trade:{row['id']}",
                kind=TransactionKind.TRADE,
                timestamp=at,
                legs=legs,
                sources=[raw.ref],
                external_ids=external,
                meta={"symbol": row["symbol"], "price": row["price"]},
            )


class DepositsStream(_DemoStream):
    """Deposits, in 30-day windows from the history origin, offset-paged inside each window."""

    name = "deposits"
    max_span = timedelta(days=30)

    def _paginator(self) -> WindowPaginator[dict[str, Any]]:
        origin = self.connector.origin

        def inner(window: Window) -> OffsetPaginator[dict[str, Any]]:
            async def fetch(offset: int, limit: int) -> Sequence[dict[str, Any]]:
                body = await self.connector.http.get_json(
                    "/v1/deposits",
                    params={
                        "startTime": window.start_ms,
                        "endTime": window.end_ms_inclusive,
                        "offset": offset,
                        "limit": limit,
                    },
                    weights={"weight": 1},
                )
                if not isinstance(body, dict) or not isinstance(body.get("rows"), list):
                    raise BadResponseError("deposits: expected {rows: [...]}", endpoint="/v1/deposits")
                rows: list[dict[str, Any]] = body["rows"]
                return rows

            return OffsetPaginator(fetch, limit=DEPOSITS_LIMIT, key=lambda row: row["id"])

        return WindowPaginator(inner, origin=origin, max_span=self.max_span, clock=self.context.clock)

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        return as_pages(self._paginator().steps(cursor), lambda row: RawRecord(str(row["id"]), row))

    def cursor_from_time(self, since: datetime) -> Cursor:
        return self._paginator().cursor_at(max(since, self.connector.origin))

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        statuses = {
            "success": TransactionStatus.CONFIRMED,
            "pending": TransactionStatus.PENDING,
            "failed": TransactionStatus.FAILED,
        }
        for raw in raws:
            row = raw.payload
            status = statuses.get(row["status"])
            flags = frozenset() if status is not None else frozenset({"unknown_type"})
            external = {"tx_hash": row["txId"]} if row.get("txId") else {}
            yield NormalizedTransaction(
                account_id=raw.account_id,
                key=f"deposit:{row['id']}",
                kind=TransactionKind.FIAT_DEPOSIT if row["asset"] == "EUR" else TransactionKind.DEPOSIT,
                timestamp=from_ms(int(row["insertTime"])),
                status=status or TransactionStatus.PENDING,
                legs=[Leg(asset=row["asset"], amount=Decimal(row["amount"]))],
                sources=[raw.ref],
                external_ids=external,
                flags=flags,
            )


class DemoExchange(Connector):
    """Connector for the Demo Exchange (the API :class:`~txsync.connectors.demo.sandbox.DemoSandbox`
    emulates). Options: ``base_url``, ``origin`` (ISO date the history starts)."""

    info = ConnectorInfo(
        id="demo",
        display_name="Demo Exchange",
        kind=ConnectorKind.EXCHANGE,
        credential_fields=(
            CredentialField(name="api_key", label="API key", secret=True),
            CredentialField(name="api_secret", label="API secret", secret=True),
        ),
        streams=(
            StreamInfo(name="trades", description="Spot trades"),
            StreamInfo(name="deposits", description="Crypto and fiat deposits"),
        ),
        coverage_gaps=(
            CoverageGap(
                id="staking_rewards",
                title="Staking rewards",
                description="The Demo Exchange API does not list staking rewards.",
                remedy="Import the account statement file (Account > Statements > Generate).",
            ),
        ),
        reports_permissions=True,
        minimal_permissions="Read only (no trading, no withdrawals), restricted to your IP.",
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        options = context.options
        self.origin = datetime.fromisoformat(options["origin"]) if "origin" in options else DEFAULT_ORIGIN
        if self.origin.tzinfo is None:
            self.origin = self.origin.replace(tzinfo=UTC)
        credential = context.credential
        limiter = context.limiters.get(
            "demo:weight", lambda: WeightedRateLimiter([Bucket("weight", 600, 60, "X-DEMO-USED-WEIGHT")])
        )
        self.http = HttpClient(
            str(options.get("base_url", DEMO_BASE_URL)),
            auth=HmacQueryAuth(
                credential.secret("api_key"), credential.secret("api_secret"), key_header="X-DEMO-APIKEY"
            ),
            limiter=limiter,
            transport=context.transport,
            stats=context.stats,
            retry=context.retry,
            secrets=credential.secret_values(),
        )

    async def verify(self) -> Permissions:
        """The key's rights from ``/v1/key``, fail-closed: a missing or non-boolean flag is unknown
        (``None``), which the engine refuses as if the key held that right."""
        body = await self.http.get_json("/v1/key", weights={"weight": 1})
        if not isinstance(body, dict):
            raise BadResponseError("key: expected an object", endpoint="/v1/key")

        def flag(name: str) -> bool | None:
            value = body.get(name)
            return value if isinstance(value, bool) else None

        return Permissions(
            reported=True,
            can_read=flag("canRead") is True,
            can_trade=flag("canTrade"),
            can_withdraw=flag("canWithdraw"),
            can_transfer=flag("canTransfer"),
            ip_restricted=flag("ipRestrict"),
            details=dict(body),
        )

    async def balances(self) -> Sequence[Balance]:
        rows = await self.http.get_json("/v1/balances", weights={"weight": 2})
        if not isinstance(rows, list):
            raise BadResponseError("balances: expected a list", endpoint="/v1/balances")
        return [
            Balance(
                asset=row["asset"],
                amount=Decimal(row["free"]) + Decimal(row["locked"]),
                locked=Decimal(row["locked"]),
            )
            for row in rows
        ]

    def streams(self) -> Sequence[Stream]:
        self.context.note_gap("staking_rewards", "the API never lists staking rewards")
        return [TradesStream(self), DepositsStream(self)]

    async def aclose(self) -> None:
        await self.http.aclose()

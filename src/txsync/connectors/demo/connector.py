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
from txsync.errors import BadResponseError, PaginationLoopError
from txsync.fields import Fields, record_errors
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
from txsync.pagination import IdCursorPaginator, OffsetPaginator, Window, WindowPaginator, as_pages

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

    def _rows(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, list):
            raise BadResponseError("trades: expected a list", endpoint="/v1/trades")
        for row in body:
            Fields(row, stream=self.name).int_id("id")  # every row is an object with a usable id
        return body

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        async def fetch(from_id: int) -> Sequence[dict[str, Any]]:
            rows = await self.connector.http.get_json(
                "/v1/trades",
                params={"fromId": from_id, "limit": TRADES_LIMIT},
                weights={"weight": 5},
            )
            return self._rows(rows)

        paginator = IdCursorPaginator(fetch, id_of=lambda row: row["id"], inclusive=True, limit=TRADES_LIMIT)
        return as_pages(paginator.steps(cursor), lambda row: RawRecord(str(row["id"]), row))

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        out = []
        for raw in raws:
            with record_errors(self.name, raw.source_id):
                out.append(self._trade(raw))
        return out

    def _trade(self, raw: RawTransaction) -> NormalizedTransaction:
        row = Fields(raw.payload, stream=self.name, record=raw.source_id)
        trade_id = row.int_id("id")
        side = row.text("side", max_length=20)
        sign = _trade_leg_sign(side)
        at = row.ms_time("time")
        base, quote = row.asset("base"), row.asset("quote")
        external = {"trade_id": str(trade_id), "order_id": row.text("orderId", allow_int=True)}
        if sign == 0:  # an unknown side: keep the record, flag it, move nothing
            return NormalizedTransaction(
                account_id=raw.account_id,
                key=f"trade:{trade_id}",
                kind=TransactionKind.OTHER,
                timestamp=at,
                legs=[Leg(asset=base, amount=0)],
                sources=[raw.ref],
                external_ids=external,
                flags=frozenset({"unknown_type"}),
                description=f"unknown trade side {side!r}",
            )
        legs = [
            Leg(asset=base, amount=sign * row.amount("qty")),
            Leg(asset=quote, amount=-sign * row.amount("quoteQty")),
        ]
        commission = row.amount("commission", default=Decimal(0))
        if commission:
            legs.append(Leg(asset=row.asset("commissionAsset"), amount=-commission, role=LegRole.FEE))
        return NormalizedTransaction(
            account_id=raw.account_id,
            key=f"trade:{trade_id}",
            kind=TransactionKind.TRADE,
            timestamp=at,
            legs=legs,
            sources=[raw.ref],
            external_ids=external,
            meta={"symbol": row.text("symbol", max_length=40), "price": str(row.amount("price"))},
        )


class DepositsStream(_DemoStream):
    """Deposits, in 30-day windows from the history origin, offset-paged inside each window."""

    name = "deposits"
    max_span = timedelta(days=30)

    def _id(self, row: Any) -> str:
        return Fields(row, stream=self.name).text_id("id", max_length=64)

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
                for row in rows:
                    at = Fields(row, stream=self.name, record=self._id(row)).integer("insertTime")
                    if not window.start_ms <= at <= window.end_ms_inclusive:
                        raise PaginationLoopError(
                            "deposits: a row lies outside the time range asked for; the server "
                            "answered another page",
                            endpoint="/v1/deposits",
                        )
                return rows

            return OffsetPaginator(fetch, limit=DEPOSITS_LIMIT, key=self._id)

        return WindowPaginator(inner, origin=origin, max_span=self.max_span, clock=self.context.clock)

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        return as_pages(self._paginator().steps(cursor), lambda row: RawRecord(self._id(row), row))

    def cursor_from_time(self, since: datetime) -> Cursor:
        return self._paginator().cursor_at(max(since, self.connector.origin))

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        out = []
        for raw in raws:
            with record_errors(self.name, raw.source_id):
                out.append(self._deposit(raw))
        return out

    def _deposit(self, raw: RawTransaction) -> NormalizedTransaction:
        statuses = {
            "success": TransactionStatus.CONFIRMED,
            "pending": TransactionStatus.PENDING,
            "failed": TransactionStatus.FAILED,
        }
        row = Fields(raw.payload, stream=self.name, record=raw.source_id)
        ident = row.text_id("id", max_length=64)
        status = statuses.get(row.text("status", max_length=40))
        flags = frozenset() if status is not None else frozenset({"unknown_type"})
        tx_hash = row.optional_text("txId", max_length=128)
        asset = row.asset("asset")
        return NormalizedTransaction(
            account_id=raw.account_id,
            key=f"deposit:{ident}",
            kind=TransactionKind.FIAT_DEPOSIT if asset == "EUR" else TransactionKind.DEPOSIT,
            timestamp=row.ms_time("insertTime"),
            status=status or TransactionStatus.PENDING,
            legs=[Leg(asset=asset, amount=row.amount("amount"))],
            sources=[raw.ref],
            external_ids={"tx_hash": tx_hash} if tx_hash else {},
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
        out = []
        for row in rows:
            fields = Fields(row, stream="balances")
            asset = fields.asset("asset")
            with record_errors("balances", asset):
                free, locked = fields.named(asset).amount("free"), fields.named(asset).amount("locked")
                out.append(Balance(asset=asset, amount=free + locked, locked=locked))
        return out

    def streams(self) -> Sequence[Stream]:
        self.context.note_gap("staking_rewards", "the API never lists staking rewards")
        return [TradesStream(self), DepositsStream(self)]

    async def aclose(self) -> None:
        await self.http.aclose()

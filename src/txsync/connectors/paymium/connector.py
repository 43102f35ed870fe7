"""The Paymium connector: trading orders and withdrawals from the account operations, balances."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
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
from txsync.fields import Fields, record_errors, unique_records
from txsync.http import HttpClient
from txsync.models import Balance, ConnectorKind, NormalizedTransaction, Permissions, RawTransaction

from ._auth import PaymiumAuth
from ._errors import make_error_mapper
from ._limits import PaymiumRateLimiter
from ._normalize import (
    TRANSFER_TYPES,
    normalize_operations,
    parse_time,
)
from ._sweep import NewestFirstSweep, Row

__all__ = ["BASE_URL", "ORDERS_LIMIT", "WITHDRAWALS_PER_PAGE", "Paymium"]

BASE_URL = "https://paymium.com/api/v1"
#: ``/user/orders`` page size (``limit``; the API's default).
ORDERS_LIMIT = 50
#: ``/user/withdrawals`` page size (``per_page``, at most 100).
WITHDRAWALS_PER_PAGE = 100
_CALL = {"ip": 1}
_CURRENCY = re.compile(r"[a-z0-9]{1,20}", re.ASCII)
#: Order states after which an order no longer changes.
_FINAL_STATES = frozenset({"filled", "executed", "canceled", "cancelled", "expired", "rejected", "error"})


def _created_us(row: Row, stream: str) -> int:
    uuid = _order_key(row, stream)
    with record_errors(stream, f"order {uuid}"):
        moment = parse_time(row, f"order {uuid}")
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _is_open(row: Row) -> bool:
    return str(row.get("state", "")) not in _FINAL_STATES


def _order_key(row: Row, stream: str) -> str:
    return Fields(row, stream=stream).text_id("uuid", max_length=64)


def _rows(body: Any, endpoint: str) -> list[Row]:
    if not isinstance(body, list) or not all(isinstance(row, Mapping) for row in body):
        raise BadResponseError(f"{endpoint}: expected a list of orders", endpoint=endpoint)
    return body


def _records(
    orders: Iterable[Row], *, stream: str, skip_types: frozenset[str] = frozenset()
) -> list[RawRecord]:
    """One record per account operation of each order (see :mod:`._normalize`); an operation listed
    twice with different content is a :class:`~txsync.errors.DuplicateRecordError`."""
    records: list[RawRecord] = []
    for order in orders:
        reader = Fields(order, stream=stream)
        reader = reader.named(f"order {reader.text_id('uuid', max_length=64)}")
        if order.get("type") in skip_types:
            continue
        summary = {k: v for k, v in order.items() if k != "account_operations"}
        for op in reader.objects("account_operations", optional=True):
            uuid = op.text_id("uuid", max_length=64)
            records.append(RawRecord(uuid, {"order": summary, "operation": op.data}))
    return unique_records(records, stream=stream)


class _PaymiumStream(Stream):
    """Shared parts: the sweep, records per operation, normalization."""

    endpoint: str
    skip_types: frozenset[str] = frozenset()

    def __init__(self, connector: Paymium) -> None:
        self.connector = connector

    def _sweep(self) -> NewestFirstSweep:
        raise NotImplementedError

    async def _pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        async for step in self._sweep().steps(cursor):
            records = _records(step.items, stream=self.name, skip_types=self.skip_types)
            yield Page(records, step.cursor, label=step.label)

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        """Sweep the list from the newest entry down to the last sync's mark."""
        return self._pages(cursor)

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        """Transactions from the operations of this page's orders."""
        return list(normalize_operations(raws))

    def cursor_from_time(self, since: datetime) -> Cursor:
        """``None``: orders are listed by creation but move when executed, possibly much later, so
        a since-latest sync sweeps from the top (Paymium histories are a few pages)."""
        return None


class OrdersStream(_PaymiumStream):
    """Trading orders (``/user/orders``, ``offset``/``limit``), with their executions."""

    name = "orders"
    endpoint = "/user/orders"
    #: Withdrawals come from their own stream (an older API lists them here too).
    skip_types = TRANSFER_TYPES

    def _sweep(self) -> NewestFirstSweep:
        http = self.connector.http

        async def fetch(offset: int, limit: int) -> Sequence[Row]:
            body = await http.get_json(
                self.endpoint, params={"offset": offset, "limit": limit}, weights=_CALL
            )
            return _rows(body, self.endpoint)

        return NewestFirstSweep(
            fetch,
            limit=ORDERS_LIMIT,
            created_us=lambda row: _created_us(row, self.name),
            is_open=_is_open,
            key=lambda row: _order_key(row, self.name),
            what=self.endpoint,
        )


class WithdrawalsStream(_PaymiumStream):
    """BTC and EUR withdrawals and e-mail transfers sent (``/user/withdrawals``, ``page``/``per_page``)."""

    name = "withdrawals"
    endpoint = "/user/withdrawals"

    def _sweep(self) -> NewestFirstSweep:
        http = self.connector.http

        async def fetch(offset: int, limit: int) -> Sequence[Row]:
            page, skip = divmod(offset, limit)
            body = await http.get_json(
                self.endpoint, params={"page": page + 1, "per_page": limit}, weights=_CALL
            )
            return _rows(body, self.endpoint)[skip:]

        return NewestFirstSweep(
            fetch,
            limit=WITHDRAWALS_PER_PAGE,
            created_us=lambda row: _created_us(row, self.name),
            is_open=_is_open,
            key=lambda row: _order_key(row, self.name),
            what=self.endpoint,
        )


class Paymium(Connector):
    """Paymium (BTC/EUR exchange, France), read through an API token with ``basic`` + ``activity``.

    Options: ``base_url`` (default ``https://paymium.com/api/v1``).
    """

    info = ConnectorInfo(
        id="paymium",
        display_name="Paymium",
        kind=ConnectorKind.EXCHANGE,
        credential_fields=(
            CredentialField(
                name="api_key",
                label="API token",
                secret=True,
                description="The token shown in Paymium's list of API tokens",
            ),
            CredentialField(
                name="api_secret",
                label="API secret",
                secret=True,
                description="The secret key shown once when the token was created",
            ),
        ),
        streams=(
            StreamInfo(name="orders", description="Trade executions of buy and sell orders"),
            StreamInfo(name="withdrawals", description="BTC and EUR withdrawals, e-mail transfers sent"),
        ),
        coverage_gaps=(
            CoverageGap(
                id="deposits",
                title="Deposits",
                description=(
                    "Paymium's API no longer lists deposits (bank wires, bitcoin deposits, e-mail "
                    "transfers received); only older API versions did."
                ),
                remedy=(
                    "Download the account history (statement) from the Paymium website and import it "
                    "as a file: its deposits are added and rows the API already gave are merged."
                ),
            ),
            CoverageGap(
                id="exchange_credits",
                title="Credits by Paymium and merchant payments",
                description=(
                    "Credits made by Paymium (admin orders), merchant payments and payment requests "
                    "received are no longer listed by the API."
                ),
                remedy=(
                    "Import the Paymium account history file, or add these credits as manual entries."
                ),
            ),
        ),
        reports_permissions=False,
        minimal_permissions=(
            "An API token with only the 'basic' (account and balances) and 'activity' (orders, "
            "deposits, withdrawals) permissions; never 'trade', 'withdraw', 'deposit', "
            "'payment_request' or 'merchant'."
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        credential = context.credential
        auth = PaymiumAuth(credential.secret("api_key"), credential.secret("api_secret"))
        limiter = context.limiters.get("paymium:ip", PaymiumRateLimiter)
        secrets = credential.secret_values()
        self.http = HttpClient(
            str(context.options.get("base_url", BASE_URL)),
            auth=auth,
            limiter=limiter,
            transport=context.transport,
            stats=context.stats,
            retry=context.retry,
            error_mapper=make_error_mapper(secrets),
            secrets=secrets,
        )

    async def _user(self) -> Mapping[str, Any]:
        body = await self.http.get_json("/user", weights=_CALL)
        if not isinstance(body, Mapping):
            raise BadResponseError("/user: expected an object", endpoint="/user")
        return body

    async def verify(self) -> Permissions:
        """Check the token reads the account (``/user``, scope ``basic``) and its history (one order
        of ``/user/orders``, scope ``activity``). Paymium cannot tell a token's other permissions."""
        await self._user()
        _rows(
            await self.http.get_json("/user/orders", params={"offset": 0, "limit": 1}, weights=_CALL),
            "/user/orders",
        )
        return Permissions(
            reported=False,
            can_read=True,
            details={"checked": ["basic: /user", "activity: /user/orders"]},
        )

    async def balances(self) -> Sequence[Balance]:
        """``balance_<cur>`` (available) plus ``locked_<cur>`` (reserved by open orders) per currency."""
        user = await self._user()
        reader = Fields(user, stream="balances", record="/user")
        result = []
        for key in sorted(k for k in user if isinstance(k, str)):
            if not key.startswith("balance_"):
                continue
            currency = key.removeprefix("balance_")
            if not _CURRENCY.fullmatch(currency):
                raise reader.error(key[:40], "does not name a currency")
            available = reader.amount(key)
            locked = reader.amount(f"locked_{currency}", default=Decimal(0))
            with record_errors("balances", currency):
                result.append(Balance(asset=currency.upper(), amount=available + locked, locked=locked))
        return result

    def streams(self) -> Sequence[Stream]:
        """Orders, then withdrawals. Deposits and exchange credits are noted as coverage gaps."""
        self.context.note_gap("deposits", "the Paymium API does not list deposits")
        self.context.note_gap("exchange_credits", "the Paymium API does not list admin credits or payments")
        return [OrdersStream(self), WithdrawalsStream(self)]

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

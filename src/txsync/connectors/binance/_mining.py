"""Binance Pool earnings (``/sapi/v1/mining/payment/list``), for the mining accounts the connection
names: the endpoint needs the pool account's name (``userName``) and algorithm, which no endpoint
lists to the key, so they come from the ``mining_accounts`` option. Without it the stream reads
nothing and notes the ``mining`` gap.

How an earning row (``accountProfits[]``) is booked, by ``type``:

* ``0`` (mining wallet), ``31`` (income transfer: earnings of hashrate another account transferred
  here) and ``32`` (hashrate resale, mining wallet): ``mining``, a reward leg of ``profitAmount`` of
  ``coinName`` in **spot**. The Binance Pool account is no wallet of its own any more (the wallet
  endpoints list none, and the universal transfer types name none), so paid earnings are taken as
  landing in spot; this is the choice the docs page states.
* ``7`` and ``33`` (into Pool Savings): ``mining`` in wallet ``pool_savings``, which no balance
  endpoint reports.
* ``5`` (paid to the miner's own mining address, outside Binance): ``mining``, the reward leg and its
  payout both in wallet ``external:mining_address``: income, but no Binance balance moves.
* ``8`` (hashrate transferred away: the income went to another account): the raw record is kept, no
  transaction.
* Status ``2`` (paid) is confirmed, ``0``/``1`` (unpaid, paying) pending, read again until paid.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from txsync.connector import Cursor, RawRecord
from txsync.fields import Fields
from txsync.models import (
    Leg,
    LegRole,
    NormalizedTransaction,
    RawTransaction,
    TransactionKind,
    TransactionStatus,
)
from txsync.pagination import Counted, PageNumberPaginator, Paginator, Window, to_ms

from ._category_streams import _GuardedStream
from ._normalize import _composed, _tx, _unknown, reader, time_ms, time_of
from ._paging import Partitioned, as_list
from ._streams import Row, page_total

__all__ = ["MINING_NORMALIZERS", "MiningStream", "mining_id"]

#: Binance Pool opened in April 2020: no earnings before.
MINING_ORIGIN = datetime(2020, 4, 1, tzinfo=UTC)
_STATUS = {2: TransactionStatus.CONFIRMED, 0: TransactionStatus.PENDING, 1: TransactionStatus.PENDING}
#: Earning type -> the wallet it is credited to (``None``: nothing reaches this account).
_CREDITED: dict[int, str | None] = {
    0: "spot",
    31: "spot",
    32: "spot",
    7: "pool_savings",
    33: "pool_savings",
    5: "external:mining_address",
    8: None,
}


def mining_id(row: Mapping[str, Any], stream: str = "mining") -> str:
    """Earning rows have no id: (mining account, algorithm, day, coin, type) identify them (the
    account and algorithm are added by the connector; the status may change, the row stays)."""
    f = Fields(row, stream=stream)
    return _composed(
        stream,
        f.text("userName", max_length=64),
        f.text("algo", max_length=20),
        str(f.integer("time", minimum=0)),
        f.asset("coinName"),
        str(f.integer("type", minimum=0, maximum=10**6)),
    )


def normalize_mining(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A Binance Pool earning (see the module notes for where each type is booked)."""
    row = reader(raw)
    kind = row.integer("type", minimum=0, maximum=10**6)
    state = row.integer("status", minimum=0, maximum=10**6)
    status = _STATUS.get(state, TransactionStatus.PENDING)
    coin, amount = row.asset("coinName"), row.amount("profitAmount")
    key = f"mining:{mining_id(row.data, raw.stream)}"
    at = time_of(row, "time")
    flags = set() if state in _STATUS else {"unknown_status"}
    meta = {"mining_account": row.text("userName", max_length=64), "earning_type": kind}
    if kind not in _CREDITED:
        return _unknown(raw, key, at, coin, status=status, flags=flags, meta={**meta, "amount": str(amount)})
    wallet = _CREDITED[kind]
    if wallet is None:
        return []  # the income of transferred hashrate went to another account
    legs = [Leg(asset=coin, amount=amount, role=LegRole.REWARD, wallet=wallet)]
    if wallet.startswith("external:"):
        legs.append(Leg(asset=coin, amount=-amount, wallet=wallet))  # paid out at once
    return [_tx(raw, key, TransactionKind.MINING, at, legs, status=status, flags=flags, meta=meta)]


#: Stream name -> normalizer (looked up by :func:`._normalize.normalize_raws`).
MINING_NORMALIZERS = {"mining": normalize_mining}


class MiningStream(_GuardedStream):
    """Binance Pool earnings (``/sapi/v1/mining/payment/list``, IP 5) of each mining account of the
    ``mining_accounts`` option: one part per (account, algorithm), 30-day windows (``startDate`` /
    ``endDate``) from April 2020, ``pageIndex``/``pageSize`` 200 with the stated ``totalNum``;
    unpaid earnings are read again until paid. ``userName`` and ``algo`` are added to each row."""

    name = "mining"
    path = "/sapi/v1/mining/payment/list"
    span = timedelta(days=30)
    gap = "mining"
    product_origin = MINING_ORIGIN
    page_size = 200
    time_field = "time"

    def source_id(self, row: Row) -> str:
        """(account, algorithm, day, coin, type)."""
        return mining_id(row, self.name)

    def accounts(self) -> list[str]:
        """The parts: ``name/algo`` per mining account."""
        return [f"{name}/{algo}" for name, algo in self.options.mining_accounts]

    def part_of(self, row: Row) -> str:
        """``userName/algo``."""
        return f"{row.get('userName', '')}/{row.get('algo', '')}"

    def track(self, rows: list[Row]) -> None:
        """Remember earnings not paid yet (status 0, 1); forget those paid."""
        for row in rows:
            ident = self.source_id(row)
            state = Fields(row, stream=self.name, record=ident).integer("status", minimum=0, maximum=10**6)
            if state == 2:
                self.pending.pop(ident, None)
            else:
                self.pending[ident] = [time_ms(row, "time", self.name), self.part_of(row), str(state)]

    def part_inner(self, part: str, window: Window) -> Paginator[Row]:
        """One window of one mining account."""
        name, _, algo = part.rpartition("/")

        async def fetch(page: int, size: int) -> Counted[Row]:
            body = await self.api.signed(
                self.path,
                {
                    "algo": algo,
                    "userName": name,
                    "startDate": window.start_ms,
                    "endDate": window.end_ms_inclusive,
                    "pageIndex": page,
                    "pageSize": size,
                },
            )
            data = body.get("data") if isinstance(body, dict) else None
            rows = [
                dict(r, userName=name, algo=algo) for r in as_list(data or {}, "accountProfits", self.path)
            ]
            self.within(rows, window.start_ms, window.end_ms_inclusive, "time")
            return Counted(rows, page_total(data, "totalNum"))

        return PageNumberPaginator(fetch, size=self.page_size, key=self.source_id)

    def part(self, name: str) -> Paginator[Row]:
        """The windows of one mining account."""
        inner: Callable[[Window], Paginator[Row]] = lambda window: self.part_inner(name, window)  # noqa: E731
        return self.windows(inner, self.origin(), self.span)

    def paginator(self) -> Paginator[Row]:
        """Every mining account, each from its own position."""
        return Partitioned([(name, self.part(name)) for name in self.accounts()])

    def cursor_from_time(self, since: datetime) -> Cursor:
        """Every mining account from ``since``."""
        start = to_ms(max(since, self.origin()))
        return {"p": {name: {"start": start} for name in self.accounts()}, "assets": []}

    async def steps(self, inner: Cursor) -> AsyncIterator[tuple[list[RawRecord], Cursor, str]]:
        """Nothing to read without mining accounts: the ``mining`` gap says what to set."""
        if not self.options.mining_accounts:
            self.context.note_gap(
                self.gap,
                "no mining_accounts option: Binance Pool earnings need the pool account's name",
                stream=self.name,
            )
            return
        async for step in super().steps(inner):
            yield step

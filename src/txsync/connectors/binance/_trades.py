"""Spot and margin trades: ``myTrades`` paged by ``fromId`` per pair, pairs chosen by discovery.

The trades cursor::

    {"v": 1,
     "pairs": {"BTCUSDT": 28458, ...},      # next fromId of every pair that has trades
     "assets": ["ADA", "BTC", ...],         # candidate assets of every sync so far
     "base": {"BTC": "0.5", ...},           # balances at the end of the last complete sync
     "run": {...}}                          # only while a sync is in progress (see below)

``run`` holds what a resumed sync needs to carry on where it stopped: the other streams' flows of
this sync, the trades found so far, and the pairs already asked. Each pair's partition advances
only with pages yielded, so no cursor ever points past a trade not yet stored. Pairs are paged
concurrently (at most ``max_concurrency`` requests in flight) while their pages are yielded in a
fixed order (pair by pair, sorted), so a sync always commits the same sequence of checkpoints.
Every page is a checkpoint, within a pair too: a pair whose history keeps paging is committed page
by page (each pair fetches its next page only once its previous one was taken), so memory stays
flat and a killed sync loses at most the page in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from txsync.connector import Cursor, Page, RawRecord
from txsync.fields import Fields
from txsync.models import to_amount
from txsync.pagination import IdCursorPaginator, InvalidCursorError, Step

from ._discovery import KNOWN_DELISTED, PairPlanner, Symbol, confirmed_flows
from ._errors import InvalidSymbolError
from ._normalize import trade_id
from ._paging import as_list
from ._streams import BinanceStream, Row

__all__ = ["MarginTradesStream", "TradesStream"]

_ZERO = Decimal(0)
#: Pairs Binance removed entirely: every ``myTrades`` request for them answers -1121.
REMOVED_PAIRS = frozenset(KNOWN_DELISTED)


def _amounts(value: Any, what: str) -> dict[str, Decimal]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidCursorError(f"trades cursor: {what} must be an object of amounts")
    try:
        return {str(k): to_amount(v) for k, v in value.items()}
    except ValueError:
        raise InvalidCursorError(f"trades cursor: {what} holds a non-decimal amount") from None


def _texts(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    return {k: str(v) for k, v in sorted(amounts.items()) if v != 0}


def _pairs(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value.values()
    ):
        raise InvalidCursorError("trades cursor: pairs must map a symbol to the next fromId")
    return {str(k): int(v) for k, v in value.items()}


def _splits(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidCursorError("trades cursor: symbols must map a symbol to BASE/QUOTE")
    return {str(k): str(v) for k, v in value.items()}


class _PairPager:
    """Pages one pair of ``myTrades`` (spot or margin) with ``fromId``."""

    def __init__(self, stream: BinanceStream, path: str, extra: Mapping[str, Any] | None = None) -> None:
        self.stream = stream
        self.path = path
        self.extra = dict(extra or {})

    def steps(
        self, sym: Symbol, position: int | None, gate: asyncio.Semaphore | None = None
    ) -> AsyncIterator[Step[Row]]:
        """The pages of ``sym`` after ``position`` (``None``: from the first trade); ``gate`` bounds
        the requests in flight across pairs."""
        limit = self.stream.options.trades_page_size

        async def fetch(from_id: int) -> list[Row]:
            params = {"symbol": sym.symbol, **self.extra, "fromId": from_id, "limit": limit}
            if gate is None:
                body = await self.stream.api.signed(self.path, params)
            else:
                async with gate:
                    body = await self.stream.api.signed(self.path, params)
            rows = as_list(body, None, self.path)
            for row in rows:
                fields = Fields(row, stream=self.stream.name)
                fields = fields.named(f"{sym.symbol}:{fields.int_id('id')}")
                if fields.text("symbol", max_length=40) != sym.symbol:
                    raise fields.error("symbol", "is not the pair asked for: the server answered another")
            return [dict(row, baseAsset=sym.base, quoteAsset=sym.quote) for row in rows]

        paginator = IdCursorPaginator(fetch, id_of=lambda row: row["id"], inclusive=True, limit=limit)
        return paginator.steps(position)

    async def feed(
        self, sym: Symbol, position: int | None, gate: asyncio.Semaphore, queue: asyncio.Queue[Any]
    ) -> None:
        """Put the pages of ``sym`` into ``queue`` one at a time: the next page is only fetched once
        the consumer took the previous one, so a pair that keeps paging holds one page, not its
        history. Ends with :data:`_END`, or a :class:`_Failure` carrying the error."""
        try:
            async for step in self.steps(sym, position, gate):
                await queue.put(step)
                await queue.join()  # wait for the consumer before fetching more
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # handed to the consumer, which raises it in the stream
            await queue.put(_Failure(exc))
            return
        await queue.put(_END)


#: The end of one pair's pages in its queue.
_END = object()


@dataclass(frozen=True)
class _Failure:
    """A pair's paging failed: the error, raised again where the pages are consumed."""

    error: Exception


@dataclass(frozen=True)
class _PairPage:
    """One page of one pair, in the fixed order of the pairs; ``step`` is ``None`` for a pair that
    has no trades (after its position), ``unreadable`` for a pair that answered -1121."""

    sym: Symbol
    step: Step[Row] | None
    last: bool
    unreadable: bool = False


async def _pair_pages(
    pager: _PairPager, picks: Sequence[Symbol], positions: Mapping[str, int], gate: asyncio.Semaphore
) -> AsyncIterator[_PairPage]:
    """The pages of ``picks``, paged concurrently (at most ``gate`` requests at once) and yielded
    pair by pair, in order, each as soon as it is known whether it is its pair's last: every page is
    a checkpoint, within a pair too, and memory holds a page or two per pair, never a pair's history.
    """
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(maxsize=1) for _ in picks]
    tasks = [
        asyncio.create_task(pager.feed(sym, positions.get(sym.symbol), gate, queue))
        for sym, queue in zip(picks, queues, strict=True)
    ]
    try:
        for sym, queue in zip(picks, queues, strict=True):
            pending: Step[Row] | None = None
            while True:
                item = await queue.get()
                queue.task_done()
                if isinstance(item, _Failure):
                    if not isinstance(item.error, InvalidSymbolError):
                        raise item.error
                    if pending is not None:
                        yield _PairPage(sym, pending, last=False)
                    yield _PairPage(sym, None, last=True, unreadable=True)
                    break
                if item is _END:
                    yield _PairPage(sym, pending, last=True)
                    break
                if pending is not None:
                    yield _PairPage(sym, pending, last=False)
                pending = item
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            with suppress(BaseException):
                await task


class TradesStream(BinanceStream):
    """Spot trades of the pairs discovery finds (see :mod:`._discovery`). Declared after every
    other stream it learns from."""

    name = "trades"
    path = "/api/v3/myTrades"

    def source_id(self, row: Row) -> str:
        """``SYMBOL:id``."""
        return trade_id(row, self.name)

    async def _pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        if cursor is not None and not isinstance(cursor, dict):
            raise InvalidCursorError("the trades cursor is an object")
        stored: dict[str, Any] = dict(cursor or {})
        pairs = _pairs(stored.get("pairs"))
        assets = stored.get("assets") or []
        base = _amounts(stored.get("base"), "base")
        run: dict[str, Any] = stored.get("run") or {}
        flows = _amounts(run.get("flows"), "run.flows")
        for asset, amount in self.connector.tally.flows.items():
            flows[asset] = flows.get(asset, _ZERO) + amount
        found = _amounts(run.get("trades"), "run.trades")
        done: set[str] = set(run.get("asked") or [])

        splits = _splits(stored.get("symbols"))
        markets = await self.connector.markets(splits)
        balances = await self.connector.residual_balances()
        candidates = set(assets) | self.connector.tally.assets | {a for a, v in balances.items() if v}
        residual: dict[str, Decimal] = {}
        for table, sign in ((balances, 1), (base, -1), (flows, -1), (found, -1)):
            for asset, amount in table.items():
                residual[asset] = residual.get(asset, _ZERO) + sign * amount
        forced = {f"{b}{q}" for b, q in self.options.extra_pairs}
        planner = PairPlanner(
            markets.values(),
            candidates,
            residual,
            known=pairs,
            forced=forced - done,
            asked=done,
            thorough=self.options.pair_discovery == "thorough",
        )
        for name in pairs:
            if name in markets:
                planner.candidates |= {markets[name].base, markets[name].quote}
        pager = _PairPager(self, self.path)
        gate = asyncio.Semaphore(self.options.max_concurrency)
        unreadable: list[str] = []

        def snapshot(final: bool) -> dict[str, Any]:
            cursor_now: dict[str, Any] = {
                "v": 1,
                "pairs": dict(sorted(pairs.items())),
                "symbols": {
                    s: f"{markets[s].base}/{markets[s].quote}" for s in sorted(pairs) if s in markets
                },
                "assets": sorted(planner.candidates),
                "base": _texts(balances) if final else _texts(base),
            }
            if not final:
                cursor_now["run"] = {"flows": _texts(flows), "trades": _texts(found), "asked": sorted(done)}
            return cursor_now

        removed: list[str] = []
        while True:
            picks = planner.next_round(width=4 * self.options.max_concurrency)
            if not picks:
                break
            # a pair Binance removed entirely answers -1121 to every request: no need to spend one
            gone = [p for p in picks if p.status == "DELISTED" and (p.base, p.quote) in REMOVED_PAIRS]
            for sym in gone:
                planner.unreadable_pair(sym.symbol)
                removed.append(sym.symbol)
                done.add(sym.symbol)
            picks = [p for p in picks if p not in gone]
            traded: set[str] = set()
            async for part in _pair_pages(pager, picks, pairs, gate):
                name = part.sym.symbol
                if part.step is not None and part.step.items:
                    traded.add(name)
                if part.last and not part.unreadable:
                    planner.outcome(name, name in traded)
                if part.unreadable:
                    planner.unreadable_pair(name)
                    unreadable.append(name)
                if part.step is not None:
                    records = self.records(part.step.items)
                    page_flows = confirmed_flows(self.normalize(self._raws(records)))
                    planner.found(page_flows)
                    for asset, amount in page_flows.items():
                        found[asset] = found.get(asset, _ZERO) + amount
                    pairs[name] = int(part.step.cursor)
                    if part.last:
                        done.add(name)  # the pair's last page also records it as asked
                    yield Page(records, snapshot(final=False), label=name)
                if part.last:
                    done.add(name)
        if unreadable or removed:
            detail = []
            if removed:
                detail.append(f"{', '.join(sorted(removed))} were removed from Binance (never served)")
            if unreadable:
                detail.append(f"{', '.join(sorted(unreadable))} answered -1121 (invalid symbol)")
            self.context.note_gap(
                "delisted_pairs", "; ".join(detail) + ": their trades are lost", stream=self.name
            )
        self._note_unexplained(planner)
        self.connector.traded_pairs = set(pairs)
        final = snapshot(final=True)
        if final != cursor:
            yield Page([], final, label="discovery complete")

    def _raws(self, records: list[RawRecord]) -> list[Any]:
        from txsync.models import RawTransaction

        now = self._now()
        return [
            RawTransaction.model_construct(
                connection_id=self.context.connection_id,
                account_id=self.context.account_id,
                stream=self.name,
                source_id=r.source_id,
                payload=r.payload,
                fetched_at=now,
            )
            for r in records
        ]

    def _note_unexplained(self, planner: PairPlanner) -> None:
        left = {a: v for a, v in planner.unexplained().items() if a not in planner.unreadable}
        if left:
            listing = ", ".join(f"{asset} {amount:+f}" for asset, amount in list(left.items())[:12])
            more = f" and {len(left) - 12} more" if len(left) > 12 else ""
            self.context.note_gap(
                "unreconciled_assets",
                f"reported balance minus API history (since the previous sync): {listing}{more}",
                stream=self.name,
            )


class MarginTradesStream(BinanceStream):
    """Cross margin trades (``/sapi/v1/margin/myTrades``), only when the account has a margin account.

    Runs before spot trades, so that its flows explain the part of the spot balances that came back
    from margin. The first sync asks every margin pair whose two assets are candidates (assets the
    streams before it mentioned, balances, the margin account's assets): a margin request weighs
    10 of the 12000 SAPI IP weight per minute, cheap enough not to need the residual-guided
    planning of spot trades. Later syncs ask the pairs with margin trades before and the pairs
    among the assets that moved since (new records, the margin account's holdings). Cursor
    ``{"v": 1, "pairs": {...}, "symbols": {...}, "assets": [...]}``.
    """

    name = "margin_trades"
    path = "/sapi/v1/margin/myTrades"

    def source_id(self, row: Row) -> str:
        """``SYMBOL:id``."""
        return trade_id(row, self.name)

    async def enabled(self) -> bool:
        """Only for accounts with a margin account."""
        return await self.connector.margin_enabled()

    async def _pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        if cursor is not None and not isinstance(cursor, dict):
            raise InvalidCursorError("the margin trades cursor is an object")
        stored: dict[str, Any] = dict(cursor or {})
        pairs = _pairs(stored.get("pairs"))
        seen = set(stored.get("assets") or [])
        self.connector.tally.assets |= seen
        if not await self.enabled():
            return
        markets = await self.connector.markets(_splits(stored.get("symbols")))
        run = stored.get("run")
        if isinstance(run, dict) and isinstance(run.get("todo"), list):
            wanted = {str(s) for s in run["todo"]}  # resuming this sync: the pairs it still had to ask
        else:
            if not pairs and not stored:
                balances = await self.connector.residual_balances()
                candidates = self.connector.tally.assets | {a for a, v in balances.items() if v}
            else:
                candidates = set(self.connector.tally.fresh)
            candidates |= await self.connector.margin_assets()
            wanted = set(pairs) | {
                s.symbol
                for s in markets.values()
                if s.margin and s.base in candidates and s.quote in candidates
            }
        symbols = sorted(s for s in wanted if s in markets)
        todo = list(symbols)

        def position(final: bool) -> dict[str, Any]:
            state: dict[str, Any] = {
                "v": 1,
                "pairs": dict(sorted(pairs.items())),
                "symbols": {s: f"{markets[s].base}/{markets[s].quote}" for s in sorted(pairs)},
                "assets": sorted(seen),
            }
            if not final:
                state["run"] = {"todo": list(todo)}
            return state

        pager = _PairPager(self, self.path, {"isIsolated": "FALSE"})
        gate = asyncio.Semaphore(self.options.max_concurrency)
        async for part in _pair_pages(pager, [markets[name] for name in symbols], pairs, gate):
            name = part.sym.symbol
            if part.unreadable:
                self.context.note_gap(
                    "delisted_pairs", f"margin {name} answered -1121 (invalid symbol)", stream=self.name
                )
            if part.step is not None:
                records = self.records(part.step.items)
                seen |= self.observe(records)
                pairs[name] = int(part.step.cursor)
                if part.last:
                    todo.remove(name)  # the pair's last page also records it as done
                yield Page(records, position(final=False), label=name)
            if part.last and name in todo:
                todo.remove(name)
        final = position(final=True)
        if final != cursor:
            yield Page([], final, label="margin pairs done")

"""Paginators the SDK does not ship, for Binance's endpoints that take a time range and a row cap
but no offset (``assetDividend``, ``convert/tradeFlow``, ``bswap/swap``), and partitions of
paginators (one per ``transactionType``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from txsync.connector import Cursor
from txsync.pagination import InvalidCursorError, PaginationLimitError, Paginator, Step, Window

__all__ = ["BisectingWindow", "Partitioned", "as_list"]

T = TypeVar("T")

#: ``fetch(start_ms, end_ms_inclusive)`` -> (rows, more): ``more`` is true when the range holds
#: rows the answer left out (a full page, or ``moreData``).
RangeFetch = Callable[[int, int], Awaitable[tuple[Sequence[T], bool]]]


class BisectingWindow(Generic[T]):
    """Reads one time window with range requests, halving any range whose answer was cut.

    Sub-ranges are read in ascending order; the cursor ``{"from": ms}`` is the start of the next
    sub-range, so a resume never skips rows and never re-reads a finished sub-range. A single
    millisecond that still overflows raises :class:`~txsync.pagination.PaginationLimitError`.
    """

    def __init__(self, fetch: RangeFetch[T], window: Window) -> None:
        self.fetch = fetch
        self.window = window

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[T]]:
        """Yield one step per sub-range read, from ``cursor`` (``None``: the window's start)."""
        start = self.window.start_ms
        if cursor is not None:
            if not isinstance(cursor, dict) or not isinstance(cursor.get("from"), int):
                raise InvalidCursorError("a bisecting window cursor is {'from': ms}")
            start = cursor["from"]
        last = self.window.end_ms_inclusive
        pending: list[tuple[int, int]] = [(start, last)] if start <= last else []
        while pending:
            low, high = pending.pop()
            rows, more = await self.fetch(low, high)
            if more:
                if low == high:
                    raise PaginationLimitError(
                        f"more rows than one request returns in the single millisecond {low}"
                    )
                middle = (low + high) // 2
                pending.append((middle + 1, high))
                pending.append((low, middle))
                continue
            yield Step(list(rows), {"from": high + 1})


class Partitioned(Generic[T]):
    """Runs named paginators one after the other, each from its own cursor.

    The cursor is ``{name: inner cursor}`` for every part that has yielded a step, so each part
    (one ``transactionType`` of the fiat history, say) resumes where it stopped, sync after sync.
    """

    def __init__(self, parts: Sequence[tuple[str, Paginator[T]]]) -> None:
        self.parts = list(parts)

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[T]]:
        """Yield each part's steps in turn."""
        if cursor is not None and not isinstance(cursor, dict):
            raise InvalidCursorError("a partitioned cursor is {part name: cursor}")
        state: dict[str, Any] = dict(cursor or {})
        for name, paginator in self.parts:
            async for step in paginator.steps(state.get(name)):
                state[name] = step.cursor
                yield Step(step.items, dict(state), f"{name} {step.label}".strip())


def as_list(body: Any, key: str | None, endpoint: str) -> list[Any]:
    """``body`` (or ``body[key]``) as a list; a missing key or ``null`` is an empty list."""
    from txsync.errors import BadResponseError

    value = body
    if key is not None:
        if not isinstance(body, dict):
            raise BadResponseError(f"expected an object holding {key!r}", endpoint=endpoint)
        value = body.get(key)
        if value is None:
            return []
    if not isinstance(value, list):
        raise BadResponseError("expected a list of rows", endpoint=endpoint)
    return value

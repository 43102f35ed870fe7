"""Position-based paging: ``offset``/``limit`` and ``page``/``size`` (page numbers).

Both keep the resume cursor as the number of items consumed from the start of the list (an int),
which stays exact when the last page was short: a later sync re-reads that page and skips what it
already has, instead of jumping over rows appended since. This assumes the list is in ascending
order (new rows are appended at the end), which is how connectors should request it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from txsync.connector.base import Cursor
from txsync.errors import BadResponseError

from ._core import PaginationLimitError, RepeatGuard, Step, int_cursor

__all__ = ["Counted", "OffsetPaginator", "PageNumberPaginator"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Counted(Generic[T]):
    """A page together with the total row count the remote side reported (``None``: not given)."""

    items: Sequence[T]
    total: int | None


class OffsetPaginator(Generic[T]):
    """Pages ``fetch(offset, limit)`` until a page is empty or shorter than ``limit``.

    The cursor is the next offset. ``key`` (optional) identifies items: duplicates of the previous
    page's items are dropped and a page made only of them raises
    :class:`~txsync.errors.PaginationLoopError`; without it, a page equal to the previous one does.
    ``max_offset`` is the largest offset the remote side accepts (Bitstamp 200000): going further
    raises :class:`PaginationLimitError` instead of sending a request that would fail.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], Awaitable[Sequence[T]]],
        *,
        limit: int,
        start: int = 0,
        key: Callable[[T], Hashable] | None = None,
        max_offset: int | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if start < 0:
            raise ValueError("start must not be negative")
        self.fetch = fetch
        self.limit = limit
        self.start = start
        self.key = key
        self.max_offset = max_offset

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[T]]:
        """Yield one step per non-empty page, from offset ``cursor`` (``None``: ``start``)."""
        resumed = int_cursor(cursor, "offset")
        offset = self.start if resumed is None else resumed
        guard: RepeatGuard[T] = RepeatGuard(self.key, "offset paging")
        while True:
            if self.max_offset is not None and offset > self.max_offset:
                raise PaginationLimitError(
                    f"offset {offset} is beyond the largest offset the remote side serves "
                    f"({self.max_offset}): page this list another way (by id or by time)"
                )
            page = await self.fetch(offset, self.limit)
            if not page:
                return
            if len(page) > self.limit:
                raise BadResponseError(
                    f"offset {offset}: the page holds {len(page)} rows, more than the {self.limit} asked for"
                )
            fresh = guard.admit(page, offset)
            offset += len(page)
            yield Step(fresh, offset)
            if len(page) < self.limit:
                return


class PageNumberPaginator(Generic[T]):
    """Pages ``fetch(page, size)`` with page numbers from ``first_page`` (1 or 0).

    ``fetch`` returns the page's items, or a :class:`Counted` when the remote side reports a
    ``total``: paging then also stops once ``total`` items are consumed, and a short page that
    leaves items out raises :class:`~txsync.errors.BadResponseError` (the remote side capped the
    page size below ``size``, so page numbers no longer line up). Otherwise paging stops on an empty
    or short page. The cursor is the number of items consumed (see the module notes); ``key`` and
    repeated pages work as in :class:`OffsetPaginator`.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], Awaitable[Sequence[T] | Counted[T]]],
        *,
        size: int,
        first_page: int = 1,
        key: Callable[[T], Hashable] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.fetch = fetch
        self.size = size
        self.first_page = first_page
        self.key = key

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[T]]:
        """Yield one step per page with new items, resuming after ``cursor`` consumed items."""
        resumed = int_cursor(cursor, "page number")
        consumed = 0 if resumed is None else resumed
        if consumed < 0:
            raise ValueError("a page number cursor cannot be negative")
        guard: RepeatGuard[T] = RepeatGuard(self.key, "page number paging")
        while True:
            number = self.first_page + consumed // self.size
            skip = consumed % self.size
            result = await self.fetch(number, self.size)
            if isinstance(result, Counted):
                page, total = result.items, result.total
            else:
                page, total = result, None
            if len(page) > self.size:
                raise BadResponseError(
                    f"page {number} holds {len(page)} rows, more than the {self.size} asked for"
                )
            if len(page) <= skip:
                return
            fresh = guard.admit(page, number, skip)
            consumed += len(page) - skip
            yield Step(fresh, consumed)
            if total is not None and consumed >= total:
                return
            if len(page) < self.size:
                if total is not None:
                    raise BadResponseError(
                        f"page {number} holds {len(page)} rows, fewer than {self.size}, but the "
                        f"remote side reports {total} in all: it probably caps the page size lower; "
                        "use that smaller size"
                    )
                return

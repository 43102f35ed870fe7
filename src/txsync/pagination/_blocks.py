"""Block-range paging (Etherscan-style ``startblock``/``endblock``, rows sorted ascending by block)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from txsync.connector.base import Cursor
from txsync.errors import PaginationLoopError

from ._core import BlockOverflowError, InvalidCursorError, Step, as_int, check_duplicates, json_key

__all__ = ["BlockRangePaginator"]

T = TypeVar("T")


class BlockRangePaginator(Generic[T]):
    """Pages ``fetch(start_block, end_block)`` whose answers hold at most ``cap`` rows.

    A full page (``cap`` rows) may have cut the rows of its last block, so paging continues from
    that block, inclusive, and rows already yielded are dropped by ``key`` (a str or int unique per
    row, e.g. hash plus trace id). A page shorter than ``cap`` (or empty) is the end. ``cap`` must be
    the page size the connector asks for (Etherscan's ``offset``), never a guess of the server's
    maximum. A block holding ``cap`` rows or more cannot be paged this way: after yielding what it
    got, the paginator raises :class:`BlockOverflowError` instead of looping.

    The cursor is ``{"block": b, "seen": [keys]}``: resume from block ``b`` skipping the listed rows
    of block ``b`` already yielded. ``end_block`` (``None``: the chain head) is passed to ``fetch``.
    """

    def __init__(
        self,
        fetch: Callable[[int, int | None], Awaitable[Sequence[T]]],
        *,
        cap: int,
        block_of: Callable[[T], int | str],
        key: Callable[[T], str | int],
        start_block: int = 0,
        end_block: int | None = None,
    ) -> None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self.fetch = fetch
        self.cap = cap
        self.block_of = block_of
        self.key = key
        self.start_block = start_block
        self.end_block = end_block

    def _parse(self, cursor: Cursor) -> tuple[int, set[str | int]]:
        if cursor is None:
            return self.start_block, set()
        block = cursor.get("block") if isinstance(cursor, dict) else None
        seen = cursor.get("seen", []) if isinstance(cursor, dict) else None
        if isinstance(block, bool) or not isinstance(block, int) or not isinstance(seen, list):
            raise InvalidCursorError(
                "a block range cursor must be a dict with an integer 'block' and a 'seen' list"
            )
        if any(isinstance(k, bool) or not isinstance(k, str | int) for k in seen):
            raise InvalidCursorError("the 'seen' keys of a block range cursor must be strings or integers")
        return block, set(seen)

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[T]]:
        """Yield one step per page with new rows, resuming after ``cursor`` (``None``: ``start_block``)."""
        block, seen = self._parse(cursor)
        while True:
            page = await self.fetch(block, self.end_block)
            if not page:
                return
            rows: list[tuple[int, str | int, T]] = []
            for item in page:
                number = as_int(self.block_of(item), "a row's block number")
                if number >= block:  # rows before the requested start are not ours to yield
                    rows.append((number, json_key(self.key(item), "key"), item))
            check_duplicates([item for _, _, item in rows], [k for _, k, _ in rows], "block range paging")
            if not rows:
                if len(page) >= self.cap:
                    raise PaginationLoopError(
                        f"block range paging: a full page from block {block} holds only earlier blocks; "
                        "the remote side ignores the start block"
                    )
                return
            rows.sort(key=lambda row: row[0])
            last = rows[-1][0]
            fresh: list[T] = []
            taken: set[str | int] = set(seen)
            tail: set[str | int] = set(seen) if last == block else set()
            for number, k, item in rows:
                if number == last:
                    tail.add(k)
                if k in taken:
                    continue
                taken.add(k)
                fresh.append(item)
            cursor = {"block": last, "seen": sorted(tail, key=_sort_key)}
            moved = last != block or tail != seen
            if fresh or moved:
                yield Step(fresh, cursor)
            if len(page) < self.cap:
                return
            if last == block:
                raise BlockOverflowError(block, self.cap)
            block, seen = last, tail


def _sort_key(key: str | int) -> tuple[int, int, str]:
    # A total order over mixed str/int keys, so equal cursors serialize identically.
    return (0, key, "") if isinstance(key, int) else (1, 0, key)

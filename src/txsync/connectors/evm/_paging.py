"""Block-range paging over several addresses at once, whole blocks per page, whatever the row cap.

Etherscan-style lists (``startblock`` inclusive, ``sort=asc``) answer at most ``cap`` rows per
request, and the cap is not announced: 10,000, 1,000 on free keys since 2026-07, or whatever a
Blockscout instance uses, whatever ``offset`` asked for. So a short answer does not prove the list
ended. :class:`BlockLanes` therefore:

* treats an answer as complete only when it is empty or shorter than a longer answer seen earlier
  in the same run (the server's cap is then known to be larger); otherwise the rows of its last
  block are dropped and that block is read again as the start of the next request ("continue from
  the last block of a full page"), so no block is ever cut;
* pages a block that fills a whole answer on its own with ``page``/``offset`` inside that block
  (``page * offset <= 10000``), raising :class:`~txsync.pagination.BlockOverflowError` beyond;
* reads every address ("lane") of the wallet and yields, per step, every row of every address for
  a range of *complete* blocks, deduplicated by row key. One step therefore holds all the rows of
  any transaction hash in that list, which is what lets a stream describe one hash with one part.

The cursor is ``{"block": n}``: every block below ``n`` is complete for every address.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from txsync.connector import Cursor
from txsync.errors import DuplicateRecordError, PaginationLoopError
from txsync.fields import preview
from txsync.pagination import BlockOverflowError, InvalidCursorError, Step, page_fingerprint

__all__ = ["MAX_WINDOW", "BlockLanes", "Row"]

#: Etherscan refuses ``page * offset`` above this ("Result window is too large").
MAX_WINDOW = 10_000

Row = dict[str, Any]
#: ``fetch(address, start_block, end_block, page, offset)`` -> rows ascending by block.
Fetch = Callable[[str, int, int | None, int, int], Awaitable[list[Row]]]


@dataclass
class _Lane:
    address: str
    #: Fetched rows not yet yielded; every block below ``complete_to`` is whole in here.
    rows: list[tuple[int, Row]] = field(default_factory=list)
    #: Blocks below this are complete; ``math.inf`` once the list is read to its end.
    complete_to: float = 0


class BlockLanes:
    """Pages one account list (``txlist``, ``tokentx``...) for several addresses, whole blocks only.

    ``key_of(row, occurrence)`` gives a row's identity (its raw source id); ``occurrence`` counts
    earlier rows of the same address with the same ``base_key_of(row)`` in the same block, so two
    identical transfers in one transaction stay two rows while one transfer listed for two of the
    user's addresses is one row.
    """

    def __init__(
        self,
        fetch: Fetch,
        addresses: Sequence[str],
        *,
        page_size: int,
        block_of: Callable[[Row], int],
        base_key_of: Callable[[Row], str],
        unique_key: Callable[[Row], bool] | None = None,
        start_block: int = 0,
        end_block: int | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.fetch = fetch
        self.addresses = list(dict.fromkeys(addresses))
        self.page_size = page_size
        self.block_of = block_of
        self.base_key_of = base_key_of
        self.unique_key = unique_key
        self.start_block = start_block
        self.end_block = end_block
        self.requests = 0
        self._bound = 0  # the longest answer seen this run: the server's cap is at least this

    @staticmethod
    def parse_cursor(cursor: Cursor, default: int) -> int:
        """The block a cursor resumes from (``default`` for ``None``)."""
        if cursor is None:
            return default
        block = cursor.get("block") if isinstance(cursor, dict) else None
        if isinstance(block, bool) or not isinstance(block, int) or block < 0:
            raise InvalidCursorError("an EVM list cursor must be a dict with a non-negative integer 'block'")
        return block

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[tuple[str, Row]]]:
        """Yield ``(key, row)`` items of complete blocks, resuming from ``cursor``."""
        start = self.parse_cursor(cursor, self.start_block)
        lanes = [_Lane(address, complete_to=start) for address in self.addresses]
        if not lanes:
            return
        frontier = float(start)
        while True:
            for lane in lanes:
                if lane.complete_to == frontier:
                    await self._advance(lane, int(frontier))
            new_frontier = min(lane.complete_to for lane in lanes)
            ready: list[tuple[str, Row]] = []
            seen: set[str] = set()
            last_block = -1
            for lane in lanes:
                take = [(b, r) for b, r in lane.rows if b < new_frontier]
                lane.rows = [(b, r) for b, r in lane.rows if b >= new_frontier]
                for key, block, row in self._keyed(take):
                    last_block = max(last_block, block)
                    if key not in seen:
                        seen.add(key)
                        ready.append((key, row))
            ready.sort(key=lambda item: self.block_of(item[1]))  # stable: list order within a block
            if new_frontier == math.inf:
                if ready:
                    yield Step(ready, {"block": last_block + 1}, f"blocks {int(frontier)}..{last_block}")
                return
            if ready:
                yield Step(
                    ready, {"block": int(new_frontier)}, f"blocks {int(frontier)}..{int(new_frontier) - 1}"
                )
            frontier = new_frontier

    def _keyed(self, rows: list[tuple[int, Row]]) -> list[tuple[str, int, Row]]:
        counts: dict[tuple[int, str], int] = {}
        unique: dict[str, Row] = {}
        out = []
        for block, row in rows:
            base = self.base_key_of(row)
            if self.unique_key is not None and self.unique_key(row):
                # a key naming one row alone: a second row under it is that row listed twice
                if base in unique:
                    if unique[base] != row:
                        raise DuplicateRecordError(
                            f"an answer lists {preview(base, 80)} twice with different content", record=base
                        )
                    continue
                unique[base] = row
                out.append((base, block, row))
                continue
            n = counts.get((block, base), 0)
            counts[(block, base)] = n + 1
            out.append((base if n == 0 else f"{base}#{n}", block, row))
        return out

    async def _get(self, address: str, start: int, end: int | None, page: int, offset: int) -> list[Row]:
        self.requests += 1
        rows = await self.fetch(address, start, end, page, offset)
        return rows

    async def _advance(self, lane: _Lane, start: int) -> None:
        """Read ``lane`` from block ``start`` and move its ``complete_to`` forward."""
        answer = await self._get(lane.address, start, self.end_block, 1, self.page_size)
        rows = [(self.block_of(row), row) for row in answer]
        mine = [(b, r) for b, r in rows if b >= start]
        if len(mine) < len(rows):
            # rows before the start block asked for: the explorer answered another range (an
            # earlier page again); trusting the rest would cut the block the paging resumes from
            raise PaginationLoopError(
                f"block range paging: an answer from block {start} holds earlier blocks; "
                "the explorer ignores the start block or served an earlier page again"
            )
        n = len(answer)
        complete = n == 0 or n < self._bound
        self._bound = max(self._bound, n)
        if complete:
            lane.rows.extend(mine)
            lane.complete_to = math.inf
            return
        last = max(b for b, _ in mine)
        if last > start:
            lane.rows.extend((b, r) for b, r in mine if b < last)
            lane.complete_to = last
            return
        # The whole answer is block ``start``: page that block on its own.
        block_rows = list(mine)
        pages = {page_fingerprint(repr(answer))}
        page = 2
        while True:
            if page * n > MAX_WINDOW:
                raise BlockOverflowError(start, n)
            more = await self._get(lane.address, start, start, page, n)
            fingerprint = page_fingerprint(repr(more))
            if more and fingerprint in pages:
                raise PaginationLoopError(
                    f"block {start}: page {page} repeats an earlier page; the explorer does not honour "
                    "the page parameter"
                )
            pages.add(fingerprint)
            self._bound = max(self._bound, len(more))
            paged = [(self.block_of(x), x) for x in more]
            if any(b != start for b, _ in paged):
                raise PaginationLoopError(
                    f"block {start}: a page of that block alone holds other blocks; the explorer "
                    "ignores the block range"
                )
            block_rows.extend(paged)
            if len(more) < n:
                break
            page += 1
        lane.rows.extend(block_rows)
        lane.complete_to = start + 1

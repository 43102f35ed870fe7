"""Paging a Paymium list that grows at the top and whose open entries still change.

``/user/orders`` and ``/user/withdrawals`` list newest first (the documented example pages from
recent to old) and an order keeps changing until it reaches a final state (a limit order gains
executions, a withdrawal gets executed or cancelled). An offset cursor alone cannot resume such a
list across syncs, so each sync *sweeps* it from the top:

* a first (full) sweep reads every page;
* it ends with the cursor ``{"mark": M}``, where ``M`` is the creation time (epoch microseconds) of
  the newest entry seen or, if older, of the oldest entry still open; every entry created before
  ``M`` is final, so a later sweep reads from the top until a whole page was created before ``M``;
* inside a sweep the cursor is ``{"stop", "offset", "top", "low"}`` (the sweep's limit, entries
  consumed, newest creation seen, oldest open creation seen): a killed sweep resumes at the same
  offset. Entries added at the top meanwhile only push older ones down, so resuming re-reads a few
  rows (deduplicated downstream) and never skips one.

Only entries created at or after the sweep's limit are yielded. Stopping on a *whole* page older
than the limit (not on the first older row) keeps the sweep correct whatever the list's order;
with newest first it costs one page more than strictly needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from txsync.connector import Cursor
from txsync.errors import BadResponseError, PaginationLoopError
from txsync.pagination import InvalidCursorError, Step, page_fingerprint
from txsync.pagination._core import check_duplicates

__all__ = ["NewestFirstSweep"]

Row = Mapping[str, Any]


def _opt_int(cursor: Mapping[str, Any], name: str) -> int | None:
    value = cursor.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCursorError(f"sweep cursor field {name!r} must be an integer or null")
    return value


class NewestFirstSweep:
    """Sweeps ``fetch(offset, limit)`` from the top down to the last sweep's mark (see the module).

    ``created_us(row)`` is a row's creation time in epoch microseconds, ``is_open(row)`` whether it
    may still change, ``key(row)`` its identity (rows repeated from the previous page are dropped; a
    page made only of them raises :class:`~txsync.errors.PaginationLoopError`).
    """

    def __init__(
        self,
        fetch: Callable[[int, int], Awaitable[Sequence[Row]]],
        *,
        limit: int,
        created_us: Callable[[Row], int],
        is_open: Callable[[Row], bool],
        key: Callable[[Row], str],
        what: str,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.fetch = fetch
        self.limit = limit
        self.created_us = created_us
        self.is_open = is_open
        self.key = key
        self.what = what

    @staticmethod
    def parse(cursor: Cursor) -> tuple[int | None, int, int | None, int | None]:
        """``(stop, offset, top, low)`` of a cursor this sweep wrote (``None``: a full sweep)."""
        if cursor is None:
            return None, 0, None, None
        if not isinstance(cursor, Mapping):
            raise InvalidCursorError("a sweep cursor is an object or null")
        if set(cursor) == {"mark"}:
            return _opt_int(cursor, "mark"), 0, None, None
        if set(cursor) != {"stop", "offset", "top", "low"}:
            raise InvalidCursorError(f"unexpected sweep cursor fields {sorted(cursor)}")
        offset = _opt_int(cursor, "offset")
        if offset is None or offset < 0:
            raise InvalidCursorError("a sweep cursor offset is a non-negative integer")
        return _opt_int(cursor, "stop"), offset, _opt_int(cursor, "top"), _opt_int(cursor, "low")

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[Row]]:
        """Yield the rows created at or after the mark, one step per page, then the new mark."""
        stop, offset, top, low = self.parse(cursor)
        previous: set[str] = set()
        pages: set[bytes] = set()
        while True:
            page = await self.fetch(offset, self.limit)
            if len(page) > self.limit:
                raise BadResponseError(
                    f"{self.what}: {len(page)} rows in a page of {self.limit}", endpoint=self.what
                )
            keys = [self.key(row) for row in page]
            check_duplicates(page, keys, self.what)
            fingerprint = page_fingerprint(keys)
            if page and (set(keys) <= previous or fingerprint in pages):
                raise PaginationLoopError(
                    f"{self.what}: the remote side returned an earlier page again at offset {offset}; "
                    "it does not honour the paging parameters"
                )
            pages.add(fingerprint)
            fresh: list[Row] = []
            taken: set[str] = set()
            older = 0
            for row, key in zip(page, keys, strict=True):
                created = self.created_us(row)
                if stop is not None and created < stop:
                    older += 1
                    continue
                if key in previous or key in taken:
                    continue
                taken.add(key)
                fresh.append(row)
                top = created if top is None else max(top, created)
                if self.is_open(row):
                    low = created if low is None else min(low, created)
            offset += len(page)
            previous = set(keys)
            finished = len(page) < self.limit or (stop is not None and older == len(page))
            if finished:
                # The newest entry seen, or the oldest still open; nothing new: the old mark.
                mark = stop if top is None else top if low is None else min(top, low)
                if mark is None and not fresh:
                    return  # an empty list and no earlier sweep: nothing to remember
                yield Step(fresh, {"mark": mark}, label=f"{self.what} up to date")
                return
            yield Step(fresh, {"stop": stop, "offset": offset, "top": top, "low": low}, label=self.what)

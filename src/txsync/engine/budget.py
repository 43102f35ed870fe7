"""Per-stream budgets: how many pages and how much wall-clock time one stream may use in one sync.

A server that returns pages forever, or grows its cursor forever, would otherwise hold a sync for
ever. :func:`bounded_pages` wraps a stream's pages: past ``max_pages`` pages, or ``max_seconds`` after
the stream started (also while a page is being fetched: the fetch is cancelled), it raises
:class:`~txsync.errors.StreamBudgetError`. The engine reports it as that stream's failure; every page
committed before stays, and the next sync resumes after them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from txsync.connector import Page
from txsync.errors import StreamBudgetError

__all__ = ["DEFAULT_MAX_PAGES", "DEFAULT_MAX_SECONDS", "StreamBudget", "bounded_pages"]

#: Pages one stream may commit in one sync (100,000 pages of 1,000 records is 100 million records).
DEFAULT_MAX_PAGES = 100_000
#: Seconds one stream may run in one sync (a full history at real rate limits takes minutes).
DEFAULT_MAX_SECONDS = 3 * 3600.0


@dataclass(frozen=True)
class StreamBudget:
    """The bounds of one stream in one sync; ``None`` means unbounded (not recommended).

    ``monotonic`` is the clock the time budget is measured with (``time.monotonic``; tests may
    pass their own).
    """

    max_pages: int | None = DEFAULT_MAX_PAGES
    max_seconds: float | None = DEFAULT_MAX_SECONDS
    monotonic: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_pages is not None and (isinstance(self.max_pages, bool) or self.max_pages < 1):
            raise ValueError("max_pages must be a positive integer or None")
        if self.max_seconds is not None and not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise ValueError("max_seconds must be a finite number of seconds > 0, or None")


async def bounded_pages(pages: AsyncIterator[Page], budget: StreamBudget, stream: str) -> AsyncIterator[Page]:
    """Yield ``pages`` until they end or ``budget`` is spent (then raise :class:`StreamBudgetError`).

    The page that would exceed ``max_pages`` is never yielded (so never committed). The time budget
    is checked before each page is requested and bounds the request itself. ``pages`` is closed in
    every case.
    """
    started = budget.monotonic()
    count = 0
    try:
        while True:
            remaining = None
            if budget.max_seconds is not None:
                remaining = budget.max_seconds - (budget.monotonic() - started)
                if remaining <= 0:
                    raise _out_of_time(stream, budget.max_seconds, count)
            try:
                async with asyncio.timeout(remaining) as deadline:
                    page = await anext(pages)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if deadline.expired() and budget.max_seconds is not None:
                    raise _out_of_time(stream, budget.max_seconds, count) from None
                raise
            count += 1
            if budget.max_pages is not None and count > budget.max_pages:
                raise StreamBudgetError(
                    f"stream {stream} did not end within its budget of {budget.max_pages} pages in one "
                    "sync (the server keeps paging, or its cursor keeps growing); the pages before are "
                    "kept and the next sync resumes after them",
                    stream=stream,
                    budget="pages",
                )
            yield page
    finally:
        closer = getattr(pages, "aclose", None)
        if closer is not None:
            await closer()


def _out_of_time(stream: str, seconds: float, pages: int) -> StreamBudgetError:
    return StreamBudgetError(
        f"stream {stream} did not end within its budget of {seconds:g} s in one sync ({pages} pages "
        "committed); the pages before are kept and the next sync resumes after them",
        stream=stream,
        budget="seconds",
    )

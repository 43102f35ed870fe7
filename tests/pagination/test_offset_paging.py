"""Offset/limit and page-number paginators."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txsync.errors import BadResponseError, PaginationLoopError
from txsync.pagination import (
    Counted,
    InvalidCursorError,
    OffsetPaginator,
    PageNumberPaginator,
    PaginationLimitError,
    collect,
)

from .helpers import Calls, all_steps, assert_resumes_exactly, drain, flat

Row = dict[str, int]


def ledger(n: int) -> list[Row]:
    return [{"id": i} for i in range(n)]


def offset_server(
    rows: list[Row], calls: Calls | None = None
) -> Callable[[int, int], Awaitable[Sequence[Row]]]:
    async def fetch(offset: int, limit: int) -> Sequence[Row]:
        if calls is not None:
            calls(offset, limit)
        return rows[offset : offset + limit]

    return fetch


def page_server(
    rows: list[Row], first: int = 1, *, total: bool = False, calls: Calls | None = None
) -> Callable[[int, int], Awaitable[Sequence[Row] | Counted[Row]]]:
    async def fetch(page: int, size: int) -> Sequence[Row] | Counted[Row]:
        if calls is not None:
            calls(page, size)
        start = (page - first) * size
        items = rows[start : start + size]
        return Counted(items, len(rows)) if total else items

    return fetch


# --- offset -------------------------------------------------------------------------------------


async def test_offset_empty_first_page_yields_nothing() -> None:
    calls = Calls()
    result = await collect(OffsetPaginator(offset_server([], calls), limit=10))
    assert result.items == []
    assert result.steps == 0
    assert result.cursor is None
    assert calls.args == [(0, 10)]


async def test_offset_short_last_page_stops_without_an_extra_request() -> None:
    calls = Calls()
    steps = await all_steps(OffsetPaginator(offset_server(ledger(5), calls), limit=2))
    assert [list(s.items) for s in steps] == [[{"id": 0}, {"id": 1}], [{"id": 2}, {"id": 3}], [{"id": 4}]]
    assert [s.cursor for s in steps] == [2, 4, 5]
    assert calls.args == [(0, 2), (2, 2), (4, 2)]


async def test_offset_exact_multiple_ends_on_the_empty_page() -> None:
    calls = Calls()
    result = await collect(OffsetPaginator(offset_server(ledger(4), calls), limit=2))
    assert result.items == ledger(4)
    assert result.cursor == 4
    assert [a[0] for a in calls.args] == [0, 2, 4]


async def test_offset_resume_from_mid_cursor_yields_exactly_the_rest() -> None:
    paginator = OffsetPaginator(offset_server(ledger(7), None), limit=3)
    assert (await collect(paginator, 3)).items == ledger(7)[3:]
    await assert_resumes_exactly(paginator)


async def test_offset_resume_after_short_page_picks_up_appended_rows_only() -> None:
    rows = ledger(5)
    paginator = OffsetPaginator(offset_server(rows, None), limit=3)
    first = await collect(paginator)
    rows.extend([{"id": 5}, {"id": 6}])
    second = await collect(paginator, first.cursor)
    assert second.items == [{"id": 5}, {"id": 6}]
    assert second.cursor == 7


@pytest.mark.parametrize("key", [None, lambda row: row["id"]])
async def test_offset_remote_ignoring_the_offset_raises_loop_error(key: Any) -> None:
    async def fetch(offset: int, limit: int) -> Sequence[Row]:
        return ledger(limit)

    paginator = OffsetPaginator(fetch, limit=3, key=key)
    with pytest.raises(PaginationLoopError):
        await collect(paginator)


async def test_offset_key_drops_rows_repeated_from_the_previous_page() -> None:
    # A newest-first list gains a row while paging: the next page repeats the previous page's last row.
    pages = {0: [{"id": 9}, {"id": 8}, {"id": 7}], 3: [{"id": 7}, {"id": 6}, {"id": 5}], 6: [{"id": 4}]}

    async def fetch(offset: int, limit: int) -> Sequence[Row]:
        return pages.get(offset, [])

    result = await collect(OffsetPaginator(fetch, limit=3, key=lambda row: row["id"]))
    assert [r["id"] for r in result.items] == [9, 8, 7, 6, 5, 4]
    assert result.cursor == 7


async def test_offset_max_offset_raises_limit_error() -> None:
    paginator = OffsetPaginator(offset_server(ledger(10), None), limit=2, max_offset=4)
    seen: list[Row] = []
    with pytest.raises(PaginationLimitError):
        await drain(paginator, seen)
    assert seen == ledger(6)


async def test_offset_rejects_foreign_cursor_and_bad_limit() -> None:
    paginator = OffsetPaginator(offset_server(ledger(3), None), limit=2)
    for bad in ("3", 1.5, True, {"offset": 2}):
        with pytest.raises(InvalidCursorError):
            await collect(paginator, bad)
    with pytest.raises(ValueError, match="limit"):
        OffsetPaginator(offset_server([], None), limit=0)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), limit=st.integers(1, 12), start=st.integers(0, 40))
def test_offset_property_every_row_exactly_once_and_resumable(n: int, limit: int, start: int) -> None:
    rows = ledger(n)

    async def run() -> None:
        paginator = OffsetPaginator(offset_server(rows, None), limit=limit)
        steps = await assert_resumes_exactly(paginator)
        assert flat(steps) == rows
        assert (await collect(paginator, start)).items == rows[start:]

    asyncio.run(run())


# --- page number --------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [0, 1])
async def test_page_number_pages_from_first_page_and_stops_on_short_page(first: int) -> None:
    calls = Calls()
    paginator = PageNumberPaginator(page_server(ledger(5), first, calls=calls), size=2, first_page=first)
    steps = await all_steps(paginator)
    assert flat(steps) == ledger(5)
    assert [s.cursor for s in steps] == [2, 4, 5]
    assert [a[0] for a in calls.args] == [first, first + 1, first + 2]


async def test_page_number_empty_first_page() -> None:
    calls = Calls()
    result = await collect(PageNumberPaginator(page_server([], total=True, calls=calls), size=5))
    assert result.items == []
    assert result.steps == 0
    assert len(calls) == 1


async def test_page_number_total_saves_the_trailing_empty_request() -> None:
    calls = Calls()
    result = await collect(PageNumberPaginator(page_server(ledger(4), total=True, calls=calls), size=2))
    assert result.items == ledger(4)
    assert [a[0] for a in calls.args] == [1, 2]  # without total a third (empty) page would be asked


async def test_page_number_without_total_asks_the_empty_page() -> None:
    calls = Calls()
    await collect(PageNumberPaginator(page_server(ledger(4), calls=calls), size=2))
    assert [a[0] for a in calls.args] == [1, 2, 3]


async def test_page_number_short_page_below_total_means_the_size_was_capped() -> None:
    rows = ledger(10)

    async def fetch(page: int, size: int) -> Counted[Row]:
        capped = min(size, 3)  # the remote side silently serves 3 rows per page
        return Counted(rows[(page - 1) * capped : page * capped], len(rows))

    with pytest.raises(BadResponseError, match="caps the page size"):
        await collect(PageNumberPaginator(fetch, size=5))


async def test_page_number_repeated_page_raises_loop_error() -> None:
    async def fetch(page: int, size: int) -> Sequence[Row]:
        return ledger(size)

    with pytest.raises(PaginationLoopError):
        await collect(PageNumberPaginator(fetch, size=3))


async def test_page_number_resume_mid_page_after_rows_were_appended() -> None:
    rows = ledger(5)
    paginator = PageNumberPaginator(page_server(rows), size=3)
    first = await collect(paginator)
    assert first.cursor == 5
    rows.extend(ledger(9)[5:])
    second = await collect(paginator, first.cursor)
    assert second.items == ledger(9)[5:]
    assert second.cursor == 9


async def test_page_number_too_many_rows_is_a_bad_response() -> None:
    async def fetch(page: int, size: int) -> Sequence[Row]:
        return ledger(size + 1)

    with pytest.raises(BadResponseError, match="more than"):
        await collect(PageNumberPaginator(fetch, size=3))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 40),
    size=st.integers(1, 12),
    first=st.sampled_from([0, 1]),
    total=st.booleans(),
    keyed=st.booleans(),
)
def test_page_number_property_every_row_exactly_once_and_resumable(
    n: int, size: int, first: int, total: bool, keyed: bool
) -> None:
    rows = ledger(n)

    async def run() -> None:
        paginator = PageNumberPaginator(
            page_server(rows, first, total=total),
            size=size,
            first_page=first,
            key=(lambda row: row["id"]) if keyed else None,
        )
        steps = await assert_resumes_exactly(paginator)
        assert flat(steps) == rows

    asyncio.run(run())


async def test_page_number_key_drops_rows_shifted_from_the_previous_page() -> None:
    pages = {1: ledger(3), 2: [{"id": 2}, {"id": 3}, {"id": 4}], 3: [{"id": 5}]}

    async def fetch(page: int, size: int) -> Sequence[Row]:
        return pages.get(page, [])

    result = await collect(PageNumberPaginator(fetch, size=3, key=lambda row: row["id"]))
    assert [r["id"] for r in result.items] == [0, 1, 2, 3, 4, 5]

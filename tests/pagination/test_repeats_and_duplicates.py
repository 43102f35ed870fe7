"""Every shared paginator detects a page served again (not only the previous one) and refuses two
items of one page with the same key and different content."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from txsync.errors import DuplicateRecordError, PaginationLoopError
from txsync.pagination import (
    BlockRangePaginator,
    IdCursorPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    TokenPaginator,
)

from .helpers import drain

Row = dict[str, Any]


def rows(*ids: int, **extra: Any) -> list[Row]:
    return [{"id": i, **extra} for i in ids]


async def test_offset_paging_detects_a_cycle_of_two_pages() -> None:
    pages = [rows(1, 2), rows(3, 4)]

    async def fetch(offset: int, limit: int) -> Sequence[Row]:
        return pages[(offset // limit) % 2]  # A, B, A, B... forever, whatever the offset

    got: list[Row] = []
    with pytest.raises(PaginationLoopError, match="earlier page again"):
        await drain(OffsetPaginator(fetch, limit=2, key=lambda r: r["id"]), got)
    assert [r["id"] for r in got] == [1, 2, 3, 4]  # what came before the loop was yielded once


async def test_offset_paging_without_key_detects_any_earlier_page() -> None:
    pages = [rows(1, 2), rows(3, 4)]

    async def fetch(offset: int, limit: int) -> Sequence[Row]:
        return pages[(offset // limit) % 2]

    with pytest.raises(PaginationLoopError):
        await drain(OffsetPaginator(fetch, limit=2), [])


async def test_page_number_paging_detects_a_cycle() -> None:
    async def fetch(page: int, size: int) -> Sequence[Row]:
        return rows(1, 2) if page % 2 else rows(3, 4)

    with pytest.raises(PaginationLoopError):
        await drain(PageNumberPaginator(fetch, size=2, key=lambda r: r["id"]), [])


@pytest.mark.parametrize("kind", ["offset", "page"])
async def test_conflicting_duplicates_in_one_page_are_refused(kind: str) -> None:
    page = [{"id": 1, "amount": "1"}, {"id": 1, "amount": "2"}, {"id": 2, "amount": "3"}]

    async def fetch(position: int, size: int) -> Sequence[Row]:
        return page if position in (0, 1) else []

    paginator: Any = (
        OffsetPaginator(fetch, limit=5, key=lambda r: r["id"])
        if kind == "offset"
        else PageNumberPaginator(fetch, size=5, key=lambda r: r["id"])
    )
    with pytest.raises(DuplicateRecordError, match="different content"):
        await drain(paginator, [])


async def test_exact_duplicates_in_one_page_are_kept_once() -> None:
    async def fetch(offset: int, limit: int) -> Sequence[Row]:
        return rows(1, 1, 2) if offset == 0 else []

    got: list[Row] = []
    await drain(OffsetPaginator(fetch, limit=5, key=lambda r: r["id"]), got)
    assert [r["id"] for r in got] == [1, 2]


async def test_id_paging_refuses_conflicting_duplicates_and_stops_on_repeats() -> None:
    async def conflicting(position: int) -> Sequence[Row]:
        return [{"id": 5, "q": "1"}, {"id": 5, "q": "2"}] if position == 0 else []

    with pytest.raises(DuplicateRecordError):
        await drain(IdCursorPaginator(conflicting, id_of=lambda r: r["id"]), [])

    async def repeated(position: int) -> Sequence[Row]:
        return rows(1, 2, 3)  # the same full page whatever fromId says

    got: list[Row] = []
    with pytest.raises(PaginationLoopError):
        await drain(IdCursorPaginator(repeated, id_of=lambda r: r["id"], limit=3), got)
    assert [r["id"] for r in got] == [1, 2, 3]


async def test_token_paging_refuses_conflicting_duplicates() -> None:
    async def fetch(token: str | int | None) -> Sequence[Row]:
        return [{"id": "a", "v": 1}, {"id": "a", "v": 2}] if token is None else []

    with pytest.raises(DuplicateRecordError):
        await drain(TokenPaginator(fetch, key=lambda r: r["id"]), [])


async def test_block_paging_refuses_conflicting_duplicates() -> None:
    async def fetch(start: int, end: int | None) -> Sequence[Row]:
        return [{"b": 1, "k": "x", "v": 1}, {"b": 1, "k": "x", "v": 2}] if start == 0 else []

    paginator = BlockRangePaginator(fetch, cap=10, block_of=lambda r: r["b"], key=lambda r: r["k"])
    with pytest.raises(DuplicateRecordError):
        await drain(paginator, [])

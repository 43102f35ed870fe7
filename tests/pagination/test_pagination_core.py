"""What the paginators share: steps, collecting, pages for connector streams, errors."""

from __future__ import annotations

from collections.abc import Sequence

from txsync.connector import Page, RawRecord
from txsync.errors import BadResponseError, ConnectorError, PaginationLoopError, TxsyncError
from txsync.pagination import (
    BlockOverflowError,
    InvalidCursorError,
    OffsetPaginator,
    PaginationLimitError,
    Step,
    as_pages,
    collect,
    collect_steps,
)


async def fetch(offset: int, limit: int) -> Sequence[dict[str, int]]:
    return [{"id": i} for i in range(5)][offset : offset + limit]


async def test_collect_returns_items_last_cursor_and_step_count() -> None:
    result = await collect(OffsetPaginator(fetch, limit=2))
    assert result.items == [{"id": i} for i in range(5)]
    assert result.cursor == 5
    assert result.steps == 3


async def test_collect_keeps_the_given_cursor_when_nothing_is_yielded() -> None:
    result = await collect(OffsetPaginator(fetch, limit=2), 5)
    assert result.steps == 0
    assert result.cursor == 5
    assert (await collect_steps(OffsetPaginator(fetch, limit=2).steps(4), 4)).items == [{"id": 4}]


async def test_as_pages_turns_each_step_into_a_page_with_its_cursor() -> None:
    steps = OffsetPaginator(fetch, limit=3).steps()
    pages = [page async for page in as_pages(steps, lambda row: RawRecord(str(row["id"]), row))]
    assert all(isinstance(page, Page) for page in pages)
    assert [[r.source_id for r in page.records] for page in pages] == [["0", "1", "2"], ["3", "4"]]
    assert [page.cursor for page in pages] == [3, 5]


def test_step_unpacks_as_items_and_cursor() -> None:
    items, cursor, label = Step([1, 2], {"start": 5}, "w")
    assert (items, cursor, label) == ([1, 2], {"start": 5}, "w")
    assert Step([], 3).label == ""


def test_error_taxonomy() -> None:
    overflow = BlockOverflowError(17, 1000)
    assert isinstance(overflow, PaginationLimitError)
    assert isinstance(overflow, PaginationLoopError)
    assert isinstance(overflow, BadResponseError)
    assert not overflow.retryable
    assert "block 17" in str(overflow)
    assert issubclass(PaginationLimitError, ConnectorError)
    assert issubclass(InvalidCursorError, TxsyncError)
    assert issubclass(InvalidCursorError, ValueError)

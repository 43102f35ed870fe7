"""Block-range paginator (Etherscan startblock/endblock with a row cap)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txsync.errors import BadResponseError, PaginationLoopError
from txsync.pagination import (
    BlockOverflowError,
    BlockRangePaginator,
    InvalidCursorError,
    PaginationLimitError,
    collect,
)

from .helpers import Calls, all_steps, assert_resumes_exactly, drain, flat, roundtrip

Row = dict[str, Any]


def chain(rows_per_block: dict[int, int]) -> list[Row]:
    """Rows sorted by block, keyed by hash; ``blockNumber`` a string as Etherscan sends it."""
    return [
        {"blockNumber": str(block), "hash": f"0x{block:x}-{i}"}
        for block in sorted(rows_per_block)
        for i in range(rows_per_block[block])
    ]


def etherscan(
    rows: list[Row], cap: int, *, calls: Calls | None = None, shuffle: random.Random | None = None
) -> Callable[[int, int | None], Awaitable[Sequence[Row]]]:
    async def fetch(start: int, end: int | None) -> Sequence[Row]:
        if calls is not None:
            calls(start, end)
        inside = [
            r
            for r in rows
            if int(r["blockNumber"]) >= start and (end is None or int(r["blockNumber"]) <= end)
        ]
        page = inside[:cap]
        if shuffle is not None:
            page = page[:]
            shuffle.shuffle(page)
        return page

    return fetch


def paginator(rows: list[Row], cap: int, **kw: Any) -> BlockRangePaginator[Row]:
    calls = kw.pop("calls", None)
    shuffle = kw.pop("shuffle", None)
    return BlockRangePaginator(
        etherscan(rows, cap, calls=calls, shuffle=shuffle),
        cap=cap,
        block_of=lambda r: r["blockNumber"],
        key=lambda r: r["hash"],
        **kw,
    )


def hashes(rows: Sequence[Row]) -> list[str]:
    return [r["hash"] for r in rows]


async def test_block_empty_first_page() -> None:
    calls = Calls()
    result = await collect(paginator([], 3, calls=calls))
    assert result.items == []
    assert result.steps == 0
    assert result.cursor is None
    assert calls.args == [(0, None)]


async def test_block_short_page_is_the_end() -> None:
    rows = chain({10: 1, 11: 1})
    calls = Calls()
    steps = await all_steps(paginator(rows, 3, calls=calls))
    assert flat(steps) == rows
    assert len(calls) == 1
    assert steps[-1].cursor == {"block": 11, "seen": ["0xb-0"]}


async def test_block_full_page_continues_from_its_last_block_inclusive_and_drops_repeats() -> None:
    rows = chain({10: 1, 11: 2, 12: 3, 13: 1})
    calls = Calls()
    steps = await all_steps(paginator(rows, 5, calls=calls))
    assert calls.args == [(0, None), (12, None)]
    # page 1 = 10, 11, 11, 12, 12 (full): block 12 may hold more, so page 2 starts at 12 again
    assert hashes(steps[0].items) == ["0xa-0", "0xb-0", "0xb-1", "0xc-0", "0xc-1"]
    assert steps[0].cursor == {"block": 12, "seen": ["0xc-0", "0xc-1"]}
    assert hashes(steps[1].items) == ["0xc-2", "0xd-0"]  # 0xc-0 and 0xc-1 not yielded twice
    assert flat(steps) == rows


async def test_block_full_page_then_full_page_asks_once_more() -> None:
    rows = chain({10: 1, 11: 2, 12: 3, 13: 1})
    calls = Calls()
    assert (await collect(paginator(rows, 4, calls=calls))).items == rows
    assert calls.args == [(0, None), (12, None), (13, None)]


async def test_block_resume_and_incremental_resync() -> None:
    rows = chain({1: 2, 2: 2, 3: 2, 5: 1})
    pager = paginator(rows, 3)
    await assert_resumes_exactly(pager)
    done = await collect(pager)
    rows.extend(chain({5: 0, 7: 2}))
    later = await collect(pager, roundtrip(done.cursor))
    assert hashes(later.items) == ["0x7-0", "0x7-1"]
    assert (await collect(pager, later.cursor)).steps == 0  # nothing new: nothing yielded


async def test_block_with_more_rows_than_the_cap_raises_instead_of_looping() -> None:
    rows = chain({1: 1, 2: 5, 3: 1})
    calls = Calls()
    got: list[Row] = []
    with pytest.raises(BlockOverflowError) as info:
        await drain(paginator(rows, 3, calls=calls), got)
    assert info.value.block == 2
    assert info.value.cap == 3
    assert isinstance(info.value, PaginationLoopError)
    assert isinstance(info.value, PaginationLimitError)
    assert hashes(got) == ["0x1-0", "0x2-0", "0x2-1", "0x2-2"]  # every row yielded once, no more
    assert calls.args == [(0, None), (2, None)]


async def test_block_unsorted_page_string_blocks_and_end_block() -> None:
    rows = chain({4: 2, 6: 1, 9: 1})
    pages = {0: [rows[2], rows[0], rows[1]], 6: [rows[2]]}
    seen_ends: list[int | None] = []

    async def fetch(start: int, end: int | None) -> Sequence[Row]:
        seen_ends.append(end)
        return pages[start]

    pager = BlockRangePaginator(
        fetch, cap=3, block_of=lambda r: r["blockNumber"], key=lambda r: r["hash"], end_block=8
    )
    steps = await all_steps(pager)
    assert hashes(flat(steps)) == ["0x4-0", "0x4-1", "0x6-0"]
    assert seen_ends == [8, 8]


async def test_block_rows_before_the_start_block_are_ignored_or_a_loop() -> None:
    rows = chain({1: 3, 5: 1})

    async def ignores_start(start: int, end: int | None) -> Sequence[Row]:
        return rows[:3]

    with pytest.raises(PaginationLoopError):
        await collect(
            BlockRangePaginator(
                ignores_start, cap=3, block_of=lambda r: r["blockNumber"], key=lambda r: r["hash"]
            ),
            {"block": 4, "seen": []},
        )


async def test_block_bad_cursor_and_bad_block_number() -> None:
    pager = paginator(chain({1: 1}), 3)
    for bad in (5, {"block": "5", "seen": []}, {"block": 5, "seen": "x"}, {"block": 5, "seen": [[1]]}):
        with pytest.raises(InvalidCursorError):
            await collect(pager, bad)

    async def fetch(start: int, end: int | None) -> Sequence[Row]:
        return [{"blockNumber": "0x1f", "hash": "h"}]

    with pytest.raises(BadResponseError):
        await collect(
            BlockRangePaginator(fetch, cap=3, block_of=lambda r: r["blockNumber"], key=lambda r: r["hash"])
        )


@settings(max_examples=120, deadline=None)
@given(
    counts=st.lists(st.integers(0, 6), max_size=25),
    cap=st.integers(1, 8),
    start=st.integers(0, 10),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_block_property_random_ledger_every_row_exactly_once(
    counts: list[int], cap: int, start: int, shuffle: bool, seed: int
) -> None:
    rows = chain(dict(enumerate(counts)))
    expected = [r for r in rows if int(r["blockNumber"]) >= start]
    overflow = any(n >= cap for block, n in enumerate(counts) if block >= start)
    # A shuffling remote side leaves the order within a block undefined: compare sorted there.
    order = (lambda r: (int(r["blockNumber"]), r["hash"])) if shuffle else None

    def normal(items: list[Row]) -> list[Row]:
        return sorted(items, key=order) if order is not None else items

    async def run() -> None:
        pager = paginator(rows, cap, start_block=start, shuffle=random.Random(seed) if shuffle else None)
        if overflow:
            got: list[Row] = []
            with pytest.raises(BlockOverflowError):
                await drain(pager, got)
            assert len(set(hashes(got))) == len(got)  # never twice, even when it cannot finish
            assert set(hashes(got)) <= set(hashes(expected))
            blocks = [int(r["blockNumber"]) for r in got]
            assert blocks == sorted(blocks)
            return
        steps = await assert_resumes_exactly(pager, order=order)
        assert normal(flat(steps)) == normal(expected)
        blocks = [int(r["blockNumber"]) for r in flat(steps)]
        assert blocks == sorted(blocks)

    asyncio.run(run())

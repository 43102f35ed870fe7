"""Block-range paging over several addresses: whole blocks per page, any server cap, exact resume."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txsync.connectors.evm._paging import BlockLanes
from txsync.errors import DuplicateRecordError, PaginationLoopError
from txsync.pagination import BlockOverflowError, InvalidCursorError


class FakeExplorer:
    """An Etherscan-like list: rows per address, at most ``cap`` rows per answer."""

    def __init__(
        self, rows: dict[str, list[dict[str, Any]]], cap: int, *, ignore_start: bool = False
    ) -> None:
        self.rows = rows
        self.cap = cap
        self.ignore_start = ignore_start
        self.calls: list[tuple[str, int, int | None, int, int]] = []

    async def fetch(
        self, address: str, start: int, end: int | None, page: int, offset: int
    ) -> list[dict[str, Any]]:
        self.calls.append((address, start, end, page, offset))
        assert page * offset <= 10_000, "result window too large"
        size = min(offset, self.cap)
        rows = [
            r
            for r in self.rows.get(address, [])
            if (self.ignore_start or r["block"] >= start) and (end is None or r["block"] <= end)
        ]
        return rows[(page - 1) * size : page * size]


def lanes(explorer: FakeExplorer, addresses: Sequence[str], page_size: int) -> BlockLanes:
    return BlockLanes(
        explorer.fetch,
        addresses,
        page_size=page_size,
        block_of=lambda row: int(row["block"]),
        base_key_of=lambda row: row["id"],
    )


async def collect(paginator: BlockLanes, cursor: Any = None) -> tuple[list[str], list[Any]]:
    keys: list[str] = []
    cursors: list[Any] = []
    async for step in paginator.steps(cursor):
        keys.extend(k for k, _ in step.items)
        cursors.append(step.cursor)
    return keys, cursors


def rows_of(blocks: Sequence[int], tag: str = "a") -> list[dict[str, Any]]:
    return [{"block": b, "id": f"{tag}{n}"} for n, b in enumerate(blocks)]


# A block (105) that straddles every page boundary of a cap of 4.
BLOCKS = [100, 101, 101, 103, 105, 105, 105, 106, 107, 107, 110, 111]


@pytest.mark.parametrize(("cap", "page_size"), [(4, 4), (4, 1000), (1000, 10_000), (5, 10_000), (12, 12)])
def test_every_row_once_whatever_the_cap(cap: int, page_size: int) -> None:
    explorer = FakeExplorer({"a": rows_of(BLOCKS)}, cap)
    keys, cursors = asyncio.run(collect(lanes(explorer, ["a"], page_size)))
    assert keys == [f"a{n}" for n in range(len(BLOCKS))]
    blocks = [c["block"] for c in cursors]
    assert blocks == sorted(set(blocks)), "cursors move forward, never twice the same"
    assert cursors[-1] == {"block": 112}


def test_a_page_never_cuts_a_block() -> None:
    explorer = FakeExplorer({"a": rows_of(BLOCKS)}, 4)
    paginator = lanes(explorer, ["a"], 4)

    async def pages() -> list[list[int]]:
        return [[row["block"] for _, row in step.items] async for step in paginator.steps(None)]

    seen: set[int] = set()
    for page in asyncio.run(pages()):
        assert not seen & set(page), "a block's rows are all in one page"
        seen |= set(page)


def test_a_short_answer_is_not_trusted_until_a_longer_one_was_seen() -> None:
    """The server answers 3 rows although 10,000 were asked: paging continues from the last block."""
    explorer = FakeExplorer({"a": rows_of([1, 2, 3, 4, 5, 6, 7])}, 3)
    keys, _ = asyncio.run(collect(lanes(explorer, ["a"], 10_000)))
    assert len(keys) == 7
    assert [c[1] for c in explorer.calls] == [
        0,
        3,
        5,
        7,
    ]  # the last answer (1 row) is shorter than 3: complete


def test_resume_from_any_cursor_yields_exactly_the_rest() -> None:
    explorer = FakeExplorer({"a": rows_of(BLOCKS)}, 4)
    all_keys, cursors = asyncio.run(collect(lanes(explorer, ["a"], 4)))
    for cursor in cursors:
        rest, _ = asyncio.run(collect(lanes(explorer, ["a"], 4), cursor))
        done = [
            k
            for k, r in zip(all_keys, sorted(rows_of(BLOCKS), key=lambda r: r["block"]), strict=True)
            if r["block"] < cursor["block"]
        ]
        assert done + rest == all_keys


def test_a_block_larger_than_an_answer_is_paged_by_page_number() -> None:
    explorer = FakeExplorer({"a": rows_of([5] * 9 + [6, 7])}, 4)
    keys, _ = asyncio.run(collect(lanes(explorer, ["a"], 10_000)))
    assert keys == [f"a{n}" for n in range(11)]
    assert ("a", 5, 5, 2, 4) in explorer.calls and ("a", 5, 5, 3, 4) in explorer.calls


def test_a_block_beyond_the_result_window_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block needing more than ``page * offset <= window`` rows stops with BlockOverflowError."""
    from txsync.connectors.evm import _paging

    monkeypatch.setattr(_paging, "MAX_WINDOW", 8)
    explorer = FakeExplorer({"a": rows_of([5] * 12)}, 4)
    with pytest.raises(BlockOverflowError):
        asyncio.run(collect(lanes(explorer, ["a"], 10_000)))


def test_an_explorer_ignoring_startblock_is_a_loop_error() -> None:
    explorer = FakeExplorer({"a": rows_of([1, 2, 3, 4, 5, 6])}, 3, ignore_start=True)
    with pytest.raises(PaginationLoopError):
        asyncio.run(collect(lanes(explorer, ["a"], 3)))


def test_several_addresses_merge_and_share_rows() -> None:
    """One transfer listed for two own addresses is one row; blocks of both come in one page."""
    shared = {"block": 7, "id": "x"}
    explorer = FakeExplorer(
        {"a": [*rows_of([1, 3, 5], "a"), shared, *rows_of([9], "a9")], "b": [*rows_of([2, 4], "b"), shared]},
        2,
    )
    keys, cursors = asyncio.run(collect(lanes(explorer, ["a", "b"], 2)))
    assert sorted(keys) == sorted(["a0", "a1", "a2", "x", "a90", "b0", "b1"])
    assert keys.count("x") == 1
    assert cursors[-1] == {"block": 10}


def test_identical_rows_of_one_block_stay_distinct() -> None:
    explorer = FakeExplorer({"a": [{"block": 3, "id": "t"}, {"block": 3, "id": "t"}]}, 10)
    keys, _ = asyncio.run(collect(lanes(explorer, ["a"], 10)))
    assert keys == ["t", "t#1"]


@pytest.mark.parametrize("cursor", [{"block": -1}, {"block": "7"}, {"start": 3}, [1], "x", {"block": True}])
def test_foreign_cursors_are_refused(cursor: Any) -> None:
    explorer = FakeExplorer({"a": rows_of([1])}, 3)
    with pytest.raises(InvalidCursorError):
        asyncio.run(collect(lanes(explorer, ["a"], 3), cursor))


@settings(max_examples=60, deadline=None)
@given(
    per_address=st.lists(st.lists(st.integers(0, 30), max_size=25), min_size=1, max_size=3),
    cap=st.integers(1, 8),
    extra=st.integers(0, 5),
    cut=st.integers(0, 10),
)
def test_property_all_rows_once_and_resume(
    per_address: list[list[int]], cap: int, extra: int, cut: int
) -> None:
    addresses = [f"addr{i}" for i in range(len(per_address))]
    data = {a: rows_of(sorted(blocks), a) for a, blocks in zip(addresses, per_address, strict=True)}
    explorer = FakeExplorer(data, cap)
    page_size = cap + extra
    try:
        keys, cursors = asyncio.run(collect(lanes(explorer, addresses, page_size)))
    except BlockOverflowError:
        return  # a block with more rows than the window can page: reported, never looped
    expected = sorted(r["id"] for rows in data.values() for r in rows)
    assert sorted(keys) == expected
    if cursors:
        cursor = cursors[min(cut, len(cursors) - 1)]
        rest, _ = asyncio.run(collect(lanes(explorer, addresses, page_size), cursor))
        before = sorted(r["id"] for rows in data.values() for r in rows if r["block"] < cursor["block"])
        assert sorted(before + rest) == expected


def test_rows_with_a_key_of_their_own_are_never_counted_twice() -> None:
    """A row whose key names it alone (a hash, a log index) listed twice is one row; two different
    rows under such a key are refused. Without such a key, identical rows stay two transfers."""
    row = {"block": 3, "id": "h1", "v": 1}

    def unique_lanes(explorer: FakeExplorer) -> BlockLanes:
        return BlockLanes(
            explorer.fetch,
            ["a"],
            page_size=10,
            block_of=lambda r: int(r["block"]),
            base_key_of=lambda r: r["id"],
            unique_key=lambda r: True,
        )

    keys, _ = asyncio.run(collect(unique_lanes(FakeExplorer({"a": [row, dict(row)]}, 10))))
    assert keys == ["h1"]
    with pytest.raises(DuplicateRecordError, match="twice with different content"):
        asyncio.run(collect(unique_lanes(FakeExplorer({"a": [row, dict(row, v=2)]}, 10))))


def test_a_page_served_again_inside_one_block_is_a_loop_error() -> None:
    """Paging one full block by page number, an explorer that answers page 1 for every page: a loop
    error, never the block's rows counted again as 'identical transfers'."""

    class SamePage(FakeExplorer):
        async def fetch(
            self, address: str, start: int, end: int | None, page: int, offset: int
        ) -> list[dict[str, Any]]:
            return await super().fetch(address, start, end, 1, offset)

    explorer = SamePage({"a": rows_of([5] * 9 + [6, 7])}, 4)
    with pytest.raises(PaginationLoopError, match="repeats an earlier page"):
        asyncio.run(collect(lanes(explorer, ["a"], 10_000)))


def test_an_earlier_page_served_again_is_a_loop_error_never_a_cut_block() -> None:
    """The answer for the next start block is the previous answer again: it holds the rows of the
    block the paging resumes from (cut by the cap) and earlier ones. Trusting its tail took the cut
    block as complete and lost its other rows; it is a loop error."""

    class Replaying(FakeExplorer):
        first: list[dict[str, Any]] | None = None

        async def fetch(
            self, address: str, start: int, end: int | None, page: int, offset: int
        ) -> list[dict[str, Any]]:
            answer = await super().fetch(address, start, end, page, offset)
            if self.first is None:
                self.first = answer
                return answer
            return self.first

    explorer = Replaying({"a": rows_of(BLOCKS)}, 4)
    with pytest.raises(PaginationLoopError, match="holds earlier blocks"):
        asyncio.run(collect(lanes(explorer, ["a"], 4)))

"""Id cursor (Binance fromId, Bitstamp since_id) and token (Esplora last_seen_txid) paginators."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txsync.errors import BadResponseError, PaginationLoopError
from txsync.pagination import IdCursorPaginator, InvalidCursorError, TokenPaginator, collect

from .helpers import Calls, all_steps, assert_resumes_exactly, flat

Row = dict[str, Any]


def rows_of(ids: Sequence[int]) -> list[Row]:
    return [{"id": i} for i in ids]


def id_server(
    ids: Sequence[int], limit: int, *, inclusive: bool, calls: Calls | None = None
) -> Callable[[int], Awaitable[Sequence[Row]]]:
    ordered = sorted(ids)

    async def fetch(position: int) -> Sequence[Row]:
        if calls is not None:
            calls(position)
        after = [i for i in ordered if (i >= position if inclusive else i > position)]
        return rows_of(after[:limit])

    return fetch


def ids(rows: Sequence[Row]) -> list[int]:
    return [int(r["id"]) for r in rows]


# --- id cursor ----------------------------------------------------------------------------------


async def test_binance_from_id_is_inclusive_next_is_last_plus_one() -> None:
    calls = Calls()
    paginator = IdCursorPaginator(
        id_server([3, 5, 8, 13, 21], 2, inclusive=True, calls=calls), id_of=lambda r: r["id"], limit=2
    )
    steps = await all_steps(paginator)
    assert [ids(s.items) for s in steps] == [[3, 5], [8, 13], [21]]
    assert [s.cursor for s in steps] == [6, 14, 22]
    assert calls.args == [(0,), (6,), (14,)]


async def test_bitstamp_since_id_is_exclusive_next_is_last() -> None:
    calls = Calls()
    paginator = IdCursorPaginator(
        id_server([3, 5, 8, 13], 2, inclusive=False, calls=calls),
        id_of=lambda r: r["id"],
        inclusive=False,
        limit=2,
    )
    steps = await all_steps(paginator)
    assert [s.cursor for s in steps] == [5, 13]
    assert calls.args == [(0,), (5,), (13,)]  # a full last page: one more (empty) request


async def test_id_empty_first_page() -> None:
    paginator = IdCursorPaginator(id_server([], 5, inclusive=True), id_of=lambda r: r["id"], limit=5)
    result = await collect(paginator)
    assert result.items == []
    assert result.steps == 0
    assert result.cursor is None


async def test_id_without_limit_pages_until_empty() -> None:
    calls = Calls()
    paginator = IdCursorPaginator(
        id_server([1, 2, 3], 2, inclusive=True, calls=calls), id_of=lambda r: r["id"]
    )
    assert ids((await collect(paginator)).items) == [1, 2, 3]
    assert calls.args == [(0,), (3,), (4,)]


async def test_id_out_of_order_page_is_sorted_and_cursor_takes_the_max() -> None:
    pages = {0: rows_of([7, 2, 9, 4]), 10: []}

    async def fetch(position: int) -> Sequence[Row]:
        return pages[position]

    steps = await all_steps(IdCursorPaginator(fetch, id_of=lambda r: r["id"]))
    assert [ids(s.items) for s in steps] == [[2, 4, 7, 9]]
    assert steps[0].cursor == 10


async def test_id_duplicates_across_and_within_pages_are_dropped() -> None:
    # The remote side repeats the boundary row and one row twice within a page.
    pages = {0: rows_of([1, 2, 2, 3]), 4: rows_of([2, 3, 4, 5, 5]), 6: rows_of([5])}

    async def fetch(position: int) -> Sequence[Row]:
        return pages.get(position, [])

    result = await collect(IdCursorPaginator(fetch, id_of=lambda r: r["id"], limit=4))
    assert ids(result.items) == [1, 2, 3, 4, 5]
    assert result.cursor == 6


async def test_id_string_ids_compare_as_integers() -> None:
    rows = [{"id": "769800519366885376"}, {"id": "99"}, {"id": "100"}]

    async def fetch(position: int) -> Sequence[Row]:
        return [r for r in rows if int(r["id"]) >= position]

    steps = await all_steps(IdCursorPaginator(fetch, id_of=lambda r: r["id"]))
    assert [r["id"] for r in steps[0].items] == ["99", "100", "769800519366885376"]
    assert steps[0].cursor == 769800519366885377


async def test_id_remote_ignoring_the_position_raises_loop_error() -> None:
    async def fetch(position: int) -> Sequence[Row]:
        return rows_of([1, 2, 3])

    with pytest.raises(PaginationLoopError):
        await collect(IdCursorPaginator(fetch, id_of=lambda r: r["id"], limit=3))
    with pytest.raises(PaginationLoopError):
        await collect(IdCursorPaginator(fetch, id_of=lambda r: r["id"]))


async def test_id_exclusive_bound_echoed_by_the_remote_side_ends_paging() -> None:
    # A remote side that treats since_id inclusively echoes the last row: that is the end, not a loop.
    async def fetch(position: int) -> Sequence[Row]:
        return rows_of([i for i in (1, 2, 3) if i >= position])

    for limit in (None, 5):
        result = await collect(
            IdCursorPaginator(fetch, id_of=lambda r: r["id"], inclusive=False, limit=limit)
        )
        assert ids(result.items) == [1, 2, 3]
        assert result.cursor == 3


async def test_id_resume_from_mid_cursor() -> None:
    paginator = IdCursorPaginator(
        id_server(range(1, 11), 3, inclusive=True), id_of=lambda r: r["id"], limit=3
    )
    assert ids((await collect(paginator, 5)).items) == [5, 6, 7, 8, 9, 10]
    await assert_resumes_exactly(paginator)


async def test_id_bad_ids_and_cursors_are_refused() -> None:
    async def fetch(position: int) -> Sequence[Row]:
        return [{"id": "12ab"}]

    with pytest.raises(BadResponseError):
        await collect(IdCursorPaginator(fetch, id_of=lambda r: r["id"]))
    with pytest.raises(InvalidCursorError):
        await collect(IdCursorPaginator(fetch, id_of=lambda r: r["id"]), "5")


@settings(max_examples=80, deadline=None)
@given(
    id_set=st.sets(st.integers(1, 10_000), max_size=40),
    limit=st.integers(2, 8),
    inclusive=st.booleans(),
    shuffle=st.booleans(),
    echo=st.booleans(),
    as_str=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_id_property_every_row_exactly_once_in_order(
    id_set: set[int], limit: int, inclusive: bool, shuffle: bool, echo: bool, as_str: bool, seed: int
) -> None:
    ordered = sorted(id_set)
    rng = random.Random(seed)

    async def fetch(position: int) -> Sequence[Row]:
        after = [i for i in ordered if (i >= position if inclusive else i > position)][:limit]
        if echo:
            before = [i for i in ordered if i <= position and (i < position or not inclusive)]
            if before and after:  # repeat a row already delivered, still at most `limit` rows
                after = [before[-1], *after[: limit - 1]]
        page = [{"id": str(i) if as_str else i} for i in after]
        if shuffle:
            rng.shuffle(page)
        return page

    async def run() -> None:
        paginator = IdCursorPaginator(fetch, id_of=lambda r: r["id"], inclusive=inclusive, limit=limit)
        steps = await assert_resumes_exactly(paginator)
        assert ids(flat(steps)) == ordered

    asyncio.run(run())


# --- token (Esplora) ----------------------------------------------------------------------------

TXIDS = [f"{i:064x}" for i in range(100, 90, -1)]  # newest first, as Esplora lists them


def esplora(
    txids: list[str], per_page: int, *, repeat_first_at_end: bool = False, calls: Calls | None = None
) -> Callable[[str | int | None], Awaitable[Sequence[Row]]]:
    async def fetch(after: str | int | None) -> Sequence[Row]:
        if calls is not None:
            calls(after)
        start = 0 if after is None else txids.index(str(after)) + 1
        page = txids[start : start + per_page]
        if not page and repeat_first_at_end:
            page = txids[:per_page]  # some electrum-backed instances serve the first page again
        return [{"txid": t} for t in page]

    return fetch


async def test_token_pages_after_the_last_txid() -> None:
    calls = Calls()
    paginator = TokenPaginator(esplora(TXIDS, 4, calls=calls), key=lambda r: r["txid"])
    steps = await all_steps(paginator)
    assert [r["txid"] for r in flat(steps)] == TXIDS
    assert [s.cursor for s in steps] == [TXIDS[3], TXIDS[7], TXIDS[9]]
    assert calls.args == [(None,), (TXIDS[3],), (TXIDS[7],), (TXIDS[9],)]


async def test_token_empty_first_page_and_resume() -> None:
    assert (await collect(TokenPaginator(esplora([], 4), key=lambda r: r["txid"]))).steps == 0
    paginator = TokenPaginator(esplora(TXIDS, 3), key=lambda r: r["txid"])
    assert [r["txid"] for r in (await collect(paginator, TXIDS[4])).items] == TXIDS[5:]
    await assert_resumes_exactly(paginator)


async def test_token_first_page_served_again_stops_or_raises() -> None:
    fetch = esplora(TXIDS, 4, repeat_first_at_end=True)
    result = await collect(TokenPaginator(fetch, key=lambda r: r["txid"], on_all_seen="stop"))
    assert [r["txid"] for r in result.items] == TXIDS
    with pytest.raises(PaginationLoopError):
        await collect(TokenPaginator(fetch, key=lambda r: r["txid"]))


async def test_token_leading_back_to_a_used_token_raises() -> None:
    pages = {None: ["a", "b"], "b": ["c", "a", "b"]}

    async def fetch(after: str | int | None) -> Sequence[Row]:
        assert after is None or isinstance(after, str)
        return [{"txid": t} for t in pages[after]]

    with pytest.raises(PaginationLoopError):
        await collect(TokenPaginator(fetch, key=lambda r: r["txid"]))


async def test_token_refuses_a_foreign_cursor() -> None:
    with pytest.raises(InvalidCursorError):
        await collect(TokenPaginator(esplora(TXIDS, 3), key=lambda r: r["txid"]), ["x"])

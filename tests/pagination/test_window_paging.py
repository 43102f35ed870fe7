"""Time windows: the split, ms helpers, the window paginator and nested paging inside windows."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from txsync.pagination import (
    InvalidCursorError,
    OffsetPaginator,
    PageNumberPaginator,
    PaginationLimitError,
    SingleRequest,
    Window,
    WindowPaginator,
    collect,
    from_ms,
    split_windows,
    to_ms,
)

from .helpers import Calls, all_steps, assert_resumes_exactly, flat, roundtrip

Row = dict[str, int]
MS = timedelta(milliseconds=1)
ORIGIN = datetime(2017, 7, 14, 2, 40, tzinfo=UTC)


def floor_ms(when: datetime) -> datetime:
    return when - timedelta(microseconds=when.microsecond % 1000)


# --- split and ms helpers -----------------------------------------------------------------------


def test_ms_conversion_is_exact_and_floors() -> None:
    when = datetime(2022, 8, 26, 5, 52, 26, 999_999, tzinfo=UTC)
    assert to_ms(when) == 1661493146999
    assert from_ms(1661493146999) == datetime(2022, 8, 26, 5, 52, 26, 999_000, tzinfo=UTC)
    assert to_ms(datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC)) == -1
    assert from_ms(-1).tzinfo is UTC


def test_binance_windows_have_inclusive_end_one_ms_before_the_next_start() -> None:
    end = ORIGIN + timedelta(days=200)
    windows = list(split_windows(ORIGIN, end, timedelta(days=90)))
    assert [w.span for w in windows] == [timedelta(days=90), timedelta(days=90), timedelta(days=20)]
    for left, right in itertools.pairwise(windows):
        assert left.end == right.start
        assert left.end_ms_inclusive + 1 == right.start_ms
        assert left.as_ms() == (left.start_ms, right.start_ms - 1)
        assert left.as_ms(inclusive_end=False) == (left.start_ms, right.start_ms)
    # Binance wants start..end < 90 days: an inclusive end keeps a full window 1 ms short of it.
    assert windows[0].end_ms_inclusive - windows[0].start_ms == timedelta(days=90) // MS - 1
    assert windows[0].start == ORIGIN
    assert windows[-1].end == end
    assert windows[0].contains(ORIGIN)
    assert not windows[0].contains(windows[1].start)


def test_split_edge_cases() -> None:
    assert list(split_windows(ORIGIN, ORIGIN, timedelta(days=1))) == []
    assert list(split_windows(ORIGIN, ORIGIN - MS, timedelta(days=1))) == []
    assert list(split_windows(ORIGIN, ORIGIN + MS, timedelta(days=1))) == [
        Window(to_ms(ORIGIN), to_ms(ORIGIN) + 1)
    ]
    with pytest.raises(ValueError, match="aware"):
        list(split_windows(datetime(2020, 1, 1), ORIGIN, timedelta(days=1)))
    with pytest.raises(ValueError, match="millisecond"):
        list(split_windows(ORIGIN, ORIGIN + timedelta(days=1), timedelta(microseconds=999)))
    with pytest.raises(ValueError, match="end after"):
        Window(5, 5)


def test_split_converts_other_timezones_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    window = next(
        split_windows(datetime(2021, 6, 1, 2, 0, tzinfo=paris), ORIGIN.replace(year=2022), timedelta(days=1))
    )
    assert window.start == datetime(2021, 6, 1, 0, 0, tzinfo=UTC)
    assert window.start.tzinfo is UTC
    assert Window.between(window.start, window.end) == window
    assert window.label == "2021-06-01T00:00:00+00:00/2021-06-02T00:00:00+00:00"


datetimes = st.datetimes(
    min_value=datetime(2009, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(origin=datetimes, end=datetimes, span_ms=st.integers(1, 400 * 86_400_000))
def test_windows_property_no_gap_no_overlap_exact_cover(
    origin: datetime, end: datetime, span_ms: int
) -> None:
    max_span = timedelta(milliseconds=span_ms) + timedelta(microseconds=(span_ms * 7) % 1000)
    lo, hi = to_ms(origin), to_ms(end)
    assume((hi - lo) // span_ms <= 2000)
    windows = list(split_windows(origin, end, max_span))
    if hi <= lo:
        assert windows == []
        return
    assert windows[0].start == floor_ms(origin)
    assert windows[0].start_ms == lo
    assert windows[-1].end == floor_ms(end)
    assert windows[-1].end_ms == hi
    for window in windows:
        assert timedelta(0) < window.span <= max_span
        assert window.start.tzinfo is UTC
        assert window.end.tzinfo is UTC
    for left, right in itertools.pairwise(windows):
        assert left.end == right.start  # no gap, no overlap
        assert left.end_ms_inclusive + 1 == right.start_ms
        assert left.span == timedelta(milliseconds=span_ms)  # only the last one may be shorter
    assert sum(w.end_ms - w.start_ms for w in windows) == hi - lo


@settings(max_examples=100, deadline=None)
@given(
    origin=datetimes,
    length_ms=st.integers(0, 10**12),
    span_ms=st.integers(1, 10**12),
    pick=st.integers(0, 10**6),
)
def test_windows_property_resuming_from_any_window_cursor_yields_the_remaining_windows(
    origin: datetime, length_ms: int, span_ms: int, pick: int
) -> None:
    assume(length_ms // span_ms <= 60)
    end = origin + timedelta(milliseconds=length_ms)
    expected = list(split_windows(origin, end, timedelta(milliseconds=span_ms)))

    async def run() -> None:
        fetched: list[Window] = []

        def inner(window: Window) -> SingleRequest[Window]:
            async def fetch() -> Sequence[Window]:
                fetched.append(window)
                return [window] if window.start_ms % 2 else []

            return SingleRequest(fetch)

        paginator = WindowPaginator(inner, origin=origin, end=end, max_span=timedelta(milliseconds=span_ms))
        steps = await all_steps(paginator)
        assert fetched == expected
        assert len(steps) == len(expected)
        assert list(paginator.windows()) == expected
        for index, step in enumerate(steps):
            assert step.cursor == {"start": expected[index].end_ms}
            fetched.clear()
            rest = await collect(paginator, roundtrip(step.cursor))
            assert fetched == expected[index + 1 :]
            assert rest.items == flat(steps[index + 1 :])
        if expected:
            window = expected[pick % len(expected)]
            fetched.clear()
            await collect(paginator, paginator.cursor_at(window.start))
            assert fetched == expected[pick % len(expected) :]

    asyncio.run(run())


# --- window paginator ---------------------------------------------------------------------------


def deposit_ledger(times_ms: Sequence[int]) -> list[Row]:
    return [{"id": i, "insertTime": t} for i, t in enumerate(sorted(times_ms))]


def deposits_api(
    rows: list[Row], calls: Calls | None = None
) -> Callable[[int, int, int, int], Awaitable[Sequence[Row]]]:
    """Binance-like: startTime..endTime both inclusive, offset/limit inside."""

    async def fetch(start_ms: int, end_ms: int, offset: int, limit: int) -> Sequence[Row]:
        if calls is not None:
            calls(start_ms, end_ms, offset, limit)
        assert end_ms >= start_ms
        inside = [r for r in rows if start_ms <= r["insertTime"] <= end_ms]
        return inside[offset : offset + limit]

    return fetch


def windowed(
    rows: list[Row], *, end: datetime, span: timedelta, limit: int, calls: Calls | None = None
) -> WindowPaginator[Row]:
    api = deposits_api(rows, calls)

    def inner(window: Window) -> OffsetPaginator[Row]:
        start_ms, end_ms = window.as_ms()
        return OffsetPaginator(lambda offset, lim: api(start_ms, end_ms, offset, lim), limit=limit)

    return WindowPaginator(inner, origin=ORIGIN, end=end, max_span=span)


async def test_nested_offset_inside_windows_with_boundary_rows() -> None:
    base = to_ms(ORIGIN)
    day = 86_400_000
    # rows on both sides of each window boundary, and a window holding more rows than a page
    times = [base, base + day - 1, base + day, base + day + 1, base + day + 2, base + 3 * day - 1]
    rows = deposit_ledger(times)
    calls = Calls()
    paginator = windowed(rows, end=ORIGIN + timedelta(days=3), span=timedelta(days=1), limit=2, calls=calls)
    steps = await assert_resumes_exactly(paginator)
    assert flat(steps) == rows
    assert [s.cursor for s in steps] == [
        {"start": base + day},  # window 1: one full page (then an empty one): done
        {"start": base + day, "end": base + 2 * day, "inner": 2},  # window 2: a full page, then a short one
        {"start": base + 2 * day},
        {"start": base + 3 * day},
    ]
    assert steps[0].label == "2017-07-14T02:40:00+00:00/2017-07-15T02:40:00+00:00"


async def test_empty_windows_still_advance_the_cursor() -> None:
    paginator = windowed([], end=ORIGIN + timedelta(days=3), span=timedelta(days=1), limit=5)
    steps = await all_steps(paginator)
    assert [list(s.items) for s in steps] == [[], [], []]
    assert steps[-1].cursor == {"start": to_ms(ORIGIN + timedelta(days=3))}


async def test_resume_inside_a_window_keeps_that_window_even_if_max_span_changed() -> None:
    base = to_ms(ORIGIN)
    rows = deposit_ledger([base + i * 3_600_000 for i in range(30)])  # hourly rows for 30 hours
    end = ORIGIN + timedelta(days=2)
    paginator = windowed(rows, end=end, span=timedelta(days=1), limit=4)
    mid = {"start": base, "end": base + 86_400_000, "inner": 8}
    narrower = windowed(rows, end=end, span=timedelta(hours=5), limit=4)
    assert (await collect(paginator, mid)).items == rows[8:]
    assert (await collect(narrower, mid)).items == rows[8:]


async def test_end_defaults_to_the_clock_and_later_syncs_continue_from_the_cursor() -> None:
    base = to_ms(ORIGIN)
    rows = deposit_ledger([base + 10, base + 5 * 86_400_000])
    now = [ORIGIN + timedelta(days=2)]
    api = deposits_api(rows)

    def inner(window: Window) -> SingleRequest[Row]:
        async def fetch() -> Sequence[Row]:
            return await api(window.start_ms, window.end_ms_inclusive, 0, 1000)

        return SingleRequest(fetch, limit=1000)

    paginator = WindowPaginator(inner, origin=ORIGIN, max_span=timedelta(days=1), clock=lambda: now[0])
    first = await collect(paginator)
    assert first.items == rows[:1]
    assert first.cursor == {"start": base + 2 * 86_400_000}
    now[0] = ORIGIN + timedelta(days=6)
    second = await collect(paginator, first.cursor)
    assert second.items == rows[1:]
    assert second.steps == 4


async def test_nested_page_number_inside_windows() -> None:
    base = to_ms(ORIGIN)
    rows = deposit_ledger([base + i * 1000 for i in range(11)])
    api = deposits_api(rows)

    def inner(window: Window) -> PageNumberPaginator[Row]:
        async def fetch(page: int, size: int) -> Sequence[Row]:
            return await api(window.start_ms, window.end_ms_inclusive, (page - 1) * size, size)

        return PageNumberPaginator(fetch, size=3)

    paginator = WindowPaginator(
        inner, origin=ORIGIN, end=ORIGIN + timedelta(seconds=12), max_span=timedelta(seconds=5)
    )
    steps = await assert_resumes_exactly(paginator)
    assert flat(steps) == rows


async def test_single_request_full_response_raises_limit_error() -> None:
    async def fetch() -> Sequence[int]:
        return [1, 2, 3]

    with pytest.raises(PaginationLimitError, match="shorter time windows"):
        await collect(SingleRequest(fetch, limit=3))
    assert (await collect(SingleRequest(fetch, limit=4))).items == [1, 2, 3]
    assert (await collect(SingleRequest(fetch), "done")).items == []


@pytest.mark.parametrize(
    "cursor",
    [5, "x", {"begin": 1}, {"start": "1"}, {"start": 1, "inner": 3}, {"start": 5, "end": 5, "inner": 3}],
)
async def test_window_cursor_of_the_wrong_shape_is_refused(cursor: Any) -> None:
    paginator = windowed([], end=ORIGIN + timedelta(days=1), span=timedelta(days=1), limit=5)
    with pytest.raises(InvalidCursorError):
        await collect(paginator, cursor)


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 20 * 3_600_000 - 1), max_size=30),
    span_hours=st.integers(1, 8),
    limit=st.integers(1, 6),
)
def test_nested_property_every_row_exactly_once_and_resumable(
    offsets: list[int], span_hours: int, limit: int
) -> None:
    base = to_ms(ORIGIN)
    rows = deposit_ledger([base + o for o in offsets])

    async def run() -> None:
        paginator = windowed(
            rows, end=ORIGIN + timedelta(hours=20), span=timedelta(hours=span_hours), limit=limit
        )
        steps = await assert_resumes_exactly(paginator)
        assert sorted(r["id"] for r in flat(steps)) == [r["id"] for r in rows]

    asyncio.run(run())

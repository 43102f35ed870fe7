"""Time windows: split ``[origin, end)`` into consecutive windows of at most ``max_span``.

Everything runs at millisecond resolution, the unit exchanges use: ``origin`` and ``end`` are
floored to the millisecond, so the windows cover exactly ``[floor_ms(origin), floor_ms(end))`` with no
gap and no overlap, in datetimes and in milliseconds alike (``end_ms_inclusive + 1`` of one window
is ``start_ms`` of the next). A sync that stops at ``end`` resumes from ``floor_ms(end)``, so the
sub-millisecond remainder is read by the next sync, never lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeGuard, TypeVar

from txsync.connector.base import Cursor

from ._core import InvalidCursorError, PaginationLimitError, Paginator, Step

__all__ = [
    "SingleRequest",
    "Window",
    "WindowPaginator",
    "from_ms",
    "split_windows",
    "to_ms",
]

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), not a naive one")
    return value.astimezone(UTC)


def to_ms(when: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime, floored (exact integer arithmetic)."""
    return (_aware(when, "the datetime") - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of ``ms`` milliseconds since the Unix epoch (exact, no float)."""
    return _EPOCH + ms * _MS


def _span_ms(max_span: timedelta) -> int:
    span = max_span // _MS
    if span < 1:
        raise ValueError("max_span must be at least one millisecond")
    return span


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open time range ``[start, end)`` in milliseconds since the epoch.

    Build one with :meth:`between` or get them from :func:`split_windows`.
    """

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError("a window must end after it starts")

    @classmethod
    def between(cls, start: datetime, end: datetime) -> Window:
        """The window ``[start, end)`` of two aware datetimes, floored to the millisecond."""
        return cls(to_ms(start), to_ms(end))

    @property
    def start(self) -> datetime:
        """First instant of the window (aware UTC)."""
        return from_ms(self.start_ms)

    @property
    def end(self) -> datetime:
        """First instant after the window (aware UTC): the next window's ``start``."""
        return from_ms(self.end_ms)

    @property
    def end_ms_inclusive(self) -> int:
        """Last millisecond of the window, for APIs whose end bound is inclusive (Binance ``endTime``)."""
        return self.end_ms - 1

    @property
    def span(self) -> timedelta:
        """Length of the window."""
        return (self.end_ms - self.start_ms) * _MS

    def as_ms(self, *, inclusive_end: bool = True) -> tuple[int, int]:
        """``(start_ms, end_ms)`` with the end inclusive (default) or exclusive."""
        return self.start_ms, self.end_ms_inclusive if inclusive_end else self.end_ms

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` falls inside the window."""
        return self.start_ms <= to_ms(when) < self.end_ms

    @property
    def label(self) -> str:
        """``start/end`` in ISO 8601, for reports."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def _split(start_ms: int, end_ms: int, span_ms: int) -> Iterator[Window]:
    while start_ms < end_ms:
        stop = min(start_ms + span_ms, end_ms)
        yield Window(start_ms, stop)
        start_ms = stop


def split_windows(origin: datetime, end: datetime, max_span: timedelta) -> Iterator[Window]:
    """Consecutive windows of at most ``max_span`` covering exactly ``[origin, end)`` (to the ms).

    Nothing when ``end`` is not after ``origin``. Each window starts where the previous one ended;
    all but the last span exactly ``max_span`` (floored to the millisecond).
    """
    return _split(to_ms(origin), to_ms(end), _span_ms(max_span))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SingleRequest(Generic[T]):
    """A "paginator" of one request returning everything at once (an unpaged window query).

    ``limit`` (optional) is the most rows the request may return: a response that long may have
    been cut, so it raises :class:`PaginationLimitError` (use shorter windows) rather than losing
    rows silently. Its cursor is ``"done"`` once the request has been answered.
    """

    DONE = "done"

    def __init__(self, fetch: Callable[[], Awaitable[Sequence[T]]], *, limit: int | None = None) -> None:
        self.fetch = fetch
        self.limit = limit

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[T]]:
        """Yield the response as one step, unless ``cursor`` says it was already received."""
        if cursor is not None:
            if cursor != self.DONE:
                raise InvalidCursorError("a single request cursor must be null or 'done'")
            return
        items = await self.fetch()
        if self.limit is not None and len(items) >= self.limit:
            raise PaginationLimitError(
                f"a request returned {len(items)} rows, its limit of {self.limit}: more may exist; "
                "use shorter time windows"
            )
        if items:
            yield Step(items, self.DONE)


class WindowPaginator(Generic[T]):
    """Runs an inner paginator over consecutive time windows from ``origin`` to ``end``.

    ``inner(window)`` builds the paginator of one window: a :class:`SingleRequest` when the API
    returns a window in one response, or an offset / page-number paginator when it pages inside the
    window (Binance deposits: 90-day windows, offset/limit inside). ``end`` defaults to the current
    time (read by ``clock`` when paging starts).

    Cursors are dicts: ``{"start": ms}`` at a window boundary, and
    ``{"start": ms, "end": ms, "inner": cursor}`` inside a window (its exact bounds are kept so a
    changed ``max_span`` cannot misplace the inner cursor). Each window yields at least one step
    (empty when the window holds nothing), its last step carrying the next window's cursor, so the
    checkpoint advances window by window.
    """

    def __init__(
        self,
        inner: Callable[[Window], Paginator[T]],
        *,
        origin: datetime,
        max_span: timedelta,
        end: datetime | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.inner = inner
        self.origin_ms = to_ms(origin)
        self.span_ms = _span_ms(max_span)
        self.end = None if end is None else _aware(end, "end")
        self.clock = clock

    def cursor_at(self, when: datetime) -> Cursor:
        """A cursor that starts paging at ``when`` (for syncs since a known time)."""
        return {"start": to_ms(when)}

    def _parse(self, cursor: Cursor) -> tuple[int, Window | None, Any]:
        if cursor is None:
            return self.origin_ms, None, None
        if not isinstance(cursor, dict) or not _is_ms(cursor.get("start")):
            raise InvalidCursorError("a time window cursor must be a dict with an integer 'start'")
        start: int = cursor["start"]
        inner = cursor.get("inner")
        if inner is None:
            return start, None, None
        end = cursor.get("end")
        if not _is_ms(end) or end <= start:
            raise InvalidCursorError(
                "a time window cursor inside a window needs an integer 'end' after 'start'"
            )
        return end, Window(start, end), inner

    def windows(self, cursor: Cursor = None) -> Iterator[Window]:
        """The windows still to page after ``cursor`` (for planning and tests; no request is made)."""
        start, current, _ = self._parse(cursor)
        end_ms = to_ms(self.end if self.end is not None else self.clock())
        if current is not None:
            yield current
        yield from _split(start, end_ms, self.span_ms)

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[T]]:
        """Yield the steps of every window after ``cursor`` (``None``: from ``origin``)."""
        _, _, inner_cursor = self._parse(cursor)
        for window in self.windows(cursor):
            pending: Step[T] | None = None
            async for step in self.inner(window).steps(inner_cursor):
                if pending is not None:
                    yield Step(
                        pending.items,
                        {"start": window.start_ms, "end": window.end_ms, "inner": pending.cursor},
                        window.label,
                    )
                pending = step
            inner_cursor = None
            # The window is exhausted: its last step (or an empty one) moves the cursor past it.
            yield Step([] if pending is None else pending.items, {"start": window.end_ms}, window.label)


def _is_ms(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)

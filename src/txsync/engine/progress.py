"""Progress of a sync as events, for a host's web page, a job's log or the command line's live display.

The engine reports, per sync: :class:`SyncStarted`; per stream :class:`StreamStarted`, one
:class:`PageCommitted` per page stored (with the stream's running counts), :class:`RateLimitWait`
whenever a request is held back (a rate limit, a ``Retry-After``, a backoff: until when and why),
:class:`StreamFinished`; and :class:`SyncFinished` with the report.

Two ways to listen:

* a callback, ``await engine.sync(connection_id, progress=callback)`` (or ``Engine(progress=...)`` for
  every sync): called synchronously on the sync's event loop, so keep it cheap (hand the event to a
  queue, a websocket task, ``loop.call_soon_threadsafe``...); an exception it raises is logged and
  never stops the sync;
* an async iterator, ``async for event in engine.sync_events(connection_id): ...``, which runs the sync
  and ends with its :class:`SyncFinished`.

Every event has ``kind`` (a stable name) and :meth:`~ProgressEvent.to_json` (plain JSON values: times
as ISO 8601 UTC text), ready to forward as is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from txsync.http.waits import wait_listener

if TYPE_CHECKING:
    from txsync.connector import RequestStats
    from txsync.engine.report import StreamReport, SyncReport

__all__ = [
    "PageCommitted",
    "ProgressCallback",
    "ProgressEvent",
    "ProgressQueue",
    "RateLimitWait",
    "StreamFinished",
    "StreamStarted",
    "SyncFinished",
    "SyncStarted",
]

log = logging.getLogger("txsync.engine")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """What every event carries: the connection and the wall-clock time it happened (UTC)."""

    kind: ClassVar[str] = "event"

    connection_id: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """The event as plain JSON values, with its ``kind``."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
            elif f.name == "report":
                value = value.model_dump(mode="json")
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


@dataclass(frozen=True, slots=True)
class SyncStarted(ProgressEvent):
    """A sync of the connection began."""

    kind: ClassVar[str] = "sync_started"

    connector_id: str
    account_id: str
    mode: str


@dataclass(frozen=True, slots=True)
class StreamStarted(ProgressEvent):
    """A stream began (streams run one after the other)."""

    kind: ClassVar[str] = "stream_started"

    stream: str


@dataclass(frozen=True, slots=True)
class PageCommitted(ProgressEvent):
    """A page was stored with its cursor. Counts are the stream's totals so far in this sync."""

    kind: ClassVar[str] = "page_committed"

    stream: str
    pages: int
    records: int
    new: int
    updated: int
    unchanged: int
    requests: int
    weight: int


@dataclass(frozen=True, slots=True)
class RateLimitWait(ProgressEvent):
    """A request is held back until ``until`` (``seconds`` from ``at``): ``reason`` is ``"rate limit"``
    (the limiter's budget), ``"Retry-After"`` (the server asked) or ``"backoff"`` (a transient error)."""

    kind: ClassVar[str] = "rate_limit_wait"

    stream: str | None
    seconds: float
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class StreamFinished(ProgressEvent):
    """A stream ended: ``completed`` when it reached the end of the history without error."""

    kind: ClassVar[str] = "stream_finished"

    stream: str
    completed: bool
    pages: int
    records: int
    new: int
    updated: int
    unchanged: int
    requests: int
    weight: int
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SyncFinished(ProgressEvent):
    """The sync ended; ``report`` is the :class:`~txsync.engine.SyncReport` it returns."""

    kind: ClassVar[str] = "sync_finished"

    ok: bool
    report: SyncReport = field(repr=False)


#: A progress listener: called with each event, on the sync's event loop.
ProgressCallback = Callable[[ProgressEvent], None]


class ProgressQueue:
    """A listener that queues events for an async consumer: pass it as ``progress=`` and iterate it.

    Iteration ends after :meth:`close` (which :meth:`Engine.sync_events` calls when its sync is over).
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[ProgressEvent | None] = asyncio.Queue()
        self._closed = False

    def __call__(self, event: ProgressEvent) -> None:
        if not self._closed:
            self._queue.put_nowait(event)

    def close(self) -> None:
        """No more events: the iteration ends once the queued ones are consumed."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[ProgressEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[ProgressEvent]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event


class Reporter:
    """The engine's side: builds events and hands them to the listeners (none: every call is a no-op
    but a cheap one). One per sync."""

    __slots__ = ("_before", "_listeners", "_stream", "connection_id")

    def __init__(self, connection_id: str, listeners: Sequence[ProgressCallback]) -> None:
        self.connection_id = connection_id
        self._listeners = tuple(listeners)
        self._stream: str | None = None
        self._before: tuple[int, int] = (0, 0)

    @property
    def active(self) -> bool:
        """Whether anyone listens."""
        return bool(self._listeners)

    def _emit(self, event: ProgressEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:  # a host's display must never stop a sync
                log.warning("a progress listener failed on %s: %s", event.kind, type(exc).__name__)

    @contextmanager
    def listening(self) -> Iterator[None]:
        """Hear the HTTP layer's waits (rate limits, retries) for the duration of the sync."""
        if not self._listeners:
            yield
            return
        with wait_listener(self.wait):
            yield

    def sync_started(self, report: SyncReport) -> None:
        if self._listeners:
            self._emit(SyncStarted(self.connection_id, _now(), report.connector_id, report.account_id,
                                   str(report.mode)))

    def stream_started(self, stream: str, stats: RequestStats) -> None:
        self._stream = stream
        self._before = (stats.requests, stats.weight)
        if self._listeners:
            self._emit(StreamStarted(self.connection_id, _now(), stream))

    def page(self, sr: StreamReport, stats: RequestStats) -> None:
        """One page of ``sr``'s stream was committed (its counts already added to ``sr``)."""
        if self._listeners:
            self._emit(PageCommitted(
                self.connection_id, _now(), sr.stream, sr.pages, sr.raws, sr.new, sr.updated, sr.unchanged,
                stats.requests - self._before[0], stats.weight - self._before[1],
            ))

    def stream_finished(self, sr: StreamReport) -> None:
        self._stream = None
        if self._listeners:
            self._emit(StreamFinished(
                self.connection_id, _now(), sr.stream, sr.completed and not sr.errors, sr.pages, sr.raws,
                sr.new, sr.updated, sr.unchanged, sr.requests, sr.weight, tuple(sr.errors),
            ))

    def wait(self, seconds: float, reason: str) -> None:
        if self._listeners:
            now = _now()
            self._emit(RateLimitWait(self.connection_id, now, self._stream, round(seconds, 3),
                                     now + timedelta(seconds=seconds), reason))

    def sync_finished(self, report: SyncReport) -> None:
        if self._listeners:
            self._emit(SyncFinished(self.connection_id, _now(), report.ok, report))

"""The live display of ``txsync sync`` and ``txsync demo``, built on the engine's progress events.

:class:`Board` folds the events into one line per stream (pages, records, new, requests, weight, and
"waiting until HH:MM:SS (rate limit)" while a request is held back); :class:`LiveProgress` shows the
board with rich on stderr while the sync runs, when stderr is a terminal (a pipe or a log file gets
no redraws; ``-v`` logs the waits instead).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from txsync.cli._render import table
from txsync.engine import (
    PageCommitted,
    ProgressEvent,
    RateLimitWait,
    StreamFinished,
    StreamStarted,
    SyncFinished,
    SyncStarted,
)

__all__ = ["Board", "LiveProgress"]

log = logging.getLogger("txsync.cli")


@dataclass
class StreamLine:
    """What the board shows of one stream."""

    stream: str
    pages: int = 0
    records: int = 0
    new: int = 0
    requests: int = 0
    weight: int = 0
    state: str = "running"
    waiting: str = ""


@dataclass
class Board:
    """The state of the display: the connection being synced and a line per stream."""

    title: str = ""
    lines: dict[str, StreamLine] = field(default_factory=dict)
    waits: int = 0

    def apply(self, event: ProgressEvent) -> None:
        """Fold one event in."""
        if isinstance(event, SyncStarted):
            self.title = f"{event.connector_id} [{event.connection_id}] ({event.mode})"
            self.lines.clear()
        elif isinstance(event, StreamStarted):
            self.lines[event.stream] = StreamLine(event.stream)
        elif isinstance(event, PageCommitted):
            line = self.lines.setdefault(event.stream, StreamLine(event.stream))
            line.pages, line.records, line.new = event.pages, event.records, event.new
            line.requests, line.weight, line.waiting = event.requests, event.weight, ""
        elif isinstance(event, RateLimitWait):
            self.waits += 1
            until = event.until.astimezone(UTC).strftime("%H:%M:%S")
            text = f"waiting until {until} UTC ({event.reason}, {event.seconds:g} s)"
            if event.stream is not None:
                self.lines.setdefault(event.stream, StreamLine(event.stream)).waiting = text
            log.info("%s: %s", event.stream or self.title, text)
        elif isinstance(event, StreamFinished):
            line = self.lines.setdefault(event.stream, StreamLine(event.stream))
            line.pages, line.records, line.new = event.pages, event.records, event.new
            line.requests, line.weight, line.waiting = event.requests, event.weight, ""
            line.state = "done" if event.completed else "FAILED"
        elif isinstance(event, SyncFinished):
            for line in self.lines.values():
                if line.state == "running":
                    line.state = "stopped"

    def render(self) -> Table:
        """The board as a table."""
        numbers = ("pages", "records", "new", "requests", "weight")
        out = table("stream", *numbers, "state", right=numbers)
        out.title = escape(f"Syncing {self.title}") if self.title else None
        for line in self.lines.values():
            out.add_row(line.stream, str(line.pages), str(line.records), str(line.new), str(line.requests),
                        str(line.weight), line.waiting or line.state)
        return out


class LiveProgress:
    """A progress listener drawing the :class:`Board` on a terminal (``with LiveProgress(...) as p:``
    then pass ``p`` as ``progress=``)."""

    def __init__(self, console: Console, *, enabled: bool | None = None) -> None:
        self.board = Board()
        self.console = console
        self.enabled = console.is_terminal if enabled is None else enabled
        self._live: Live | None = None

    def __enter__(self) -> LiveProgress:
        if self.enabled:
            self._live = Live(self.board.render(), console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def __call__(self, event: ProgressEvent) -> None:
        self.board.apply(event)
        if self._live is not None:
            self._live.update(self.board.render())

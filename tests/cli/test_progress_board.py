"""The live display folds the engine's progress events into one line per stream."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console

from txsync.cli._progress import Board, LiveProgress
from txsync.engine import PageCommitted, RateLimitWait, StreamFinished, StreamStarted, SyncStarted

AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def test_the_board_shows_pages_counts_and_waits() -> None:
    board = Board()
    board.apply(SyncStarted("con_1", AT, "binance", "acc_1", "incremental"))
    board.apply(StreamStarted("con_1", AT, "trades"))
    board.apply(PageCommitted("con_1", AT, "trades", 2, 1500, 1400, 0, 100, 4, 40))
    board.apply(RateLimitWait("con_1", AT, "trades", 42.0, AT + timedelta(seconds=42), "rate limit"))
    line = board.lines["trades"]
    assert (line.pages, line.records, line.new, line.requests, line.weight) == (2, 1500, 1400, 4, 40)
    assert line.waiting == "waiting until 12:00:42 UTC (rate limit, 42 s)"
    out = io.StringIO()
    Console(file=out, width=200).print(board.render())
    assert "waiting until 12:00:42 UTC" in out.getvalue() and "binance [con_1]" in out.getvalue()
    board.apply(StreamFinished("con_1", AT, "trades", True, 3, 1600, 1500, 0, 100, 5, 50))
    assert (line.state, line.waiting, line.pages) == ("done", "", 3)
    board.apply(StreamStarted("con_1", AT, "deposits"))
    board.apply(StreamFinished("con_1", AT, "deposits", False, 0, 0, 0, 0, 0, 1, 1, ("TransientError: 503",)))
    assert board.lines["deposits"].state == "FAILED"


def test_no_live_redraws_off_a_terminal() -> None:
    out = io.StringIO()
    with LiveProgress(Console(file=out), enabled=None) as live:
        live(StreamStarted("con_1", AT, "trades"))
    assert out.getvalue() == "" and "trades" in live.board.lines

"""Fixtures of the HTTP layer tests: a simulated clock whose sleeps return at once.

Tests get ``FakeClock`` through the ``clock`` fixture (``tests/http`` is not a package: as one it would
shadow the standard library's ``http``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

#: 2023-11-14 22:13:00 UTC: a whole minute, so wall-clock windows start exactly here.
T0 = 1_699_999_980.0


class FakeClock:
    """Wall-clock time that only moves when someone sleeps.

    ``sleep(s)`` yields to the event loop once, then moves the time forward to at least ``now + s``
    as seen when the sleep started: concurrent sleepers overlap as they would in real time, and time
    never goes backwards. Every requested wait is recorded in ``sleeps``.
    """

    def __init__(self, start: float = T0) -> None:
        self.start = start
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def ms(self) -> int:
        return round(self.now * 1000)

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        target = self.now + max(seconds, 0.0)
        await asyncio.sleep(0)
        self.now = max(self.now, target)


@pytest.fixture
def clock() -> FakeClock:
    """A simulated wall clock at a whole minute; its ``sleep`` returns at once."""
    return FakeClock()

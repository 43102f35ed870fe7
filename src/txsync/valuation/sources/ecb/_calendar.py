"""TARGET2 closing days: the days the ECB publishes no euro reference rate.

Since 2002 the TARGET system is closed, besides Saturdays and Sundays, on New Year's Day, Good Friday,
Easter Monday, 1 May, Christmas Day and 26 December. The ECB publishes its reference rates on every
other day (around 16:00 CET); a closing day takes the rate of the business day before it.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

__all__ = ["easter", "is_business_day", "previous_business_day"]


@functools.cache
def easter(year: int) -> date:
    """Easter Sunday of ``year`` (Gregorian calendar; the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@functools.cache
def _holidays(year: int) -> frozenset[date]:
    sunday = easter(year)
    return frozenset(
        {
            date(year, 1, 1),
            sunday - timedelta(days=2),
            sunday + timedelta(days=1),
            date(year, 5, 1),
            date(year, 12, 25),
            date(year, 12, 26),
        }
    )


def is_business_day(day: date) -> bool:
    """Whether the ECB publishes reference rates on ``day`` (a TARGET business day)."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def previous_business_day(day: date) -> date:
    """``day`` itself when it is a business day, else the last business day before it."""
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day

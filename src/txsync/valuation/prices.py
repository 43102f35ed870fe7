"""Prices and what sources answer: granularities, requests, points with their evidence, answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from txsync.errors import ConfigurationError

__all__ = ["EPOCH", "AnswerStatus", "Granularity", "PriceAnswer", "PricePoint", "PriceRequest"]

#: The origin of slot grids (all granularities are aligned to it, in UTC).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Granularity(StrEnum):
    """How long one price interval (a candle, or the span one sample stands for) lasts."""

    MINUTE = "1m"
    FIVE_MINUTES = "5m"
    HOUR = "1h"
    DAY = "1d"

    @property
    def delta(self) -> timedelta:
        """The interval's length."""
        return _DELTAS[self]

    @property
    def rank(self) -> int:
        """0 for the finest granularity, growing with the interval's length."""
        return _ORDER.index(self)

    def floor(self, at: datetime) -> datetime:
        """The start of the interval holding ``at`` (intervals are aligned to the UTC epoch)."""
        if at.tzinfo is None:
            raise ConfigurationError("a price time must be timezone-aware")
        seconds = int(self.delta.total_seconds())
        offset = int((at.astimezone(UTC) - EPOCH).total_seconds() // 1)
        return EPOCH + timedelta(seconds=offset - offset % seconds)


_DELTAS = {
    Granularity.MINUTE: timedelta(minutes=1),
    Granularity.FIVE_MINUTES: timedelta(minutes=5),
    Granularity.HOUR: timedelta(hours=1),
    Granularity.DAY: timedelta(days=1),
}
_ORDER = (Granularity.MINUTE, Granularity.FIVE_MINUTES, Granularity.HOUR, Granularity.DAY)


@dataclass(frozen=True, slots=True, order=True)
class PriceRequest:
    """The price of one ``asset`` in ``quote`` (both txsync asset ids) at the instant ``at``."""

    asset: str
    quote: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PricePoint:
    """A price a source gave, with the evidence behind it.

    ``price`` is one ``asset`` in ``quote``. ``pair`` is the instrument the source publishes (``BTCEUR``,
    ``bitcoin/eur``, ``EXR.D.USD.EUR.SP00.A``) and ``quoted`` the figure it published for it: the same
    as ``price`` unless ``inverted`` (``EURUSDT`` read backwards to price USDT in EUR). ``start`` is the
    start of the ``granularity`` interval the price stands for (the candle); ``observed_at`` when the
    figure itself was observed, when that differs (a weekend's ECB rate is Friday's).
    """

    source: str
    asset: str
    quote: str
    pair: str
    granularity: Granularity
    start: datetime
    price: Decimal
    quoted: Decimal
    inverted: bool = False
    observed_at: datetime | None = None
    fetched_at: datetime | None = None


class AnswerStatus(StrEnum):
    """What a source says about one request."""

    #: A price (possibly in another quote than asked: see :attr:`PricePoint.quote`).
    FOUND = "found"
    #: Not available yet: the candle is not closed, the day is not over, the source lags. Retry later.
    PENDING = "pending"
    #: The source does not know this asset (or cannot quote it in that currency).
    UNKNOWN = "unknown"
    #: The source knows the asset but has no price for that time (before listing, a gap, out of plan).
    UNAVAILABLE = "unavailable"
    #: The source failed (rate limited past retries, server errors, garbage): worth retrying later.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PriceAnswer:
    """A source's answer to one :class:`PriceRequest`; ``reason`` says why when there is no price."""

    request: PriceRequest
    status: AnswerStatus
    point: PricePoint | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if (self.status is AnswerStatus.FOUND) != (self.point is not None):
            raise ConfigurationError("a price answer has a point exactly when it is FOUND")

"""The price-source contract: :class:`PriceSource` and :class:`CandleSource`, the batching base class.

A price source answers batches of :class:`~txsync.valuation.PriceRequest` (asset, quote, time) with a
:class:`~txsync.valuation.PriceAnswer` each: a price with its evidence, *pending* (not available yet),
*unknown* (the source does not know the asset), *unavailable* (no price at that time) or *failed*.

Sources are plugins, published through the ``txsync.price_sources`` entry-point group like connectors
(see :mod:`txsync.valuation.registry`): the class named by the entry point has an ``info``
(:class:`PriceSourceInfo`) and is built from a :class:`PriceSourceContext`.

:class:`CandleSource` does the work most sources share, so a source only says *how* to price
(:meth:`CandleSource.routes`: which instrument, in which granularity) and *how to fetch* a batch of
intervals of one instrument (:meth:`CandleSource.fetch`):

1. each request becomes the interval (slot) of its route's granularity that holds its time; a slot not
   closed yet (``available_at`` in the future) is *pending*, without a request;
2. the cache is consulted for every slot (and for what is known about the instrument);
3. the slots still missing are handed to ``fetch`` per instrument, which batches them into as few
   requests as the API allows (a window of candles per request); everything fetched, including "no
   price here" facts, goes into the cache;
4. a route that cannot answer (unlisted symbol, before listing) hands the request to the next route
   (``BTCEUR``, then ``BTCUSDT`` priced on to EUR by the valuation policy).

A second pass over the same history therefore makes no request at all.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx
from pydantic import Field, field_validator

from txsync.connector import CredentialField, LimiterRegistry, RequestStats
from txsync.errors import ConfigurationError, TxsyncError
from txsync.http import Bucket, RateLimiter, WeightedRateLimiter
from txsync.models import TxsyncModel
from txsync.plugins import PLUGIN_ID
from txsync.valuation._decimal import invert
from txsync.valuation.cache import CachedPrice, PriceCache, PriceKey
from txsync.valuation.prices import AnswerStatus, Granularity, PriceAnswer, PricePoint, PriceRequest

__all__ = [
    "PRICE_SOURCE_API_VERSION",
    "RATE_LIMIT_MODES",
    "CandleSource",
    "PriceSource",
    "PriceSourceContext",
    "PriceSourceInfo",
    "Refusal",
    "Route",
    "SourceKind",
    "VirtualClock",
    "source_limiter",
]

_log = logging.getLogger("txsync.valuation")

#: The price-source API version this txsync implements (``PriceSourceInfo.api_version``).
PRICE_SOURCE_API_VERSION = 1


def _utcnow() -> datetime:
    return datetime.now(UTC)


#: The values of a source's ``rate_limit`` option: wait in real time (``on``), count on a virtual
#: clock that jumps instead of sleeping (``simulated``: replays, benchmarks), or not at all (``off``).
RATE_LIMIT_MODES = ("on", "simulated", "off")


class VirtualClock:
    """A clock that jumps forward instead of sleeping (the ``simulated`` rate-limit mode)."""

    def __init__(self, start: float) -> None:
        self.now = start
        #: Seconds "waited" in all.
        self.waited = 0.0

    def time(self) -> float:
        """The virtual time in seconds since the epoch."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` (and let other tasks run)."""
        if seconds > 0:
            self.now += seconds
            self.waited += seconds
        await asyncio.sleep(0)


def source_limiter(context: PriceSourceContext, key: str, buckets: Sequence[Bucket]) -> RateLimiter | None:
    """The rate limiter a source shares under ``key`` in ``context.limiters``, per its ``rate_limit``
    option (see :data:`RATE_LIMIT_MODES`); ``None`` when off."""
    mode = str(context.options.get("rate_limit", "on"))
    if mode not in RATE_LIMIT_MODES:
        raise ConfigurationError(f"option rate_limit must be one of {RATE_LIMIT_MODES}, not {mode!r}")
    if mode == "off":
        return None
    if mode == "simulated":
        virtual = VirtualClock(context.clock().timestamp())
        limiter: RateLimiter = context.limiters.get(
            f"{key}:simulated", lambda: WeightedRateLimiter(buckets, clock=virtual.time, sleep=virtual.sleep)
        )
        return limiter
    shared: RateLimiter = context.limiters.get(key, lambda: WeightedRateLimiter(buckets))
    return shared


class SourceKind(StrEnum):
    """What a source prices."""

    #: Crypto assets (and stablecoins) against currencies or other crypto assets.
    MARKET = "market"
    #: Currencies against currencies (reference FX rates).
    FX = "fx"


class PriceSourceInfo(TxsyncModel):
    """What a price source is. ``id`` keys its cache entries and the policy's order."""

    id: str
    display_name: str = Field(min_length=1)
    kind: SourceKind
    api_version: int = PRICE_SOURCE_API_VERSION
    #: The granularities it can serve, finest first.
    granularities: tuple[Granularity, ...] = Field(min_length=1)
    #: Keys it accepts (all optional for a source usable without one).
    credential_fields: tuple[CredentialField, ...] = ()
    description: str = ""
    homepage: str = ""

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not PLUGIN_ID.match(value):
            raise ValueError("price source id must be lower-case letters, digits, '_', '-' or '.'")
        return value


@dataclass
class PriceSourceContext:
    """Everything a price source instance may use.

    ``options`` are the source's settings (plan, quote preferences...); ``secrets`` its keys (never in
    reprs or logs); ``transport`` replaces the network (cassettes, a sandbox); ``limiters`` is shared
    with connectors, so a Binance price source spends the same per-IP weight budget as the Binance
    connector; ``stats`` counts requests.
    """

    options: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    transport: httpx.AsyncBaseTransport | None = None
    clock: Callable[[], datetime] = _utcnow
    #: A ``txsync.http.RetryPolicy``; ``None`` = the HTTP layer's default.
    retry: Any = None
    limiters: LimiterRegistry = field(default_factory=LimiterRegistry)
    stats: RequestStats = field(default_factory=RequestStats)

    def __repr__(self) -> str:
        return f"PriceSourceContext(options={dict(self.options)!r}, secrets={sorted(self.secrets)!r})"

    def __reduce__(self) -> Any:
        raise TypeError("a PriceSourceContext holds keys and cannot be pickled")


@runtime_checkable
class PriceSource(Protocol):
    """What valuation needs from a price source (a class whose ``info`` is a :class:`PriceSourceInfo`,
    built as ``SourceClass(context)``)."""

    info: ClassVar[PriceSourceInfo]

    def granularity_for(self, asset: str, quote: str, at: datetime) -> Granularity | None:
        """The finest granularity it could price ``asset`` in ``quote`` at ``at`` with, without any
        request; ``None`` when it cannot price it at all. Used to pick the leg priced best."""
        ...

    async def prices(self, requests: Sequence[PriceRequest], cache: PriceCache) -> list[PriceAnswer]:
        """One answer per request (same order), consulting ``cache`` before any request."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class Route:
    """One way a :class:`CandleSource` can price a request: an instrument, read straight or inverted.

    ``base`` / ``quote`` are the instrument's own assets (txsync asset ids): the request's asset is
    ``base``, or ``quote`` when ``inverted`` (``EURUSDT`` prices USDT in EUR).
    """

    instrument: str
    base: str
    quote: str
    granularity: Granularity
    inverted: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request a source answers without any request: unknown asset, out of its plan..."""

    status: AnswerStatus
    reason: str


@dataclass(slots=True)
class _Item:
    request: PriceRequest
    routes: Sequence[Route]
    index: int = 0
    reasons: list[str] = field(default_factory=list)
    symbol_only: bool = True

    @property
    def route(self) -> Route:
        return self.routes[self.index]

    def slot(self) -> datetime:
        return self.route.granularity.floor(self.request.at)


class CandleSource(ABC):
    """Base class of sources that serve prices per fixed interval (candles, daily rates, samples).

    Subclasses set ``info`` and implement :meth:`routes` and :meth:`fetch`; they may override
    :meth:`available_at` (when an interval's price is published), :attr:`symbol_ttl` and :attr:`settle`.
    """

    info: ClassVar[PriceSourceInfo]
    #: How long "this instrument does not exist" stays true in the cache.
    symbol_ttl: ClassVar[timedelta] = timedelta(days=7)
    #: How long after an interval's publication a missing price is still treated as *pending* (the
    #: source lags); a price still missing later is final ("no price there").
    settle: ClassVar[timedelta] = timedelta(days=1)
    #: How long a "no price yet" entry fetched within the settle period is trusted before asking again.
    recheck: ClassVar[timedelta] = timedelta(hours=1)

    def __init__(self, context: PriceSourceContext) -> None:
        self.context = context

    # -- what a subclass says ----------------------------------------------------------------------

    @abstractmethod
    def routes(self, request: PriceRequest, now: datetime) -> Sequence[Route] | Refusal:
        """The ways to price ``request``, best first, or why it cannot be priced; never a request."""

    @abstractmethod
    async def fetch(self, route: Route, slots: Sequence[datetime], now: datetime) -> Iterable[CachedPrice]:
        """Fetch the prices of ``slots`` (interval starts, sorted) of ``route``'s instrument.

        Batch them into as few requests as the API allows; return an entry per price received (the
        slots asked for and any neighbour the answers held) and "no price" entries where the source
        says so (``price=None`` with a note). Facts about the instrument go under
        :meth:`PriceKey.symbol` with ``price=None``: without ``observed_at`` it does not exist (checked
        again after :attr:`symbol_ttl`), with ``observed_at`` it has prices only from then on (its
        listing: slots before it are never fetched again). A slot asked for and not returned is recorded
        as "no price" by the caller. Raise a :class:`~txsync.errors.TxsyncError` when the source fails.
        """

    def available_at(self, route: Route, slot: datetime) -> datetime:
        """When the price of the interval starting at ``slot`` exists (default: when it closes)."""
        return slot + route.granularity.delta

    # -- the protocol --------------------------------------------------------------------------------

    def granularity_for(self, asset: str, quote: str, at: datetime) -> Granularity | None:
        """The granularity of the first route, if any (see :meth:`PriceSource.granularity_for`)."""
        routes = self.routes(PriceRequest(asset, quote, at), self.context.clock())
        if isinstance(routes, Refusal) or not routes:
            return None
        return routes[0].granularity

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections (nothing by default)."""

    def _key(self, route: Route, slot: datetime) -> PriceKey:
        return PriceKey(self.info.id, route.base, route.quote, route.granularity.value, slot)

    def _symbol_key(self, route: Route) -> PriceKey:
        return PriceKey.symbol(self.info.id, route.base, route.quote)

    def _absent(self, symbol: CachedPrice | None, route: Route, slot: datetime, now: datetime) -> str | None:
        """Why the instrument has no price at ``slot`` according to what is known of it, if so.

        A symbol entry without price says the instrument does not exist (no ``observed_at``) or has
        prices only from ``observed_at`` on (its listing).
        """
        if symbol is None or symbol.price is not None or not self._fresh(symbol, route, now):
            return None
        if symbol.observed_at is None:
            return symbol.note or f"{route.instrument} is not listed"
        if slot < route.granularity.floor(symbol.observed_at):
            return f"{route.instrument} has prices only from {symbol.observed_at.isoformat()}"
        return None

    def _fresh(self, entry: CachedPrice, route: Route, now: datetime) -> bool:
        if entry.price is not None:
            return True
        if entry.key == self._symbol_key(route):
            # "listed since": history does not change; "not listed": may change, checked again later
            return entry.observed_at is not None or now - entry.fetched_at < self.symbol_ttl
        # "no price here": final when it was fetched well after the price should have existed
        published = self.available_at(route, entry.key.time)
        return entry.fetched_at - published >= self.settle or now - entry.fetched_at < self.recheck

    async def prices(self, requests: Sequence[PriceRequest], cache: PriceCache) -> list[PriceAnswer]:
        """Answer ``requests`` from ``cache`` and batched fetches (see the module notes)."""
        now = self.context.clock()
        answers: dict[PriceRequest, PriceAnswer] = {}
        active: list[_Item] = []
        for request in dict.fromkeys(requests):
            routes = self.routes(request, now)
            if isinstance(routes, Refusal):
                answers[request] = PriceAnswer(
                    request, routes.status, reason=f"{self.info.id}: {routes.reason}"
                )
            elif not routes:
                answers[request] = PriceAnswer(
                    request, AnswerStatus.UNKNOWN, reason=f"{self.info.id}: no way to price it"
                )
            else:
                active.append(_Item(request, routes))
        failure: str | None = None
        while active and failure is None:
            items: list[_Item] = []
            for item in active:
                published = self.available_at(item.route, item.slot())
                if published > now:
                    answers[item.request] = PriceAnswer(
                        item.request,
                        AnswerStatus.PENDING,
                        reason=f"{self.info.id}: the {item.route.granularity.value} interval of "
                        f"{item.route.instrument} from {item.slot().isoformat()} is published at "
                        f"{published.isoformat()}",
                    )
                else:
                    items.append(item)
            failure = await self._fill(items, cache, now)
            active = []
            for item in items:
                if failure is not None:
                    answers[item.request] = PriceAnswer(item.request, AnswerStatus.FAILED, reason=failure)
                    continue
                answer = self._answer(item, cache, now)
                if answer is not None:
                    answers[item.request] = answer
                elif item.index + 1 < len(item.routes):
                    item.index += 1
                    active.append(item)
                else:
                    status = AnswerStatus.UNKNOWN if item.symbol_only else AnswerStatus.UNAVAILABLE
                    answers[item.request] = PriceAnswer(
                        item.request, status, reason=f"{self.info.id}: " + "; ".join(item.reasons)
                    )
        return [answers[request] for request in requests]

    async def _fill(self, items: Sequence[_Item], cache: PriceCache, now: datetime) -> str | None:
        """Make sure the cache holds what ``items`` need; returns a failure reason if the source failed."""
        keys: set[PriceKey] = set()
        for item in items:
            keys.add(self._symbol_key(item.route))
            keys.add(self._key(item.route, item.slot()))
        found = cache.get_many(keys)
        missing: dict[Route, set[datetime]] = {}
        for item in items:
            route = item.route
            if self._absent(found.get(self._symbol_key(route)), route, item.slot(), now) is not None:
                continue
            entry = found.get(self._key(route, item.slot()))
            if entry is None or not self._fresh(entry, route, now):
                missing.setdefault(route, set()).add(item.slot())
        for route in sorted(missing, key=lambda r: (r.instrument, r.granularity.rank)):
            slots = sorted(missing[route])
            try:
                entries = list(await self.fetch(route, slots, now))
            except TxsyncError as exc:
                # expected answers (unknown symbol, no data) come back as entries: an error means the
                # source failed, so nothing is cached and the whole source waits for the next pass
                _log.warning("%s failed, not asking it again in this pass: %s", self.info.id, exc)
                return f"{self.info.id}: {type(exc).__name__}: {exc}"
            got = {entry.key for entry in entries}
            symbol_gone = any(
                e.key == self._symbol_key(route) and e.price is None and e.observed_at is None
                for e in entries
            )
            if not symbol_gone:
                entries += [
                    CachedPrice(key, None, now, route.instrument, note="no price in the source's answer")
                    for key in (self._key(route, slot) for slot in slots)
                    if key not in got
                ]
            cache.put_many(entries)
        return None

    def _answer(self, item: _Item, cache: PriceCache, now: datetime) -> PriceAnswer | None:
        """The answer for ``item`` on its current route, or ``None`` to try the next route."""
        route, slot = item.route, item.slot()
        found = cache.get_many([self._symbol_key(route), self._key(route, slot)])
        absent = self._absent(found.get(self._symbol_key(route)), route, slot, now)
        if absent is not None:
            if absent not in item.reasons:
                item.reasons.append(absent)
            symbol = found.get(self._symbol_key(route))
            if symbol is not None and symbol.observed_at is not None:
                item.symbol_only = False
            return None
        entry = found.get(self._key(route, slot))
        item.symbol_only = False
        if entry is None or entry.price is None:
            published = self.available_at(route, slot)
            if now - published < self.settle:
                return PriceAnswer(
                    item.request,
                    AnswerStatus.PENDING,
                    reason=f"{self.info.id}: no {route.granularity.value} price of {route.instrument} from "
                    f"{slot.isoformat()} yet (published {published.isoformat()}; sources lag)",
                )
            note = entry.note if entry is not None and entry.note else "no price"
            item.reasons.append(f"{route.instrument} {route.granularity.value} {slot.isoformat()}: {note}")
            return None
        price = invert(entry.price) if route.inverted else entry.price
        point = PricePoint(
            source=self.info.id,
            asset=item.request.asset,
            quote=route.base if route.inverted else route.quote,
            pair=entry.pair or route.instrument,
            granularity=route.granularity,
            start=slot,
            price=price,
            quoted=entry.price,
            inverted=route.inverted,
            observed_at=entry.observed_at,
            fetched_at=entry.fetched_at,
        )
        return PriceAnswer(item.request, AnswerStatus.FOUND, point=point)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.info.id!r})"

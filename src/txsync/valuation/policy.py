"""The price policy: which sources are asked, in which order, and how a price reaches the currency asked.

:class:`PricePolicy` holds the market sources (crypto prices) and the FX sources (currency rates), each
in the order the host configured. It resolves a batch of :class:`~txsync.valuation.PriceRequest`:

* an asset priced in itself is worth exactly 1;
* currency against currency goes to the FX sources, anything else to the market sources, each source
  answering the whole batch it is given at once (see :class:`~txsync.valuation.CandleSource`);
* a request one source cannot answer (unknown asset, no price at that time) goes to the next source;
* a price found in another quote than asked (Binance's ``BTCUSDT`` for bitcoin in EUR) is converted by
  resolving that quote in turn (tether in EUR: Binance's ``EURUSDT`` read backwards, or CoinGecko),
  at most ``max_hops`` times. A stablecoin is priced by its market like any asset, never assumed to be
  worth its peg.

The result, a :class:`ResolvedPrice`, keeps every point used (the price, then each conversion) as
evidence. It is *pending* when a source said "not yet" (or failed) and none had a price, *unpriceable*
when every source said it has none, with their reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from txsync.connector import RequestStats
from txsync.valuation._decimal import mul
from txsync.valuation.assets import is_fiat
from txsync.valuation.cache import PriceCache
from txsync.valuation.prices import AnswerStatus, PricePoint, PriceRequest
from txsync.valuation.source import PriceSource, SourceKind

__all__ = ["PricePolicy", "ResolvedPrice", "ResolvedStatus"]


class ResolvedStatus(StrEnum):
    """The outcome of resolving one price through the policy."""

    FOUND = "found"
    PENDING = "pending"
    UNPRICEABLE = "unpriceable"


@dataclass(frozen=True, slots=True)
class ResolvedPrice:
    """One ``request.asset`` in ``request.quote``: the price and the points it was computed from."""

    request: PriceRequest
    status: ResolvedStatus
    price: Decimal | None = None
    #: The price point, then the conversions applied to it (empty for an asset priced in itself).
    points: tuple[PricePoint, ...] = ()
    reason: str | None = None

    @property
    def primary(self) -> PricePoint | None:
        """The point that priced the asset itself."""
        return self.points[0] if self.points else None

    @property
    def conversions(self) -> tuple[PricePoint, ...]:
        """The points that carried the price into the quote asked for."""
        return self.points[1:]

    @property
    def conversion_rate(self) -> Decimal | None:
        """The product of the conversions' prices, ``None`` when there was none."""
        if len(self.points) < 2:
            return None
        rate = self.points[1].price
        for point in self.points[2:]:
            rate = mul(rate, point.price)
        return rate


@dataclass(slots=True)
class _Asking:
    request: PriceRequest
    sources: Sequence[PriceSource]
    index: int = 0
    reasons: list[str] = field(default_factory=list)
    pending: bool = False

    @property
    def done(self) -> bool:
        return self.index >= len(self.sources)


class PricePolicy:
    """Market and FX sources in the host's order; resolves batches of price requests (module notes)."""

    def __init__(
        self,
        market: Sequence[PriceSource] = (),
        fx: Sequence[PriceSource] = (),
        *,
        max_hops: int = 2,
    ) -> None:
        self.market = tuple(market)
        self.fx = tuple(fx)
        self.max_hops = max_hops

    @property
    def sources(self) -> tuple[PriceSource, ...]:
        """Every source, market ones first."""
        return (*self.market, *self.fx)

    def stats(self) -> dict[str, RequestStats]:
        """Request counters per source id (from each source's context, when it has one)."""
        found: dict[str, RequestStats] = {}
        for source in self.sources:
            context = getattr(source, "context", None)
            stats = getattr(context, "stats", None)
            if isinstance(stats, RequestStats):
                found[source.info.id] = stats
        return found

    def sources_for(self, asset: str, quote: str) -> tuple[PriceSource, ...]:
        """The sources asked for ``asset`` in ``quote``: FX ones for currency pairs, market ones else."""
        return self.fx if is_fiat(asset) and is_fiat(quote) else self.market

    def rank(self, asset: str, quote: str, at: datetime) -> tuple[int, int, int] | None:
        """How well the policy can price ``asset`` at ``at`` without asking: (source position,
        granularity rank, conversions the source expects to need), lower is better; ``None`` when no
        source could. The last part is the source's optional ``conversions_for(asset, quote)`` (0 when
        it has none): Binance quotes tether directly in EUR, an altcoin through USDT."""
        if asset == quote:
            return (-1, -1, -1)
        for position, source in enumerate(self.sources_for(asset, quote)):
            granularity = source.granularity_for(asset, quote, at)
            if granularity is not None:
                expect = getattr(source, "conversions_for", None)
                hops = int(expect(asset, quote)) if callable(expect) else 0
                return (position, granularity.rank, hops)
        return None

    async def resolve(
        self,
        requests: Iterable[PriceRequest],
        cache: PriceCache,
        *,
        hops: int | None = None,
        avoid: frozenset[str] = frozenset(),
    ) -> dict[PriceRequest, ResolvedPrice]:
        """Resolve every request (see the module notes); one batch per source and round.

        ``avoid`` are assets a conversion must not go through (those already in the chain: tether
        priced in bitcoin priced in tether proves nothing); an answer quoted in one of them is passed
        on to the next source.
        """
        hops = self.max_hops if hops is None else hops
        results: dict[PriceRequest, ResolvedPrice] = {}
        asking: list[_Asking] = []
        for request in dict.fromkeys(requests):
            if request.asset == request.quote:
                results[request] = ResolvedPrice(request, ResolvedStatus.FOUND, Decimal(1))
                continue
            sources = self.sources_for(request.asset, request.quote)
            state = _Asking(request, sources)
            if not sources:
                fx = is_fiat(request.asset) and is_fiat(request.quote)
                kind = SourceKind.FX if fx else SourceKind.MARKET
                state.reasons.append(f"no {kind.value} price source is configured")
            asking.append(state)
        while True:
            batches: dict[int, tuple[PriceSource, list[_Asking]]] = {}
            for state in asking:
                if not state.done and state.request not in results:
                    source = state.sources[state.index]
                    batches.setdefault(id(source), (source, []))[1].append(state)
            if not batches:
                break
            converting: dict[PriceRequest, tuple[_Asking, PricePoint]] = {}
            for source, states in batches.values():
                answers = await source.prices([s.request for s in states], cache)
                for state, answer in zip(states, answers, strict=True):
                    if answer.status is AnswerStatus.FOUND and answer.point is not None:
                        point = answer.point
                        if point.quote == state.request.quote:
                            results[state.request] = ResolvedPrice(
                                state.request, ResolvedStatus.FOUND, point.price, (point,)
                            )
                            continue
                        if point.quote in avoid or point.quote == state.request.asset:
                            state.reasons.append(
                                f"{source.info.id}: priced in {point.quote} ({point.pair}), which this "
                                "conversion already goes through"
                            )
                        elif hops > 0:
                            converting[state.request] = (state, point)
                            continue
                        else:
                            state.reasons.append(
                                f"{source.info.id}: priced in {point.quote}, and converting it further "
                                f"exceeds {self.max_hops} conversions"
                            )
                    else:
                        if answer.status in (AnswerStatus.PENDING, AnswerStatus.FAILED):
                            state.pending = True
                        if answer.reason:
                            state.reasons.append(answer.reason)
                    state.index += 1
            if converting:
                wanted = {
                    request: PriceRequest(point.quote, request.quote, request.at)
                    for request, (_, point) in converting.items()
                }
                groups: dict[frozenset[str], set[PriceRequest]] = {}
                for request in converting:
                    groups.setdefault(avoid | {request.asset}, set()).add(wanted[request])
                converted: dict[frozenset[str], dict[PriceRequest, ResolvedPrice]] = {}
                for chain, group in groups.items():
                    converted[chain] = await self.resolve(group, cache, hops=hops - 1, avoid=chain)
                for request, (state, point) in converting.items():
                    conversion = converted[avoid | {request.asset}][wanted[request]]
                    if conversion.status is ResolvedStatus.FOUND and conversion.price is not None:
                        results[request] = ResolvedPrice(
                            request,
                            ResolvedStatus.FOUND,
                            mul(point.price, conversion.price),
                            (point, *conversion.points),
                        )
                        continue
                    if conversion.status is ResolvedStatus.PENDING:
                        state.pending = True
                    state.reasons.append(
                        f"{point.source}: priced in {point.quote} ({point.pair}), but {point.quote} in "
                        f"{request.quote}: {conversion.reason}"
                    )
                    state.index += 1
        for state in asking:
            if state.request in results:
                continue
            status = ResolvedStatus.PENDING if state.pending else ResolvedStatus.UNPRICEABLE
            results[state.request] = ResolvedPrice(
                state.request, status, reason="; ".join(state.reasons) or "no source could price it"
            )
        return results

    async def aclose(self) -> None:
        """Close every source."""
        for source in self.sources:
            await source.aclose()

    @staticmethod
    def order(sources: Mapping[str, PriceSource], names: Sequence[str]) -> tuple[PriceSource, ...]:
        """``sources`` picked in the order ``names`` gives (a name with no source is skipped)."""
        return tuple(sources[name] for name in names if name in sources)

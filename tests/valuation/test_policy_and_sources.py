"""The policy (order, fallbacks, conversions, pending vs unpriceable) and the CandleSource base class
(cache before requests, "no price" facts, listings, failures never cached)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from helpers.valuation import NOW, T0, TableSource, context
from txsync.errors import TransientError
from txsync.valuation import (
    AnswerStatus,
    CachedPrice,
    CandleSource,
    Granularity,
    InMemoryPriceCache,
    PriceKey,
    PricePolicy,
    PriceRequest,
    PriceSourceContext,
    PriceSourceInfo,
    Refusal,
    ResolvedStatus,
    Route,
    SourceKind,
)


class Scripted(CandleSource):
    """Answers from ``script[instrument]``: a price, ``None`` (no price), ``"gone"`` (not listed),
    ``("since", when)`` (listed later), or an exception to raise."""

    info: ClassVar[PriceSourceInfo] = PriceSourceInfo(
        id="scripted", display_name="Scripted", kind=SourceKind.MARKET, granularities=(Granularity.MINUTE,)
    )

    def __init__(
        self, context: PriceSourceContext, script: dict[str, Any], routes: dict[str, list[Route]]
    ) -> None:
        super().__init__(context)
        self.script = script
        self.table = routes
        self.calls: list[tuple[str, int]] = []

    def routes(self, request: PriceRequest, now: datetime) -> Sequence[Route] | Refusal:
        return self.table.get(request.asset) or Refusal(AnswerStatus.UNKNOWN, "not mine")

    async def fetch(self, route: Route, slots: Sequence[datetime], now: datetime) -> Iterable[CachedPrice]:
        self.calls.append((route.instrument, len(slots)))
        answer = self.script[route.instrument]
        if isinstance(answer, Exception):
            raise answer
        symbol = PriceKey.symbol(self.info.id, route.base, route.quote)
        if answer == "gone":
            return [CachedPrice(symbol, None, now, note=f"{route.instrument} gone")]
        if isinstance(answer, tuple):
            return [CachedPrice(symbol, None, now, observed_at=answer[1])]
        return [
            CachedPrice(
                PriceKey(self.info.id, route.base, route.quote, "1m", slot), answer, now, route.instrument
            )
            for slot in slots
        ]


def route(instrument: str, base: str, quote: str, *, inverted: bool = False) -> Route:
    return Route(instrument, base, quote, Granularity.MINUTE, inverted=inverted)


BTC, EUR, USDT = "coin:bitcoin", "fiat:EUR", "coin:tether"


def scripted(script: dict[str, Any], routes: dict[str, list[Route]], now: datetime = NOW) -> Scripted:
    return Scripted(PriceSourceContext(clock=lambda: now), script, routes)


def test_routes_are_tried_in_order_and_what_failed_is_remembered() -> None:
    source = scripted(
        {"BTCEUR": "gone", "BTCUSDT": Decimal(30000)},
        {BTC: [route("BTCEUR", BTC, EUR), route("BTCUSDT", BTC, USDT)]},
    )
    cache = InMemoryPriceCache()
    (answer,) = asyncio.run(source.prices([PriceRequest(BTC, EUR, T0)], cache))
    assert answer.status is AnswerStatus.FOUND and answer.point is not None and answer.point.quote == USDT
    assert source.calls == [("BTCEUR", 1), ("BTCUSDT", 1)]
    asyncio.run(source.prices([PriceRequest(BTC, EUR, T0 + timedelta(minutes=9))], cache))
    assert source.calls[2:] == [("BTCUSDT", 1)]  # BTCEUR known to be gone: not asked again


def test_a_listing_date_spares_every_request_before_it() -> None:
    listed = T0 + timedelta(days=30)
    source = scripted({"BTCEUR": ("since", listed), "BTCUSDT": Decimal(1)},
                      {BTC: [route("BTCEUR", BTC, EUR), route("BTCUSDT", BTC, USDT)]})  # fmt: skip
    cache = InMemoryPriceCache()
    asyncio.run(source.prices([PriceRequest(BTC, EUR, T0)], cache))
    asyncio.run(source.prices([PriceRequest(BTC, EUR, T0 + timedelta(days=1))], cache))
    assert [c[0] for c in source.calls] == ["BTCEUR", "BTCUSDT", "BTCUSDT"]


def test_missing_prices_are_pending_while_the_source_may_lag_then_final() -> None:
    recent = NOW - timedelta(minutes=10)
    source = scripted({"BTCEUR": None}, {BTC: [route("BTCEUR", BTC, EUR)]})
    cache = InMemoryPriceCache()
    fresh, old = asyncio.run(
        source.prices([PriceRequest(BTC, EUR, recent), PriceRequest(BTC, EUR, T0)], cache)
    )
    assert fresh.status is AnswerStatus.PENDING and "lag" in (fresh.reason or "")
    assert old.status is AnswerStatus.UNAVAILABLE and "no price" in (old.reason or "")
    asyncio.run(source.prices([PriceRequest(BTC, EUR, T0)], cache))
    assert len(source.calls) == 1  # the old "no price" is final: never asked again


def test_a_candle_not_closed_is_pending_without_any_request() -> None:
    source = scripted(
        {"BTCEUR": Decimal(1)}, {BTC: [route("BTCEUR", BTC, EUR)]}, now=T0 + timedelta(seconds=20)
    )
    (answer,) = asyncio.run(source.prices([PriceRequest(BTC, EUR, T0)], InMemoryPriceCache()))
    assert answer.status is AnswerStatus.PENDING and source.calls == []


def test_a_failing_source_caches_nothing_and_answers_failed() -> None:
    source = scripted({"BTCEUR": TransientError("boom", endpoint="/x")}, {BTC: [route("BTCEUR", BTC, EUR)]})
    cache = InMemoryPriceCache()
    (answer,) = asyncio.run(source.prices([PriceRequest(BTC, EUR, T0)], cache))
    assert answer.status is AnswerStatus.FAILED and "TransientError" in (answer.reason or "")
    assert len(cache) == 0


def test_an_inverted_route_reads_the_pair_backwards() -> None:
    source = scripted({"EURUSDT": Decimal("1.25")}, {USDT: [route("EURUSDT", EUR, USDT, inverted=True)]})
    (answer,) = asyncio.run(source.prices([PriceRequest(USDT, EUR, T0)], InMemoryPriceCache()))
    assert answer.point is not None
    assert (answer.point.price, answer.point.quoted, answer.point.quote) == (
        Decimal("0.8"),
        Decimal("1.25"),
        EUR,
    )


def test_the_policy_falls_back_to_the_next_source_and_converts_other_quotes() -> None:
    first = scripted({"BTCUSDT": Decimal(30000)}, {BTC: [route("BTCUSDT", BTC, USDT)]})
    second = TableSource(context({("coin:tether", EUR): "0.9", ("coin:dogecoin", EUR): "0.1"}))
    policy = PricePolicy([first, second])
    btc, doge = PriceRequest(BTC, EUR, T0), PriceRequest("coin:dogecoin", EUR, T0)
    found = asyncio.run(policy.resolve([btc, doge], InMemoryPriceCache()))
    assert found[btc].price == Decimal("27000.0") and [p.source for p in found[btc].points] == [
        "scripted",
        "table",
    ]
    assert found[btc].conversion_rate == Decimal("0.9")
    assert found[doge].price == Decimal("0.1") and found[doge].primary is not None
    assert policy.rank(BTC, EUR, T0) == (0, 0, 0) and policy.rank("coin:dogecoin", EUR, T0) == (1, 0, 0)
    assert policy.rank("coin:nothing", EUR, T0) is None


def test_the_policy_says_pending_when_a_source_failed_and_unpriceable_when_all_said_no() -> None:
    broken = scripted({"BTCEUR": TransientError("down", endpoint="/x")}, {BTC: [route("BTCEUR", BTC, EUR)]})
    empty = TableSource(context({}))
    policy = PricePolicy([broken, empty])
    btc, doge = PriceRequest(BTC, EUR, T0), PriceRequest("coin:dogecoin", EUR, T0)
    found = asyncio.run(policy.resolve([btc, doge], InMemoryPriceCache()))
    assert found[btc].status is ResolvedStatus.PENDING and "down" in (found[btc].reason or "")
    assert found[doge].status is ResolvedStatus.UNPRICEABLE
    assert "scripted: not mine" in (found[doge].reason or "") and "table: no coin:dogecoin" in (
        found[doge].reason or ""
    )
    assert asyncio.run(PricePolicy().resolve([btc], InMemoryPriceCache()))[btc].reason == (
        "no market price source is configured"
    )


def test_source_info_validates_its_id() -> None:
    from txsync.errors import ModelError

    with pytest.raises(ModelError, match="price source id"):
        PriceSourceInfo(
            id="Not Valid", display_name="x", kind=SourceKind.FX, granularities=(Granularity.DAY,)
        )


def test_a_conversion_never_goes_back_through_an_asset_of_its_chain() -> None:
    # tether in EUR: the first source only knows it in bitcoin, and bitcoin only in tether
    circular = scripted(
        {"USDTBTC": Decimal("0.00002"), "BTCUSDT": Decimal(50000)},
        {USDT: [route("USDTBTC", USDT, BTC)], BTC: [route("BTCUSDT", BTC, USDT)]},
    )
    second = TableSource(context({("coin:tether", EUR): "0.9"}))
    tether = PriceRequest(USDT, EUR, T0)
    found = asyncio.run(PricePolicy([circular, second]).resolve([tether], InMemoryPriceCache()))[tether]
    assert found.status is ResolvedStatus.FOUND and found.price == Decimal("0.9")
    assert [p.source for p in found.points] == ["table"]


def test_a_trade_waiting_for_its_price_asks_nothing_for_the_legs_that_will_follow() -> None:
    from helpers.valuation import ledger_tx
    from txsync.valuation import Valuator

    table = TableSource(context({("coin:tether", EUR): "0.9", ("coin:binancecoin", EUR): "300",
                                 ("coin:tron", EUR): "0.09"}))  # fmt: skip
    valuator = Valuator(PricePolicy([table]), InMemoryPriceCache(), clock=lambda: NOW)
    trade = ledger_tx(("TRX", "100"), ("USDT", "-10"), ("BNB", "-0.01", "fee"))
    (valued,) = asyncio.run(valuator.value([trade], connector_of=lambda _a: "binance")).valuations
    assert valued.amount == Decimal("9.00") and valued.price is not None and valued.price.asset == "coin:tron"
    # tether follows from the trade's price: never asked for
    assert sorted(i for i, _ in table.fetched) == ["coin:binancecoin/fiat:EUR", "coin:tron/fiat:EUR"]
    assert valued.legs[1].derived and valued.legs[1].unit_price == Decimal("0.9")

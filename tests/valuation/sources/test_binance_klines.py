"""Binance klines as a price source: against its cassette, then its sandbox's bad paths."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx
import pytest

from helpers.price_cassettes import price_cassette
from txsync.connector import LimiterRegistry
from txsync.connectors.binance._limits import build_limiters
from txsync.testing import NO_SLEEP_RETRY
from txsync.valuation import AnswerStatus, InMemoryPriceCache, PriceRequest, PriceSourceContext
from txsync.valuation._decimal import invert
from txsync.valuation.sandbox import DEFAULT_MARKET
from txsync.valuation.sources.binance import BinanceKlines
from txsync.valuation.sources.binance.sandbox import NOW, KlinesSandbox
from txsync.valuation.sources.sandboxes import PriceSandboxes

BTC, ETH, BNB, USDT, BCH, EUR = (
    "coin:bitcoin", "coin:ethereum", "coin:binancecoin", "coin:tether", "coin:bitcoin-cash", "fiat:EUR",
)  # fmt: skip
MOMENT = datetime(2021, 3, 4, 12, 30, 5, tzinfo=UTC)


def close(base: str, quote: str, start: datetime) -> Decimal:
    """What the sandbox publishes as the close of the minute from ``start``."""
    price = DEFAULT_MARKET.price(base, quote, start + timedelta(seconds=59))
    assert price is not None
    return price.quantize(Decimal("0.00000001"), rounding=ROUND_HALF_EVEN)


def source(transport: httpx.AsyncBaseTransport, *, now: datetime = NOW, **options: Any) -> BinanceKlines:
    return BinanceKlines(
        PriceSourceContext(options=options, transport=transport, clock=lambda: now, retry=NO_SLEEP_RETRY)
    )


def ask(src: BinanceKlines, *requests: PriceRequest, cache: InMemoryPriceCache | None = None) -> list[Any]:
    return asyncio.run(src.prices(list(requests), cache if cache is not None else InMemoryPriceCache()))


def test_klines_from_the_cassette() -> None:
    """Direct symbols, the inverse one, bridges before a listing, a vanished symbol, one window for
    neighbouring minutes (recorded from the sandbox in ``cassettes/prices/binance/klines.yaml``)."""
    sandboxes = PriceSandboxes()
    with price_cassette("binance", "klines", sandboxes) as transport:
        src = source(transport)
        cache = InMemoryPriceCache()
        requests = [
            PriceRequest(BTC, EUR, MOMENT),
            PriceRequest(BTC, EUR, MOMENT + timedelta(minutes=7)),  # same window: same request
            PriceRequest(USDT, EUR, MOMENT),  # EURUSDT read backwards
            PriceRequest(ETH, EUR, datetime(2018, 6, 1, 8, 0, 30, tzinfo=UTC)),  # before ETHEUR: ETHUSDT
            PriceRequest(
                ETH, EUR, datetime(2019, 6, 1, 8, 0, 30, tzinfo=UTC)
            ),  # listing known: no ETHEUR ask
            PriceRequest(BCH, EUR, datetime(2018, 3, 4, 9, 15, tzinfo=UTC)),  # BCH symbols came in 2019
        ]
        answers = ask(src, *requests, cache=cache)
        btc, btc_later, tether, eth_2018, eth_2019, bch = answers
        minute = MOMENT.replace(second=0)
        assert btc.point.pair == "BTCEUR" and btc.point.price == close(BTC, EUR, minute)
        assert btc_later.point.price == close(BTC, EUR, minute + timedelta(minutes=7))
        assert tether.point.pair == "EURUSDT" and tether.point.inverted
        assert tether.point.price == invert(close(EUR, USDT, minute)) and tether.point.quote == EUR
        for answer, at in ((eth_2018, requests[3].at), (eth_2019, requests[4].at)):
            assert answer.point.pair == "ETHUSDT" and answer.point.quote == USDT
            assert answer.point.price == close(ETH, USDT, at.replace(second=0))
        assert (
            bch.status is AnswerStatus.UNAVAILABLE and "BCHUSDT has prices only from 2019-11-28" in bch.reason
        )
        requests_made = src.context.stats.requests
        # BTCEUR once for two minutes; ETHEUR once (its first answer dates the listing, so the 2019
        # window is not asked); -1121 for USDTEUR, EURETH, BCHEUR, BCHBTC, BCHBUSD; BCHUSDT once
        assert requests_made == 11
        assert ask(src, *requests, cache=cache) == answers  # all from the cache
        assert src.context.stats.requests == requests_made


def test_it_spends_the_binance_connectors_per_ip_budget() -> None:
    limiters = LimiterRegistry()
    ours = build_limiters(limiters, ip_label="office", account_id="acc")["spot"]
    sandbox = KlinesSandbox(enforce_limits=False)
    src = BinanceKlines(
        PriceSourceContext(
            options={"ip_label": "office"},
            transport=sandbox.transport(),
            clock=lambda: NOW,
            limiters=limiters,
        )
    )
    ask(src, PriceRequest(BTC, EUR, MOMENT), PriceRequest(BNB, EUR, MOMENT))
    assert ours.usage()["spot"] == 2 * sandbox.requests == 4  # weight 2 per klines request


@pytest.mark.parametrize("fault", ["429", "500", "malformed", "truncated", "timeout"])
def test_a_passing_failure_is_retried_and_answered(fault: str) -> None:
    sandbox = KlinesSandbox(enforce_limits=False, faults={1: fault})
    src = source(sandbox.transport())
    (answer,) = ask(src, PriceRequest(BTC, EUR, MOMENT))
    assert answer.status is AnswerStatus.FOUND and answer.point.price == close(
        BTC, EUR, MOMENT.replace(second=0)
    )
    assert sandbox.requests == 2 and src.context.stats.retries == 1
    assert src.context.stats.rate_limited == (1 if fault == "429" else 0)


@pytest.mark.parametrize("fault", ["malformed", "truncated"])
def test_a_body_broken_twice_fails_the_source_and_caches_nothing(fault: str) -> None:
    sandbox = KlinesSandbox(enforce_limits=False, faults={1: fault, 2: fault})
    cache = InMemoryPriceCache()
    (answer,) = ask(source(sandbox.transport()), PriceRequest(BTC, EUR, MOMENT), cache=cache)
    assert answer.status is AnswerStatus.FAILED and "MalformedBodyError" in answer.reason
    assert len(cache) == 0


def test_weight_beyond_the_minute_budget_is_refused_with_retry_after() -> None:
    wall = {"t": 1_700_000_000.0}
    sandbox = KlinesSandbox(weight_limit=4, wall=lambda: wall["t"])
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        wall["t"] += seconds

    retry = NO_SLEEP_RETRY.__class__(attempts=4, max_wait=120, sleep=sleep)
    src = BinanceKlines(
        PriceSourceContext(
            options={"rate_limit": "off"}, transport=sandbox.transport(), clock=lambda: NOW, retry=retry
        )
    )
    ask(src, *(PriceRequest(BTC, EUR, MOMENT + timedelta(days=d)) for d in range(3)))
    assert sandbox.rejected_429 == 1 and src.context.stats.rate_limited == 1
    assert slept and slept[0] == pytest.approx(40)  # Retry-After: the seconds left in the minute


def test_an_unlisted_symbol_is_remembered_and_the_next_route_used() -> None:
    sandbox = KlinesSandbox(enforce_limits=False)
    src = source(sandbox.transport())
    cache = InMemoryPriceCache()
    (answer,) = ask(src, PriceRequest("coin:dogecoin", EUR, MOMENT), cache=cache)
    assert answer.point.pair == "DOGEUSDT"
    ask(src, PriceRequest("coin:dogecoin", EUR, MOMENT + timedelta(days=2)), cache=cache)
    assert sandbox.log.count("/api/v3/klines?DOGEEUR") == 1  # -1121 once, then known


def test_an_asset_binance_has_no_ticker_for_is_unknown_without_a_request() -> None:
    sandbox = KlinesSandbox()
    (answer,) = ask(source(sandbox.transport()), PriceRequest("coin:no-such-coin", EUR, MOMENT))
    assert answer.status is AnswerStatus.UNKNOWN and sandbox.requests == 0


def test_the_candle_in_progress_is_never_a_price() -> None:
    sandbox = KlinesSandbox(enforce_limits=False, clock=lambda: MOMENT)
    src = source(sandbox.transport(), now=MOMENT)
    (answer,) = ask(src, PriceRequest(BTC, EUR, MOMENT))
    assert answer.status is AnswerStatus.PENDING and sandbox.requests == 0
    later = source(sandbox.transport(), now=MOMENT + timedelta(minutes=1))
    sandbox.clock = lambda: MOMENT + timedelta(minutes=1)
    (answer,) = ask(later, PriceRequest(BTC, EUR, MOMENT))
    assert answer.status is AnswerStatus.FOUND


def test_duplicated_and_reordered_candles_change_nothing() -> None:
    sandbox = KlinesSandbox(enforce_limits=False, faults={1: "duplicate"})
    requests = [PriceRequest(BTC, EUR, MOMENT + timedelta(minutes=m)) for m in (0, 5, 9)]
    answers = ask(source(sandbox.transport()), *requests)
    assert [a.point.price for a in answers] == [close(BTC, EUR, r.at.replace(second=0)) for r in requests]
    assert sandbox.requests == 1


def test_minutes_far_apart_are_separate_requests_close_ones_one() -> None:
    sandbox = KlinesSandbox(enforce_limits=False)
    src = source(sandbox.transport(), max_gap_minutes=60)
    ask(src, *(PriceRequest(BTC, EUR, MOMENT + timedelta(minutes=m)) for m in (0, 30, 90, 400, 460)))
    assert sandbox.requests == 2


@pytest.mark.parametrize(
    "rows",
    [
        {"not": "a list"},
        [[1, "2"]],
        [["t", "1", "1", "1", "1", "1", 2]],
        [[0, "1", "1", "1", "-5", "1", 59_999]],
    ],
)
def test_a_klines_answer_of_the_wrong_shape_is_a_bad_response(rows: Any) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=rows))
    (answer,) = ask(source(transport), PriceRequest(BTC, EUR, MOMENT))
    assert answer.status is AnswerStatus.FAILED and "BadResponseError" in answer.reason

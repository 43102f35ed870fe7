"""CoinGecko as a price source: against its cassettes (Demo and paid keys), then the sandbox's bad paths."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from helpers.price_cassettes import price_cassette
from txsync.errors import ConfigurationError
from txsync.testing import NO_SLEEP_RETRY
from txsync.valuation import AnswerStatus, Granularity, InMemoryPriceCache, PriceRequest, PriceSourceContext
from txsync.valuation.sandbox import DEFAULT_MARKET
from txsync.valuation.sources.coingecko import CoinGecko
from txsync.valuation.sources.coingecko.sandbox import DEMO_KEY, NOW, PRO_KEY, CoinGeckoSandbox
from txsync.valuation.sources.sandboxes import PriceSandboxes

BTC, BCH, EUR = "coin:bitcoin", "coin:bitcoin-cash", "fiat:EUR"
SHIB_ON_ETHEREUM = "eip155:1/erc20:0x95ad61b0a150d79219dcf64e1e6cc01f0b64c4ce"
RECENT = datetime(2024, 3, 4, 12, 30, 5, tzinfo=UTC)


def source(transport: httpx.AsyncBaseTransport, key: str | None = DEMO_KEY, *, now: datetime = NOW,
           **options: Any) -> CoinGecko:  # fmt: skip
    return CoinGecko(
        PriceSourceContext(
            options=options, secrets={"api_key": key} if key else {}, transport=transport, clock=lambda: now,
            retry=NO_SLEEP_RETRY,
        )
    )  # fmt: skip


def ask(src: CoinGecko, *requests: PriceRequest, cache: InMemoryPriceCache | None = None) -> list[Any]:
    return asyncio.run(src.prices(list(requests), cache if cache is not None else InMemoryPriceCache()))


def assert_sampled(answer: Any, asset: str, quote: str, granularity: Granularity, at: datetime) -> None:
    """The price is the sample closing the interval of ``at``, exactly as the API sent it."""
    point = answer.point
    assert answer.status is AnswerStatus.FOUND and point.granularity is granularity
    assert point.start == granularity.floor(at)
    closes = point.start + granularity.delta
    assert abs(point.observed_at - closes) <= timedelta(minutes=30)
    assert point.price == DEFAULT_MARKET.price(asset, quote, point.observed_at)


def test_demo_key_from_the_cassette() -> None:
    """Hourly prices, a token by its contract, an unknown coin, the Demo plan's 365 days
    (``cassettes/prices/coingecko/demo.yaml``)."""
    with price_cassette("coingecko", "demo", PriceSandboxes()) as transport:
        src = source(transport)
        cache = InMemoryPriceCache()
        requests = [
            PriceRequest(BTC, EUR, RECENT),
            PriceRequest(BTC, EUR, RECENT + timedelta(days=3, hours=5)),  # same 88-day window
            PriceRequest(BTC, "fiat:GBP", RECENT),
            PriceRequest(SHIB_ON_ETHEREUM, EUR, RECENT),
            PriceRequest("coin:not-a-coin", EUR, RECENT),
            PriceRequest(BTC, EUR, datetime(2021, 1, 1, tzinfo=UTC)),  # beyond the Demo plan's reach
            PriceRequest(BTC, "fiat:ISK", RECENT),  # not a vs_currency: priced in USD instead
        ]
        btc, btc_later, in_gbp, shib, unknown, old, in_usd = ask(src, *requests, cache=cache)
        assert_sampled(btc, BTC, EUR, Granularity.HOUR, RECENT)
        assert_sampled(btc_later, BTC, EUR, Granularity.HOUR, requests[1].at)
        assert_sampled(in_gbp, BTC, "fiat:GBP", Granularity.HOUR, RECENT)
        assert shib.point.pair == "ethereum:0x95ad61b0a150d79219dcf64e1e6cc01f0b64c4ce/eur"
        assert shib.point.price == DEFAULT_MARKET.price("coin:shiba-inu", EUR, shib.point.observed_at)
        assert unknown.status is AnswerStatus.UNKNOWN and "coin not found" in unknown.reason
        assert old.status is AnswerStatus.UNAVAILABLE and "past 365 days" in old.reason
        assert in_usd.point.quote == "fiat:USD"
        assert (
            src.context.stats.requests == 5
        )  # bitcoin/eur, bitcoin/gbp, bitcoin/usd, the token, the unknown
        ask(src, *requests, cache=cache)
        assert src.context.stats.requests == 5


def test_paid_key_from_the_cassette() -> None:
    """The full history: daily before 2018-02, hourly after (``cassettes/prices/coingecko/pro.yaml``)."""
    with price_cassette("coingecko", "pro", PriceSandboxes()) as transport:
        src = source(transport, PRO_KEY, plan="pro")
        early = datetime(2017, 9, 4, 15, 0, tzinfo=UTC)
        later = datetime(2018, 3, 4, 9, 15, tzinfo=UTC)
        daily, hourly = ask(src, PriceRequest(BCH, EUR, early), PriceRequest(BCH, EUR, later))
        assert_sampled(daily, BCH, EUR, Granularity.DAY, early)
        assert_sampled(hourly, BCH, EUR, Granularity.HOUR, later)
        coarse = source(transport, PRO_KEY, plan="pro", granularity="daily")
        (day,) = ask(coarse, PriceRequest(BCH, EUR, later))
        assert_sampled(day, BCH, EUR, Granularity.DAY, later)


def test_a_same_day_price_is_pending_until_the_day_is_published() -> None:
    sandbox = CoinGeckoSandbox(enforce_limits=False)
    at = NOW - timedelta(hours=3)
    (answer,) = ask(source(sandbox.transport(), granularity="daily"), PriceRequest(BTC, EUR, at))
    assert answer.status is AnswerStatus.PENDING and "00:35" in answer.reason and sandbox.requests == 0
    tomorrow = NOW + timedelta(days=1, hours=1)
    sandbox.clock = lambda: tomorrow
    (answer,) = ask(
        source(sandbox.transport(), granularity="daily", now=tomorrow), PriceRequest(BTC, EUR, at)
    )
    assert_sampled(answer, BTC, EUR, Granularity.DAY, at)


@pytest.mark.parametrize("fault", ["429", "500", "malformed", "truncated", "timeout"])
def test_a_passing_failure_is_retried(fault: str) -> None:
    sandbox = CoinGeckoSandbox(enforce_limits=False, faults={1: fault})
    src = source(sandbox.transport())
    (answer,) = ask(src, PriceRequest(BTC, EUR, RECENT))
    assert answer.status is AnswerStatus.FOUND and sandbox.requests == 2
    assert src.context.stats.rate_limited == (1 if fault == "429" else 0)


def test_the_plans_rate_limit_answers_429_with_retry_after_and_is_honoured() -> None:
    wall = {"t": 1_700_000_010.0}
    sandbox = CoinGeckoSandbox(limits={"demo": 2}, wall=lambda: wall["t"])
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        wall["t"] += seconds

    src = CoinGecko(
        PriceSourceContext(
            options={"rate_limit": "off"}, secrets={"api_key": DEMO_KEY}, transport=sandbox.transport(),
            clock=lambda: NOW, retry=NO_SLEEP_RETRY.__class__(attempts=3, max_wait=120, sleep=sleep),
        )
    )  # fmt: skip
    answers = ask(src, *(PriceRequest(coin, EUR, RECENT) for coin in (BTC, BCH, "coin:ethereum")))
    assert all(a.status is AnswerStatus.FOUND for a in answers)
    assert sandbox.rejected_429 == 1 and slept == [30]  # Retry-After: to the next minute


def test_wrong_or_misplaced_keys_fail_the_source_and_never_leak(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox = CoinGeckoSandbox(enforce_limits=False)
    wrong = source(sandbox.transport(), "CG-wrong-key-0123456789abcdef")
    misplaced = source(sandbox.transport(), DEMO_KEY, plan="pro")  # a Demo key on the paid root URL
    for src, code in ((wrong, "10002"), (misplaced, "10011")):
        (answer,) = ask(src, PriceRequest(BTC, EUR, RECENT))
        assert answer.status is AnswerStatus.FAILED and "AuthError" in answer.reason and code in answer.reason
        assert (
            DEMO_KEY not in answer.reason
            and DEMO_KEY not in repr(src.context)
            and DEMO_KEY not in repr(src.http)
        )
    assert DEMO_KEY not in caplog.text and "CG-wrong-key" not in caplog.text


def test_a_paid_plan_needs_a_key_and_an_unknown_plan_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="needs an api_key"):
        source(httpx.MockTransport(lambda r: httpx.Response(500)), None, plan="pro")
    with pytest.raises(ConfigurationError, match="plan must be one of"):
        source(httpx.MockTransport(lambda r: httpx.Response(500)), plan="gold")


def test_a_range_beyond_the_plan_is_refused_by_the_api_too() -> None:
    """Our clock lags the server's by 3 days: the range we think allowed is beyond CoinGecko's."""
    sandbox = CoinGeckoSandbox(enforce_limits=False, clock=lambda: NOW + timedelta(days=3))
    (answer,) = ask(source(sandbox.transport()), PriceRequest(BTC, EUR, NOW - timedelta(days=363)))
    assert (
        answer.status is AnswerStatus.FAILED
        and "PlanLimitError" in answer.reason
        and "365 days" in answer.reason
    )


@pytest.mark.parametrize(
    "body",
    [{"no": "prices"}, {"prices": [[1, 2, 3]]}, {"prices": [["t", 1]]}, {"prices": [[1704067241331, "1.5"]]}],
)
def test_an_answer_of_the_wrong_shape_is_a_bad_response(body: Any) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    (answer,) = ask(source(transport), PriceRequest(BTC, EUR, RECENT))
    assert answer.status is AnswerStatus.FAILED and "BadResponseError" in answer.reason


def test_holes_and_non_positive_prices_are_skipped_not_taken_as_zero() -> None:
    stamp = (
        int(
            (
                RECENT.replace(minute=0, second=0) + timedelta(hours=1) - datetime(1970, 1, 1, tzinfo=UTC)
            ).total_seconds()
        )
        * 1000
    )
    body = {"prices": [[stamp, None], [stamp + 1000, 0]]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    (answer,) = ask(source(transport), PriceRequest(BTC, EUR, RECENT))
    assert answer.status is AnswerStatus.UNAVAILABLE and answer.point is None
    assert Decimal(0) not in [a.point.price for a in [answer] if a.point]


def test_a_paid_tier_with_a_shorter_history_is_configured_and_refused_locally() -> None:
    sandbox = CoinGeckoSandbox(enforce_limits=False)
    basic = source(sandbox.transport(), PRO_KEY, plan="pro", history_days=730)
    (answer,) = ask(basic, PriceRequest(BTC, EUR, NOW - timedelta(days=800)))
    assert answer.status is AnswerStatus.UNAVAILABLE and "730 days" in answer.reason and sandbox.requests == 0

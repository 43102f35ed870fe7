"""The ECB reference rates as an FX source: the cassette, the closing-day rule, publication, bad paths."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from helpers.price_cassettes import price_cassette
from txsync.testing import NO_SLEEP_RETRY
from txsync.valuation import (
    AnswerStatus,
    InMemoryPriceCache,
    PricePolicy,
    PriceRequest,
    PriceSourceContext,
    ResolvedStatus,
)
from txsync.valuation._decimal import invert, mul
from txsync.valuation.sources.ecb import EcbReferenceRates, easter, is_business_day, previous_business_day
from txsync.valuation.sources.ecb.sandbox import NOW, EcbSandbox
from txsync.valuation.sources.sandboxes import PriceSandboxes

USD, GBP, EUR = "fiat:USD", "fiat:GBP", "fiat:EUR"


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def source(transport: httpx.AsyncBaseTransport, *, now: datetime = NOW) -> EcbReferenceRates:
    return EcbReferenceRates(
        PriceSourceContext(
            options={"rate_limit": "off"}, transport=transport, clock=lambda: now, retry=NO_SLEEP_RETRY
        )
    )


def ask(
    src: EcbReferenceRates, *requests: PriceRequest, cache: InMemoryPriceCache | None = None
) -> list[Any]:
    return asyncio.run(src.prices(list(requests), cache if cache is not None else InMemoryPriceCache()))


def published(code: str, day: str) -> Decimal:
    """The rate the sandbox publishes for ``code`` on ``day`` (a business day)."""
    rows = EcbSandbox()._rows([code], date.fromisoformat(day), date.fromisoformat(day))
    assert len(rows) == 1
    return rows[0][2]


def test_the_target_calendar() -> None:
    assert [easter(y) for y in (2019, 2023, 2024, 2025)] == [
        date(2019, 4, 21), date(2023, 4, 9), date(2024, 3, 31), date(2025, 4, 20),
    ]  # fmt: skip
    closed = [
        "2024-01-01",
        "2024-03-29",
        "2024-04-01",
        "2024-05-01",
        "2024-12-25",
        "2024-12-26",
        "2024-06-01",
    ]
    assert not any(is_business_day(date.fromisoformat(d)) for d in closed)
    assert is_business_day(date(2024, 12, 24)) and is_business_day(date(2024, 5, 9))  # Ascension is open
    assert previous_business_day(date(2024, 4, 1)) == date(2024, 3, 28)


def test_reference_rates_from_the_cassette() -> None:
    """Business days, a weekend and Easter carrying Thursday's rate, cross rates through the euro
    (``cassettes/prices/ecb/reference_rates.yaml``)."""
    with price_cassette("ecb", "reference_rates", PriceSandboxes()) as transport:
        src = source(transport)
        cache = InMemoryPriceCache()
        monday, saturday, easter_monday, gbp = ask(
            src,
            PriceRequest(USD, EUR, at("2024-03-04")),
            PriceRequest(USD, EUR, at("2024-03-30")),
            PriceRequest(USD, EUR, at("2024-04-01", 23)),
            PriceRequest(EUR, GBP, at("2024-03-04")),
            cache=cache,
        )
        assert monday.point.quoted == published("USD", "2024-03-04") and monday.point.inverted
        assert monday.point.price == invert(published("USD", "2024-03-04")) and monday.point.quote == EUR
        for carried in (saturday, easter_monday):
            assert carried.point.quoted == published("USD", "2024-03-28")
            assert carried.point.observed_at == at("2024-03-28", 0)
        assert gbp.point.price == published("GBP", "2024-03-04") and not gbp.point.inverted
        policy = PricePolicy([], [src])
        cross = PriceRequest(USD, GBP, at("2024-03-04"))
        resolved = asyncio.run(policy.resolve([cross], cache))[cross]
        assert resolved.status is ResolvedStatus.FOUND
        assert resolved.price == mul(monday.point.price, gbp.point.price)
        assert src.context.stats.requests == 2  # one request per currency, nothing more for the cross rate


def test_a_days_rate_is_pending_until_published_at_16_utc() -> None:
    friday = datetime(2024, 5, 31, 14, 0, tzinfo=UTC)
    sandbox = EcbSandbox(clock=lambda: friday)
    (answer,) = ask(
        source(sandbox.transport(), now=friday), PriceRequest(USD, EUR, friday - timedelta(hours=4))
    )
    assert answer.status is AnswerStatus.PENDING and "16:00" in answer.reason and sandbox.requests == 0
    evening = friday + timedelta(hours=3)
    sandbox.clock = lambda: evening
    (answer,) = ask(
        source(sandbox.transport(), now=evening), PriceRequest(USD, EUR, friday - timedelta(hours=4))
    )
    assert answer.status is AnswerStatus.FOUND and answer.point.quoted == published("USD", "2024-05-31")


def test_a_currency_the_ecb_does_not_publish_is_unknown_without_a_request() -> None:
    sandbox = EcbSandbox()
    (answer,) = ask(source(sandbox.transport()), PriceRequest("fiat:ARS", EUR, at("2024-03-04")))
    assert answer.status is AnswerStatus.UNKNOWN and "ARS" in answer.reason and sandbox.requests == 0


def test_a_series_without_observations_is_no_price_not_an_error() -> None:
    sandbox = EcbSandbox(series={"USD": (date(2024, 5, 1), None)})  # the series starts later
    (answer,) = ask(source(sandbox.transport()), PriceRequest(USD, EUR, at("2023-03-06")))
    assert answer.status is AnswerStatus.UNAVAILABLE
    empty = httpx.MockTransport(lambda request: httpx.Response(200, content=b""))
    (answer,) = ask(source(empty), PriceRequest(USD, EUR, at("2023-03-06")))
    assert answer.status is AnswerStatus.UNAVAILABLE


@pytest.mark.parametrize("fault", ["429", "500", "503", "malformed", "truncated", "timeout"])
def test_a_passing_failure_is_retried(fault: str) -> None:
    sandbox = EcbSandbox(faults={1: fault})
    src = source(sandbox.transport())
    (answer,) = ask(src, PriceRequest(USD, EUR, at("2024-03-04")))
    assert answer.status is AnswerStatus.FOUND and sandbox.requests == 2


def test_failures_that_persist_fail_the_source_and_cache_nothing() -> None:
    sandbox = EcbSandbox(faults={n: "503" for n in range(1, 10)})
    cache = InMemoryPriceCache()
    (answer,) = ask(source(sandbox.transport()), PriceRequest(USD, EUR, at("2024-03-04")), cache=cache)
    assert answer.status is AnswerStatus.FAILED and "TransientError" in answer.reason and len(cache) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"no": "structure"},
        {"structure": {"dimensions": {"series": ["CURRENCY"], "observation": [{"values": []}]}},
         "dataSets": [{"series": {}}]},
        {"structure": {"dimensions": {"series": [], "observation": [{"values": []}]}}, "dataSets": [{"series": {}}]},
        {
            "structure": {"dimensions": {"series": [{"id": "CURRENCY", "values": [{"id": "USD"}]}],
                                         "observation": [{"values": [{"id": "not a day"}]}]}},
            "dataSets": [{"series": {"0": {"observations": {"0": [1.1]}}}}],
        },
        {
            "structure": {"dimensions": {"series": [{"id": "CURRENCY", "values": [{"id": "USD"}]}],
                                         "observation": [{"values": [{"id": "2024-03-04"}]}]}},
            "dataSets": [{"series": {"0": {"observations": {"0": ["1.1"]}}}}],
        },
    ],
)  # fmt: skip
def test_sdmx_json_of_the_wrong_shape_is_a_bad_response(body: Any) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    (answer,) = ask(source(transport), PriceRequest(USD, EUR, at("2024-03-04")))
    assert answer.status is AnswerStatus.FAILED and "BadResponseError" in answer.reason


def test_the_sandbox_also_speaks_csv() -> None:
    sandbox = EcbSandbox()
    request = httpx.Request(
        "GET", "https://data-api.ecb.europa.eu/service/data/EXR/D.USD+GBP.EUR.SP00.A",
        params={"startPeriod": "2024-03-04", "endPeriod": "2024-03-04", "format": "csvdata"},
    )  # fmt: skip
    lines = sandbox.handle(request).text.splitlines()
    assert lines[0].startswith("KEY,FREQ,CURRENCY,CURRENCY_DENOM,EXR_TYPE,EXR_SUFFIX,TIME_PERIOD,OBS_VALUE")
    assert lines[1] == f"EXR.D.USD.EUR.SP00.A,D,USD,EUR,SP00,A,2024-03-04,{published('USD', '2024-03-04')}"
    assert len(lines) == 3


def test_days_years_apart_are_fetched_apart_not_the_years_between() -> None:
    sandbox = EcbSandbox()
    src = source(sandbox.transport())
    answers = ask(src, *(PriceRequest(USD, EUR, at(day)) for day in ("2015-03-04", "2015-06-04", "2024-03-04")))
    assert all(a.status is AnswerStatus.FOUND for a in answers)
    assert sandbox.log == [
        "/service/data/EXR/D.USD.EUR.SP00.A?2015-02-22..2015-06-04",
        "/service/data/EXR/D.USD.EUR.SP00.A?2024-02-23..2024-03-04",
    ]

"""The ECB's euro foreign exchange reference rates as an FX source (official data API, no key).

Facts relied on (ECB data portal documentation, see docs/valuation.md):

* ``GET https://data-api.ecb.europa.eu/service/data/EXR/D.{CUR}.EUR.SP00.A?startPeriod=YYYY-MM-DD
  &endPeriod=YYYY-MM-DD&format=jsondata`` answers the daily series of ``CUR`` per 1 EUR (SDMX-JSON:
  ``dataSets[0].series["0:0:0:0:0"].observations["<i>"] = [value, ...]`` with the dates in
  ``structure.dimensions.observation[0].values[i].id``); ``format=csvdata`` gives the same as CSV.
* Rates are published around 16:00 CET on TARGET business days only; a period without any
  observation answers 404 "No results found" (or an empty body).
* No key; no rate limit is documented (this source keeps to a modest pace of its own).

**The rule for days without a rate**: a TARGET closing day (weekend, New Year, Good Friday, Easter
Monday, 1 May, 25-26 December) takes the rate of the business day before it; a business day takes its
own rate, pending until it is published (16:00 UTC at the latest); a business day that stays without a
rate once later days have one takes the previous business day's rate too (recorded in the evidence).

``fiat:X`` in ``fiat:EUR`` is ``1 / rate(X)``, ``fiat:EUR`` in ``fiat:X`` is ``rate(X)``; between two
other currencies the source answers in EUR and the policy converts on (the ECB's own cross rates).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from txsync.errors import BadRequestError, BadResponseError, TxsyncError
from txsync.http import Bucket, HttpClient
from txsync.valuation.assets import fiat_code, is_fiat
from txsync.valuation.cache import CachedPrice, PriceKey
from txsync.valuation.prices import AnswerStatus, Granularity, PriceRequest
from txsync.valuation.source import (
    CandleSource,
    PriceSourceContext,
    PriceSourceInfo,
    Refusal,
    Route,
    SourceKind,
    source_limiter,
)
from txsync.valuation.sources.ecb._calendar import is_business_day, previous_business_day

__all__ = ["CURRENCIES", "PUBLISHED_BY", "EcbReferenceRates", "NoResultsError"]

#: Currencies the ECB publishes (or published) a euro reference rate for.
CURRENCIES: frozenset[str] = frozenset(
    {
        "AUD", "BGN", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "GBP", "HKD", "HRK", "HUF", "IDR", "ILS",
        "INR", "ISK", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "RUB", "SEK", "SGD",
        "THB", "TRY", "USD", "ZAR",
    }
)  # fmt: skip
#: The time of day (UTC) by which a business day's rates are published (16:00 CET is 15:00 UTC).
PUBLISHED_BY = time(16, 0)
#: Days fetched before the first day asked, to find the rate a closing day carries.
_LOOKBACK = timedelta(days=10)
#: Days further apart than this are fetched by separate requests (not the years between them).
_MAX_GAP = timedelta(days=366)
_ENDPOINT = "/data/EXR"


class NoResultsError(BadRequestError):
    """The ECB has no observation in the period asked (404 "No results found" or an empty answer)."""


def _map_error(response: httpx.Response, body: Any) -> TxsyncError | None:
    empty = not response.content.strip()
    if (response.status_code == 200 and empty) or (
        response.status_code == 404 and (empty or b"no results" in response.content.lower())
    ):
        return NoResultsError("the ECB has no observation in that period", status=response.status_code)
    return None


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class EcbReferenceRates(CandleSource):
    """The ECB's daily euro reference rates (see the module notes).

    Options: ``base_url`` (default ``https://data-api.ecb.europa.eu/service``), ``requests_per_minute``
    (default 30: the ECB documents no limit, this is our own pace), ``rate_limit`` (``on``,
    ``simulated`` or ``off``).
    """

    info: ClassVar[PriceSourceInfo] = PriceSourceInfo(
        id="ecb",
        display_name="ECB euro reference rates",
        kind=SourceKind.FX,
        granularities=(Granularity.DAY,),
        description="The European Central Bank's daily euro foreign exchange reference rates.",
        homepage="https://data.ecb.europa.eu/help/api/data",
    )

    def __init__(self, context: PriceSourceContext) -> None:
        super().__init__(context)
        options = context.options
        bucket = Bucket("ecb", int(options.get("requests_per_minute", 30)), 60)
        limiter = source_limiter(context, "ecb:data-api", [bucket])
        self.http = HttpClient(
            str(options.get("base_url", "https://data-api.ecb.europa.eu/service")),
            limiter=limiter,
            transport=context.transport,
            stats=context.stats,
            retry=context.retry,
            clock=context.clock,
            error_mapper=_map_error,
        )

    # -- planning ----------------------------------------------------------------------------------

    def routes(self, request: PriceRequest, now: datetime) -> Sequence[Route] | Refusal:
        """The series of the currency that is not the euro (read backwards to price it in EUR)."""
        if not (is_fiat(request.asset) and is_fiat(request.quote)):
            return Refusal(AnswerStatus.UNKNOWN, "the ECB publishes currency rates only")
        asset, quote = fiat_code(request.asset), fiat_code(request.quote)
        for code in (asset, quote):
            if code != "EUR" and code not in CURRENCIES:
                return Refusal(AnswerStatus.UNKNOWN, f"the ECB publishes no euro reference rate for {code}")
        if asset == "EUR":
            return [Route(f"EXR.D.{quote}.EUR.SP00.A", "fiat:EUR", request.quote, Granularity.DAY)]
        return [Route(f"EXR.D.{asset}.EUR.SP00.A", "fiat:EUR", request.asset, Granularity.DAY, inverted=True)]

    def available_at(self, route: Route, slot: datetime) -> datetime:
        """A day's rate exists once the business day it comes from is published."""
        return datetime.combine(previous_business_day(slot.date()), PUBLISHED_BY, tzinfo=UTC)

    # -- fetching ----------------------------------------------------------------------------------

    async def fetch(self, route: Route, slots: Sequence[datetime], now: datetime) -> Iterable[CachedPrice]:
        """One request per run of days no more than a year apart, from ten days before its first day."""
        currency = fiat_code(route.quote)
        entries: list[CachedPrice] = []
        for first, last in _runs(sorted({slot.date() for slot in slots})):
            start, end = first - _LOOKBACK, min(last, now.date())
            params = {
                "startPeriod": start.isoformat(),
                "endPeriod": end.isoformat(),
                "format": "jsondata",
                "detail": "dataonly",
            }
            try:
                body = await self.http.get_json(
                    f"/data/EXR/D.{currency}.EUR.SP00.A", params=params, endpoint=_ENDPOINT
                )
                observed = self._observations(body, currency)
            except NoResultsError:
                observed = {}
            entries.extend(self._days(route, observed, first, end, now))
        return entries

    def _observations(self, body: Any, currency: str) -> dict[date, Decimal]:
        """The ``{day: rate}`` of ``currency`` in an SDMX-JSON data message."""
        try:
            return self._parse(body, currency)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            # a structure of the wrong shape anywhere (a list where an object belongs...)
            raise BadResponseError(
                f"ECB: malformed SDMX-JSON ({type(exc).__name__})", endpoint=_ENDPOINT
            ) from None

    def _parse(self, body: Any, currency: str) -> dict[date, Decimal]:
        try:
            dimensions = body["structure"]["dimensions"]
            series_dims = dimensions["series"]
            times = dimensions["observation"][0]["values"]
            series = body["dataSets"][0]["series"]
        except (KeyError, IndexError, TypeError):
            raise BadResponseError("ECB: not an SDMX-JSON data message", endpoint=_ENDPOINT) from None
        if not isinstance(series_dims, list) or not isinstance(times, list) or not isinstance(series, dict):
            raise BadResponseError("ECB: malformed SDMX-JSON structure", endpoint=_ENDPOINT)
        position = next((i for i, dim in enumerate(series_dims) if dim.get("id") == "CURRENCY"), None)
        if position is None:
            raise BadResponseError("ECB: no CURRENCY dimension", endpoint=_ENDPOINT)
        codes = [value.get("id") for value in series_dims[position].get("values", [])]
        days: list[date] = []
        for value in times:
            try:
                days.append(date.fromisoformat(str(value["id"])))
            except (KeyError, TypeError, ValueError):
                raise BadResponseError("ECB: a time period is not a day", endpoint=_ENDPOINT) from None
        found: dict[date, Decimal] = {}
        for key, item in series.items():
            try:
                index = int(str(key).split(":")[position])
                code = codes[index]
                observations = item["observations"]
            except (ValueError, IndexError, KeyError, TypeError):
                raise BadResponseError(
                    "ECB: a series key does not match the structure", endpoint=_ENDPOINT
                ) from None
            if code != currency or not isinstance(observations, dict):
                continue
            for slot, values in observations.items():
                try:
                    day = days[int(slot)]
                except (ValueError, IndexError):
                    raise BadResponseError(
                        "ECB: an observation points at no period", endpoint=_ENDPOINT
                    ) from None
                if not isinstance(values, list) or not values:
                    raise BadResponseError("ECB: an observation is not a list", endpoint=_ENDPOINT)
                value = values[0]
                if value is None:
                    continue  # no rate that day (NaN in the CSV)
                if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or value <= 0:
                    raise BadResponseError("ECB: a rate is not a positive number", endpoint=_ENDPOINT)
                found[day] = Decimal(value)
        return found

    def _days(
        self, route: Route, observed: dict[date, Decimal], first: date, end: date, now: datetime
    ) -> list[CachedPrice]:
        """A cache entry for every day from ``first`` to ``end`` whose rate is settled (module notes)."""
        entries: list[CachedPrice] = []
        known = sorted(observed)
        latest = known[-1] if known else None
        carried: tuple[date, Decimal] | None = None
        for day in sorted({*known, *(first + timedelta(days=n) for n in range((end - first).days + 1))}):
            if day in observed:
                carried = (day, observed[day])
            if day < first:
                continue
            if day in observed:
                rate, source_day, note = observed[day], day, None
            elif carried is None:
                continue
            elif not is_business_day(day):
                rate, source_day, note = carried[1], carried[0], f"closing day: the rate of {carried[0]}"
            elif latest is not None and latest > day:
                rate, source_day, note = (
                    carried[1],
                    carried[0],
                    f"no rate published: the rate of {carried[0]}",
                )
            else:
                continue  # a business day not published yet
            key = PriceKey(self.info.id, route.base, route.quote, Granularity.DAY.value, _day_start(day))
            entries.append(
                CachedPrice(key, rate, now, route.instrument, observed_at=_day_start(source_day), note=note)
            )
        return entries

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


def _runs(days: Sequence[date]) -> list[tuple[date, date]]:
    """Runs of ``days`` (sorted) whose neighbours are at most a year apart."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day - runs[-1][1] <= _MAX_GAP:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs

"""The emulated ECB data API (``/service/data/EXR/...``): series keys, periods, SDMX-JSON and CSV."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from txsync import jsonutil
from txsync.valuation.sandbox import DEFAULT_MARKET, SANDBOX_NOW, ReferenceMarket
from txsync.valuation.sources.ecb._calendar import is_business_day

__all__ = ["SERIES", "EcbSandbox"]

#: Currencies the emulation publishes, with the first and last day of their series.
SERIES: dict[str, tuple[date, date | None]] = {
    "USD": (date(1999, 1, 4), None),
    "GBP": (date(1999, 1, 4), None),
    "CHF": (date(1999, 1, 4), None),
    "JPY": (date(1999, 1, 4), None),
    "TRY": (date(2005, 1, 3), None),
    "BRL": (date(2008, 1, 2), None),
    "AUD": (date(1999, 1, 4), None),
    "PLN": (date(1999, 1, 4), None),
    "SEK": (date(1999, 1, 4), None),
}
_NAMES = {"USD": "US dollar", "GBP": "UK pound sterling", "CHF": "Swiss franc", "JPY": "Japanese yen",
          "TRY": "Turkish lira", "BRL": "Brazilian real", "AUD": "Australian dollar", "PLN": "Polish zloty",
          "SEK": "Swedish krona"}  # fmt: skip
#: Rates are published at 15:00 UTC (16:00 CET) on business days.
_PUBLISHED = timedelta(hours=15)
_FIVE = Context(prec=5, rounding=ROUND_HALF_EVEN)


class _Reject(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


@dataclass
class EcbSandbox:
    """The ECB's exchange-rate data flow over the synthetic market.

    Each business day's rate (5 significant digits, units of the currency per euro, as the ECB quotes)
    is the synthetic market's at 14:15 CET, published at 16:00 CET (15:00 UTC). Keys ``D.<CUR>[+<CUR>...]
    .EUR.SP00.A``; ``startPeriod`` / ``endPeriod``; ``format=jsondata`` (SDMX-JSON) or ``csvdata``.
    No observation in the period: 404 "No results found.". ``faults`` - request number -> ``"429"``
    (with ``Retry-After``), ``"500"``, ``"503"``, ``"malformed"``, ``"truncated"``, ``"timeout"``.
    """

    market: ReferenceMarket = field(default_factory=lambda: DEFAULT_MARKET)
    clock: Callable[[], datetime] = lambda: SANDBOX_NOW
    wall: Callable[[], float] = time.time
    faults: dict[int, str] = field(default_factory=dict)
    series: dict[str, tuple[date, date | None]] = field(default_factory=lambda: dict(SERIES))
    requests: int = 0
    log: list[str] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        """A transport answering every request from this sandbox."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as the ECB data API would."""
        self.requests += 1
        path = request.url.path
        params = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        self.log.append(f"{path}?{params.get('startPeriod', '')}..{params.get('endPeriod', '')}")
        fault = self.faults.get(self.requests)
        if fault == "timeout":
            raise httpx.ReadTimeout("the sandbox timed out on purpose", request=request)
        if fault == "429":
            return httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "2"})
        if fault in ("500", "503"):
            return httpx.Response(int(fault), text="Service Unavailable")
        try:
            codes, start, end, kind = self._query(path, params)
            rows = self._rows(codes, start, end)
            if not rows:
                raise _Reject(404, "No results found.")
        except _Reject as exc:
            return httpx.Response(exc.status, text=exc.text, headers={"Content-Type": "text/plain"})
        if fault == "malformed":
            return httpx.Response(200, content=b"<html><body>Maintenance</body></html>",
                                  headers={"Content-Type": "text/html"})  # fmt: skip
        if kind == "csvdata":
            response = httpx.Response(200, text=self._csv(rows), headers={"Content-Type": "text/csv"})
        else:
            content = jsonutil.dumps(self._sdmx_json(rows)).encode()
            response = httpx.Response(
                200,
                content=content,
                headers={"Content-Type": "application/vnd.sdmx.data+json;version=1.0.0-wd"},
            )
        if fault == "truncated":
            return httpx.Response(200, content=response.content[: len(response.content) // 2],
                                  headers=dict(response.headers))  # fmt: skip
        return response

    # -- query -------------------------------------------------------------------------------------

    def _query(self, path: str, params: dict[str, str]) -> tuple[list[str], date | None, date | None, str]:
        prefix = "/service/data/EXR/"
        if not path.startswith(prefix):
            raise _Reject(404, "Not Found")
        parts = path[len(prefix) :].split(".")
        if len(parts) != 5:
            raise _Reject(
                400, "Syntax error: the key must have 5 dimensions (FREQ.CURRENCY.CURRENCY_DENOM...)"
            )
        freq, currencies, denominator, kind, suffix = parts
        if freq != "D" or denominator != "EUR" or kind != "SP00" or suffix != "A":
            raise _Reject(404, "No results found.")
        codes = [c for c in currencies.split("+") if c]
        if not codes:
            raise _Reject(400, "Syntax error: empty CURRENCY")

        def day(name: str) -> date | None:
            value = params.get(name)
            if value is None:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise _Reject(400, f"Invalid value for {name}: {value}") from None

        start, end = day("startPeriod"), day("endPeriod")
        fmt = params.get("format", "jsondata")
        if fmt not in ("jsondata", "csvdata"):
            raise _Reject(406, "Not Acceptable")
        return codes, start, end, fmt

    def _rows(
        self, codes: list[str], start: date | None, end: date | None
    ) -> list[tuple[str, date, Decimal]]:
        now = self.clock()
        today = now.date()
        rows: list[tuple[str, date, Decimal]] = []
        for code in codes:
            span = self.series.get(code)
            if span is None:
                continue
            first = max(span[0], start) if start else span[0]
            last = min(x for x in (end, span[1], today) if x is not None)
            day = first
            while day <= last:
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
                if is_business_day(day) and moment + _PUBLISHED <= now:
                    price = self.market.price(
                        "fiat:EUR", f"fiat:{code}", moment + timedelta(hours=13, minutes=15)
                    )
                    if price is not None:
                        rows.append((code, day, _FIVE.plus(price)))
                day += timedelta(days=1)
        return rows

    # -- formats -----------------------------------------------------------------------------------

    def _sdmx_json(self, rows: list[tuple[str, date, Decimal]]) -> dict[str, Any]:
        codes = sorted({code for code, _, _ in rows})
        days = sorted({day for _, day, _ in rows})
        day_index = {day: i for i, day in enumerate(days)}
        series: dict[str, Any] = {}
        for code, day, value in rows:
            key = f"0:{codes.index(code)}:0:0:0"
            series.setdefault(key, {"observations": {}})["observations"][str(day_index[day])] = [value]
        prepared = self.clock().astimezone(UTC).isoformat()
        return {
            "header": {"id": "sandbox", "test": False, "prepared": prepared, "sender": {"id": "ECB"}},
            "dataSets": [{"action": "Replace", "validFrom": prepared, "series": series}],
            "structure": {
                "name": "Exchange Rates",
                "dimensions": {
                    "series": [
                        {"id": "FREQ", "name": "Frequency", "values": [{"id": "D", "name": "Daily"}]},
                        {"id": "CURRENCY", "name": "Currency",
                         "values": [{"id": c, "name": _NAMES.get(c, c)} for c in codes]},
                        {"id": "CURRENCY_DENOM", "name": "Currency denominator",
                         "values": [{"id": "EUR", "name": "Euro"}]},
                        {"id": "EXR_TYPE", "name": "Exchange rate type",
                         "values": [{"id": "SP00", "name": "Spot"}]},
                        {"id": "EXR_SUFFIX", "name": "Series variation - EXR context",
                         "values": [{"id": "A", "name": "Average"}]},
                    ],
                    "observation": [
                        {"id": "TIME_PERIOD", "name": "Time period or range", "role": "time",
                         "values": [{"id": d.isoformat(), "name": d.isoformat()} for d in days]},
                    ],
                },
            },
        }  # fmt: skip

    @staticmethod
    def _csv(rows: list[tuple[str, date, Decimal]]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "KEY",
                "FREQ",
                "CURRENCY",
                "CURRENCY_DENOM",
                "EXR_TYPE",
                "EXR_SUFFIX",
                "TIME_PERIOD",
                "OBS_VALUE",
            ]
        )
        for code, day, value in rows:
            writer.writerow(
                [f"EXR.D.{code}.EUR.SP00.A", "D", code, "EUR", "SP00", "A", day.isoformat(), str(value)]
            )
        return out.getvalue()

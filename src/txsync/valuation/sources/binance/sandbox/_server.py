"""The emulated ``GET /api/v3/klines`` of Binance: parameters, limits, weights, errors, 429s."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from txsync.valuation.sandbox import DEFAULT_MARKET, SANDBOX_NOW, ReferenceMarket

from ._listing import Symbol, default_listing

__all__ = ["INTERVALS", "KlinesSandbox"]

#: Kline intervals the emulation serves (Binance's own names).
INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "3m": timedelta(minutes=3),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EIGHT = Decimal("0.00000001")
_WEIGHT = 2


class _Reject(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _int(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise _Reject(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        ) from None


def _fmt(value: Decimal) -> str:
    quantized = value.quantize(_EIGHT, rounding=ROUND_HALF_EVEN)
    return f"{max(quantized, _EIGHT):f}"


@dataclass
class KlinesSandbox:
    """Binance's public klines over the synthetic market (:mod:`txsync.valuation.sandbox`).

    * ``clock`` - the server's time (default :data:`~txsync.valuation.sandbox.SANDBOX_NOW`): candles
      exist up to it, the last one still open; ``wall`` - seconds used for the per-minute weight windows.
    * ``weight_limit`` - the per-minute ``REQUEST_WEIGHT`` budget (6000, as Binance's): a request over it
      answers 429 with ``Retry-After`` (seconds to the next minute) when ``enforce_limits``.
    * ``faults`` - request number (1-based) -> ``"429"``, ``"500"``, ``"malformed"``, ``"truncated"``,
      ``"timeout"`` (the transport raises a read timeout), ``"duplicate"`` (the candles twice,
      shuffled).
    """

    market: ReferenceMarket = field(default_factory=lambda: DEFAULT_MARKET)
    listing: dict[str, Symbol] | None = None
    clock: Callable[[], datetime] = lambda: SANDBOX_NOW
    wall: Callable[[], float] = time.time
    enforce_limits: bool = True
    weight_limit: int = 6000
    faults: dict[int, str] = field(default_factory=dict)
    requests: int = 0
    log: list[str] = field(default_factory=list)
    weight_spent: int = 0
    rejected_429: int = 0
    _window: int = -1
    _used: int = 0

    def __post_init__(self) -> None:
        if self.listing is None:
            self.listing = default_listing(self.market)

    def transport(self) -> httpx.MockTransport:
        """A transport answering every request from this sandbox."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as Binance would."""
        self.requests += 1
        path = request.url.path
        params = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        self.log.append(f"{path}?{params.get('symbol', '')}")
        if path != "/api/v3/klines":
            return self._error(404, -1000, "Not found.")
        fault = self.faults.get(self.requests)
        if fault == "timeout":
            raise httpx.ReadTimeout("the sandbox timed out on purpose", request=request)
        if fault == "429":
            return self._error(
                429, -1003, "Too many requests; current limit is 6000 request weight per 1 MINUTE.", retry=1
            )
        if fault == "500":
            return self._error(500, -1000, "An unknown error occurred while processing the request.")
        limited = self._meter()
        if limited is not None:
            return limited
        try:
            body = self._klines(params)
        except _Reject as exc:
            return self._error(exc.status, exc.code, exc.msg)
        if fault == "malformed":
            return httpx.Response(200, content=b"<html>502 Bad Gateway</html>", headers=self._headers())
        content = json.dumps(body).encode()
        if fault == "truncated":
            content = content[: max(1, len(content) // 2)]
        if fault == "duplicate":
            content = json.dumps(list(reversed(body)) + body).encode()
        return httpx.Response(200, content=content, headers=self._headers())

    # -- limits ------------------------------------------------------------------------------------

    def _meter(self) -> httpx.Response | None:
        now = self.wall()
        window = int(now // 60)
        if window != self._window:
            self._window, self._used = window, 0
        if self.enforce_limits and self._used + _WEIGHT > self.weight_limit:
            self.rejected_429 += 1
            return self._error(
                429,
                -1003,
                f"Too much request weight used; current limit is {self.weight_limit} request weight "
                "per 1 MINUTE.",
                retry=(window + 1) * 60 - now,
            )
        self._used += _WEIGHT
        self.weight_spent += _WEIGHT
        return None

    def _headers(self, retry: float | None = None) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json;charset=UTF-8",
            "X-MBX-USED-WEIGHT": str(self._used),
            "X-MBX-USED-WEIGHT-1M": str(self._used),
        }
        if retry is not None:
            headers["Retry-After"] = str(max(0, int(retry)))
        return headers

    def _error(self, status: int, code: int, msg: str, *, retry: float | None = None) -> httpx.Response:
        content = json.dumps({"code": code, "msg": msg}).encode()
        return httpx.Response(status, content=content, headers=self._headers(retry))

    # -- the endpoint ------------------------------------------------------------------------------

    def _klines(self, params: dict[str, str]) -> list[list[Any]]:
        name = params.get("symbol", "")
        if not name:
            raise _Reject(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        interval_name = params.get("interval", "")
        if not interval_name:
            raise _Reject(-1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.")
        assert self.listing is not None
        symbol = self.listing.get(name)
        if symbol is None:
            raise _Reject(-1121, "Invalid symbol.")
        interval = INTERVALS.get(interval_name)
        if interval is None:
            raise _Reject(-1120, "Invalid interval.")
        limit = _int(params, "limit")
        limit = 500 if limit is None else limit
        if not 1 <= limit <= 1000:
            raise _Reject(-1130, "Data sent for parameter 'limit' is not valid.")
        start_ms, end_ms = _int(params, "startTime"), _int(params, "endTime")
        if start_ms is not None and end_ms is not None and start_ms > end_ms:
            raise _Reject(-1130, "Data sent for parameter 'startTime' is not valid.")
        now = self.clock()
        step = interval // timedelta(milliseconds=1)
        first_open = -(-_ms(symbol.listed) // step) * step
        last_open = _ms(now) // step * step
        if end_ms is not None:
            last_open = min(last_open, end_ms // step * step)
        if start_ms is not None:
            first = max(first_open, -(-start_ms // step) * step)
            opens = range(first, min(last_open, first + (limit - 1) * step) + 1, step)
        else:
            first = max(first_open, last_open - (limit - 1) * step)
            opens = range(first, last_open + 1, step)
        return [self._candle(symbol, open_ms, step, now) for open_ms in opens]

    def _candle(self, symbol: Symbol, open_ms: int, step: int, now: datetime) -> list[Any]:
        start = _EPOCH + timedelta(milliseconds=open_ms)
        end = start + timedelta(milliseconds=step - 1000)
        closing = min(end, now)
        moments = [start, start + (closing - start) / 3, start + 2 * (closing - start) / 3, closing]
        prices = [self.market.price(symbol.base_id, symbol.quote_id, m) for m in moments]
        values = [p if p is not None else Decimal(0) for p in prices]
        open_, close = values[0], values[-1]
        digest = hashlib.sha256(f"{symbol.name}:{open_ms}".encode()).digest()
        volume = Decimal(int.from_bytes(digest[:3], "big") % 100000) / 100
        quote_volume = volume * close
        trades = int.from_bytes(digest[3:5], "big") % 500
        return [
            open_ms,
            _fmt(open_),
            _fmt(max(values)),
            _fmt(min(values)),
            _fmt(close),
            f"{volume:.8f}",
            open_ms + step - 1,
            _fmt(quote_volume),
            trades,
            f"{volume / 2:.8f}",
            _fmt(quote_volume / 2),
            "0",
        ]

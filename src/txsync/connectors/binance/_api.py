"""Binance's HTTP surface for the connector: signing with a server clock offset, weights, -1021."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from txsync.connector import ConnectorContext
from txsync.errors import BadResponseError
from txsync.http import HmacQueryAuth, HttpClient
from txsync.pagination import to_ms

from ._errors import ClockSkewError, binance_error_mapper
from ._limits import BinanceLimiter, VirtualClock, build_limiters, weight_of
from ._options import Options

__all__ = ["PUBLIC_PATHS", "BinanceApi", "BinanceAuth"]

log = logging.getLogger("txsync.connectors.binance")

#: Endpoints that are not signed (Binance refuses parameters it does not read, -1104).
PUBLIC_PATHS = frozenset({"/api/v3/time", "/api/v3/exchangeInfo"})


class BinanceAuth(HmacQueryAuth):
    """HMAC-SHA256 query signing (``X-MBX-APIKEY`` header), skipping the public endpoints."""

    def sign(self, request: httpx.Request) -> None:
        """Sign ``request`` unless it goes to a public endpoint."""
        if request.url.path in PUBLIC_PATHS:
            return
        super().sign(request)


class BinanceApi:
    """Signed and public requests to Binance with the weights of :mod:`._limits`.

    The signing clock is the connector context's clock plus an offset measured against
    ``GET /api/v3/time`` before the first signed request; a -1021 answer (timestamp outside
    ``recvWindow``) re-measures the offset and retries the request once.
    """

    def __init__(self, context: ConnectorContext, options: Options) -> None:
        self.options = options
        self._clock: Callable[[], datetime] = context.clock
        credential = context.credential
        self.virtual: VirtualClock | None = None
        if options.rate_limit == "simulated":
            self.virtual = VirtualClock(context.clock().timestamp())
            parts = build_limiters(
                context.limiters,
                ip_label=f"{options.ip_label}:simulated",
                account_id=f"{context.account_id}:simulated",
                clock=self.virtual.time,
                sleep=self.virtual.sleep,
            )
        else:
            parts = build_limiters(context.limiters, ip_label=options.ip_label, account_id=context.account_id)
        self.auth = BinanceAuth(
            credential.secret("api_key"),
            credential.secret("api_secret"),
            key_header="X-MBX-APIKEY",
            clock=self._local_ms,
        )
        common: dict[str, Any] = {
            "auth": self.auth,
            "transport": context.transport,
            "stats": context.stats,
            "retry": context.retry,
            "error_mapper": binance_error_mapper,
            "secrets": credential.secret_values(),
            "clock": context.clock,
        }
        self.spot_limiter = BinanceLimiter({k: parts[k] for k in ("spot", "sapi_ip", "sapi_uid")})
        self.futures_limiter = BinanceLimiter({"fapi": parts["fapi"]})
        self.coin_futures_limiter = BinanceLimiter({"dapi": parts["dapi"]})
        self.options_limiter = BinanceLimiter({"eapi": parts["eapi"]})
        limited = options.rate_limit != "off"
        self.http = HttpClient(options.base_url, limiter=self.spot_limiter if limited else None, **common)
        self.futures = HttpClient(
            options.futures_base_url, limiter=self.futures_limiter if limited else None, **common
        )
        self.coin_futures = HttpClient(
            options.coin_futures_base_url, limiter=self.coin_futures_limiter if limited else None, **common
        )
        self.vanilla_options = HttpClient(
            options.options_base_url, limiter=self.options_limiter if limited else None, **common
        )
        self._synced = False
        self.resyncs = 0

    def _local_ms(self) -> int:
        return to_ms(self._clock())

    async def sync_time(self) -> int:
        """Measure the server clock offset from ``/api/v3/time`` and use it; returns it (ms)."""
        before = self._local_ms()
        body = await self.http.get_json("/api/v3/time", weights=weight_of("/api/v3/time"))
        after = self._local_ms()
        server = body.get("serverTime") if isinstance(body, dict) else None
        if not isinstance(server, int) or isinstance(server, bool):
            raise BadResponseError("time: expected {serverTime: ms}", endpoint="/api/v3/time")
        self.auth.offset_ms = server - (before + after) // 2
        self._synced = True
        return self.auth.offset_ms

    async def public(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """An unsigned GET."""
        return await self.http.get_json(path, params=params, weights=weight_of(path))

    async def signed(self, path: str, params: Mapping[str, Any] | None = None, *, method: str = "GET") -> Any:
        """A signed request (``recvWindow`` added); re-syncs the clock and retries once on -1021."""
        client = self.client_for(path)
        query = dict(params or {})
        query["recvWindow"] = self.options.recv_window
        if not self._synced:
            await self.sync_time()
        try:
            return await client.request_json(method, path, params=query, weights=weight_of(path))
        except ClockSkewError:
            self.resyncs += 1
            log.info("Binance answered -1021 on %s: re-syncing the clock offset and retrying once", path)
            await self.sync_time()
            return await client.request_json(method, path, params=query, weights=weight_of(path))

    def client_for(self, path: str) -> HttpClient:
        """The client of the host serving ``path`` (futures, COIN-M futures and options have their own)."""
        if path.startswith("/fapi/"):
            return self.futures
        if path.startswith("/dapi/"):
            return self.coin_futures
        if path.startswith("/eapi/"):
            return self.vanilla_options
        return self.http

    async def aclose(self) -> None:
        """Close every HTTP client."""
        try:
            await self.http.aclose()
        finally:
            try:
                await self.futures.aclose()
            finally:
                try:
                    await self.coin_futures.aclose()
                finally:
                    await self.vanilla_options.aclose()

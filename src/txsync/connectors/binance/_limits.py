"""Binance's rate limits: the one table of endpoint weights, the buckets, and the shared limiter.

Binance meters four budgets at once (reference: ``/work/shared/reference/binance.md``):

* ``spot`` - ``/api/v3/*``: 6000 weight per minute **per IP**, reported in ``X-MBX-USED-WEIGHT-1M``;
* ``sapi_ip`` - IP-weighted ``/sapi/*`` endpoints: 12000 per minute per IP (``X-SAPI-USED-IP-WEIGHT-1M``);
* ``sapi_uid`` - UID-weighted ``/sapi/*`` endpoints: 180000 per minute per account
  (``X-SAPI-USED-UID-WEIGHT-1M``);
* ``fapi`` - USD-M futures ``/fapi/*``: 2400 per minute per IP (``X-MBX-USED-WEIGHT-1M`` on that host);
* ``dapi`` - COIN-M futures ``/dapi/*``: 2400 per minute per IP (same header, on its own host);
* ``eapi`` - European options ``/eapi/*``: 400 per minute per IP (same header, on its own host).

Each bucket is its own :class:`~txsync.http.WeightedRateLimiter`, taken from the engine's
:class:`~txsync.connector.LimiterRegistry` under a key naming what it is shared by (the IP, or the
account for the UID bucket), so two connections behind one IP share the IP budgets while each
account keeps its own UID budget. :class:`BinanceLimiter` combines them for one HTTP client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from txsync.connector import LimiterRegistry
from txsync.http import Bucket, RateLimiter, WeightedRateLimiter, settle

__all__ = [
    "BUCKETS",
    "WEIGHTS",
    "BinanceLimiter",
    "EndpointCost",
    "VirtualClock",
    "build_limiters",
    "limiter_key",
    "weight_of",
]

#: The four budgets (name -> bucket).
BUCKETS: dict[str, Bucket] = {
    "spot": Bucket("spot", 6000, 60, usage_header="X-MBX-USED-WEIGHT-1M"),
    "sapi_ip": Bucket("sapi_ip", 12000, 60, usage_header="X-SAPI-USED-IP-WEIGHT-1M"),
    "sapi_uid": Bucket("sapi_uid", 180000, 60, usage_header="X-SAPI-USED-UID-WEIGHT-1M"),
    "fapi": Bucket("fapi", 2400, 60, usage_header="X-MBX-USED-WEIGHT-1M"),
    "dapi": Bucket("dapi", 2400, 60, usage_header="X-MBX-USED-WEIGHT-1M"),
    "eapi": Bucket("eapi", 400, 60, usage_header="X-MBX-USED-WEIGHT-1M"),
}


@dataclass(frozen=True, slots=True)
class EndpointCost:
    """What one request to an endpoint costs: its bucket and weight."""

    bucket: str
    weight: int


#: The one table of per-endpoint weights. Where the documentation gave two figures, the larger.
WEIGHTS: dict[str, EndpointCost] = {
    "/api/v3/time": EndpointCost("spot", 1),
    "/api/v3/exchangeInfo": EndpointCost("spot", 20),
    "/api/v3/account": EndpointCost("spot", 20),
    "/api/v3/myTrades": EndpointCost("spot", 20),
    "/sapi/v1/account/apiRestrictions": EndpointCost("sapi_ip", 1),
    "/sapi/v1/asset/get-funding-asset": EndpointCost("sapi_ip", 1),
    "/sapi/v1/capital/deposit/hisrec": EndpointCost("sapi_ip", 1),
    "/sapi/v1/capital/withdraw/history": EndpointCost("sapi_uid", 18000),
    "/sapi/v1/fiat/orders": EndpointCost("sapi_uid", 90000),
    "/sapi/v1/fiat/payments": EndpointCost("sapi_ip", 1),
    "/sapi/v1/convert/tradeFlow": EndpointCost("sapi_uid", 3000),
    "/sapi/v1/asset/dribblet": EndpointCost("sapi_ip", 1),
    "/sapi/v1/asset/assetDividend": EndpointCost("sapi_ip", 10),
    "/sapi/v1/simple-earn/flexible/history/rewardsRecord": EndpointCost("sapi_ip", 150),
    "/sapi/v1/simple-earn/locked/history/rewardsRecord": EndpointCost("sapi_ip", 150),
    "/sapi/v1/bswap/swap": EndpointCost("sapi_uid", 3000),
    "/sapi/v1/margin/account": EndpointCost("sapi_ip", 10),
    "/sapi/v1/margin/myTrades": EndpointCost("sapi_ip", 10),
    "/sapi/v1/margin/interestHistory": EndpointCost("sapi_ip", 1),
    "/fapi/v1/income": EndpointCost("fapi", 30),
    "/fapi/v2/balance": EndpointCost("fapi", 5),
    # issue 18: categories read since
    "/dapi/v1/income": EndpointCost("dapi", 20),
    "/dapi/v1/balance": EndpointCost("dapi", 1),
    "/eapi/v1/bill": EndpointCost("eapi", 1),
    "/eapi/v1/account": EndpointCost("eapi", 3),
    "/sapi/v1/mining/payment/list": EndpointCost("sapi_ip", 5),
    "/sapi/v1/pay/transactions": EndpointCost("sapi_uid", 3000),
    "/sapi/v1/c2c/orderMatch/listUserOrderHistory": EndpointCost("sapi_ip", 1),
    "/sapi/v1/eth-staking/eth/history/stakingHistory": EndpointCost("sapi_ip", 150),
    "/sapi/v1/eth-staking/eth/history/redemptionHistory": EndpointCost("sapi_ip", 150),
    "/sapi/v1/eth-staking/eth/history/rewardsHistory": EndpointCost("sapi_ip", 150),
    "/sapi/v1/eth-staking/eth/history/wbethRewardsHistory": EndpointCost("sapi_ip", 150),
    "/sapi/v1/rebate/taxQuery": EndpointCost("sapi_uid", 12000),
    "/sapi/v1/loan/income": EndpointCost("sapi_uid", 6000),
    "/sapi/v1/lending/auto-invest/history/list": EndpointCost("sapi_ip", 1),
    "/sapi/v1/asset/transfer": EndpointCost("sapi_ip", 1),
    "/sapi/v1/sub-account/transfer/subUserHistory": EndpointCost("sapi_ip", 1),
    "/sapi/v1/margin/isolated/account": EndpointCost("sapi_ip", 10),
}


def weight_of(path: str) -> dict[str, int]:
    """The limiter weights of a request to ``path`` (``KeyError`` for an endpoint not in the table)."""
    cost = WEIGHTS[path]
    return {cost.bucket: cost.weight}


def limiter_key(bucket: str, *, ip_label: str, account_id: str) -> str:
    """The :class:`LimiterRegistry` key of a bucket: per IP, or per account for the UID bucket."""
    if bucket == "sapi_uid":
        return f"binance:uid:{account_id}"
    return f"binance:ip:{ip_label}:{bucket}"


def build_limiters(
    registry: LimiterRegistry,
    *,
    ip_label: str,
    account_id: str,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> dict[str, RateLimiter]:
    """The four bucket limiters from ``registry`` (created with ``clock``/``sleep`` on first use;
    a :class:`~txsync.http.RedisLimiterRegistry` shares the real-clock ones through Redis).

    A host (or a benchmark with a simulated clock) may call this before the connector does to
    decide how the limiters are built; the connector then finds them in the registry.
    """

    def factory(bucket: Bucket) -> Callable[[], WeightedRateLimiter]:
        return lambda: WeightedRateLimiter([bucket], clock=clock, sleep=sleep)

    limiters: dict[str, RateLimiter] = {}
    for name, bucket in BUCKETS.items():
        key = limiter_key(name, ip_label=ip_label, account_id=account_id)
        limiters[name] = registry.get(key, factory(bucket))
    return limiters


class VirtualClock:
    """A clock that jumps forward instead of sleeping (``rate_limit="simulated"``, benchmarks)."""

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


class BinanceLimiter:
    """A :class:`~txsync.http.RateLimiter` over several single-bucket limiters shared separately.

    ``acquire`` waits in each bucket the request costs in; ``observe`` lets every bucket read its
    own usage header; ``penalize`` (a 429 or a ban) holds back every bucket of this client.
    """

    def __init__(self, parts: Mapping[str, RateLimiter]) -> None:
        self._parts = dict(parts)

    async def acquire(self, weights: Mapping[str, int]) -> None:
        """Wait until the request fits in every bucket it names, and count it there."""
        for name, weight in sorted(weights.items()):
            await self._parts[name].acquire({name: weight})

    def observe(self, headers: httpx.Headers) -> None:
        """Correct each bucket's count from its usage header, when the response carries it."""
        for part in self._parts.values():
            part.observe(headers)

    def penalize(self, seconds: float) -> None:
        """Hold every bucket of this client back for ``seconds``."""
        for part in self._parts.values():
            part.penalize(seconds)

    async def flush(self) -> None:
        """Send what shared parts queued (usage reports, penalties); see :func:`txsync.http.settle`."""
        for part in self._parts.values():
            await settle(part)

    def usage(self) -> dict[str, int]:
        """Weight counted in each in-process bucket's current window (shared parts are left out)."""
        result: dict[str, int] = {}
        for name, part in self._parts.items():
            if isinstance(part, WeightedRateLimiter):
                result[name] = part.usage().get(name, 0)
        return result

"""The machine's Redis for the shared rate limiter's tests: the URL from ``TXSYNC_TEST_REDIS_URL`` (the
tests are skipped, naming the variable, when it is unset), a key prefix per test, and a worker process
that takes weight from a shared limiter and prints the Redis time of each grant."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

REDIS_ENV = "TXSYNC_TEST_REDIS_URL"
SKIP_REDIS = f"needs Redis: set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/0)"


def require_redis() -> str:
    """The URL, or skip the test saying which variable to set."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(SKIP_REDIS)
    return url


@contextmanager
def key_prefix(url: str) -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted afterwards."""
    import redis

    prefix = f"txsync-test:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


async def _take(url: str, prefix: str, key: str, limit: int, period: float, weight: int, seconds: float) -> None:
    from txsync.http import Bucket, RedisLimiterRegistry

    registry = RedisLimiterRegistry(url, prefix=prefix)
    limiter = registry.shared(key, [Bucket("ip", limit, period)])
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    grants: list[float] = []
    while loop.time() < end:
        grants.append(await limiter.reserve({"ip": weight}))
    await registry.aclose()
    print(json.dumps(grants))


def main() -> None:
    """``python -m helpers.redis_service URL PREFIX KEY LIMIT PERIOD WEIGHT SECONDS``."""
    url, prefix, key, limit, period, weight, seconds = sys.argv[1:8]
    asyncio.run(_take(url, prefix, key, int(limit), float(period), int(weight), float(seconds)))


if __name__ == "__main__":
    main()

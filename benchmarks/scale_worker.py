"""The Celery app the workers of ``benchmarks/scale.py`` run (``celery -A scale_worker worker``).

Configured only by the environment ``scale.py`` sets for each worker process:

* ``TXSYNC_DB``: the run's PostgreSQL store; ``TXSYNC_MASTER_KEY``: its vault key;
* ``TXSYNC_LIMITER_URL``: the shared Redis limiter (unset or empty: an in-memory limiter per process);
* ``TXSYNC_BENCH_BROKER``: the Celery broker and result backend (Redis);
* ``TXSYNC_BENCH_PREFIX``: the run's key prefix (limiter keys, the worker-ready and retry counters);
* ``TXSYNC_BENCH_WINDOW``: seconds per weight window (Binance's buckets are patched to it at import,
  before the worker starts its pool, so every process sees the compressed windows);
* ``TXSYNC_BENCH_CLOCK_START``: the wall time at which the served sandbox's clock started (the
  engine's clock follows the sandbox's).

Jobs are txsync's own ``txsync.sync_connection`` task (:func:`txsync.jobs.celery.create_app`), with a
short backoff: a banned or rate-limited sync is retried after the ban or within seconds, at most twice.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis
import stamina.instrumentation
from celery.signals import task_retry, worker_ready

import txsync.connectors.binance._limits as binance_limits
from txsync.http import Bucket
from txsync.jobs import JobBackoff
from txsync.jobs.celery import create_app

if TYPE_CHECKING:
    from txsync.engine import Engine

#: The sandbox's scenario "now" (scale.SERVER_NOW).
SERVER_NOW = datetime(2024, 6, 1, tzinfo=UTC)
BROKER = os.environ.get("TXSYNC_BENCH_BROKER", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("TXSYNC_BENCH_PREFIX", "txsync-bench:")
WINDOW = float(os.environ.get("TXSYNC_BENCH_WINDOW", "60"))
CLOCK_START = float(os.environ.get("TXSYNC_BENCH_CLOCK_START", "0") or time.time())
#: Syncs at once in one worker process (its thread pool), to size the store's connection pool.
CONCURRENCY = int(os.environ.get("TXSYNC_BENCH_CONCURRENCY", "1"))

stamina.instrumentation.set_on_retry_hooks([])  # 429s are counted by the sandbox, not logged per retry
for _name, _bucket in list(binance_limits.BUCKETS.items()):
    binance_limits.BUCKETS[_name] = Bucket(
        _bucket.name, _bucket.limit, WINDOW, usage_header=_bucket.usage_header
    )


def _clock() -> datetime:
    return SERVER_NOW + timedelta(seconds=time.time() - CLOCK_START)


def build_engine() -> Engine:
    """The engine of one worker process: the run's store, Binance only, the limiter the environment
    names (``open_limiters``: Redis shared by every worker, or in-memory for this process alone)."""
    from txsync.connectors.binance import Binance
    from txsync.engine import Engine
    from txsync.http import open_limiters
    from txsync.registry import Registry
    from txsync.store import open_store

    registry = Registry(entry_points=[])
    registry.register(Binance)
    store = open_store(os.environ["TXSYNC_DB"], pool_size=CONCURRENCY + 2, max_overflow=4)
    url = os.environ.get("TXSYNC_LIMITER_URL") or None
    limiters = open_limiters(url, prefix=PREFIX) if url else open_limiters(None)
    return Engine(store, registry=registry, limiters=limiters, clock=_clock, hooks=[])


app = create_app(
    broker=BROKER, backend=BROKER, engine_factory=build_engine, name="txsync-bench",
    backoff=JobBackoff(base=timedelta(seconds=1), cap=timedelta(seconds=max(10.0, 5 * WINDOW)),
                       max_retries=2, jitter=0.2),
)
app.conf.update(
    worker_enable_remote_control=False,  # no pidbox keys in Redis
    worker_send_task_events=False,
    broker_connection_retry_on_startup=True,
    result_expires=3600,
)


def _counter(name: str) -> None:
    client = redis.Redis.from_url(BROKER)
    try:
        client.incr(f"{PREFIX}{name}")
        client.expire(f"{PREFIX}{name}", 3600)
    finally:
        client.close()


@worker_ready.connect  # type: ignore[untyped-decorator]
def _ready(**_kwargs: Any) -> None:
    _counter("ready")


@task_retry.connect  # type: ignore[untyped-decorator]
def _retried(**_kwargs: Any) -> None:
    _counter("retried")

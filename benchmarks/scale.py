"""Many Binance accounts behind one IP, synced by several Celery worker processes sharing one weight budget.

    python benchmarks/scale.py [--accounts 30] [--workers 1,2,4] [--memory-workers 2,4] [--window 2]

One ``txsync sandbox serve binance --accounts N`` process emulates Binance for N small accounts (five
months of history each, their own keys) behind ONE IP, with Binance's real limits per window (spot 6000,
SAPI 12000 per IP, SAPI UID 180000 per account), answering 429 past them and banning the IP (418) when a
client keeps sending. Each run starts 1, 2 or 4 real Celery worker processes (``celery -A scale_worker
worker --pool threads --concurrency C``: txsync's own ``txsync.sync_connection`` task from
:mod:`txsync.jobs.celery`, ``C`` syncs at once per process) with the broker and results on Redis, queues
one task per account (a full sync) and waits for every result (the ``SyncReport`` JSON). The store is
one PostgreSQL database, fresh per run. The workers' limiter is either

* ``redis``: the shared limiter (``TXSYNC_LIMITER_URL``: one budget for every worker process), or
* ``memory``: each process its own in-memory limiter (the default of a single process), to show the 429s
  and bans N independent budgets cause.

Time is compressed: a weight window lasts ``--window`` seconds instead of 60 (the server's windows and
the workers' limiter buckets alike, the workers' through ``TXSYNC_BENCH_WINDOW`` read by
``scale_worker.py``; limits per window unchanged), so "per Binance minute" figures are per window. A
sync that fails (a ban, a rate limit) is retried by the task itself with a short backoff, at most twice.
Reported per run: accounts per Binance minute (and per real minute), 429 and 418 answers (target 0), the
highest weight used in one window of each IP bucket against its limit, requests, task retries,
transactions written per second, the database's size and the workers' CPU time.

Needs PostgreSQL (``--postgres-url``, else ``TXSYNC_TEST_POSTGRES_URL``, else the local server's
``postgres`` database: a maintenance database of a server that may create databases) and Redis
(``--broker``, else ``TXSYNC_TEST_REDIS_URL``, else redis://127.0.0.1:6379; the benchmark uses database
``--redis-db``, 13 by default, and deletes only the keys of its own runs). Every database, Redis key and
worker process a run creates is removed when it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

#: Connections' history origin: the small scenario's first day.
ORIGIN = "2024-01-01"
#: Where the Binance sandbox's server clock starts (its scenario's "now").
SERVER_NOW = datetime(2024, 6, 1, tzinfo=UTC)
TXSYNC = str(Path(sys.executable).parent / "txsync")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
BENCHMARKS = str(Path(__file__).resolve().parent)


def _psycopg_dsn(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _store_url(url: str, database: str) -> str:
    return _psycopg_dsn(url, database).replace("postgresql://", "postgresql+psycopg://", 1)


# -- what one sync costs ------------------------------------------------------------------------------


def sync_costs(scenario: str) -> dict[str, Any]:
    """Requests and weight of a full sync and of the weekly incremental sync after it, for one account
    of ``scenario`` ("small" or "full"), in-process on a simulated clock (the sizing's inputs)."""
    from txsync.connector import LimiterRegistry
    from txsync.connectors.binance import Binance
    from txsync.connectors.binance._limits import VirtualClock, build_limiters
    from txsync.connectors.binance.sandbox import KEY, NOW, SECRET, BinanceSandbox, Scenario, ScenarioAccount
    from txsync.engine import Engine, SyncMode
    from txsync.http import RetryPolicy
    from txsync.models import Credential
    from txsync.registry import Registry
    from txsync.store import SqliteStore

    small = scenario == "small"
    account = ScenarioAccount.generate(Scenario.small() if small else Scenario())
    virtual = VirtualClock(NOW.timestamp())
    shift = [0.0]

    def clock() -> datetime:
        return NOW + timedelta(seconds=virtual.time() - NOW.timestamp() + shift[0])

    sandbox = BinanceSandbox(account=account, wall=virtual.time, clock=clock)
    registry = Registry(entry_points=[])
    registry.register(Binance)
    limiters = LimiterRegistry()
    engine = Engine(SqliteStore(":memory:"), registry=registry, transport_for=lambda _c: sandbox.transport(),
                    clock=clock, limiters=limiters, retry=RetryPolicy(sleep=virtual.sleep), hooks=[])
    credential = Credential(connector_id="binance", secrets={"api_key": KEY, "api_secret": SECRET})
    connection = engine.connect("o", credential, verify=False, options={"origin": ORIGIN} if small else {})
    build_limiters(limiters, ip_label="default", account_id=connection.account_id, clock=virtual.time,
                   sleep=virtual.sleep)
    full = asyncio.run(engine.sync(connection.id, SyncMode.FULL))
    spent, requests = dict(sandbox.weight_spent), sandbox.requests
    shift[0] = 7 * 86_400  # a week later
    weekly = asyncio.run(engine.sync(connection.id))
    return {
        "scenario": scenario, "transactions": full.total("new"),
        "full": {"requests": requests, "weight": spent},
        "weekly": {"requests": sandbox.requests - requests,
                   "weight": {k: v - spent.get(k, 0) for k, v in sandbox.weight_spent.items()},
                   "new": weekly.total("new")},
    }


# -- one run ------------------------------------------------------------------------------------------


def start_server(accounts: int, window: float) -> tuple[subprocess.Popen[str], dict[str, Any], float]:
    argv = [TXSYNC, "--json", "sandbox", "serve", "binance", "--accounts", str(accounts),
            "--window", str(window)]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # noqa: S603
    assert server.stdout is not None
    served = json.loads(server.stdout.readline())
    return server, served, time.time()


def prepare_database(admin: Any, pg_url: str, template: str, accounts: list[dict[str, Any]],
                     options: dict[str, Any]) -> str:
    """A fresh database (from the migrated template) holding one connection per account."""
    from txsync.connectors.binance import Binance
    from txsync.engine import Engine
    from txsync.models import Credential
    from txsync.registry import Registry
    from txsync.store import open_store

    name = f"txsync_bench_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    store = open_store(_store_url(pg_url, name))
    registry = Registry(entry_points=[])
    registry.register(Binance)
    engine = Engine(store, registry=registry, hooks=[])
    for number, account in enumerate(accounts):
        credential = Credential(connector_id="binance", secrets=account["credential"])
        engine.connect(f"user-{number}", credential, options=dict(options), verify=False)
    _close(store)
    return name


def _close(store: object) -> None:
    """Close a store :func:`open_store` returned (both implementations have ``close``)."""
    cast(Any, store).close()


def _redis_url(url: str, db: int) -> str:
    """``url`` on Redis database ``db`` (the benchmark's own: broker, results, limiter, counters)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def start_workers(count: int, threads: int, env: dict[str, str], queue: str) -> list[subprocess.Popen[bytes]]:
    """``count`` Celery worker processes (``celery -A scale_worker worker``, a pool of ``threads``
    threads each: one process, one limiter), consuming ``queue``."""
    argv = [sys.executable, "-m", "celery", "-A", "scale_worker", "worker", "--pool", "threads",
            "--concurrency", str(threads), "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-Q", queue]
    return [
        subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*argv, "-n", f"{queue}-{n}@%h"], env=env, cwd=BENCHMARKS, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=None,
        )
        for n in range(count)
    ]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    """Warm shutdown (SIGTERM), then SIGKILL of each worker's own process group if it lingers."""
    for process in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in workers:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def one_run(
    args: argparse.Namespace, admin: Any, template: str, limiter: str, workers: int
) -> dict[str, Any]:
    import redis
    from celery import Celery

    from txsync.engine import SyncReport
    from txsync.jobs.celery import SYNC_TASK

    server, served, clock_start = start_server(args.accounts, args.window)
    database = ""
    processes: list[subprocess.Popen[bytes]] = []
    run_id = uuid.uuid4().hex[:12]
    prefix, queue = f"txsync-bench:{run_id}:", f"txsync-bench-{run_id}"
    client = redis.Redis.from_url(args.broker)
    client_app = Celery("txsync-bench", broker=args.broker, backend=args.broker)
    client_app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])
    task_ids: list[str] = []
    try:
        options = {**served["options"], "origin": ORIGIN, "ip_label": "bench"}
        database = prepare_database(admin, args.postgres_url, template, served["accounts"], options)
        store_url = _store_url(args.postgres_url, database)
        from txsync.store import open_store

        store = open_store(store_url)
        ids = [c.id for c in store.list_connections()]
        _close(store)
        env = {
            **os.environ, "TXSYNC_DB": store_url, "TXSYNC_BENCH_BROKER": args.broker,
            "TXSYNC_BENCH_PREFIX": prefix, "TXSYNC_BENCH_WINDOW": repr(args.window),
            "TXSYNC_BENCH_CLOCK_START": repr(clock_start), "TXSYNC_BENCH_CONCURRENCY": str(args.concurrency),
            "TXSYNC_LIMITER_URL": args.broker if limiter == "redis" else "",
            "PYTHONWARNINGS": "ignore::UserWarning",  # Celery's warning about running as root
        }
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        processes = start_workers(workers, args.concurrency, env, queue)
        deadline = time.monotonic() + 120
        while int(client.get(f"{prefix}ready") or 0) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError("the Celery workers did not start")
            time.sleep(0.1)
        started = time.perf_counter()
        results = [client_app.send_task(SYNC_TASK, args=(c,), kwargs={"mode": "full"}, queue=queue)
                   for c in ids]
        task_ids = [r.id for r in results]
        reports = [SyncReport.model_validate(r.get(timeout=args.timeout)) for r in results]
        elapsed = time.perf_counter() - started
        stop_workers(processes)
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        stats = httpx.get(served["stats_url"]).json()
        size = admin.execute(f"SELECT pg_database_size('{database}')").fetchone()[0]
        with psycopg.connect(_psycopg_dsn(args.postgres_url, database)) as db:
            row = db.execute("SELECT count(*) FROM transactions").fetchone()
            transactions = int(row[0]) if row else 0
        retried = int(client.get(f"{prefix}retried") or 0)
    finally:
        stop_workers(processes)
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        if database:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        # Only the keys this run made: its queue and bindings, its task results, its limiter and counters.
        mine = [*client.scan_iter(match=f"{prefix}*"), *client.scan_iter(match=f"*{queue}*")]
        mine += [f"celery-task-meta-{t}" for t in task_ids]
        if mine:
            client.delete(*mine)
        client.close()
        client_app.close()
    ok = sum(1 for r in reports if r.ok)
    failures = [r for r in reports if not r.ok]
    return {
        "limiter": limiter, "workers": workers, "accounts": args.accounts, "ok": ok,
        "failed": len(failures), "retried": retried,
        "elapsed_s": round(elapsed, 1),
        "accounts_per_binance_minute": round(ok * args.window / elapsed, 2),
        "accounts_per_real_minute": round(ok * 60 / elapsed, 1),
        "http_429": stats["rejected_429"], "http_418": stats["banned_418"],
        "peak_window_weight": stats["peak_window_weight"], "limits": stats["limits"],
        "requests": stats["requests"], "weight_spent": stats["weight_spent"],
        "transactions": transactions, "pages": sum(r.total("pages") for r in reports),
        "transactions_per_s": round(transactions / elapsed, 1),
        "db_bytes": size,
        "errors": [(r.errors or [e for s in r.streams for e in s.errors])[:1] for r in failures][:3],
        "worker_cpu_s": round(cpu_after.ru_utime + cpu_after.ru_stime
                              - cpu_before.ru_utime - cpu_before.ru_stime, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=30,
                        help="accounts (the figures in docs/benchmarks.md use 200: 2-3 minutes per run here)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts with the shared Redis limiter")
    parser.add_argument("--memory-workers", default="2,4",
                        help="worker counts with per-process in-memory limiters ('' for none)")
    parser.add_argument("--window", type=float, default=2.0,
                        help="seconds per weight window (60 on Binance; shorter compresses time)")
    parser.add_argument("--concurrency", type=int, default=12, help="syncs at once per worker process")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a run may take")
    parser.add_argument("--postgres-url",
                        default=os.environ.get("TXSYNC_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
                        help="a maintenance database of a server that may create databases")
    parser.add_argument("--broker", default=os.environ.get("TXSYNC_TEST_REDIS_URL", DEFAULT_REDIS),
                        help="Redis server for the Celery broker, results and the shared limiter")
    parser.add_argument("--redis-db", type=int, default=13,
                        help="the Redis database number the benchmark uses on that server")
    parser.add_argument("--json", action="store_true", help="print each run as one JSON line")
    args = parser.parse_args()
    args.broker = _redis_url(args.broker, args.redis_db)
    # The vault of a database store takes its master key from the environment (the workers inherit it).
    os.environ.setdefault("TXSYNC_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())

    from txsync.store import open_store

    admin = psycopg.connect(_psycopg_dsn(args.postgres_url), autocommit=True)
    template = f"txsync_bench_tmpl_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{template}"')
    _close(open_store(_store_url(args.postgres_url, template)))
    plan = [("redis", int(n)) for n in args.workers.split(",") if n] + [
        ("memory", int(n)) for n in args.memory_workers.split(",") if n
    ]
    for scenario in ("small", "full"):
        costs = sync_costs(scenario)
        if args.json:
            print(json.dumps(costs), flush=True)
        else:
            print(f"one {scenario} account ({costs['transactions']} transactions): full sync "
                  f"{costs['full']['requests']} requests, weight {costs['full']['weight']}; weekly sync "
                  f"{costs['weekly']['requests']} requests, weight {costs['weekly']['weight']}", flush=True)
    print(f"{args.accounts} small Binance accounts behind one served sandbox (one IP), windows of "
          f"{args.window:g} s with Binance's limits; PostgreSQL store; "
          f"{args.concurrency} syncs at once per worker")
    try:
        for limiter, workers in plan:
            result = one_run(args, admin, template, limiter, workers)
            if args.json:
                print(json.dumps(result), flush=True)
                continue
            peak = result["peak_window_weight"]
            print(
                f"  {limiter:6} x{workers}: {result['ok']}/{result['accounts']} ok "
                f"in {result['elapsed_s']} s -> "
                f"{result['accounts_per_binance_minute']} accounts per Binance minute; "
                f"429: {result['http_429']}  418: {result['http_418']}  peak window weight: "
                f"spot {peak.get('spot', 0)}/6000, sapi_ip {peak.get('sapi_ip', 0)}/12000; "
                f"{result['requests']} requests, {result['retried']} task retries, "
                f"{result['transactions']} transactions "
                f"({result['transactions_per_s']}/s), database {result['db_bytes'] / 1e6:.1f} MB, "
                f"worker CPU {result['worker_cpu_s']} s",
                flush=True,
            )
            if result["errors"]:
                print(f"    first errors: {result['errors']}", flush=True)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()

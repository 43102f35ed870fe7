"""End-to-end ingest benchmark: a synthetic account streamed through normalize -> merge -> SQLite.

    python benchmarks/ingest.py [--sizes 10000,100000,300000,1000000] [--page 1000] [--small-pages]
                                [--stages] [--json]

A synthetic connector (no HTTP: this measures the engine, not a network) yields pages of raw trade
records shaped like an exchange's (string amounts, ids, ms timestamps); its stream normalizes each
into a three-leg trade (base, quote, fee) with the public model types, as any connector does. The
engine commits every page (raws, transactions, cursor) in one SQLite transaction, as in a real sync.

Each size runs in a fresh process on a fresh on-disk database and reports transactions per second of
wall time and per CPU-second, resident memory along the way and at its peak, and the database size.
The *floor* is measured in the same run: the very rows the engine wrote (read back from its database)
inserted into an empty database of the same schema with plain ``sqlite3`` ``executemany``, page by
page, one transaction per page, with the same statements: what SQLite itself costs for this layout.

``--small-pages`` also syncs 20,000 transactions in pages of 4 (a real exchange commits a handful of
transactions per page) and derives the fixed cost of a page, once as an async host runs a sync
(``await engine.sync``: each page's store work hops to a worker thread so the host's loop stays free) and
once as the CLI and job workers do (``engine.sync_blocking``: a private loop, no hop). The sizes run as
an async host does. ``--stages`` splits the CPU time of the
first size by stage (connector pages, wrapping raws, normalize, merge in Python, SQL statements, commit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from txsync.connector import (
    Connector,
    ConnectorInfo,
    Cursor,
    Page,
    RawRecord,
    Stream,
    StreamInfo,
)
from txsync.engine import Engine
from txsync.models import (
    Balance,
    ConnectorKind,
    Credential,
    Leg,
    LegRole,
    NormalizedTransaction,
    Permissions,
    RawTransaction,
    TransactionKind,
)
from txsync.pagination import from_ms
from txsync.registry import Registry
from txsync.store import SqliteStore

START_MS = 1_500_000_000_000
PAIRS = [("BTC", "USDT"), ("ETH", "USDT"), ("ETH", "BTC"), ("BNB", "USDT"), ("SOL", "EUR")]


def _rss_mb() -> float:
    """Current resident set size in MiB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


class SyntheticTrades(Stream):
    """``total`` trades in pages of ``page_size``; the cursor is the next trade id."""

    name = "trades"

    def __init__(self, total: int, page_size: int, samples: list[tuple[int, float]]) -> None:
        self.total = total
        self.page_size = page_size
        self.samples = samples

    async def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        next_id = int(cursor or 0)
        every = max(self.page_size, self.total // 10)
        while next_id < self.total:
            end = min(self.total, next_id + self.page_size)
            records = []
            for i in range(next_id, end):
                base, quote = PAIRS[i % len(PAIRS)]
                records.append(
                    RawRecord(
                        str(i),
                        {
                            "id": i,
                            "orderId": i // 2,
                            "symbol": base + quote,
                            "isBuyer": i % 3 != 0,
                            "qty": f"0.{i % 997 + 1:04d}",
                            "quoteQty": f"{i % 5000 + 10}.{i % 100:02d}",
                            "commission": "0.00010000",
                            "commissionAsset": base,
                            "time": START_MS + i * 1000,
                        },
                    )
                )
            if end // every != next_id // every:
                self.samples.append((end, _rss_mb()))
            next_id = end
            yield Page(records, next_id)

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        for raw in raws:
            row = raw.payload
            base, quote = row["symbol"][:3], row["symbol"][3:]
            sign = 1 if row["isBuyer"] else -1
            yield NormalizedTransaction(
                account_id=raw.account_id,
                key=f"trade:{row['symbol']}:{row['id']}",
                kind=TransactionKind.TRADE,
                timestamp=from_ms(row["time"]),
                legs=(
                    Leg(asset=base, amount=sign * Decimal(row["qty"])),
                    Leg(asset=quote, amount=-sign * Decimal(row["quoteQty"])),
                    Leg(asset=row["commissionAsset"], amount=-Decimal(row["commission"]), role=LegRole.FEE),
                ),
                sources=(raw.ref,),
                external_ids={"trade_id": str(row["id"]), "order_id": str(row["orderId"])},
            )


class SyntheticExchange(Connector):
    """A connector whose only stream is :class:`SyntheticTrades`."""

    info = ConnectorInfo(
        id="synthetic",
        display_name="Synthetic",
        kind=ConnectorKind.EXCHANGE,
        streams=(StreamInfo(name="trades"),),
    )
    total = 0
    page_size = 1000
    samples: list[tuple[int, float]] = []

    async def verify(self) -> Permissions:
        return Permissions(
            reported=True, can_read=True, can_trade=False, can_withdraw=False, can_transfer=False,
            ip_restricted=True,
        )

    async def balances(self) -> Sequence[Balance]:
        return []

    def streams(self) -> Sequence[Stream]:
        return [SyntheticTrades(self.total, self.page_size, self.samples)]


# -- the floor: the same rows through plain sqlite3 ---------------------------------------------------

_RAW_COLUMNS = "stream_seq, source_id, tx_seq, payload, fetched_at"
_TX_COLUMNS = "seq, account_seq, tx_key, id, kind, ts, status, origins, legs, body, created_at, updated_at"


def floor(source: Path, work: Path, page: int) -> dict[str, float]:
    """Insert the rows of ``source`` into an empty database of the same schema, page by page."""
    empty = work / "floor.sqlite3"
    SqliteStore(empty).close()  # the schema at head, nothing else
    src = sqlite3.connect(source)
    dst = sqlite3.connect(empty, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536", "temp_store=MEMORY"):
        dst.execute(f"PRAGMA {pragma}")
    for table in ("owners", "accounts", "connections", "streams", "account_origins"):
        rows = src.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - constant names
        if rows:
            marks = ",".join("?" * len(rows[0]))
            dst.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)  # noqa: S608
    txs = src.execute(f"SELECT {_TX_COLUMNS} FROM transactions ORDER BY seq")  # noqa: S608
    raws = src.execute(f"SELECT {_RAW_COLUMNS} FROM raw_transactions ORDER BY seq")  # noqa: S608
    insert_tx = f"INSERT INTO transactions ({_TX_COLUMNS}) VALUES ({','.join('?' * 12)})"  # noqa: S608
    insert_raw = f"INSERT INTO raw_transactions ({_RAW_COLUMNS}) VALUES (?, ?, ?, ?, ?)"  # noqa: S608
    cpu = wall = 0.0
    count = 0
    while True:
        tx_rows, raw_rows = txs.fetchmany(page), raws.fetchmany(page)
        if not tx_rows:
            break
        count += len(tx_rows)
        c0, w0 = time.process_time(), time.perf_counter()
        dst.execute("BEGIN IMMEDIATE")
        dst.executemany(insert_raw, raw_rows)
        dst.executemany(insert_tx, tx_rows)
        dst.execute("UPDATE streams SET cursor = ?, updated_at = ? WHERE seq = 1", (str(count), count))
        dst.execute("COMMIT")
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
    c0, w0 = time.process_time(), time.perf_counter()
    dst.execute("BEGIN IMMEDIATE")
    dst.execute("INSERT INTO transaction_ids (id, seq) SELECT id, seq FROM transactions ORDER BY id")
    dst.execute("COMMIT")
    cpu += time.process_time() - c0
    wall += time.perf_counter() - w0
    src.close()
    dst.close()
    return {"floor_cpu": cpu, "floor_wall": wall, "floor_rows": count}


# -- one run ------------------------------------------------------------------------------------------


class _Stages:
    """Per-page stage timers (CPU seconds), with a few timer calls per page, not per transaction."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.cpu[name] = self.cpu.get(name, 0.0) + seconds


def _instrument(stages: _Stages) -> None:
    import txsync.store._sql as sql_module

    clock = time.process_time
    original_pages = SyntheticTrades.pages
    original_normalize = SyntheticTrades.normalize

    async def pages(self: SyntheticTrades, cursor: Cursor) -> AsyncIterator[Page]:
        iterator = original_pages(self, cursor)
        while True:
            c0 = clock()
            try:
                page = await iterator.__anext__()
            except StopAsyncIteration:
                return
            finally:
                stages.add("connector pages", clock() - c0)
            yield page

    def normalize(self: SyntheticTrades, raws: Sequence[RawTransaction]) -> list[NormalizedTransaction]:
        c0 = clock()
        out = list(original_normalize(self, raws))
        stages.add("normalize (connector)", clock() - c0)
        return out

    SyntheticTrades.pages = pages  # type: ignore[method-assign]
    SyntheticTrades.normalize = normalize  # type: ignore[method-assign]

    class TimedCursor:
        def __init__(self, cur: Any) -> None:
            self._cur = cur

        def execute(self, sql: str, params: Any = ()) -> Any:
            c0 = clock()
            try:
                self._cur.execute(sql, params)
                return self
            finally:
                stages.add("sql: COMMIT" if sql == "COMMIT" else "sql: statements", clock() - c0)

        def executemany(self, sql: str, rows: Any) -> Any:
            c0 = clock()
            try:
                self._cur.executemany(sql, rows)
                return self
            finally:
                stages.add("sql: statements", clock() - c0)

        def fetchone(self) -> Any:
            return self._cur.fetchone()

        def fetchall(self) -> Any:
            return self._cur.fetchall()

    original_hot = SqliteStore._hot_write

    from contextlib import contextmanager

    @contextmanager
    def hot_write(self: SqliteStore) -> Any:
        c0 = clock()
        with original_hot(self) as cur:
            stages.add("sql: statements", clock() - c0)
            yield TimedCursor(cur)
            c1 = clock()
        stages.add("sql: COMMIT", clock() - c1)

    SqliteStore._hot_write = hot_write  # type: ignore[method-assign,assignment]
    original_commit = sql_module.SqlStore.commit_page

    def commit_page(self: Any, batch: Any, **kw: Any) -> Any:
        c0 = clock()
        try:
            return original_commit(self, batch, **kw)
        finally:
            stages.add("commit_page (all)", clock() - c0)

    sql_module.SqlStore.commit_page = commit_page  # type: ignore[method-assign]


def _warm_up(registry: Registry, page: int) -> None:
    """Sync a few pages into a throwaway store first, so what the first sync of a process pays once
    (imports done on first use, caches) is not counted in the measured run."""
    SyntheticExchange.total = 2 * page
    with tempfile.TemporaryDirectory(dir=os.environ.get("TXSYNC_BENCH_TMP")) as tmp:
        store = SqliteStore(Path(tmp) / "warm.sqlite3")
        engine = Engine(store, registry=registry)
        con = engine.connect("warm", Credential(connector_id="synthetic"), verify=False)
        _sync(engine, con.id)
        store.close()


def _sync(engine: Engine, connection_id: str) -> Any:
    """The sync as an async host runs it (``await engine.sync``: store work in a worker thread, off the
    loop), or with ``TXSYNC_BENCH_BLOCKING=1`` as the CLI and job workers do (``sync_blocking``: a
    private loop, store work in place)."""
    if os.environ.get("TXSYNC_BENCH_BLOCKING") == "1":
        return engine.sync_blocking(connection_id)
    return asyncio.run(engine.sync(connection_id))


def run_one(total: int, page: int, with_floor: bool, stages: bool) -> dict[str, Any]:
    """Sync ``total`` synthetic transactions into a fresh database; measure; return the figures."""
    SyntheticExchange.total = total
    SyntheticExchange.page_size = page
    timers = _Stages()
    if stages:
        _instrument(timers)
    registry = Registry(entry_points=[])
    registry.register(SyntheticExchange)
    _warm_up(registry, page)
    timers.cpu.clear()
    SyntheticExchange.total = total
    SyntheticExchange.samples.clear()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TXSYNC_BENCH_TMP")) as tmp:
        db = Path(tmp) / "bench.sqlite3"
        store = SqliteStore(db)
        engine = Engine(store, registry=registry)
        con = engine.connect("bench", Credential(connector_id="synthetic"), verify=False)
        rss0 = _rss_mb()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        report = _sync(engine, con.id)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        assert report.ok, report.errors
        stored = store.count_transactions(con.account_id)
        assert stored == total, stored
        store.close()
        size_mb = sum(p.stat().st_size for p in Path(tmp).glob("bench.sqlite3*")) / 2**20
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result: dict[str, Any] = {
            "transactions": total, "page": page, "wall": wall, "cpu": cpu, "rss_start": rss0,
            "rss_peak": peak_mb, "db_mb": size_mb, "rss_samples": list(SyntheticExchange.samples),
            "pages": sum(s.pages for s in report.streams),
        }
        if stages:
            result["stages"] = dict(timers.cpu)
        if with_floor:
            result.update(floor(db, Path(tmp), page))
    return result


def _child(total: int, page: int, with_floor: bool, stages: bool, blocking: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", str(total), "--page", str(page)]
    if not with_floor:
        cmd.append("--no-floor")
    if stages:
        cmd.append("--stages")
    env = {**os.environ, "TXSYNC_BENCH_BLOCKING": "1" if blocking else "0"}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout  # noqa: S603
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,300000,1000000")
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--small-pages", action="store_true", help="also measure the fixed cost of a page")
    parser.add_argument("--stages", action="store_true", help="CPU by stage for the first size")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one is not None:
        print(json.dumps(run_one(args.one, args.page, not args.no_floor, args.stages)))
        return

    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = [_child(n, args.page, True, args.stages and i == 0) for i, n in enumerate(sizes)]
    small = _child(20_000, 4, False, False) if args.small_pages else None
    small_blocking = _child(20_000, 4, False, False, blocking=True) if args.small_pages else None
    if args.json:
        print(json.dumps({"results": results, "small_pages": small, "small_pages_blocking": small_blocking},
                         indent=1))
        return
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, python {sys.version.split()[0]}, "
        f"sqlite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}; "
        f"load {os.getloadavg()[0]:.1f}; {datetime.now(UTC):%Y-%m-%d}"
    )
    print(f"pages of {args.page} transactions")
    print(f"{'transactions':>12} {'tx/CPU-s':>9} {'tx/s wall':>9} {'floor/CPU-s':>11} {'floor wall':>10} "
          f"{'RSS start->peak':>16} {'db MiB':>7}")
    for r in results:
        n = r["transactions"]
        print(
            f"{n:>12,} {n / r['cpu']:>9,.0f} {n / r['wall']:>9,.0f} "
            f"{r['floor_rows'] / r['floor_cpu']:>11,.0f} {r['floor_rows'] / r['floor_wall']:>10,.0f} "
            f"{r['rss_start']:>7.0f} ->{r['rss_peak']:>5.0f} MiB {r['db_mb']:>7.0f}"
        )
        if r["rss_samples"]:
            print("      RSS along the way (tx -> MiB): "
                  + ", ".join(f"{n:,}->{mb:.0f}" for n, mb in r["rss_samples"]))
    first, last = results[0], results[-1]
    rate_first, rate_last = first["transactions"] / first["cpu"], last["transactions"] / last["cpu"]
    print(f"change per CPU-second from {first['transactions']:,} to {last['transactions']:,}: "
          f"{(rate_last / rate_first - 1) * 100:+.1f} %")
    per_tx = first["cpu"] / first["transactions"]
    for label, run in (("await engine.sync", small), ("engine.sync_blocking", small_blocking)):
        if run is None:
            continue
        fixed = (run["cpu"] - per_tx * run["transactions"]) / run["pages"]
        print(f"small pages ({label}): {run['transactions']:,} transactions in {run['pages']:,} pages of 4: "
              f"{run['cpu']:.2f} CPU-s -> fixed cost of a page {fixed * 1000:.3f} ms CPU")
    if "stages" in first:
        stages = dict(first["stages"])
        n = first["transactions"]
        total = first["cpu"]
        commit_all = stages.pop("commit_page (all)", 0.0)
        sql = stages.get("sql: statements", 0.0) + stages.get("sql: COMMIT", 0.0)
        stages["merge (Python, in commit_page)"] = commit_all - sql
        stages["engine (wrapping raws, checks, report)"] = total - commit_all - sum(
            v for k, v in stages.items() if k in ("connector pages", "normalize (connector)")
        )
        print(f"CPU by stage at {n:,} transactions (us per transaction):")
        for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"  {name:42s} {seconds / n * 1e6:6.1f}")
        print(f"  {'total':42s} {total / n * 1e6:6.1f}")


if __name__ == "__main__":
    main()

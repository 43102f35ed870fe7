"""File import benchmark: a generated Koinly file and a generated Binance statement imported into SQLite.

    python benchmarks/imports.py --rows 1000000 [--format koinly|binance|both] [--stage validate|import]
                                 [--page-size 500] [--dir DIR] [--wallet]

Each file is written to a temporary directory (Koinly: trades, deposits, withdrawals, rewards with net
worth, labels and hashes, one row in 50 a same-second duplicate; Binance: spot trades of three rows,
deposits, withdrawals, interest, transfers between wallets, dust), then imported by the real engine
into a fresh on-disk SQLite store (``--stage import``), or only validated and planned (``--stage
validate``: pass 1 and pass 2 without the store, to isolate the importer). Reported: rows, time of each
pass, rows per second, resident memory sampled every 0.2 s and the process's peak RSS. Run one format
per process for a clean peak (``--format koinly``, then ``--format binance``).

``--wallet`` (Koinly): the owner also has a wallet account, imported first from a second file holding
the other side of every transfer of the main file (each BTC withdrawal arrives 20 minutes later, each
USDT deposit left 15 minutes earlier, same hashes), so the transfer linking run after the main import
links some 300,000 pairs per 1,000,000 rows instead of finding no partner.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import resource
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from txsync.connector import Connector, ConnectorContext
from txsync.connectors.binance_statement import BinanceStatement
from txsync.connectors.koinly_csv import KoinlyUniversal
from txsync.engine import Engine, SyncReport
from txsync.imports import FileImporter
from txsync.models import Credential
from txsync.owner.hook import OwnerSyncHook
from txsync.registry import Registry
from txsync.store import SqliteStore

START = datetime(2017, 1, 1, tzinfo=UTC)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Sampler(threading.Thread):
    """RSS every 0.2 s while the import runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self._done = threading.Event()
        self.started_at = time.perf_counter()

    def run(self) -> None:
        while not self._done.wait(0.2):
            self.samples.append((time.perf_counter() - self.started_at, _rss_mb()))

    def stop(self) -> None:
        self._done.set()
        self.join()


KOINLY_HEADER = ("Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,Fee Currency,"
                 "Net Worth Amount,Net Worth Currency,Label,Description,TxHash\n")


def koinly_rows(count: int, rng: random.Random, other_side: list[str] | None = None) -> Iterator[str]:
    """The main file's rows; with ``other_side``, the wallet's side of each transfer is appended to it."""
    yield KOINLY_HEADER
    at = START
    previous = ""
    for i in range(count):
        if previous and i % 50 == 0:
            yield previous  # an identical same-second row: stays two
            continue
        at += timedelta(seconds=rng.randrange(1, 90))
        stamp = at.strftime("%Y-%m-%d %H:%M:%S")
        kind = i % 10
        if kind < 6:
            qty = f"{rng.randrange(1, 10**8) / 10**8:.8f}"
            cost = f"{rng.randrange(100, 10**7) / 100:.2f}"
            line = f"{stamp},{cost},EUR,{qty},BTC,{rng.randrange(1, 500) / 100:.2f},EUR,{cost},EUR,,,\n"
        elif kind < 8:
            qty = f"{rng.randrange(1, 10**9) / 10**6:.6f}"
            tx_hash = f"0x{rng.getrandbits(256):064x}"
            line = f"{stamp},,,{qty},USDT,,,,,,deposit {i},{tx_hash}\n"
            if other_side is not None:
                sent = (at - timedelta(minutes=15)).strftime("%Y-%m-%d %H:%M:%S")
                other_side.append(f"{sent},{qty},USDT,,,,,,,,,{tx_hash}\n")
        elif kind < 9:
            qty = f"{rng.randrange(1, 10**8) / 10**8:.8f}"
            tx_hash = f"{rng.getrandbits(256):064x}"
            line = f"{stamp},{qty},BTC,,,0.00010000,BTC,,,,,{tx_hash}\n"
            if other_side is not None:
                received = (at + timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M:%S")
                other_side.append(f"{received},,,{qty},BTC,,,,,,,{tx_hash}\n")
        else:
            qty = f"{rng.randrange(1, 10**6) / 10**8:.8f}"
            line = f"{stamp},,,{qty},ETH,,,{rng.randrange(1, 5000) / 100:.2f},EUR,staking,,\n"
        previous = line
        yield line


def binance_rows(count: int, rng: random.Random) -> Iterator[str]:
    yield "User_ID,UTC_Time,Account,Operation,Coin,Change,Remark\n"
    at = START
    written = 0
    while written < count:
        at += timedelta(seconds=rng.randrange(1, 90))
        stamp = at.strftime("%Y-%m-%d %H:%M:%S")
        kind = rng.randrange(10)
        if kind < 6:
            qty = f"{rng.randrange(1, 10**8) / 10**8:.8f}"
            cost = f"{rng.randrange(100, 10**7) / 100:.8f}"
            lines = [f"12345678,{stamp},Spot,Transaction Buy,BTC,{qty},\n",
                     f"12345678,{stamp},Spot,Transaction Spend,USDT,-{cost},\n",
                     f"12345678,{stamp},Spot,Transaction Fee,BNB,-0.00010000,\n"]
        elif kind < 7:
            lines = [f"12345678,{stamp},Spot,Deposit,USDT,{rng.randrange(1, 10**6)}.00000000,\n"]
        elif kind < 8:
            lines = [f"12345678,{stamp},Spot,Withdraw,BTC,-{rng.randrange(1, 10**7) / 10**8:.8f},"
                     "Withdraw fee is included\n"]
        elif kind < 9:
            lines = [f"12345678,{stamp},Earn,Simple Earn Flexible Interest,USDT,"
                     f"{rng.randrange(1, 10**6) / 10**8:.8f},\n"]
        else:
            qty = f"{rng.randrange(1, 10**6) / 100:.8f}"
            lines = [f"12345678,{stamp},Spot,Transfer Between Main and Funding Wallet,USDT,-{qty},\n",
                     f"12345678,{stamp},Funding,Transfer Between Main and Funding Wallet,USDT,{qty},\n"]
        for line in lines[: count - written]:
            yield line
            written += 1


def write_file(path: Path, fmt: str, rows: int, wallet: Path | None = None) -> float:
    rng = random.Random(7)
    began = time.perf_counter()
    other: list[str] | None = [] if wallet is not None else None
    generator = koinly_rows(rows, rng, other) if fmt == "koinly" else binance_rows(rows, rng)
    with path.open("w", encoding="utf-8", newline="") as out, (
        wallet.open("w", encoding="utf-8", newline="") if wallet is not None else open(os.devnull, "w")
    ) as side:
        side.write(KOINLY_HEADER)
        for line in generator:
            out.write(line)
            if other:
                side.writelines(other)
                other.clear()
    return time.perf_counter() - began


async def validate_only(cls: type[FileImporter], path: Path, page_size: int) -> dict[str, float]:
    context = ConnectorContext(connection_id="bench", account_id="bench",
                               credential=Credential(connector_id=cls.info.id),
                               options={"path": str(path), "page_size": page_size})
    async with cls(context) as importer:
        began = time.perf_counter()
        await importer.verify()
        validated = time.perf_counter()
        rows = 0
        pages = 0
        async for page in importer.streams()[0].pages(None):
            pages += 1
            rows += len(page.records)
        planned = time.perf_counter()
    return {"rows": rows, "pages": pages, "validate_s": validated - began, "plan_s": planned - validated}


class TimedOwnerHook(OwnerSyncHook):
    """The engine's default hook (gaps, transfer linking), timed: CPU and wall seconds, RSS after."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.rss_before = 0.0

    async def after_sync(self, engine: Engine, report: SyncReport, connector: type[Connector]) -> None:
        self.rss_before = _rss_mb()
        cpu, wall = time.process_time(), time.perf_counter()
        await super().after_sync(engine, report, connector)
        self.cpu_s += time.process_time() - cpu
        self.wall_s += time.perf_counter() - wall


def open_engine(
    cls: type[FileImporter], db: Path, hook: OwnerSyncHook | None = None
) -> tuple[SqliteStore, Engine]:
    store = SqliteStore(db)
    registry = Registry([])
    registry.register(cls)
    return store, Engine(store, registry=registry, hooks=[hook or OwnerSyncHook()])


async def import_wallet(cls: type[FileImporter], wallet: Path, db: Path, page_size: int) -> None:
    """The wallet's side first (before the measured import), in the same owner."""
    store, engine = open_engine(cls, db)
    connection = engine.connect("bench", Credential(connector_id=cls.info.id),
                                options={"path": str(wallet), "page_size": page_size}, verify=False)
    report = await engine.sync(connection.id)
    if not report.ok:
        raise SystemExit(f"wallet import failed: {report.errors}")
    store.close()


async def full_import(cls: type[FileImporter], path: Path, db: Path, page_size: int) -> dict[str, float]:
    hook = TimedOwnerHook()
    store, engine = open_engine(cls, db, hook)
    connection = engine.connect("bench", Credential(connector_id=cls.info.id),
                                options={"path": str(path), "page_size": page_size}, verify=False)
    began = time.perf_counter()
    report = await engine.sync(connection.id)
    elapsed = time.perf_counter() - began
    if not report.ok:
        raise SystemExit(f"import failed: {report.errors} {[s.errors for s in report.streams]}")
    [stream] = report.streams
    transactions = store.count_transactions(connection.account_id)
    with store._read() as conn:  # counted in SQL: loading 300,000 links would be the benchmark's own peak
        links = conn.execute(text("SELECT count(*) FROM owner_links")).scalar()
    store.close()
    return {"rows": stream.raws, "pages": stream.pages, "transactions": transactions, "total_s": elapsed,
            "stream_s": stream.duration_seconds,
            "validate_s": elapsed - stream.duration_seconds - hook.wall_s,
            "hook_cpu_s": hook.cpu_s, "hook_wall_s": hook.wall_s, "rss_before_hook": hook.rss_before,
            "links": links}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=["koinly", "binance", "both"], default="both")
    parser.add_argument("--stage", choices=["validate", "import"], default="import")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--wallet", action="store_true",
                        help="Koinly: a wallet account with the other side of every transfer, imported first")
    args = parser.parse_args()
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="txsync-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, {platform.platform()}, "
          f"CPython {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
          f"{datetime.now(UTC):%Y-%m-%d}")
    formats = ["koinly", "binance"] if args.format == "both" else [args.format]
    for fmt in formats:
        cls: type[FileImporter] = KoinlyUniversal if fmt == "koinly" else BinanceStatement
        path = workdir / f"{fmt}-{args.rows}.csv"
        wallet = workdir / f"{fmt}-{args.rows}-wallet.csv" if args.wallet and fmt == "koinly" else None
        if not path.exists() or (wallet is not None and not wallet.exists()):
            seconds = write_file(path, fmt, args.rows, wallet)
            size = path.stat().st_size / 2**20
            print(f"{fmt}: wrote {args.rows:,} rows ({size:.0f} MiB) in {seconds:.1f} s")
        start_rss = _rss_mb()
        sampler = Sampler()
        sampler.start()
        cpu = time.process_time()
        if args.stage == "validate":
            result = asyncio.run(validate_only(cls, path, args.page_size))
        else:
            db = workdir / f"{fmt}-{args.rows}.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            if wallet is not None:
                sampler.stop()
                asyncio.run(import_wallet(cls, wallet, db, args.page_size))
                print(f"wallet imported first: RSS {_rss_mb():.0f} MiB, peak so far {_peak_mb():.0f} MiB")
                start_rss = _rss_mb()
                sampler = Sampler()
                sampler.start()
                cpu = time.process_time()
            result = asyncio.run(full_import(cls, path, db, args.page_size))
        cpu = time.process_time() - cpu
        sampler.stop()
        samples = sampler.samples or [(0.0, _rss_mb())]
        total = result.get("total_s", result["validate_s"] + result.get("plan_s", 0))
        tenth = max(1, len(samples) // 10)
        print(f"{fmt} ({args.stage}): {result}")
        print(f"  {result['rows'] / total:,.0f} rows/s wall, {result['rows'] / cpu:,.0f} rows per CPU-second")
        shown = ", ".join(f"{rss:.0f}" for _, rss in samples[::tenth])
        print(f"  RSS start {start_rss:.0f} MiB, samples (every 10%): {shown} MiB; "
              f"max sampled {max(r for _, r in samples):.0f} MiB; peak RSS {_peak_mb():.0f} MiB")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

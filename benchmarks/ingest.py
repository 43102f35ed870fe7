"""End-to-end ingest benchmark: a synthetic account streamed through normalize -> merge -> SQLite.

    python benchmarks/ingest.py --transactions 1000000 [--page 1000] [--db PATH]

A synthetic connector (no HTTP: this measures the engine, not a network) yields pages of raw trade
records shaped like an exchange's (string amounts, ids, ms timestamps); its stream normalizes each
into a three-leg trade (base, quote, fee). The engine commits every page (raws, transactions,
cursor) in one SQLite transaction, as in a real sync. Reported: transactions per second (wall and
CPU), and resident memory sampled along the way to show it stays flat in the size of history.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

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
            next_id = end
            yield Page(records, next_id)
            if next_id % (self.page_size * 100) == 0:
                self.samples.append((next_id, _rss_mb()))

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
                sources=(
                    raw.ref,
                ),
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (default: a temporary one)")
    args = parser.parse_args()

    SyntheticExchange.total = args.transactions
    SyntheticExchange.page_size = args.page
    registry = Registry(entry_points=[])
    registry.register(SyntheticExchange)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.sqlite3"
        store = SqliteStore(db)
        engine = Engine(store, registry=registry)
        con = engine.connect("bench", Credential(connector_id="synthetic"), verify=False)
        rss0 = _rss_mb()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        report = asyncio.run(engine.sync(con.id))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        assert report.ok, report.errors
        stored = store.count_transactions(con.account_id)
        assert stored == args.transactions, stored
        size_mb = sum(p.stat().st_size for p in Path(db).parent.glob(Path(db).name + "*")) / 2**20
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {sys.version.split()[0]}, "
        f"{platform.system()} {platform.release()}"
    )
    print(f"transactions: {args.transactions:,} in pages of {args.page}")
    print(f"wall: {wall:.1f} s -> {args.transactions / wall:,.0f} tx/s")
    print(f"cpu:  {cpu:.1f} s -> {args.transactions / cpu:,.0f} tx/s per core")
    print(f"rss at start: {rss0:.0f} MiB; peak: {peak_mb:.0f} MiB; database: {size_mb:.0f} MiB")
    print(
        "rss along the way (transactions -> MiB): "
        + ", ".join(f"{n:,}->{mb:.0f}" for n, mb in SyntheticExchange.samples)
    )
    print(f"started {datetime.now(UTC):%Y-%m-%d}")


if __name__ == "__main__":
    main()

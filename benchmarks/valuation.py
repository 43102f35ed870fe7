"""Valuing the recorded Binance account: requests and time for a first and a second pass.

    python benchmarks/valuation.py [--coarse] [--memory]

The account of the main job (``cassettes/binance/main_job.yaml``: 7 years, 1,367 transactions) is
synced offline from its cassette into a temporary SQLite store, then valued in EUR through the default
policy (Binance klines, then CoinGecko with a paid key; the ECB for FX) talking to the sources'
sandboxes. Binance's real per-IP budget (6000 weight per minute) is enforced by the sandbox and
honoured by the source on one simulated clock, so the minutes the budget imposes pass instantly and
are reported as simulated time. Reported for each pass: requests per source, weight, 429 answers,
distinct prices resolved, wall and CPU time and simulated rate-limit waiting.

By default each pass is ``txsync.valuation.value_owner`` on the store: the price cache and the
valuations are the store's tables, and the second pass runs on the store closed and opened again (what
a later process sees): it retries nothing, keeps every stored valuation and sends no request. Then a
third pass revalues everything (``revalue=True``) from the warm price cache, which isolates the cost
of the rules and the cache reads. ``--memory`` runs the in-memory Valuator instead (no store: the
second pass reuses the first pass's in-memory cache). ``--coarse`` asks CoinGecko for daily prices
only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from connectors.binance.test_binance_main_job import run_main_job  # noqa: E402
from txsync.connector import LimiterRegistry  # noqa: E402
from txsync.connectors.binance._limits import BUCKETS  # noqa: E402
from txsync.http import WeightedRateLimiter  # noqa: E402
from txsync.store import SqliteStore  # noqa: E402
from txsync.valuation import InMemoryPriceCache, Valuator, value_owner  # noqa: E402
from txsync.valuation.source import VirtualClock  # noqa: E402
from txsync.valuation.sources.sandboxes import PriceSandboxes  # noqa: E402


def _print(label: str, run: Any, sandboxes: PriceSandboxes, before: dict[str, int], wall: float, cpu: float,
           waited: float) -> None:
    report = run.report
    answered = {k: sandboxes.requests[k] - before[k] for k in before}
    print(f"\n{label}: {wall:.1f} s wall, {cpu:.1f} s CPU, {waited:.0f} s simulated rate-limit wait")
    print(
        f"  valued {report.valued}, pending {report.pending}, unpriceable {report.unpriceable}, "
        f"overridden {report.overridden}, kept {report.kept}; {report.prices} distinct prices in "
        f"{report.rounds} rounds"
    )
    print(f"  requests {report.requests or '{}'} (sandboxes answered {answered})")
    print(f"  weight {report.weight}")
    rejected = (sandboxes.klines.rejected_429, sandboxes.coingecko.rejected_429)
    print(f"  429 answers: binance {rejected[0]}, coingecko {rejected[1]}")
    methods = Counter(v.method.value for v in run.valuations)
    print(f"  methods {dict(methods)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coarse", action="store_true", help="CoinGecko daily prices only")
    parser.add_argument("--memory", action="store_true", help="no store: the in-memory Valuator")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path = Path(tmp) / "ledger.sqlite3"
        _, _, store, account_id = run_main_job(path, record=False)
        ledger = list(store.transactions(account_id=account_id))
        owner = store.account_owner(account_id)
        print(f"synced {len(ledger)} transactions from the cassette in {time.perf_counter() - started:.1f} s")

        sandboxes = PriceSandboxes(enforce_limits=True)
        virtual = VirtualClock(sandboxes.clock().timestamp())
        sandboxes.klines.wall = virtual.time
        limiters = LimiterRegistry()
        limiters.get(
            "binance:ip:default:spot:simulated",
            lambda: WeightedRateLimiter([BUCKETS["spot"]], clock=virtual.time, sleep=virtual.sleep),
        )
        options = {"coingecko": {"granularity": "daily"}} if args.coarse else {}
        policy = sandboxes.policy(limiters=limiters, options=options)
        cache = InMemoryPriceCache()
        valuator = Valuator(policy, cache, base_currency="EUR", clock=sandboxes.clock)

        passes = ("first pass", "second pass") if args.memory else (
            "first pass", "second pass (store reopened)", "revaluation (warm cache)"
        )
        for label in passes:
            waited = virtual.waited
            before = dict(sandboxes.requests)
            started, cpu = time.perf_counter(), time.process_time()
            if args.memory:
                run = asyncio.run(valuator.value(ledger, connector_of=lambda _a: "binance"))
            else:
                if label.startswith("second"):
                    store.close()
                    store = SqliteStore(path)
                run = asyncio.run(value_owner(store, owner, policy, clock=sandboxes.clock,
                                              revalue=label.startswith("revaluation")))
            _print(label, run, sandboxes, before, time.perf_counter() - started, time.process_time() - cpu,
                   virtual.waited - waited)
        size = len(cache) if args.memory else len(store.price_cache())
        print(f"\nprice cache: {size} entries")
        if not args.memory:
            print(f"store file: {path.stat().st_size / 1e6:.1f} MB (ledger, raws, price cache, valuations)")
        span = max(tx.timestamp for tx in ledger) - min(tx.timestamp for tx in ledger)
        print(f"history: {span / timedelta(days=365.25):.1f} years")
        store.close()


if __name__ == "__main__":
    main()

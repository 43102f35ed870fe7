"""Binance full sync against the sandbox under Binance's real limits, on a simulated clock.

    python benchmarks/binance_sync.py [--thorough] [--scenario main|many-pairs|hub-alts|sold-out]

The sandbox serves the scenario account (7 years, ~50 traded pairs among ~2100 listed) and
enforces the real budgets (spot 6000/min, SAPI IP 12000/min, SAPI UID 180000/min, futures
2400/min) with 429s and bans; the connector's limiters and the sandbox's minute windows run on
one simulated clock, so the minutes the budgets impose pass instantly. Reported:

* ``myTrades`` weight used, against the minimum the traded pairs require (one request per
  started 1000 trades of each readable traded pair) and against asking every listed pair;
* 429 and 418 answers (target 0);
* simulated duration against the rate-limit floor: the time the weight spent in each bucket
  needs at least, with minute windows (``(ceil(weight / limit) - 1)`` minutes, the first minute
  being free);
* the cost of an incremental sync right after.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from datetime import timedelta
from typing import Any

import httpx

from txsync.connector import LimiterRegistry
from txsync.connectors.binance import Binance
from txsync.connectors.binance._limits import BUCKETS, VirtualClock, build_limiters
from txsync.connectors.binance.sandbox import KEY, NOW, SECRET, BinanceSandbox, Scenario, ScenarioAccount
from txsync.engine import Engine, SyncMode
from txsync.http import RetryPolicy
from txsync.models import Credential
from txsync.registry import Registry
from txsync.store import SqliteStore

PAGE = 1000
MY_TRADES_WEIGHT = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thorough", action="store_true", help="pair_discovery='thorough'")
    parser.add_argument(
        "--scenario",
        choices=("main", "many-pairs", "hub-alts", "sold-out", "main-sold-out"),
        default="main",
        help="main (the sandbox's), many-pairs (alts in up to 4 pairs), hub-alts (alts only vs BTC/BNB/ETH), "
        "sold-out (from 2019, 2 alts bought and sold back entirely against ETH), "
        "main-sold-out (main, delisted BCC pairs included, plus those 2 sold-out alts)",
    )
    args = parser.parse_args()
    scenario = {
        "main": Scenario(),
        "many-pairs": Scenario.many_pairs(),
        "hub-alts": Scenario.hub_alts(),
        "sold-out": Scenario.with_sold_out(),
        "main-sold-out": Scenario(sold_out=2),
    }[args.scenario]

    clock = VirtualClock(NOW.timestamp())
    sandbox = BinanceSandbox(
        account=ScenarioAccount.generate(scenario),
        wall=clock.time,
        clock=lambda: NOW + timedelta(seconds=clock.time() - NOW.timestamp()),
    )
    asked: list[str] = []
    sandbox_cpu = [0.0]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/myTrades":
            asked.append(str(request.url.params["symbol"]))
        began = time.process_time()
        try:
            return sandbox.handle(request)
        finally:
            sandbox_cpu[0] += time.process_time() - began

    registry = Registry(entry_points=[])
    registry.register(Binance)
    limiters = LimiterRegistry()
    store = SqliteStore(":memory:")
    engine = Engine(
        store,
        registry=registry,
        transport_for=lambda _c: httpx.MockTransport(handle),
        clock=sandbox.clock,
        limiters=limiters,
        retry=RetryPolicy(sleep=clock.sleep),
    )
    credential = Credential(connector_id="binance", secrets={"api_key": KEY, "api_secret": SECRET})
    options: dict[str, Any] = {"pair_discovery": "thorough"} if args.thorough else {}
    connection = engine.connect("bench", credential, options=options, verify=False)
    build_limiters(
        limiters, ip_label="default", account_id=connection.account_id, clock=clock.time, sleep=clock.sleep
    )

    started_real, started_sim, started_cpu = time.perf_counter(), clock.time(), time.process_time()
    report = asyncio.run(engine.sync(connection.id, SyncMode.FULL))
    real, simulated = time.perf_counter() - started_real, clock.time() - started_sim
    cpu = time.process_time() - started_cpu
    emulation_cpu = sandbox_cpu[0]
    spent = dict(sandbox.weight_spent)

    account = sandbox.account
    listed = account.listing.markets
    counts = {s: len(rows) for s, rows in account.trades.items()}
    traded = [s for s in account.traded_symbols if s in listed]
    minimum = sum((counts[s] // PAGE + 1) * MY_TRADES_WEIGHT for s in traded)
    every = sum((counts.get(s, 0) // PAGE + 1) * MY_TRADES_WEIGHT for s in listed)
    used = len(asked) * MY_TRADES_WEIGHT
    floor = max(max(0, math.ceil(spent.get(b, 0) / bucket.limit) - 1) * 60 for b, bucket in BUCKETS.items())

    requests_before = sandbox.requests
    asked_before = len(asked)
    again = asyncio.run(engine.sync(connection.id))

    mode = "thorough" if args.thorough else "guided"
    print(f"Binance full sync, sandbox scenario {args.scenario} ({mode} pair discovery)")
    print(
        f"  sync ok: {report.ok}   transactions: {sum(s.new for s in report.streams)}   "
        f"requests: {requests_before}"
    )
    print(
        f"  listed symbols: {len(listed)}   traded (readable) pairs: {len(traded)}   "
        f"pairs asked: {len(set(asked))} ({len(asked)} requests)"
    )
    print(
        f"  myTrades weight: used {used}, minimum {minimum} -> {used / minimum:.2f}x; "
        f"every listed pair {every} -> {every / minimum:.1f}x"
    )
    print("  weight by bucket: " + ", ".join(f"{b} {spent.get(b, 0)}" for b in BUCKETS))
    print(
        f"  429 answers: {sandbox.rejected_429}   418 bans: {sandbox.banned_418}   "
        f"rate-limited retries: {sum(s.rate_limited for s in report.streams)}"
    )
    print(f"  simulated duration: {simulated:.0f} s   rate-limit floor: {floor} s   (real time {real:.1f} s)")
    print(
        f"  CPU of the first sync: {cpu:.2f} s, of which the sandbox answering {emulation_cpu:.2f} s; "
        f"txsync itself {cpu - emulation_cpu:.2f} s"
    )
    print(
        f"  then an incremental sync: {sandbox.requests - requests_before} requests, "
        f"{len(asked) - asked_before} myTrades, {again.total('new')} new"
    )
    print("  gaps: " + "; ".join(f"{g.gap_id}" for g in report.coverage_gaps))
    for gap in report.coverage_gaps:
        if gap.gap_id in ("unreconciled_assets", "delisted_pairs"):
            print(f"  unreconciled: {gap.detail}")
    missed = sorted(s for s in traded if s not in set(asked))
    print(f"  traded pairs never asked ({len(missed)}): {', '.join(missed)}")
    floor_misses = no_signal_misses(account)
    print(
        f"  without a per-pair signal (the account's own quote mix known in advance, each alt's listed "
        f"quotes asked in that order): {floor_misses} pairs asked without trades -> "
        f"{(len(traded) + floor_misses) / len(traded):.2f}x"
    )
    wasted = sorted(s for s in set(asked) if not counts.get(s))
    print(f"  pairs asked without trades ({len(wasted)}): {', '.join(wasted)}")


def no_signal_misses(account: ScenarioAccount) -> int:
    """Wrong guesses of an oracle that knows how often this account's alts trade against each quote
    but nothing about any one alt: it asks each alt's listed quotes (among the quotes the account
    uses) from the most to the least used, until the alt's traded pairs are all found. Hub-to-hub
    pairs and the settling of hubs are left out: a reference for what ordering alone can reach."""
    listed = account.listing.markets
    traded = [listed[s] for s in account.traded_symbols if s in listed]
    quotes = {m.quote for m in traded}
    alts: dict[str, set[str]] = {}
    for m in traded:
        if m.base not in quotes:
            alts.setdefault(m.base, set()).add(m.quote)
    mix: dict[str, int] = {}
    for used in alts.values():
        for quote in used:
            mix[quote] = mix.get(quote, 0) + 1
    misses = 0
    for alt, used in alts.items():
        order = sorted(
            (m.quote for m in listed.values() if m.base == alt and m.quote in quotes),
            key=lambda q: (-mix.get(q, 0), q),
        )
        last = max(order.index(q) for q in used)
        misses += sum(1 for q in order[:last] if q not in used)
    return misses


if __name__ == "__main__":
    main()

"""A hostile-payload campaign: many mutated sandbox answers per connector, every outcome classified.

    python benchmarks/hostile_payloads.py [--cases 250] [--seed 11] [--only binance]

The suite runs a few examples per connector on every run (``tests/hostile``); this runs the same
rigs and properties at length, for the figures in ``docs/security.md``. Each case syncs a fresh
store against the connector's sandbox with one answer mutated (wrong types, missing fields, huge /
NaN / infinite numbers, deep nesting, unicode controls, duplicated ids with different content,
rows out of order, a page served again once or forever) and is classified:

* ``typed error``: the sync failed with typed errors only and nothing of the rejected page stored;
* ``clean ledger``: the sync is ok and the ledger is the untouched sync's (the mutation changed
  nothing the ledger holds, or was a retried answer);
* ``accepted``: the sync is ok with a well-formed value the server really could send (another
  amount, another status...): the ledger follows the server;
* ``defect``: anything else (an untyped error, an ok report with rows missing after a page served
  again, foreign rows stored by a failed sync, an unusable store, an exception out of the engine).

Exit status 1 if any case is a defect.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the fuzz tests' rigs

from helpers.fuzz import (
    HOSTILE_VALUES,
    OPERATIONS,
    Mutation,
    check_outcome,
    errors_of,
    ledger,
    sync_once,
)
from hostile import (
    test_binance_hostile,
    test_bitcoin_hostile,
    test_bitstamp_hostile,
    test_demo_hostile,
    test_evm_hostile,
    test_paymium_hostile,
)

_bitstamp = test_bitstamp_hostile
RIGS = {
    "demo": (test_demo_hostile._rig, test_demo_hostile._clean),
    "bitstamp": (lambda: _bitstamp._rig("since_id"), lambda: _bitstamp._clean("since_id")),
    "bitstamp-offset": (lambda: _bitstamp._rig("offset"), lambda: _bitstamp._clean("offset")),
    "paymium": (test_paymium_hostile._rig, test_paymium_hostile._clean),
    "bitcoin": (test_bitcoin_hostile._rig, test_bitcoin_hostile._clean),
    "evm": (test_evm_hostile._rig, test_evm_hostile._clean),
    "binance": (test_binance_hostile._rig, test_binance_hostile._clean),
}


def classify(name: str, mutation: Mutation) -> str:
    rig, clean_of = RIGS[name]
    clean = clean_of()
    try:
        outcome = sync_once(rig(), mutation, clean.answers)
    except Exception as exc:  # the engine must never let one out
        print(f"  defect {name} {mutation!r}: {type(exc).__name__} out of the engine")
        return "defect"
    ok = outcome.report.ok
    same = ok and ledger(outcome.store, outcome.account_id) == clean.ledger
    try:
        check_outcome(outcome, clean, mutation)
    except AssertionError as exc:
        print(f"  defect {name}: {str(exc)[:300]}")
        return "defect"
    if not ok:
        return "typed error" if errors_of(outcome.report) else "defect"
    return "clean ledger" if same else "accepted"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=250, help="mutated syncs per connector rig")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--only", choices=sorted(RIGS), action="append")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    totals: Counter[str] = Counter()
    print(f"{'rig':<16}{'cases':>7}{'typed error':>13}{'clean ledger':>14}{'accepted':>10}{'defects':>9}"
          f"{'seconds':>9}")
    for name in args.only or RIGS:
        counts: Counter[str] = Counter()
        began = time.perf_counter()
        answers = RIGS[name][1]().answers
        for _ in range(args.cases):
            op, value = rng.choice(OPERATIONS), rng.choice(HOSTILE_VALUES)
            mutation = Mutation(rng.randrange(answers), op, rng.randrange(10_000), value)
            counts[classify(name, mutation)] += 1
        totals += counts
        print(f"{name:<16}{args.cases:>7}{counts['typed error']:>13}{counts['clean ledger']:>14}"
              f"{counts['accepted']:>10}{counts['defect']:>9}{time.perf_counter() - began:>9.0f}")
    cases = sum(totals.values())
    print(f"{'all':<16}{cases:>7}{totals['typed error']:>13}{totals['clean ledger']:>14}"
          f"{totals['accepted']:>10}{totals['defect']:>9}")
    return 1 if totals["defect"] else 0


if __name__ == "__main__":
    sys.exit(main())

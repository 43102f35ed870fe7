"""A sync worker in its own process, for the lease tests: ``python -m helpers.lease_worker CONNECTION``
with the store's URL in ``TXSYNC_LEASE_WORKER_DB``.

It syncs the connection of a store (by URL) from a Demo Exchange sandbox that can be held: from its
``--gate-after``-th request on, it answers only once the file ``--gate`` exists, so a test keeps this
sync running (its lease held) as long as it needs. ``--ready`` is touched just before the sync
starts. The report is printed as one JSON line. The account is :func:`lease_account` (the parent builds the same one to
compare ledgers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from helpers.demo import demo_engine
from txsync.connectors.demo.sandbox import DemoAccount, DemoSandbox
from txsync.store import open_store

OPTIONS = {"origin": "2022-06-01T00:00:00+00:00"}


def lease_account() -> DemoAccount:
    return DemoAccount.generate(
        trades=130, deposits=6, start=datetime(2022, 6, 1, tzinfo=UTC), end=datetime(2023, 10, 1, tzinfo=UTC)
    )


def gated_transport(
    sandbox: DemoSandbox, delay: float, gate: Path | None, gate_after: int
) -> httpx.MockTransport:
    """The sandbox, each request ``delay`` late; from request ``gate_after`` on, held until the file
    ``gate`` exists (the test decides when this worker may go on)."""
    count = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        await asyncio.sleep(delay)
        # Another process opens the gate by creating a file: poll it (no event to wait on).
        while gate is not None and count >= gate_after and not gate.exists():  # noqa: ASYNC110, ASYNC240
            await asyncio.sleep(0.02)
        return sandbox.handle(request)

    return httpx.MockTransport(handle)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("connection")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--ttl", type=float, default=30.0)
    parser.add_argument("--wait", type=float, default=0.0)
    parser.add_argument("--holder", default=None)
    parser.add_argument("--gate", type=Path, default=None)
    parser.add_argument("--gate-after", type=int, default=3)
    parser.add_argument("--ready", type=Path, default=None)
    args = parser.parse_args()
    store = open_store(os.environ["TXSYNC_LEASE_WORKER_DB"])
    sandbox = DemoSandbox(account=lease_account())
    engine = demo_engine(
        store, sandbox, lease_ttl=timedelta(seconds=args.ttl), lease_wait=timedelta(seconds=args.wait),
        lease_holder=args.holder,
    )
    transport = gated_transport(sandbox, args.delay, args.gate, args.gate_after)
    engine.transport_for = lambda _c: transport
    if args.ready is not None:
        args.ready.touch()
    report = engine.sync_blocking(args.connection)
    sys.stdout.write(report.model_dump_json() + "\n")
    sys.stdout.flush()
    store.close()


if __name__ == "__main__":
    main()

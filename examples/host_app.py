"""A host application using txsync: connect a user's exchange account, sync, edit, re-sync, reconcile.

    python examples/host_app.py [--db PATH]

It runs against the Demo Exchange sandbox in this process (no network, no keys). A real host swaps
the registry and transport defaults back in (installed connectors, the real network) and keeps
credentials in the vault instead of memory.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path

from txsync.connectors.demo import DemoExchange
from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox
from txsync.engine import Engine, SyncMode
from txsync.models import Credential
from txsync.owner.ledger import OwnerLedger
from txsync.reconcile import reconcile
from txsync.registry import Registry
from txsync.store import SqliteStore


async def run(db: Path) -> dict[str, object]:
    """Sync, edit and re-sync one account; return what a host would show."""
    sandbox = DemoSandbox()
    registry = Registry(entry_points=[])  # a real host: Registry() finds the installed connectors
    registry.register(DemoExchange)
    store = SqliteStore(db)
    engine = Engine(
        store, registry=registry, transport_for=lambda _c: sandbox.transport(), clock=sandbox.clock
    )

    # The key's rights are checked before anything is stored: a key that could withdraw, transfer or
    # trade is refused. The warnings say what to improve (an IP restriction missing...).
    connection, warnings = await engine.connect_verified(
        "user-42", Credential(connector_id="demo", secrets={"api_key": DEMO_KEY, "api_secret": DEMO_SECRET})
    )
    for warning in warnings:
        print(f"warning: {warning}")
    # Progress events (stream started, page committed with counts, waits for rate limits, stream
    # finished) go to a callback, or come from `async for event in engine.sync_events(...)`: a host
    # forwards `event.to_json()` to its web page.
    pages: list[str] = []
    first = await engine.sync(
        connection.id, progress=lambda e: pages.append(e.stream) if e.kind == "page_committed" else None
    )

    # The user deletes a transaction and labels another: both survive every later sync. A web page
    # reads the ledger a page at a time (keyset cursor: as fast on the last page as on the first).
    newest = store.ledger_page(owner_id="user-42", limit=100, order="desc")
    older = store.ledger_page(owner_id="user-42", limit=100, order="desc", after=newest.next_cursor)
    txs = list(store.transactions(account_id=connection.account_id))
    store.delete_transaction(txs[0].id, reason="duplicate")
    store.set_override(txs[1].id, label="first buy", fiat_value=Decimal("250.00"), fiat_currency="EUR")
    again = await engine.sync(connection.id, SyncMode.FULL)

    reported = await engine.reported_balances(connection.id)
    checks = reconcile(store.balances(connection.account_id), reported)
    # The owner layer explains each difference: here, the deleted transaction accounts for it.
    owner = OwnerLedger(store)
    owner.record_reported(connection.account_id, reported)
    explained = {
        row.asset: [e.kind.value for e in row.explanations if e.accounts_for_difference]
        for row in owner.balances(account_id=connection.account_id)
        if row.status == "mismatch"
    }
    result = {
        "first_sync_new": first.total("new"),
        "full_resync_new": again.total("new"),
        "visible": store.count_transactions(connection.account_id),
        "label_kept": store.get_transaction(txs[1].id).label,
        # The deleted transaction is missing from the ledger: the check shows it, it does not hide it
        # (difference = computed - reported: negative where a deposit or purchase is missing).
        "deleted_legs": {leg.asset: leg.amount for leg in txs[0].legs},
        "differences": {c.asset: c.difference for c in checks if not c.ok},
        "explained": explained,
        "gaps": [g.title for g in first.coverage_gaps],
        "pages_seen": len(pages),
        "ledger_pages": [len(newest.items), len(older.items)],
    }
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args.db or Path(tmp) / "host.sqlite3"))
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()

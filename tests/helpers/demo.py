"""An engine wired to the Demo Exchange sandbox, with retries that never sleep."""

from __future__ import annotations

from typing import Any

from txsync.connectors.demo import DemoExchange
from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox
from txsync.engine import Engine
from txsync.models import Credential
from txsync.registry import Registry
from txsync.store import SqliteStore
from txsync.testing.harness import NO_SLEEP_RETRY


def demo_registry() -> Registry:
    registry = Registry(entry_points=[])
    registry.register(DemoExchange)
    return registry


def demo_credential(key: str = DEMO_KEY, secret: str = DEMO_SECRET) -> Credential:
    return Credential(connector_id="demo", secrets={"api_key": key, "api_secret": secret})


def demo_engine(store: Any, sandbox: DemoSandbox, **kw: Any) -> Engine:
    kw.setdefault("retry", NO_SLEEP_RETRY)
    return Engine(
        store,
        registry=demo_registry(),
        transport_for=lambda _c: sandbox.transport(),
        clock=sandbox.clock,
        **kw,
    )


def ledger_of(store: SqliteStore, account_id: str) -> list[tuple[object, ...]]:
    """A comparable picture of an account's ledger."""
    return [
        (tx.id, tx.kind, tx.timestamp, tx.status, tuple((leg.asset, leg.amount, leg.role) for leg in tx.legs))
        for tx in store.transactions(account_id=account_id)
    ]

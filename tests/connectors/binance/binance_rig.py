"""Helpers of the Binance connector tests: a credential and an engine wired to a transport."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from txsync.connector import LimiterRegistry
from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import KEY, NOW, SECRET
from txsync.engine import Engine, InMemoryCredentials
from txsync.models import Credential
from txsync.registry import Registry
from txsync.store import SqliteStore
from txsync.store.records import ConnectionRecord
from txsync.testing import NO_SLEEP_RETRY

SMALL_OPTIONS: dict[str, Any] = {"origin": "2024-01-01", "trades_page_size": 8, "rate_limit": "off"}


def credential(key: str = KEY, secret: str = SECRET) -> Credential:
    """A Binance credential."""
    return Credential(connector_id="binance", secrets={"api_key": key, "api_secret": secret})


@dataclass
class Rig:
    """An engine over an in-memory store, talking to ``transport``."""

    engine: Engine
    store: SqliteStore
    connection: ConnectionRecord


def make_rig(
    transport: Callable[[], httpx.AsyncBaseTransport],
    *,
    options: dict[str, Any] | None = None,
    cred: Credential | None = None,
    limiters: LimiterRegistry | None = None,
) -> Rig:
    """An engine whose Binance connection goes through ``transport()``."""
    registry = Registry(entry_points=[])
    registry.register(Binance)
    store = SqliteStore(":memory:")
    engine = Engine(
        store,
        registry=registry,
        credentials=InMemoryCredentials(),
        transport_for=lambda _c: transport(),
        clock=lambda: NOW,
        retry=NO_SLEEP_RETRY,
        limiters=limiters,
    )
    connection = engine.connect(
        "owner", cred or credential(), options=dict(SMALL_OPTIONS if options is None else options),
        verify=False,
    )
    return Rig(engine, store, connection)

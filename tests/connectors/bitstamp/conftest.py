"""Fixtures for the Bitstamp tests: an engine wired to the sandbox, retries that never sleep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from txsync.connectors.bitstamp import Bitstamp
from txsync.connectors.bitstamp.sandbox import SANDBOX_KEY, SANDBOX_SECRET, BitstampSandbox
from txsync.engine import Engine
from txsync.models import Credential
from txsync.registry import Registry
from txsync.store import SqliteStore
from txsync.testing.harness import NO_SLEEP_RETRY


def bitstamp_credential(key: str = SANDBOX_KEY, secret: str = SANDBOX_SECRET) -> Credential:
    return Credential(connector_id="bitstamp", secrets={"api_key": key, "api_secret": secret})


def bitstamp_engine(store: Any, sandbox: BitstampSandbox, **kw: Any) -> Engine:
    registry = Registry(entry_points=[])
    registry.register(Bitstamp)
    kw.setdefault("retry", NO_SLEEP_RETRY)
    return Engine(
        store, registry=registry, transport_for=lambda _c: sandbox.transport(), clock=sandbox.clock, **kw
    )


@pytest.fixture
def credential() -> Callable[..., Credential]:
    return bitstamp_credential


@pytest.fixture
def engine_for() -> Callable[..., Engine]:
    return bitstamp_engine


@pytest.fixture
def store(tmp_path: Any) -> Any:
    s = SqliteStore(tmp_path / "ledger.sqlite3")
    yield s
    s.close()

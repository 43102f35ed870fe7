"""Fixtures of the Paymium connector tests: a sandbox and a contract harness wired to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from txsync.connectors.paymium import Paymium
from txsync.connectors.paymium.sandbox import KEY, NOW, SECRET, PaymiumSandbox
from txsync.models import Credential
from txsync.testing import ContractHarness


def _credential(key: str = KEY, secret: str = SECRET) -> Credential:
    """A Paymium credential (the sandbox's by default)."""
    return Credential(connector_id="paymium", secrets={"api_key": key, "api_secret": secret})


def _harness(
    sandbox: PaymiumSandbox,
    *,
    credential: Credential | None = None,
    clock: Callable[[], datetime] | None = None,
    connection_id: str = "con_contract",
) -> ContractHarness:
    """A harness syncing ``sandbox`` through the engine (retries without sleeping)."""
    return ContractHarness(
        Paymium,
        credential or _credential(),
        transport=sandbox.transport,
        clock=clock or (lambda: NOW),
        connection_id=connection_id,
    )


@pytest.fixture
def paymium_harness() -> Callable[..., ContractHarness]:
    """Makes a harness on a given sandbox (credential, clock and connection id optional)."""
    return _harness


@pytest.fixture
def paymium_credential() -> Callable[..., Credential]:
    """Makes a Paymium credential from a token and its secret (the sandbox's by default)."""
    return _credential


@pytest.fixture
def sandbox() -> PaymiumSandbox:
    """A fresh sandbox serving the default account."""
    return PaymiumSandbox()


@pytest.fixture
def harness(sandbox: PaymiumSandbox) -> ContractHarness:
    """A harness on ``sandbox`` with the sandbox's token."""
    return _harness(sandbox)

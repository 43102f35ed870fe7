"""Fixtures of the Binance connector tests: the sandbox over the small scenario."""

from __future__ import annotations

from typing import Any

import pytest

from txsync.connectors.binance.sandbox import BinanceSandbox


@pytest.fixture(scope="session")
def small_account() -> Any:
    """The small scenario account (generated once)."""
    return BinanceSandbox.small().account


@pytest.fixture
def sandbox(small_account: Any) -> BinanceSandbox:
    """A fresh sandbox over the small scenario, limits not enforced."""
    return BinanceSandbox(account=small_account, enforce_limits=False)

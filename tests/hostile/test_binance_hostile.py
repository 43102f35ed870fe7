"""Hostile answers fed through the Binance connector (every stream, pair discovery, myTrades)."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx
from hypothesis import given

from helpers.fuzz import (
    Clean,
    Mutation,
    Rig,
    check_outcome,
    clean_run,
    fuzz_settings,
    mutations,
    sync_once,
)
from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import KEY, NOW, SECRET, BinanceSandbox
from txsync.models import Credential


@cache
def _account() -> Any:
    return BinanceSandbox.small().account


def _listing(request: httpx.Request) -> str:
    """One list per endpoint and partition (a pair's trades, a fiat transaction type)."""
    params = request.url.params
    part = params.get("symbol") or params.get("transactionType") or params.get("type") or ""
    return f"{request.url.path} {part}"


def _rig() -> Rig:
    return Rig(
        Binance,
        lambda: Credential(connector_id="binance", secrets={"api_key": KEY, "api_secret": SECRET}),
        transport=lambda: BinanceSandbox(account=_account(), enforce_limits=False).transport(),
        clock=lambda: NOW,
        options={"origin": "2024-01-01", "trades_page_size": 8, "rate_limit": "off"},
        listing=_listing,
    )


@cache
def _clean() -> Clean:
    return clean_run(_rig())


@given(mutation=mutations())
@fuzz_settings
def test_hostile_answers_give_typed_errors_or_a_correct_ledger(mutation: Mutation) -> None:
    clean = _clean()
    check_outcome(sync_once(_rig(), mutation, clean.answers), clean, mutation)

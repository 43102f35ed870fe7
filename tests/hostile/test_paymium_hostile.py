"""Hostile answers fed through the Paymium connector (orders and withdrawals sweeps)."""

from __future__ import annotations

from copy import deepcopy
from functools import cache

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
from txsync.connectors.paymium import Paymium
from txsync.connectors.paymium.sandbox import KEY, NOW, SECRET, PaymiumAccount, PaymiumSandbox
from txsync.models import Credential


@cache
def _account() -> PaymiumAccount:
    return PaymiumAccount.generate(trades=70)


def _rig() -> Rig:
    return Rig(
        Paymium,
        lambda: Credential(connector_id="paymium", secrets={"api_key": KEY, "api_secret": SECRET}),
        transport=lambda: PaymiumSandbox(account=deepcopy(_account())).transport(),
        clock=lambda: NOW,
    )


@cache
def _clean() -> Clean:
    return clean_run(_rig())


@given(mutation=mutations())
@fuzz_settings
def test_hostile_answers_give_typed_errors_or_a_correct_ledger(mutation: Mutation) -> None:
    clean = _clean()
    check_outcome(sync_once(_rig(), mutation, clean.answers), clean, mutation)

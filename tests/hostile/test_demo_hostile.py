"""Hostile answers fed through the Demo Exchange connector (the SDK example every plugin copies)."""

from __future__ import annotations

from functools import cache

from hypothesis import given

from helpers.demo import demo_credential
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
from txsync.testing.demo_connector import DemoExchange
from txsync.testing.demo_sandbox import DemoAccount, DemoSandbox


@cache
def _account() -> DemoAccount:
    return DemoAccount.generate(trades=230, deposits=60)


def _rig() -> Rig:
    sandbox = DemoSandbox(account=_account())
    return Rig(
        DemoExchange,
        demo_credential,
        transport=lambda: DemoSandbox(account=_account()).transport(),
        clock=sandbox.clock,
    )


@cache
def _clean() -> Clean:
    return clean_run(_rig())


@given(mutation=mutations())
@fuzz_settings
def test_hostile_answers_give_typed_errors_or_a_correct_ledger(mutation: Mutation) -> None:
    clean = _clean()
    check_outcome(sync_once(_rig(), mutation, clean.answers), clean, mutation)

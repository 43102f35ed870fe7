"""Hostile answers fed through the Bitcoin connector (address stats, Esplora paging, re-checks)."""

from __future__ import annotations

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
from txsync.connectors.bitcoin import BitcoinWallet
from txsync.connectors.bitcoin.sandbox import BIP84_ZPUB, EsploraSandbox
from txsync.models import Credential


def _rig() -> Rig:
    sandbox = EsploraSandbox()
    return Rig(
        BitcoinWallet,
        lambda: Credential(connector_id="bitcoin", public={"xpub_or_address": BIP84_ZPUB}),
        transport=lambda: EsploraSandbox().transport(),
        clock=sandbox.now,
        # a short history cut by a mutated answer is an error here, not a noted gap: the fuzz checks
        # that no cut history is ever reported ok
        options={"requests_per_second": 0, "base_url": sandbox.base_url, "gap_limit": 3,
                 "on_incomplete": "error"},
    )


@cache
def _clean() -> Clean:
    return clean_run(_rig())


@given(mutation=mutations())
@fuzz_settings
def test_hostile_answers_give_typed_errors_or_a_correct_ledger(mutation: Mutation) -> None:
    clean = _clean()
    check_outcome(sync_once(_rig(), mutation, clean.answers), clean, mutation)

"""Hostile answers fed through the EVM connector (every explorer list, paged by block)."""

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
from txsync.connectors.evm import EvmWallet
from txsync.connectors.evm.sandbox import SANDBOX_OPTIONS, EtherscanSandbox, EvmChain, sandbox_credential


@cache
def _chain() -> EvmChain:
    return EvmChain.scenario(filler_blocks=3)


def _rig() -> Rig:
    sandbox = EtherscanSandbox(chain=_chain())
    return Rig(
        EvmWallet,
        sandbox_credential,
        transport=lambda: EtherscanSandbox(chain=_chain()).transport(),
        clock=lambda: sandbox.now,
        options=dict(SANDBOX_OPTIONS),
        # Etherscan's token lists carry no log index: two identical rows of one transaction are two
        # identical transfers, so a row listed twice cannot be told from them (see base_key)
        ambiguous_duplicates=True,
        # every call is GET /v2/api: a list is an action for one address
        listing=lambda request: "{action} {address}".format(**dict(request.url.params)),
    )


@cache
def _clean() -> Clean:
    return clean_run(_rig())


@given(mutation=mutations())
@fuzz_settings
def test_hostile_answers_give_typed_errors_or_a_correct_ledger(mutation: Mutation) -> None:
    clean = _clean()
    check_outcome(sync_once(_rig(), mutation, clean.answers), clean, mutation)

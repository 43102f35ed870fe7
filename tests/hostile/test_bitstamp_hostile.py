"""Hostile answers fed through the Bitstamp connector, by since_id and by offset paging."""

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
from txsync.connectors.bitstamp import Bitstamp
from txsync.connectors.bitstamp.sandbox import (
    NOW,
    SANDBOX_KEY,
    SANDBOX_SECRET,
    BitstampAccount,
    BitstampSandbox,
    SandboxKey,
)
from txsync.models import Credential


@cache
def _account() -> BitstampAccount:
    return BitstampAccount.generate(orders=60)


def _credential() -> Credential:
    return Credential(connector_id="bitstamp", secrets={"api_key": SANDBOX_KEY, "api_secret": SANDBOX_SECRET})


def _rig(paging: str) -> Rig:
    # The server signs its answers: a mutated answer would only ever fail that check, so it is off.
    options = {"verify_response_signature": "off", "paging": paging}
    if paging == "offset":
        options["page_limit"] = 40
    return Rig(
        Bitstamp,
        _credential,
        transport=lambda: BitstampSandbox(
            keys={SANDBOX_KEY: SandboxKey(SANDBOX_SECRET, deepcopy(_account()))}
        ).transport(),
        clock=lambda: NOW,
        options=options,
    )


@cache
def _clean(paging: str) -> Clean:
    return clean_run(_rig(paging))


@given(mutation=mutations())
@fuzz_settings
def test_hostile_answers_by_since_id(mutation: Mutation) -> None:
    clean = _clean("since_id")
    check_outcome(sync_once(_rig("since_id"), mutation, clean.answers), clean, mutation)


@given(mutation=mutations())
@fuzz_settings
def test_hostile_answers_by_offset(mutation: Mutation) -> None:
    clean = _clean("offset")
    check_outcome(sync_once(_rig("offset"), mutation, clean.answers), clean, mutation)

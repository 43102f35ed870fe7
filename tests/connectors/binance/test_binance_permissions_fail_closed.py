"""Binance key rights are read fail-closed: an ``apiRestrictions`` answer without a withdrawal or
transfer flag (an API change, a proxy), or with a flag that is not a JSON boolean, is not a read-only
key; the engine refuses it before storing anything, and disables a connection whose answer changes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.binance.binance_rig import SMALL_OPTIONS, credential, make_rig
from txsync.connector import ConnectorContext
from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import KEY, NOW, BinanceSandbox
from txsync.errors import PermissionDeniedError
from txsync.models import Permissions
from txsync.store import ConnectionState

MISSING = object()


@pytest.fixture
def sandbox() -> BinanceSandbox:
    return BinanceSandbox(enforce_limits=False)


def answer(sandbox: BinanceSandbox, **changes: Any) -> None:
    rights = dict(sandbox.keys[KEY].restrictions)
    for name, value in changes.items():
        if value is MISSING:
            rights.pop(name, None)
        else:
            rights[name] = value
    sandbox.keys[KEY].restrictions = rights


def verify(sandbox: BinanceSandbox) -> Permissions:
    async def scenario() -> Permissions:
        context = ConnectorContext(
            connection_id="c", account_id="a", credential=credential(), options=SMALL_OPTIONS,
            transport=sandbox.transport(), clock=lambda: NOW,
        )
        async with Binance(context) as connector:
            return await connector.verify()

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    ("changes", "right", "value"),
    [
        ({}, "can_withdraw", False),
        ({"enableWithdrawals": MISSING}, "can_withdraw", None),
        ({"enableWithdrawals": "false"}, "can_withdraw", None),
        ({"enableWithdrawals": 0}, "can_withdraw", None),
        ({"enableWithdrawals": None}, "can_withdraw", None),
        ({"enableInternalTransfer": MISSING}, "can_transfer", None),
        ({"permitsUniversalTransfer": MISSING}, "can_transfer", None),
        ({"permitsUniversalTransfer": MISSING, "enableInternalTransfer": True}, "can_transfer", True),
        ({"enableSpotAndMarginTrading": MISSING}, "can_trade", None),
        ({"enableSpotAndMarginTrading": MISSING, "enableFutures": True}, "can_trade", True),
        ({"enableFixApiTrade": MISSING, "enablePortfolioMarginTrading": MISSING}, "can_trade", False),
        ({"enableReading": MISSING}, "can_read", False),
        ({"enableReading": "true"}, "can_read", False),
        ({"ipRestrict": MISSING}, "ip_restricted", None),
    ],
)
def test_only_json_booleans_count_as_an_answer(
    sandbox: BinanceSandbox, changes: dict[str, Any], right: str, value: bool | None
) -> None:
    answer(sandbox, **changes)
    assert getattr(verify(sandbox), right) is value


@pytest.mark.parametrize(
    "changes",
    [
        {"enableWithdrawals": MISSING},
        {"enableWithdrawals": "false"},
        {"enableInternalTransfer": MISSING},
        {"permitsUniversalTransfer": "no"},
        {"enableSpotAndMarginTrading": MISSING},
    ],
)
def test_the_engine_refuses_an_answer_that_leaves_a_right_unknown(
    sandbox: BinanceSandbox, changes: dict[str, Any]
) -> None:
    answer(sandbox, **changes)
    rig = make_rig(sandbox.transport)
    before = rig.store.list_connections()
    with pytest.raises(PermissionDeniedError, match="did not say whether the key can"):
        rig.engine.connect("owner", credential(), options=dict(SMALL_OPTIONS))
    assert rig.store.list_connections() == before
    # a connection made earlier is disabled at its next sync, before any history is read
    report = asyncio.run(rig.engine.sync(rig.connection.id))
    assert report.state == ConnectionState.DISABLED and "did not say whether" in (report.state_reason or "")
    assert report.total("requests") == 0


def test_a_complete_read_only_answer_is_accepted(sandbox: BinanceSandbox) -> None:
    rig = make_rig(sandbox.transport)
    connection = rig.engine.connect("owner", credential(), options=dict(SMALL_OPTIONS))
    assert rig.store.get_connection(connection.id).state == ConnectionState.ACTIVE

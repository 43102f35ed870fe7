"""Verified keys by default: ``connect`` checks the key before storing anything (from any thread
without a running loop; inside one it points to ``connect_verified``), a refused key leaves nothing
at all, ``verify=False`` is the explicit offline path, and permission checks fail closed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helpers.demo import demo_credential, demo_engine
from txsync.engine import ReadOnlyPolicy
from txsync.errors import AuthError, EventLoopError, PermissionDeniedError
from txsync.models import Permissions
from txsync.store import ConnectionState, SqliteStore
from txsync.testing.demo_sandbox import DemoSandbox


@pytest.fixture
def sandbox() -> DemoSandbox:
    return DemoSandbox()


def stored(store: SqliteStore) -> dict[str, int]:
    """What the database holds: accounts, connections, sealed credential fields."""
    return {"accounts": len(store.list_accounts()), "connections": len(store.list_connections()),
            "sealed": len(store.sealed_blobs())}


NOTHING = {"accounts": 0, "connections": 0, "sealed": 0}


def test_connect_verifies_the_key_before_storing_it(store: SqliteStore, sandbox: DemoSandbox) -> None:
    engine = demo_engine(store, sandbox)
    connection = engine.connect("alice", demo_credential(), label="main")  # no event loop here at all
    assert sandbox.log == ["/v1/key"]
    assert stored(store) == {"accounts": 1, "connections": 1, "sealed": 2}
    assert connection.state == ConnectionState.ACTIVE


async def test_connect_works_from_a_thread_while_a_loop_runs_elsewhere(store: SqliteStore, sandbox: DemoSandbox) -> None:
    engine = demo_engine(store, sandbox)
    connection = await asyncio.to_thread(engine.connect, "alice", demo_credential())
    assert sandbox.log == ["/v1/key"] and store.get_connection(connection.id).account_id == connection.account_id
    assert (await engine.sync(connection.id)).ok


async def test_connect_inside_a_running_loop_points_to_the_async_twin(store: SqliteStore, sandbox: DemoSandbox) -> None:
    engine = demo_engine(store, sandbox)
    with pytest.raises(EventLoopError, match=r"await engine\.connect_verified\(\.\.\.\)"):
        engine.connect("alice", demo_credential())
    with pytest.raises(RuntimeError, match=r"await engine\.replace_credential_verified"):
        engine.replace_credential("con_x", demo_credential())
    with pytest.raises(EventLoopError, match=r"await engine\.sync\(\.\.\.\)"):
        engine.sync_blocking("con_x")
    assert sandbox.requests == 0 and stored(store) == NOTHING


@pytest.mark.parametrize(
    ("rights", "error", "reason"),
    [
        ({"canWithdraw": True}, PermissionDeniedError, "can withdraw"),
        ({"canTransfer": True}, PermissionDeniedError, "can transfer"),
        ({"canTrade": True}, PermissionDeniedError, "can trade"),
        ({"canWithdraw": None}, PermissionDeniedError, "did not say whether the key can withdraw"),
        ({"canWithdraw": "false"}, PermissionDeniedError, "did not say whether the key can withdraw"),
        ({"canTransfer": 0}, PermissionDeniedError, "did not say whether the key can transfer"),
        ({"canTrade": None}, PermissionDeniedError, "did not say whether the key can trade"),
        ({"canRead": "yes"}, PermissionDeniedError, "cannot read"),
    ],
)
async def test_a_refused_key_leaves_nothing_at_all(
    store: SqliteStore, sandbox: DemoSandbox, rights: dict[str, Any], error: type[Exception], reason: str
) -> None:
    for name, value in rights.items():
        if value is None:
            del sandbox.permissions[name]  # the answer lacks the flag: an API change, a proxy
        else:
            sandbox.permissions[name] = value
    engine = demo_engine(store, sandbox)
    with pytest.raises(error, match=reason):
        await asyncio.to_thread(engine.connect, "alice", demo_credential())
    with pytest.raises(error, match=reason):
        await engine.connect_verified("alice", demo_credential())
    assert stored(store) == NOTHING


async def test_a_rejected_key_leaves_nothing_and_a_refused_replacement_keeps_the_old_key(
    store: SqliteStore, sandbox: DemoSandbox
) -> None:
    engine = demo_engine(store, sandbox)
    with pytest.raises(AuthError):
        await asyncio.to_thread(engine.connect, "alice", demo_credential(secret="wrong-secret-0000"))
    assert stored(store) == NOTHING
    connection = await asyncio.to_thread(engine.connect, "alice", demo_credential())
    with pytest.raises(AuthError):
        await asyncio.to_thread(engine.replace_credential, connection.id, demo_credential(secret="wrong-0000"))
    assert (await engine.sync(connection.id)).ok  # the old key is still the one used


async def test_verify_false_stores_the_key_unchecked(store: SqliteStore, sandbox: DemoSandbox) -> None:
    sandbox.permissions["canWithdraw"] = True
    engine = demo_engine(store, sandbox)
    connection = engine.connect("alice", demo_credential(), verify=False)
    assert sandbox.requests == 0 and stored(store)["connections"] == 1
    # ...and the first sync checks it: a key that can withdraw disables the connection, reads nothing
    report = await engine.sync(connection.id)
    assert report.state == ConnectionState.DISABLED and "withdraw" in (report.state_reason or "")
    assert sandbox.log == ["/v1/key"] and store.count_transactions() == 0


async def test_rights_that_become_unknown_disable_the_connection_at_the_next_sync(
    store: SqliteStore, sandbox: DemoSandbox
) -> None:
    engine = demo_engine(store, sandbox)
    connection, _ = await engine.connect_verified("alice", demo_credential())
    del sandbox.permissions["canWithdraw"]
    report = await engine.sync(connection.id)
    assert report.state == ConnectionState.DISABLED
    assert "did not say whether the key can withdraw" in (report.state_reason or "")


@pytest.mark.parametrize(
    ("permissions", "allow_trading", "outcome"),
    [
        (Permissions(reported=True, can_trade=False, can_withdraw=False, can_transfer=False), False, "ok"),
        (Permissions(reported=True, can_trade=False, can_withdraw=None, can_transfer=False), False, "withdraw"),
        (Permissions(reported=True, can_trade=False, can_withdraw=False, can_transfer=None), False, "transfer"),
        (Permissions(reported=True, can_trade=None, can_withdraw=False, can_transfer=False), False, "trade"),
        (Permissions(reported=True, can_trade=None, can_withdraw=False, can_transfer=False), True, "ok"),
        (Permissions(reported=True, can_trade=True, can_withdraw=False, can_transfer=False), True, "ok"),
        (Permissions(reported=True, can_trade=False, can_withdraw=True, can_transfer=False), True, "can withdraw"),
        (Permissions(reported=False), False, "ok"),  # cannot tell: accepted with a warning
    ],
)
def test_the_read_only_policy_fails_closed(permissions: Permissions, allow_trading: bool, outcome: str) -> None:
    policy = ReadOnlyPolicy(allow_trading=allow_trading)
    if outcome == "ok":
        warnings = policy.check(permissions, "x")
        assert (not permissions.reported) == any("does not report" in w for w in warnings)
    else:
        with pytest.raises(PermissionDeniedError, match=outcome):
            policy.check(permissions, "x")

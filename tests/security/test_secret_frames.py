"""No plaintext secret in the frames of an exception escaping the engine.

Error trackers (Sentry...) capture the local variables of every frame of an exception's traceback.
For an exception escaping each public entry point (a refused key, a sync killed mid-page, a
cancelled sync), these tests walk those frames' locals recursively (containers, object ``__dict__``
and ``__slots__``, bound methods, generators, chained exceptions) and find no key or secret outside
the objects built to hold one without ever showing it (``Credential``, signers, ``SecretSet``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpers.demo import demo_registry
from helpers.demo_server import demo_api, endless_trades
from helpers.echo_servers import CONNECTORS, KEY, SECRET, credential, echo_401, options, registry
from helpers.hostile import Request, hostile
from helpers.leaks import needles, reachable
from txsync.engine import Engine
from txsync.http import HttpLimits, RetryPolicy
from txsync.store import SqliteStore
from txsync.testing.harness import SimulatedCrash

SECRETS = needles(KEY, SECRET)


async def _no_sleep(_: float) -> None:
    return None


RETRY = RetryPolicy(attempts=2, sleep=_no_sleep)


def engine_for(store: Any, reg: Any = None) -> Engine:
    return Engine(
        store, registry=reg or registry(), retry=RETRY, http_limits=HttpLimits(deadline=10),
        clock=lambda: datetime.now(UTC),
    )


async def escaped(call: Callable[[], Awaitable[Any]]) -> BaseException:
    try:
        await call()
    except BaseException as exc:
        return exc
    raise AssertionError("expected the call to raise")


def assert_clean(where: str, exc: BaseException) -> None:
    paths = reachable(exc, SECRETS)
    assert not paths, f"{where}: a secret is reachable from the escaping exception via {paths[:5]}"


@pytest.mark.parametrize("connector_id", sorted(CONNECTORS))
async def test_refused_keys_leave_no_secret_in_frames(connector_id: str, store: SqliteStore) -> None:
    async with hostile(echo_401) as server:
        opts = options(connector_id, server.base_url)
        engine = engine_for(store)
        existing = engine.connect("owner", credential(connector_id), options=opts, verify=False)
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "check_credential": lambda: engine.check_credential(credential(connector_id), options=opts),
            "connect_verified": lambda: engine.connect_verified("owner", credential(connector_id), options=opts),
            "connect": lambda: asyncio.to_thread(engine.connect, "owner", credential(connector_id), options=opts),
            "replace_credential_verified": lambda: engine.replace_credential_verified(
                existing.id, credential(connector_id)
            ),
            "replace_credential": lambda: asyncio.to_thread(
                engine.replace_credential, existing.id, credential(connector_id)
            ),
            "reported_balances": lambda: engine.reported_balances(existing.id),
        }
        for name, call in calls.items():
            assert_clean(f"{connector_id} {name}", await escaped(call))


@pytest.mark.parametrize("connector_id", sorted(CONNECTORS))
async def test_a_cancelled_sync_leaves_no_secret_in_frames(connector_id: str, store: SqliteStore) -> None:
    arrived = asyncio.Event()

    async def hang(_: Request, __: asyncio.StreamWriter) -> None:
        arrived.set()
        await asyncio.sleep(3600)

    async with hostile(hang) as server:
        engine = engine_for(store)
        con = engine.connect("owner", credential(connector_id), options=options(connector_id, server.base_url), verify=False)
        for name, call in (
            ("sync", lambda: engine.sync(con.id)),
            ("check_credential", lambda: engine.check_credential(credential(connector_id), options=con.options)),
            ("reported_balances", lambda: engine.reported_balances(con.id)),
        ):
            arrived.clear()
            task = asyncio.create_task(call())
            await arrived.wait()  # the request is in flight: frames hold the client, the request...
            task.cancel()
            exc = await escaped(lambda t=task: t)
            assert isinstance(exc, asyncio.CancelledError)
            assert_clean(f"{connector_id} cancelled {name}", exc)


class KilledStore:
    """A store whose page commit is where the process dies (a kill, an interrupt): the BaseException
    escapes the sync with every frame below it (a store failure is only reported, not raised)."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def commit_page(self, *args: Any, **kw: Any) -> Any:
        raise SimulatedCrash("killed while committing a page")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_sync_killed_mid_page_leaves_no_secret_in_frames(store: SqliteStore) -> None:
    async with hostile(demo_api(endless_trades)) as server:
        engine = engine_for(KilledStore(store), demo_registry())
        opts = {"base_url": server.base_url, "origin": "2020-01-01T00:00:00+00:00"}
        con = engine.connect("owner", credential("demo"), options=opts, verify=False)
        for name, call in (
            ("sync", lambda: engine.sync(con.id)),
            ("sync_due", lambda: engine.sync_due(datetime.now(UTC) + timedelta(days=400))),
            ("sync_blocking", lambda: asyncio.to_thread(engine.sync_blocking, con.id)),
        ):
            exc = await escaped(call)
            assert isinstance(exc, SimulatedCrash), exc
            assert_clean(f"killed in {name}", exc)
        assert any(r.path == "/v1/trades" for r in server.requests)  # a page was fetched with the key


def test_the_walk_finds_what_it_should() -> None:
    """The walker is not blind: a plaintext key in a frame, a dict, an object or bytes is found."""

    class Holder:
        def __init__(self) -> None:
            self.headers = [(b"x-key", KEY.encode())]

    def leaky(secrets: tuple[str, ...], holder: Holder) -> None:
        raise RuntimeError("boom")

    try:
        leaky((KEY, SECRET), Holder())
    except RuntimeError as exc:
        paths = reachable(exc, SECRETS, skip_frames_under=None)
    assert any("secrets" in p for p in paths) and any("headers" in p for p in paths)

"""Store work of an async sync never runs on the event loop's thread: a host serving requests on the
loop (FastAPI, any asyncio server) keeps answering while a sync commits pages."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from helpers.demo import demo_credential, demo_engine
from txsync.testing.demo_sandbox import DemoSandbox


class _Watched:
    """The real store, recording the thread of every call and making each page commit slow."""

    def __init__(self, inner: Any, loop_thread: int) -> None:
        self._inner = inner
        self._loop_thread = loop_thread
        self.on_loop: list[str] = []
        self.commits = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_") or name in ("for_owner",):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == self._loop_thread:
                self.on_loop.append(name)
            if name == "commit_page":
                self.commits += 1
                time.sleep(0.02)  # a slow disk: the loop must keep running meanwhile
            return attr(*args, **kwargs)

        return call


async def test_commits_run_off_the_loop_and_the_loop_keeps_answering(
    store_factory: Callable[[], Any],
) -> None:
    store = store_factory()
    sandbox = DemoSandbox()
    setup = demo_engine(store, sandbox)
    connection = setup.connect("alice", demo_credential(), verify=False)
    watched = _Watched(store, threading.get_ident())
    engine = demo_engine(watched, sandbox, credentials=setup.credentials)

    ticks = 0
    stop = asyncio.Event()

    async def answer_requests() -> None:  # what a web host does between two page commits
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.002)

    server = asyncio.create_task(answer_requests())
    report = await engine.sync(connection.id)
    stop.set()
    await server
    assert report.ok, report.errors
    assert watched.commits >= 5
    assert watched.on_loop == []  # no store call at all on the loop's thread during the sync
    # the loop kept running while the commits slept (at least one tick per commit)
    assert ticks >= watched.commits


def test_a_blocking_sync_commits_in_place_on_its_private_loop(store_factory: Callable[[], Any]) -> None:
    """``sync_blocking`` runs its own loop that nothing else shares: its store work stays on that loop's
    thread (no hop per page); an async sync started on that thread afterwards still leaves the loop."""
    store = store_factory()
    sandbox = DemoSandbox()
    setup = demo_engine(store, sandbox)
    connection = setup.connect("alice", demo_credential(), verify=False)
    watched = _Watched(store, threading.get_ident())
    engine = demo_engine(watched, sandbox, credentials=setup.credentials)

    report = engine.sync_blocking(connection.id)
    assert report.ok, report.errors
    assert "commit_page" in watched.on_loop  # committed on the calling thread, where its loop runs

    watched.on_loop.clear()
    report = asyncio.run(engine.sync(connection.id))  # a host's loop: the flag does not leak into it
    assert report.ok, report.errors
    assert watched.commits >= 5
    assert watched.on_loop == []

"""Fault injection: a sync killed at any page boundary, or hit by any schedule of 429 / 5xx / timeouts /
truncated JSON, ends with exactly the ledger of a clean sync (after resuming), never a partial page."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.demo import demo_credential, demo_engine, ledger_of
from txsync.connectors.demo.sandbox import DemoAccount, DemoSandbox
from txsync.merge import PageBatch
from txsync.store import SqliteStore

ACCOUNT = "acc-fault"
OPTIONS = {"origin": "2022-06-01T00:00:00+00:00"}


class Killed(BaseException):
    """The process dies: nothing after this point runs."""


def _account() -> DemoAccount:
    return DemoAccount.generate(
        trades=130, deposits=6, start=datetime(2022, 6, 1, tzinfo=UTC), end=datetime(2023, 10, 1, tzinfo=UTC)
    )


def _setup(store: SqliteStore, sandbox: DemoSandbox) -> tuple[Any, str]:
    store.add_account("owner", "demo", account_id=ACCOUNT)
    engine = demo_engine(store, sandbox)
    con = engine.connect("owner", demo_credential(), account_id=ACCOUNT, options=OPTIONS, verify=False)
    return engine, con.id


@functools.cache
def _clean() -> tuple[list[tuple[object, ...]], int]:
    store = SqliteStore(":memory:")
    engine, con_id = _setup(store, DemoSandbox(account=_account()))
    report = engine.sync_blocking(con_id)
    assert report.ok
    return ledger_of(store, ACCOUNT), sum(s.pages for s in report.streams)


class _DyingStore:
    """Delegates to a real store but dies *inside* the ``die_at``-th page commit (1-based): the merge
    has written its rows in the database transaction when writing the cursor kills the process.

    (Dying between commits is what the contract kit's resume check does for every checkpoint.)
    """

    def __init__(self, inner: SqliteStore, die_at: int) -> None:
        self._inner = inner
        self._die_at = die_at
        self.commits = 0
        self.committed_raws = 0  # raws of the pages committed before the death
        self.last_cursor: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def commit_page(self, batch: PageBatch, **kw: Any) -> Any:
        self.commits += 1
        if self.commits == self._die_at:
            batch.cursor = _ExplodingCursor()
        counts = self._inner.commit_page(batch, **kw)
        self.committed_raws += len(batch.raws)
        self.last_cursor[batch.stream] = batch.cursor
        return counts


class _ExplodingCursor(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise Killed

    def __iter__(self) -> Iterator[str]:
        raise Killed

    def __len__(self) -> int:
        return 1

    def items(self) -> Any:
        raise Killed


def test_clean_sync_has_many_pages() -> None:
    _, pages = _clean()
    assert pages >= 15


def test_killed_inside_every_page_commit_resumes_to_the_same_ledger() -> None:
    clean, pages = _clean()
    for die_at in range(1, pages + 1):
        store = SqliteStore(":memory:")
        sandbox = DemoSandbox(account=_account())
        first, con_id = _setup(store, sandbox)
        dying = _DyingStore(store, die_at)
        engine = demo_engine(dying, sandbox, credentials=first.credentials)
        with pytest.raises(Killed):
            engine.sync_blocking(con_id)
        # exactly the pages committed before the death, none of the dying one
        assert store.count_raws(con_id) == dying.committed_raws, f"died inside commit {die_at}"
        for stream, cursor in dying.last_cursor.items():
            assert store.get_cursor(con_id, stream) == cursor
        assert set(ledger_of(store, ACCOUNT)) <= set(clean)
        # a new process resumes from the checkpoints
        resumed = demo_engine(store, sandbox, credentials=first.credentials).sync_blocking(con_id)
        assert resumed.ok, resumed.errors
        assert ledger_of(store, ACCOUNT) == clean, f"died inside commit {die_at}: ledger differs"
        assert store.count_raws(con_id) == len(clean)
        store.close()


FAULTS = ["429", "429-0", "500", "503", "timeout", "disconnect", "truncated"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(faults=st.dictionaries(st.integers(1, 40), st.sampled_from(FAULTS), max_size=14))
def test_random_fault_schedules_reach_the_clean_ledger_or_a_typed_error(faults: dict[int, str]) -> None:
    clean, _ = _clean()
    store = SqliteStore(":memory:")
    sandbox = DemoSandbox(account=_account(), faults=faults)
    engine, con_id = _setup(store, sandbox)
    report = engine.sync_blocking(con_id)
    stored = ledger_of(store, ACCOUNT)
    if report.ok:
        assert stored == clean
    else:
        errors = report.errors + [e for s in report.streams for e in s.errors]
        assert errors and all(e.split(":")[0].endswith("Error") for e in errors), errors
        assert set(stored) <= set(clean)  # whole pages only, each exactly as a clean sync stores it
        sandbox.faults.clear()
        assert engine.sync_blocking(con_id).ok
        assert ledger_of(store, ACCOUNT) == clean
    store.close()

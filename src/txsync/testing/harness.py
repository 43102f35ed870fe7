"""The contract kit's scenario runner: a connector wired to an engine, a store and a transport.

:class:`ContractHarness` runs the contract scenarios (full sync, resume from every checkpoint, two
sequential syncs, a cursor from the future, normalization) against whatever transport it is given:
vcrpy replaying a cassette (what :class:`~txsync.testing.ConnectorContract` does), a sandbox's
``httpx.MockTransport``, or the live API. Every ``check_*`` method raises ``AssertionError`` with a
message saying what the connector did wrong.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx

from txsync.connector import Connector, ConnectorContext, Cursor
from txsync.engine import Engine, InMemoryCredentials, SyncMode, SyncReport
from txsync.errors import UnknownConnectionError
from txsync.http import RetryPolicy
from txsync.merge import MergeCounts, PageBatch
from txsync.models import Balance, Credential
from txsync.registry import Registry
from txsync.store.base import Store
from txsync.store.records import ConnectionRecord
from txsync.testing.checks import (
    CommittedPage,
    CursorOrder,
    canonical_cursor,
    check_balances_complete,
    check_connector_info,
    check_ledgers_equal,
    check_normalized_page,
    check_page_identities,
    check_page_order,
    check_record_counts,
    check_sync_report,
    compare_cursors,
    origin_of,
)

__all__ = [
    "NO_SLEEP_RETRY",
    "ContractHarness",
    "RecordingStore",
    "ResumeSummary",
    "SimulatedCrash",
    "SyncRun",
]


async def _no_sleep(_: float) -> None:
    return None


#: Retries as in production, minus the waiting: replays must be fast and deterministic.
NO_SLEEP_RETRY = RetryPolicy(attempts=4, max_wait=60, sleep=_no_sleep)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _memory_store() -> Store:
    from txsync.store import SqliteStore

    # SqliteStore.set_override spells out its fields where the protocol takes **fields.
    return cast(Store, SqliteStore(":memory:"))


class SimulatedCrash(BaseException):
    """Raised by :class:`RecordingStore` right after a committed page: the process "dies" there.

    A ``BaseException`` so that neither the engine nor a connector can swallow it, as with a kill.
    """


class RecordingStore:
    """A :class:`~txsync.store.base.Store` wrapper that records every committed page.

    ``crash_after(page)`` is asked after each commit; when it returns true the wrapper raises
    :class:`SimulatedCrash` (the page is committed, the engine never learns it).
    """

    def __init__(self, inner: Store, crash_after: Callable[[CommittedPage], bool] | None = None) -> None:
        self.inner = inner
        self.crash_after = crash_after
        self.pages: list[CommittedPage] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def commit_page(
        self, batch: PageBatch, *, tolerance: timedelta = timedelta(seconds=2), now: datetime | None = None
    ) -> MergeCounts:
        """Commit through the wrapped store, remember the page, then crash if asked to."""
        counts = self.inner.commit_page(batch, tolerance=tolerance, now=now)
        page = CommittedPage(
            stream=batch.stream,
            cursor=batch.cursor,
            raws=list(batch.raws),
            transactions=list(batch.transactions),
            counts=counts,
        )
        self.pages.append(page)
        if self.crash_after is not None and self.crash_after(page):
            raise SimulatedCrash(f"killed after committing page {len(self.pages)} of stream {batch.stream!r}")
        return counts


@dataclass
class SyncRun:
    """One sync through the harness: the report, the pages it committed, and the store."""

    report: SyncReport
    pages: list[CommittedPage]
    store: Store


@dataclass
class ResumeSummary:
    """What :meth:`ContractHarness.check_resume_from_every_checkpoint` exercised."""

    #: Pages committed by the uninterrupted reference sync.
    pages: int
    #: Kills (one right after each new checkpoint) followed by a resume with a fresh engine.
    kills: int
    #: Checkpoints from which a separate store was also resumed to the end in one go.
    independent: list[int] = field(default_factory=list)


async def _aclose(iterator: Any) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


class ContractHarness:
    """Runs contract scenarios for one connector, credential and transport.

    ``transport`` is called for each connection an engine opens (``None`` = httpx's default, the
    network); ``clock`` is the engine's and the connector's clock; ``store_factory`` makes a fresh,
    empty store per scenario. Account and connection ids are fixed, so ledgers of two stores can
    be compared transaction id for transaction id.
    """

    def __init__(
        self,
        connector_class: type[Connector],
        credential: Credential,
        *,
        options: Mapping[str, Any] | None = None,
        transport: Callable[[], httpx.AsyncBaseTransport | None] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        store_factory: Callable[[], Store] | None = None,
        retry: RetryPolicy = NO_SLEEP_RETRY,
        compare: CursorOrder | None = None,
        owner_id: str = "contract-owner",
        account_id: str = "acc_contract",
        connection_id: str = "con_contract",
    ) -> None:
        self.connector_class = connector_class
        self.credential = credential
        self.options = dict(options or {})
        self.transport = transport or (lambda: None)
        self.clock = clock
        self.store_factory = store_factory or _memory_store
        self.retry = retry
        self.compare: CursorOrder = compare or (lambda _stream, a, b: compare_cursors(a, b))
        self.owner_id = owner_id
        self.account_id = account_id
        self.connection_id = connection_id
        self.credentials = InMemoryCredentials()
        self.registry = Registry(entry_points=[])
        self.registry.register(connector_class)

    def __repr__(self) -> str:
        return f"ContractHarness({self.connector_class.info.id!r})"

    # -- wiring -----------------------------------------------------------------------------------

    def engine(self, store: Store) -> Engine:
        """A fresh engine over ``store`` (a new one per run, as after a process restart)."""
        return Engine(
            store,
            registry=self.registry,
            credentials=self.credentials,
            transport_for=lambda _connection: self.transport(),
            clock=self.clock,
            retry=self.retry,
        )

    def connect(self, store: Store) -> ConnectionRecord:
        """The harness's connection in ``store``, created (with its account) on first use."""
        try:
            connection = store.get_connection(self.connection_id)
        except UnknownConnectionError:
            connector_id = self.connector_class.info.id
            store.add_account(self.owner_id, connector_id, account_id=self.account_id, now=self.clock())
            connection = store.add_connection(
                self.account_id, connector_id, options=self.options, connection_id=self.connection_id,
                now=self.clock(),
            )
        self.credentials.put(connection, self.credential)
        return connection

    def new_store(self) -> Store:
        """A fresh store holding the harness's connection."""
        store = self.store_factory()
        self.connect(store)
        return store

    def context(self) -> ConnectorContext:
        """A connector context as the engine would build it for the harness's connection."""
        return ConnectorContext(
            connection_id=self.connection_id,
            account_id=self.account_id,
            credential=self.credential,
            options=dict(self.options),
            transport=self.transport(),
            clock=self.clock,
            retry=self.retry,
        )

    @asynccontextmanager
    async def open_connector(self, *, verify: bool = True) -> AsyncIterator[Connector]:
        """A connector instance (verified first, as the engine does, unless ``verify`` is false)."""
        async with self.connector_class(self.context()) as connector:
            if verify:
                await connector.verify()
            yield connector

    async def stream_names(self) -> list[str]:
        """The names of ``streams()`` (no request is made)."""
        async with self.open_connector(verify=False) as connector:
            return [stream.name for stream in connector.streams()]

    def ledger(self, store: Store) -> list[dict[str, Any]]:
        """The account's ledger as comparable dicts (every field, deleted ones included)."""
        return [
            tx.model_dump()
            for tx in store.transactions(account_id=self.account_id, include_deleted=True)
        ]

    def cursors(self, store: Store, streams: Sequence[str]) -> dict[str, str]:
        """The stored cursor of each stream, as canonical JSON."""
        return {name: canonical_cursor(store.get_cursor(self.connection_id, name)) for name in streams}

    async def sync(
        self,
        store: Store,
        mode: SyncMode = SyncMode.INCREMENTAL,
        *,
        crash_after: Callable[[CommittedPage], bool] | None = None,
    ) -> SyncRun:
        """One sync of the connection by a fresh engine; raises :class:`SimulatedCrash` if told to."""
        self.connect(store)
        recording = RecordingStore(store, crash_after)
        report = await self.engine(cast(Store, recording)).sync(self.connection_id, mode)
        return SyncRun(report, recording.pages, store)

    # -- scenarios --------------------------------------------------------------------------------

    def check_info(self, stream_names: Sequence[str] | None = None) -> None:
        """(a) The connector's info and the credential (see :func:`check_connector_info`)."""
        check_connector_info(self.connector_class, self.credential, stream_names)

    async def check_full_sync(self) -> SyncRun:
        """(b) A full sync completes without error, stores something, and pages come in cursor order."""
        run = await self.sync(self.new_store())
        names = await self.stream_names()
        check_sync_report(run.report, names)
        if not any(page.raws for page in run.pages):
            raise AssertionError(
                "the full sync stored no record: record the cassettes from an account with history"
            )
        check_page_order(run.pages, self.compare)
        return run

    async def check_normalization(self, run: SyncRun) -> int:
        """(f) Every page of ``run`` normalizes into well-formed, deterministic transactions.

        Each page's raws are normalized again by two fresh connector instances and compared with
        what the sync committed. Returns the number of transactions checked.
        """
        checked = 0
        origin = origin_of(self.connector_class)
        async with self.open_connector() as one, self.open_connector() as two:
            first = {stream.name: stream for stream in one.streams()}
            second = {stream.name: stream for stream in two.streams()}
            for index, page in enumerate(run.pages, start=1):
                if not page.raws:
                    continue
                if page.stream not in first or page.stream not in second:
                    raise AssertionError(f"page {index} is of stream {page.stream!r}, which streams() lacks")
                result = check_normalized_page(
                    [first[page.stream], second[page.stream]],
                    page.raws,
                    account_id=self.account_id,
                    origin=origin,
                    committed=page.transactions,
                    label=str(index),
                )
                checked += len(result)
        if not checked:
            raise AssertionError("the sync produced no normalized transaction to check")
        return checked

    async def check_resume_from_every_checkpoint(self, independent: int = 3) -> ResumeSummary:
        """(c) Killing the sync right after any checkpoint and resuming gives the same ledger.

        A reference sync runs uninterrupted. Then, on another store, the sync is killed (a
        :class:`SimulatedCrash` out of ``commit_page``) right after each checkpoint it had not
        reached before, and each kill is followed by a fresh engine resuming from the stored
        cursors, until a run completes: every checkpoint is resumed from once, at linear cost. The
        ledger and cursors must equal the reference's. Finally ``independent`` checkpoints, spread
        over the sync, are each resumed from on a store of their own and run to the end in one go.
        """
        reference = await self.sync(self.new_store())
        names = await self.stream_names()
        check_sync_report(reference.report, names)
        expected = self.ledger(reference.store)
        expected_cursors = self.cursors(reference.store, names)
        total = len(reference.pages)

        store = self.new_store()
        seen: set[tuple[str, str]] = set()

        def at_new_checkpoint(page: CommittedPage) -> bool:
            key = (page.stream, canonical_cursor(page.cursor))
            if key in seen:
                return False
            seen.add(key)
            return True

        kills = 0
        limit = 2 * total + 5
        while True:
            if kills > limit:
                raise AssertionError(
                    f"resuming never finishes: {kills} kills for a sync of {total} pages "
                    "(each resume reaches a checkpoint it never reached before)"
                )
            try:
                run = await self.sync(store, crash_after=at_new_checkpoint)
            except SimulatedCrash:
                kills += 1
                continue
            break
        what = f"after {kills} kills and resumes"
        check_sync_report(run.report, names)
        check_ledgers_equal(expected, self.ledger(store), f"the ledger {what}")
        got_cursors = self.cursors(store, names)
        if got_cursors != expected_cursors:
            raise AssertionError(f"the cursors {what} are {got_cursors}, expected {expected_cursors}")

        summary = ResumeSummary(pages=total, kills=kills)
        for k in _spread(total, independent):
            store = self.new_store()
            with suppress(SimulatedCrash):
                await self.sync(store, crash_after=_AfterCommits(k))
            resumed = await self.sync(store)
            check_sync_report(resumed.report, names)
            check_ledgers_equal(
                expected, self.ledger(store), f"the ledger after resuming from checkpoint {k}"
            )
            summary.independent.append(k)
        return summary

    async def check_second_sync_adds_nothing(self) -> tuple[SyncReport, SyncReport]:
        """(d) After a sync, a second sync adds and changes nothing, whatever its mode: incremental
        (from the stored cursors), full (from the origin) and since-latest (from the newest
        transaction). Returns the incremental and full reports."""
        store = self.new_store()
        names = await self.stream_names()
        first = await self.sync(store)
        check_sync_report(first.report, names)
        before = self.ledger(store)
        reports = []
        for mode in (SyncMode.INCREMENTAL, SyncMode.FULL, SyncMode.SINCE_LATEST):
            again = (await self.sync(store, mode)).report
            check_sync_report(again, names)
            new, updated, raws_new = again.total("new"), again.total("updated"), again.total("raws_new")
            if new or updated or raws_new:
                per_stream = {s.stream: (s.new, s.updated, s.raws_new) for s in again.streams}
                raise AssertionError(
                    f"a second ({mode.value}) sync added {new} and updated {updated} transactions "
                    f"({raws_new} new raws; per stream (new, updated, raws_new): {per_stream}): "
                    "keys or payloads are not stable"
                )
            check_ledgers_equal(before, self.ledger(store), f"the ledger after a second ({mode.value}) sync")
            reports.append(again)
        return reports[0], reports[1]

    async def check_future_cursor_yields_nothing(
        self, ahead: timedelta = timedelta(days=365), max_pages: int = 1000
    ) -> dict[str, int]:
        """(e) For every stream that can start from a time, a start ``ahead`` of now yields no record.

        Returns the number of (empty) pages per stream checked.
        """
        when = self.clock() + ahead
        checked: dict[str, int] = {}
        async with self.open_connector() as connector:
            for stream in connector.streams():
                cursor: Cursor = stream.cursor_from_time(when)
                if cursor is None:
                    continue
                canonical_cursor(cursor)
                pages = 0
                iterator = stream.pages(cursor)
                try:
                    async for page in iterator:
                        pages += 1
                        if page.records:
                            raise AssertionError(
                                f"stream {stream.name!r}: a cursor from {when.isoformat()} yielded "
                                f"{len(page.records)} records on page {pages} (e.g. "
                                f"{[r.source_id for r in page.records[:3]]}): "
                                "cursor_from_time must start there"
                            )
                        if pages > max_pages:
                            raise AssertionError(
                                f"stream {stream.name!r}: a cursor from the future pages on forever"
                            )
                finally:
                    await _aclose(iterator)
                checked[stream.name] = pages
        return checked


    async def reported_balances(self) -> list[Balance]:
        """The balances the source reports now (``Connector.balances()``, the connector verified first)."""
        async with self.open_connector() as connector:
            return list(await connector.balances())

    async def check_completeness(
        self,
        run: SyncRun,
        reported: Sequence[Balance],
        expected: Mapping[str, int] | None,
        *,
        balance_gaps: Mapping[str, str] | None = None,
        same_event: Mapping[str, str] | None = None,
        include_pending: bool = False,
    ) -> dict[str, str]:
        """(i) A full sync is complete: no two records (or transactions) of one page share an identity
        unless the stream declares they describe one event; every stream stored as many records as the
        source holds (``expected``, when known); the computed balances equal the reported ones, asset by
        asset, but for the declared gaps of ``balance_gaps``. Returns the excepted assets that differ."""
        check_page_identities(run.pages, same_event)
        if expected is not None:
            check_record_counts(run.pages, expected)
        computed = run.store.balances(self.account_id, include_pending=include_pending)
        return check_balances_complete(computed, reported, self.connector_class.info, balance_gaps)


class _AfterCommits:
    """Crash rule: right after the ``k``-th commit of the run."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.commits = 0

    def __call__(self, _page: CommittedPage) -> bool:
        self.commits += 1
        return self.commits == self.k


def _spread(total: int, count: int) -> list[int]:
    """Up to ``count`` checkpoints in 1..total, spread out (first, last and between)."""
    if total <= 0 or count <= 0:
        return []
    if count >= total:
        return list(range(1, total + 1))
    if count == 1:
        return [math.ceil(total / 2)]
    step = (total - 1) / (count - 1)
    return sorted({1 + round(i * step) for i in range(count)})

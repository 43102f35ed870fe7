"""The job functions: plain, synchronous, engine-agnostic. Celery tasks wrap them (``txsync.jobs.celery``);
any other job engine (Dramatiq, arq, Temporal activities) can call them the same way.

- :func:`run_sync_job` syncs one connection (the engine's hooks then link the owner's transfers and
  record gaps) and says what the job engine should do next: nothing (done), retry after a delay
  (a transient failure, a rate limit or ban, another worker holding the lease), or give up (the user
  must act: a paused, disabled or unknown connection, a refused key; or a failure retrying cannot fix).
- :func:`enqueue_due` hands every connection due now to an ``enqueue`` callable, one job each, so one
  failing connection never holds up another.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from txsync.engine.report import SyncMode, SyncReport
from txsync.errors import (
    ConnectionStateError,
    LeaseLostError,
    PluginError,
    RateLimitedError,
    StoreBusyError,
    TransientError,
    TxsyncError,
    UnknownConnectionError,
)
from txsync.store.records import ConnectionRecord, ConnectionState

if TYPE_CHECKING:
    from txsync.engine import Engine

__all__ = ["JobAction", "JobBackoff", "SyncJobResult", "enqueue_due", "run_sync_job", "transient_errors"]

log = logging.getLogger("txsync.jobs")


class JobAction(StrEnum):
    """What the job engine should do once a job function returned."""

    DONE = "done"  # the sync ran to completion (or had nothing to do)
    RETRY = "retry"  # run the job again after ``retry_in`` seconds
    GIVE_UP = "give_up"  # do not retry: the user must act, or retrying cannot help


@dataclass(frozen=True)
class JobBackoff:
    """Exponential backoff for retried jobs: ``base * 2**retries`` capped at ``cap``, with
    ``jitter`` (a fraction of the delay, random) so workers that failed together do not retry
    together; at most ``max_retries`` retries of one job (a waiting lease has its own bound)."""

    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    max_retries: int = 8
    jitter: float = 0.1
    #: How many times a job waits for another worker's lease before giving up.
    max_lease_waits: int = 20

    def __post_init__(self) -> None:
        if (self.base <= timedelta(0) or self.cap < self.base or self.max_retries < 0
                or not 0 <= self.jitter <= 1):
            raise ValueError("JobBackoff: base > 0, cap >= base, max_retries >= 0, 0 <= jitter <= 1")

    def delay(self, retries: int) -> float:
        """Seconds before retry number ``retries + 1``."""
        seconds = min(self.base.total_seconds() * float(2 ** min(retries, 40)), self.cap.total_seconds())
        return seconds * (1 + self.jitter * random.random())  # noqa: S311 - jitter, not cryptography


def transient_errors() -> frozenset[str]:
    """Names of the errors a retry may cure (as the first word of a report's error lines): every
    retryable error (rate limits, transient network and 5xx failures), a busy store, a lost lease."""
    names: set[str] = set()
    stack: list[type[TxsyncError]] = [TxsyncError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.retryable:
            names.add(cls.__name__)
    names.update({
        RateLimitedError.__name__, TransientError.__name__, StoreBusyError.__name__, LeaseLostError.__name__,
    })
    return frozenset(names)


@dataclass
class SyncJobResult:
    """A job's outcome: the sync report (always one: of the sync run, or saying why none ran), what to
    do next, and why."""

    report: SyncReport
    action: JobAction
    reason: str = ""
    retry_in: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def report_json(self) -> dict[str, object]:
        """The report as JSON-ready data (what a job engine stores as the result)."""
        return self.report.model_dump(mode="json")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _not_run(connection: ConnectionRecord | None, connection_id: str, why: str, now: datetime) -> SyncReport:
    report = SyncReport(
        connection_id=connection_id, account_id=connection.account_id if connection else "",
        connector_id=connection.connector_id if connection else "", mode=SyncMode.INCREMENTAL,
        started_at=now, finished_at=now,
        state=connection.state if connection else ConnectionState.ACTIVE,
        state_reason=connection.state_reason if connection else None,
    )
    report.errors.append(why)
    return report


def _first_words(report: SyncReport) -> list[str]:
    lines = [*report.errors, *(e for s in report.streams for e in s.errors)]
    return [line.split(":", 1)[0].strip() for line in lines]


def run_sync_job(
    engine: Engine,
    connection_id: str,
    *,
    mode: SyncMode | str = SyncMode.INCREMENTAL,
    requested_at: datetime | None = None,
    retries: int = 0,
    lease_waits: int = 0,
    backoff: JobBackoff | None = None,
) -> SyncJobResult:
    """Sync ``connection_id`` now and classify the outcome (see the module's docstring).

    ``requested_at`` is when the job was asked for (on the engine's clock): if the connection completed
    a sync after it (a duplicate job, or one re-delivered after another worker did the work), nothing
    runs and the newest report is returned. ``retries`` / ``lease_waits`` count this job's earlier
    retries (the job engine keeps them) and set the backoff. Never raises for a connection's failure:
    that is in the report.
    """
    backoff = backoff or JobBackoff()
    now = engine.clock()
    store = engine.store
    try:
        connection = store.get_connection(connection_id)
    except UnknownConnectionError:
        return SyncJobResult(
            _not_run(None, connection_id, f"UnknownConnectionError: no connection {connection_id!r}", now),
            JobAction.GIVE_UP, "no such connection (removed since the job was queued?)",
        )
    if connection.state != ConnectionState.ACTIVE:
        why = f"connection is {connection.state.value}" + (
            f" ({connection.state_reason})" if connection.state_reason else ""
        )
        return SyncJobResult(_not_run(connection, connection_id, f"ConnectionStateError: {why}", now),
                             JobAction.GIVE_UP, why)
    synced = connection.last_success_at
    if requested_at is not None and synced is not None and synced > requested_at:
        last = getattr(store, "last_sync_run", None)
        text = last(connection_id) if last is not None else None
        if text:
            report = SyncReport.model_validate_json(text)
            return SyncJobResult(report, JobAction.DONE, "synced since the job was requested")
    try:
        report = engine.sync_blocking(connection_id, SyncMode(mode))
    except ConnectionStateError as exc:  # paused or disabled in between
        return SyncJobResult(_not_run(connection, connection_id, f"ConnectionStateError: {exc}", now),
                             JobAction.GIVE_UP, str(exc))
    except PluginError as exc:  # the connector is not installed on this worker
        return SyncJobResult(_not_run(connection, connection_id, f"PluginError: {exc}", now),
                             JobAction.GIVE_UP, str(exc))
    except StoreBusyError as exc:
        return SyncJobResult(_not_run(connection, connection_id, f"StoreBusyError: {exc}", now),
                             *_retry(backoff, retries, "the store was busy"))
    return _classify(report, retries, lease_waits, backoff)


def _retry(backoff: JobBackoff, retries: int, why: str) -> tuple[JobAction, str, float | None]:
    if retries >= backoff.max_retries:
        return JobAction.GIVE_UP, f"{why}; gave up after {retries} retries", None
    return JobAction.RETRY, why, backoff.delay(retries)


def _classify(report: SyncReport, retries: int, lease_waits: int, backoff: JobBackoff) -> SyncJobResult:
    if report.skipped is not None:
        if lease_waits >= backoff.max_lease_waits:
            return SyncJobResult(report, JobAction.GIVE_UP, f"{report.skipped}; gave up waiting")
        wait = 1.0
        if report.leased_until is not None:
            wait = max(1.0, (report.leased_until - _utcnow()).total_seconds() + 1.0)
        return SyncJobResult(report, JobAction.RETRY, report.skipped, wait)
    if report.ok:
        return SyncJobResult(report, JobAction.DONE)
    if report.state != ConnectionState.ACTIVE:
        why = f"connection {report.state.value}: {report.state_reason}"
        return SyncJobResult(report, JobAction.GIVE_UP, why)
    if report.banned_until is not None:
        wait = max(1.0, (report.banned_until - _utcnow()).total_seconds() + 1.0)
        if retries >= backoff.max_retries:
            return SyncJobResult(report, JobAction.GIVE_UP, "banned; gave up after retries")
        return SyncJobResult(report, JobAction.RETRY, "the exchange banned this IP", wait)
    transient = transient_errors()
    words = _first_words(report)
    named = ", ".join(sorted(set(words)))
    if words and any(word in transient for word in words):
        action, why, delay = _retry(backoff, retries, f"transient failure: {named}")
        return SyncJobResult(report, action, why, delay)
    return SyncJobResult(report, JobAction.GIVE_UP, f"failed (not transient): {named}")


def enqueue_due(
    engine: Engine, enqueue: Callable[[ConnectionRecord, datetime], object], *, now: datetime | None = None,
    limit: int | None = None,
) -> list[str]:
    """Call ``enqueue(connection, requested_at)`` for each connection due at ``now`` (the engine's
    clock by default) under the engine's scheduling policy, most overdue first, at most ``limit``.

    Each connection enqueued is marked attempted at ``now``, so the next run does not enqueue it again
    while its job waits in the queue (a lost job delays that connection to its next interval). An
    ``enqueue`` that fails for one connection is logged, that connection stays due, and the others are
    still enqueued. Returns the ids enqueued."""
    at = now or engine.clock()
    due = engine.store.connections_due(at, engine.schedule)
    if limit is not None:
        due = due[:limit]
    done: list[str] = []
    for connection in due:
        try:
            enqueue(connection, at)
        except Exception as exc:  # one connection never blocks the others
            log.error("could not enqueue connection %s: %s", connection.id, type(exc).__name__)
            continue
        engine.store.mark_sync(connection.id, attempted_at=at)
        done.append(connection.id)
    return done

"""Celery tasks over the job functions (the ``txsync[celery]`` extra).

::

    # tasks.py of the host (workers: ``celery -A tasks worker``; the schedule: ``celery -A tasks beat``)
    from txsync.jobs.celery import create_app
    app = create_app(broker="redis://redis:6379/0", backend="redis://redis:6379/1")

Two tasks:

- ``txsync.sync_connection(connection_id, mode="incremental", requested_at=None)`` runs
  :func:`~txsync.jobs.run_sync_job` and returns the :class:`~txsync.engine.SyncReport` as JSON data.
  It is acknowledged late and rejected (so re-queued) when its worker dies: a killed worker's job runs
  again, safely, since pages are idempotent and the connection's lease keeps two runs apart. Transient
  failures (network, 429, 5xx, a ban, a busy store) are retried with exponential backoff and jitter;
  a paused, disabled (refused key) or removed connection is never retried; a job that finds another
  worker syncing the connection waits for that lease to end, then returns the newest report.
- ``txsync.enqueue_due(limit=None)`` queues one ``sync_connection`` per connection due now
  (``Store.connections_due``); ``create_app`` schedules it every ``enqueue_every`` for celery beat.

Each worker process builds its engine once, on its first task, with ``engine_factory`` (default:
:func:`engine_from_env`, the store at ``$TXSYNC_DB``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery import Celery
from sqlalchemy.exc import SQLAlchemyError

from txsync.engine.report import SyncMode
from txsync.errors import ConfigurationError, StoreError
from txsync.jobs._core import JobAction, JobBackoff, enqueue_due, run_sync_job

if TYPE_CHECKING:
    from txsync.engine import Engine

__all__ = ["ENQUEUE_TASK", "ENV_DB", "SYNC_TASK", "create_app", "engine_from_env"]

log = logging.getLogger("txsync.jobs")

#: The variable naming the store workers open by default (``sqlite:///...`` or ``postgresql+psycopg://...``).
ENV_DB = "TXSYNC_DB"
SYNC_TASK = "txsync.sync_connection"
ENQUEUE_TASK = "txsync.enqueue_due"


def engine_from_env() -> Engine:
    """An engine over the store named by ``$TXSYNC_DB`` (its credentials in the vault, the master key
    from ``$TXSYNC_MASTER_KEY`` on a database server)."""
    from txsync.engine import Engine
    from txsync.store import open_store

    url = os.environ.get(ENV_DB)
    if not url:
        raise ConfigurationError(f"set {ENV_DB} to the store's URL (sqlite:///path or postgresql+psycopg://...)")
    return Engine(open_store(url))


class _EngineHolder:
    """One engine per worker process, built on first use."""

    def __init__(self, factory: Callable[[], Engine]) -> None:
        self._factory = factory
        self._engine: Engine | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def get(self) -> Engine:
        with self._lock:
            if self._engine is None or self._pid != os.getpid():  # a forked pool child builds its own
                self._engine, self._pid = self._factory(), os.getpid()
            return self._engine


def create_app(
    *,
    broker: str | None = None,
    backend: str | None = None,
    engine_factory: Callable[[], Engine] | None = None,
    enqueue_every: timedelta = timedelta(minutes=5),
    backoff: JobBackoff | None = None,
    name: str = "txsync",
    app: Celery | None = None,
) -> Celery:
    """A Celery app with txsync's two tasks (or those tasks added to ``app``).

    ``broker`` / ``backend``: Celery URLs (Redis ``redis://...`` or RabbitMQ ``amqp://...``; results
    in Redis or ``rpc://``), else the app's own configuration. The app is set for long jobs: JSON only,
    late acknowledgement, re-queued when a worker is lost, one message prefetched per worker process,
    and (Redis) a visibility timeout longer than any backoff.
    """
    backoff = backoff or JobBackoff()
    if app is None:
        app = Celery(name, broker=broker, backend=backend)
    else:
        if broker is not None:
            app.conf.broker_url = broker
        if backend is not None:
            app.conf.result_backend = backend
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": int(backoff.cap.total_seconds()) + 3600},
        result_extended=False,
    )
    app.conf.beat_schedule = {
        **(app.conf.beat_schedule or {}),
        "txsync-enqueue-due": {"task": ENQUEUE_TASK, "schedule": enqueue_every.total_seconds()},
    }
    holder = _EngineHolder(engine_factory or engine_from_env)

    @app.task(  # type: ignore[untyped-decorator]
        name=SYNC_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, shared=False,
    )
    def sync_connection(
        self: Any, connection_id: str, mode: str = SyncMode.INCREMENTAL.value,
        requested_at: str | None = None, lease_waits: int = 0,
    ) -> dict[str, object]:
        """Sync one connection; the SyncReport as JSON data."""
        requested = datetime.fromisoformat(requested_at) if requested_at else None
        retries = max(0, int(self.request.retries) - lease_waits)
        kwargs = {"mode": mode, "requested_at": requested_at, "lease_waits": lease_waits}
        try:
            result = run_sync_job(
                holder.get(), connection_id, mode=mode, requested_at=requested, retries=retries,
                lease_waits=lease_waits, backoff=backoff,
            )
        except (StoreError, SQLAlchemyError, OSError) as exc:  # the database is down or busy: later
            if retries >= backoff.max_retries:
                raise
            log.warning("connection %s: store unavailable (%s), retrying", connection_id, type(exc).__name__)
            raise self.retry(args=(connection_id,), kwargs=kwargs, countdown=backoff.delay(retries)) from None
        if result.action == JobAction.RETRY:
            assert result.retry_in is not None
            if result.report.skipped is not None:
                kwargs["lease_waits"] = lease_waits + 1
            log.info("connection %s: retry in %.0f s (%s)", connection_id, result.retry_in, result.reason)
            raise self.retry(args=(connection_id,), kwargs=kwargs, countdown=result.retry_in)
        if result.action == JobAction.GIVE_UP:
            log.warning("connection %s: not retried: %s", connection_id, result.reason)
        return result.report_json()

    @app.task(name=ENQUEUE_TASK, shared=False)  # type: ignore[untyped-decorator]
    def enqueue_due_task(limit: int | None = None) -> list[str]:
        """Queue a sync of every connection due now; the ids queued."""

        def enqueue(connection: Any, at: datetime) -> None:
            sync_connection.apply_async(args=(connection.id,), kwargs={"requested_at": at.isoformat()})

        return enqueue_due(holder.get(), enqueue, limit=limit)

    return app

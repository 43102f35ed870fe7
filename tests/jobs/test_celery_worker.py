"""The Celery tasks run by a real worker against a real broker (Redis and RabbitMQ), with the store on
a SQLite file and on PostgreSQL: the periodic task queues one job per due connection, a job returns
its SyncReport as JSON, a transient failure is retried with backoff until it succeeds, a refused key
or a paused connection is never retried, and one failing connection never stops the others."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from helpers.demo import demo_credential, demo_engine
from txsync.connectors.demo.sandbox import DemoAccount, DemoSandbox
from txsync.engine import SyncReport
from txsync.jobs import JobBackoff
from txsync.store import ConnectionState

celery = pytest.importorskip("celery", reason="the celery extra: pip install 'txsync[celery]'")
from celery.contrib.testing.worker import start_worker  # noqa: E402
from kombu import Queue  # noqa: E402

from txsync.jobs.celery import ENQUEUE_TASK, SYNC_TASK, create_app  # noqa: E402

BROKERS = {"redis": "TXSYNC_TEST_REDIS_URL", "rabbitmq": "TXSYNC_TEST_AMQP_URL"}
FAST = JobBackoff(base=timedelta(milliseconds=50), cap=timedelta(seconds=1), max_retries=3, jitter=0)


def _small_account(seed: int) -> DemoAccount:
    return DemoAccount.generate(seed=seed, trades=20, deposits=3)


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> tuple[str, str]:
    """``(broker URL, result backend URL)``; skipped naming the variable when it is unset."""
    variable = BROKERS[request.param]
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"Celery tests on {request.param}: set {variable} to run them")
    return url, (url if request.param == "redis" else "rpc://")


class Setup:
    """Connections of the Demo Exchange, one sandbox each, and an engine syncing them."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.sandboxes: dict[str, DemoSandbox] = {}
        self._engine = demo_engine(store, DemoSandbox())
        self._engine.transport_for = lambda c: self.sandboxes[c.id].transport()

    def connect(self, name: str, sandbox: DemoSandbox, *, key: str | None = None) -> str:
        account = self.store.add_account("owner", "demo", account_id=f"acc-{name}")
        credential = demo_credential() if key is None else demo_credential(key=key)
        con = self._engine.connect("owner", credential, account_id=account.id, verify=False).id
        self.sandboxes[con] = sandbox
        return str(con)

    def engine(self) -> Any:
        return self._engine


@pytest.fixture
def app_and_setup(broker: tuple[str, str], store: Any) -> Iterator[tuple[Any, Setup]]:
    setup = Setup(store)
    queue = f"txsync-test-{uuid.uuid4().hex[:10]}"
    app = create_app(broker=broker[0], backend=broker[1], engine_factory=setup.engine, backoff=FAST,
                     name=queue)
    app.conf.task_default_queue = queue
    app.conf.task_queues = [Queue(queue, auto_delete=False)]
    app.conf.broker_connection_retry_on_startup = False
    app.conf.broker_heartbeat = 0  # a stopping worker would wait for the next AMQP heartbeat
    with start_worker(app, perform_ping_check=False, shutdown_timeout=30):
        yield app, setup
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_the_periodic_task_queues_each_due_connection_and_failures_stay_apart(
    app_and_setup: tuple[Any, Setup],
) -> None:
    app, setup = app_and_setup
    store = setup.store
    good = setup.connect("good", DemoSandbox(account=_small_account(1)))
    # 503 on its first four requests: the first sync fails with TransientError, a retry succeeds.
    flaky = setup.connect("flaky", DemoSandbox(account=_small_account(2), faults=dict.fromkeys(range(1, 5), "503")))
    refused = setup.connect("refused", DemoSandbox(account=_small_account(3)), key="not-the-key")
    paused = setup.connect("paused", DemoSandbox(account=_small_account(4)))
    store.set_connection_state(paused, ConnectionState.PAUSED, "paused by the user")

    queued = app.send_task(ENQUEUE_TASK).get(timeout=60)
    assert sorted(queued) == sorted([good, flaky, refused])
    # Queued counts as attempted: the next tick does not queue them again while they wait.
    assert app.send_task(ENQUEUE_TASK).get(timeout=60) == []

    def finished(con: str) -> bool:
        return store.get_connection(con).last_sync_at is not None

    _wait(lambda: all(finished(c) for c in (good, refused)), "the good and refused syncs")
    _wait(lambda: store.get_connection(flaky).last_success_at is not None, "the flaky connection's retry")
    assert store.get_connection(good).last_success_at is not None
    assert sum(1 for tx in store.transactions(account_id="acc-good")) > 0

    # The refused key disabled its connection and was not retried: one request (the key check).
    disabled = store.get_connection(refused)
    assert disabled.state == ConnectionState.DISABLED and disabled.last_success_at is None
    assert setup.sandboxes[refused].requests == 1

    # The flaky one failed once (4 attempts at its key check), then synced on the job's retry.
    flaky_sandbox = setup.sandboxes[flaky]
    assert flaky_sandbox.log[:5] == ["/v1/key"] * 5
    assert sum(1 for tx in store.transactions(account_id="acc-flaky")) > 0
    assert store.get_connection(paused).last_attempt_at is None  # never queued, never run


def test_a_job_returns_its_sync_report_as_json_and_paused_connections_are_not_retried(
    app_and_setup: tuple[Any, Setup],
) -> None:
    app, setup = app_and_setup
    con = setup.connect("good", DemoSandbox(account=_small_account(5)))
    result = app.send_task(SYNC_TASK, args=(con,)).get(timeout=60)
    report = SyncReport.model_validate(result)
    assert report.ok and report.connection_id == con and report.total("new") > 0

    again = SyncReport.model_validate(app.send_task(SYNC_TASK, args=(con,)).get(timeout=60))
    assert again.ok and again.total("new") == 0

    setup.store.set_connection_state(con, ConnectionState.PAUSED, "paused by the user")
    requests = setup.sandboxes[con].requests
    paused = app.send_task(SYNC_TASK, args=(con,))
    paused_report = SyncReport.model_validate(paused.get(timeout=60))
    assert not paused_report.ok and paused_report.state == ConnectionState.PAUSED
    assert paused_report.errors and paused_report.errors[0].startswith("ConnectionStateError")
    assert setup.sandboxes[con].requests == requests  # nothing was fetched

    missing = SyncReport.model_validate(app.send_task(SYNC_TASK, args=("con-gone",)).get(timeout=60))
    assert missing.errors[0].startswith("UnknownConnectionError")

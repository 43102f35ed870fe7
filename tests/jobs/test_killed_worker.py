"""Late acknowledgement for real: a Celery worker process SIGKILLed in the middle of a sync loses
nothing. The broker (Redis or RabbitMQ) delivers the job again to another worker process, which waits for
the dead worker's lease to expire, resumes after the last committed page and ends with the ledger of a
clean sync; the result is the SyncReport as JSON. The store is a SQLite file or PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.demo import demo_credential, demo_engine, ledger_of
from helpers.lease_worker import OPTIONS, lease_account
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.engine import SyncReport
from txsync.store import SqliteStore

pytest.importorskip("celery", reason="the celery extra: pip install 'txsync[celery]'")
from txsync.jobs.celery import SYNC_TASK, create_app

TESTS = Path(__file__).resolve().parents[1]
ACCOUNT = "acc-killed"
BROKERS = {"redis": "TXSYNC_TEST_REDIS_URL", "rabbitmq": "TXSYNC_TEST_AMQP_URL"}


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> tuple[str, str]:
    variable = BROKERS[request.param]
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"Celery tests on {request.param}: set {variable} to run them")
    return url, (url if request.param == "redis" else "rpc://")


def _url(store: Any) -> str:
    if isinstance(store, SqliteStore):
        return f"sqlite:///{Path(store.path).resolve()}"
    return str(store.url.render_as_string(hide_password=False))


class Workers:
    def __init__(self, store: Any, broker: tuple[str, str], queue: str) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
            "TXSYNC_JOB_TEST_DB": _url(store), "TXSYNC_JOB_TEST_BROKER": broker[0],
            "TXSYNC_JOB_TEST_BACKEND": broker[1], "TXSYNC_JOB_TEST_QUEUE": queue, "TXSYNC_JOB_TEST_TTL": "3",
        }
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, gate: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "helpers.celery_worker_app", "worker", "--pool", "solo",
             "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
            env={**self.env, "TXSYNC_JOB_TEST_GATE": str(gate)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.running.append(process)
        return process

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def workers(store: Any, broker: tuple[str, str]) -> Iterator[tuple[Workers, Any]]:
    queue = f"txsync-killed-{uuid.uuid4().hex[:10]}"
    client = create_app(broker=broker[0], backend=broker[1], name=queue)
    client.conf.task_default_queue = queue
    client.conf.broker_heartbeat = 0
    running = Workers(store, broker, queue)
    try:
        yield running, client
    finally:
        running.stop()
        with client.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


def _clean_ledger() -> list[tuple[object, ...]]:
    store = SqliteStore(":memory:")
    store.add_account("owner", "demo", account_id=ACCOUNT)
    engine = demo_engine(store, DemoSandbox(account=lease_account()))
    con = engine.connect("owner", demo_credential(), account_id=ACCOUNT, options=OPTIONS, verify=False)
    assert engine.sync_blocking(con.id).ok
    return ledger_of(store, ACCOUNT)


def test_a_job_whose_worker_was_killed_runs_again_and_resumes(
    store: Any, workers: tuple[Workers, Any], tmp_path: Path
) -> None:
    running, client = workers
    store.add_account("owner", "demo", account_id=ACCOUNT)
    engine = demo_engine(store, DemoSandbox(account=lease_account()))
    con = engine.connect("owner", demo_credential(), account_id=ACCOUNT, options=OPTIONS, verify=False).id

    doomed = running.start(tmp_path / "never-opened")
    result = client.send_task(SYNC_TASK, args=(con,))
    deadline = time.monotonic() + 90
    while store.get_lease(con) is None or store.get_cursor(con, "trades") is None:
        assert time.monotonic() < deadline, "the first worker never started the sync"
        assert doomed.poll() is None
        time.sleep(0.05)
    delivered = time.monotonic()  # (a moment after the broker handed the job to the first worker)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    committed = sum(1 for _ in store.transactions(account_id=ACCOUNT))
    assert committed > 0

    opened = tmp_path / "open"
    opened.touch()
    # Redis gives an unacknowledged job back once its visibility timeout (4 s here) has passed since it
    # was delivered, when a worker starts consuming (later, only every so often): start the next worker
    # after that. RabbitMQ re-queues it as soon as the dead worker's connection drops.
    time.sleep(max(0.0, delivered + 5 - time.monotonic()))
    running.start(opened)
    report = SyncReport.model_validate(result.get(timeout=120))
    assert report.ok and report.connection_id == con
    clean = _clean_ledger()
    assert ledger_of(store, ACCOUNT) == clean
    # It resumed after the dead worker's last page instead of starting over.
    assert report.total("new") == len(clean) - committed
    assert store.get_lease(con) is None

"""The Celery app a worker subprocess of the job tests runs: ``celery -A helpers.celery_worker_app worker``.

Configured from the environment by the test: the store (``TXSYNC_JOB_TEST_DB``), the broker and result
backend, the queue, the engine's lease time, and a gate file holding the Demo Exchange sandbox's answers
from the third request on until it exists (see :func:`helpers.lease_worker.gated_transport`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from helpers.demo import demo_engine
from helpers.lease_worker import gated_transport, lease_account
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.jobs import JobBackoff
from txsync.jobs.celery import create_app
from txsync.store import open_store


def _engine() -> Any:
    store = open_store(os.environ["TXSYNC_JOB_TEST_DB"])
    sandbox = DemoSandbox(account=lease_account())
    engine = demo_engine(store, sandbox, lease_ttl=timedelta(seconds=float(os.environ["TXSYNC_JOB_TEST_TTL"])))
    gate = os.environ.get("TXSYNC_JOB_TEST_GATE")
    transport = gated_transport(sandbox, 0.0, Path(gate) if gate else None, 3)
    engine.transport_for = lambda _c: transport
    return engine


app = create_app(
    broker=os.environ["TXSYNC_JOB_TEST_BROKER"], backend=os.environ.get("TXSYNC_JOB_TEST_BACKEND"),
    engine_factory=_engine, backoff=JobBackoff(base=timedelta(milliseconds=200), cap=timedelta(seconds=2), jitter=0),
)
app.conf.task_default_queue = os.environ["TXSYNC_JOB_TEST_QUEUE"]
# Redis re-delivers an unacknowledged job after the visibility timeout: short here, for the test.
app.conf.broker_transport_options = {"visibility_timeout": 4}
# No AMQP heartbeats: a worker told to stop would wait for the next one (seconds) before leaving.
app.conf.broker_heartbeat = 0

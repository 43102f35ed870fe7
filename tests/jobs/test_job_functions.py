"""The job functions without a job engine (both stores): what each outcome of a sync asks the job
engine to do, and the periodic enqueue keeping one connection's failure away from the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpers.demo import demo_credential, demo_engine
from txsync.connectors.demo.sandbox import DemoAccount, DemoSandbox
from txsync.jobs import JobAction, JobBackoff, enqueue_due, run_sync_job, transient_errors
from txsync.store import ConnectionState

BACKOFF = JobBackoff(base=timedelta(seconds=10), cap=timedelta(seconds=60), max_retries=2, jitter=0,
                     max_lease_waits=3)


def _setup(store: Any, **sandbox: Any) -> tuple[Any, DemoSandbox, str]:
    box = DemoSandbox(account=DemoAccount.generate(trades=15, deposits=2), **sandbox)
    engine = demo_engine(store, box)
    account = store.add_account("owner", "demo", account_id="acc-job")
    con = engine.connect("owner", demo_credential(), account_id=account.id, verify=False)
    return engine, box, str(con.id)


def test_a_good_sync_is_done_and_a_duplicate_job_runs_nothing(store: Any) -> None:
    engine, box, con = _setup(store)
    requested = engine.clock() - timedelta(seconds=1)
    first = run_sync_job(engine, con, requested_at=requested, backoff=BACKOFF)
    assert first.action == JobAction.DONE and first.report.ok and first.report.total("new") > 0
    assert first.report_json()["connection_id"] == con
    requests = box.requests
    duplicate = run_sync_job(engine, con, requested_at=requested, backoff=BACKOFF)
    assert duplicate.action == JobAction.DONE and duplicate.reason == "synced since the job was requested"
    assert duplicate.report.started_at == first.report.started_at and box.requests == requests


def test_transient_failures_back_off_exponentially_then_give_up(store: Any) -> None:
    engine, _, con = _setup(store, faults={n: "503" for n in range(1, 100)})
    delays = []
    for retries in range(3):
        result = run_sync_job(engine, con, retries=retries, backoff=BACKOFF)
        assert "TransientError" in result.reason
        delays.append(result.retry_in)
        if retries < 2:
            assert result.action == JobAction.RETRY
    assert delays[:2] == [10.0, 20.0]
    assert result.action == JobAction.GIVE_UP and "gave up after 2 retries" in result.reason
    assert store.get_connection(con).state == ConnectionState.ACTIVE  # a transient failure disables nothing
    assert BACKOFF.delay(10) == 60.0  # capped


def test_a_ban_is_waited_out(store: Any) -> None:
    engine, _, con = _setup(store, faults={1: "418"})
    result = run_sync_job(engine, con, backoff=BACKOFF)
    assert result.action == JobAction.RETRY and result.report.banned_until is not None
    assert result.retry_in is not None and result.retry_in >= 1


def test_refused_keys_and_paused_or_removed_connections_are_never_retried(store: Any) -> None:
    engine, box, con = _setup(store, faults={1: "401"})
    refused = run_sync_job(engine, con, backoff=BACKOFF)
    assert refused.action == JobAction.GIVE_UP and refused.report.state == ConnectionState.DISABLED
    again = run_sync_job(engine, con, backoff=BACKOFF)
    assert again.action == JobAction.GIVE_UP and again.report.errors[0].startswith("ConnectionStateError")
    requests = box.requests
    engine.resume(con)
    engine.pause(con)
    paused = run_sync_job(engine, con, backoff=BACKOFF)
    assert paused.action == JobAction.GIVE_UP and "paused" in paused.reason and box.requests == requests
    gone = run_sync_job(engine, "con-gone", backoff=BACKOFF)
    assert gone.action == JobAction.GIVE_UP and gone.report.errors[0].startswith("UnknownConnectionError")


def test_a_job_meeting_another_workers_lease_waits_for_it_then_gives_up(store: Any) -> None:
    engine, box, con = _setup(store)
    lease, _ = store.acquire_lease(con, "other-worker", timedelta(seconds=30))
    assert lease is not None
    waiting = run_sync_job(engine, con, backoff=BACKOFF)
    assert waiting.action == JobAction.RETRY and waiting.report.status == "skipped"
    assert waiting.retry_in is not None and 25 <= waiting.retry_in <= 32  # until the lease ends
    assert box.requests == 0 and store.get_connection(con).last_attempt_at is None
    exhausted = run_sync_job(engine, con, lease_waits=3, backoff=BACKOFF)
    assert exhausted.action == JobAction.GIVE_UP and "gave up waiting" in exhausted.reason
    store.release_lease(lease)
    assert run_sync_job(engine, con, backoff=BACKOFF).action == JobAction.DONE


def test_enqueue_due_queues_each_due_connection_once_and_one_failure_stays_apart(store: Any) -> None:
    engine, _, con = _setup(store)
    other = store.add_connection("acc-job", connection_id="con-other").id
    now = datetime(2030, 1, 1, tzinfo=UTC)
    queued: list[tuple[str, datetime]] = []

    def enqueue(connection: Any, at: datetime) -> None:
        if connection.id == con:
            raise ConnectionError("broker down")
        queued.append((connection.id, at))

    assert enqueue_due(engine, enqueue, now=now) == [other]
    assert queued == [(other, now)]
    # The one that could not be queued is still due; the queued one is not, until its job has run.
    assert [c.id for c in store.connections_due(now, engine.schedule)] == [con]


def test_the_transient_errors_are_the_retryable_ones() -> None:
    names = transient_errors()
    assert {"RateLimitedError", "TransientError", "RequestDeadlineError", "StoreBusyError", "LeaseLostError"} <= names
    assert not names & {"AuthError", "PermissionDeniedError", "BadResponseError", "BadRequestError"}


@pytest.mark.parametrize("kw", [{"base": timedelta(0)}, {"cap": timedelta(seconds=1)}, {"jitter": 2.0},
                                {"max_retries": -1}])
def test_backoff_validates(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="JobBackoff"):
        JobBackoff(**kw)

"""Never two syncs of one connection at once, between two real processes, on both stores: a second
sync skips (saying whose lease and until when) or waits for the first, and the lease of a killed
worker expires so the next sync resumes and ends with the ledger of a clean sync."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from helpers.demo import demo_credential, demo_engine, ledger_of
from helpers.lease_worker import OPTIONS, lease_account
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.engine import SyncReport
from txsync.store import SqliteStore

TESTS = Path(__file__).resolve().parents[1]
ACCOUNT = "acc-lease"


def _url(store: Any) -> str:
    if isinstance(store, SqliteStore):
        return f"sqlite:///{Path(store.path).resolve()}"
    return str(store.url.render_as_string(hide_password=False))


def _connect(store: Any) -> str:
    store.add_account("owner", "demo", account_id=ACCOUNT)
    engine = demo_engine(store, DemoSandbox(account=lease_account()))
    return str(engine.connect("owner", demo_credential(), account_id=ACCOUNT, options=OPTIONS, verify=False).id)


def _start(store: Any, connection_id: str, *args: str) -> subprocess.Popen[str]:
    # The store's URL goes through the environment (a database URL may hold a password: never argv).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "TXSYNC_LEASE_WORKER_DB": _url(store)}
    return subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "helpers.lease_worker", connection_id, *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _report(process: subprocess.Popen[str]) -> SyncReport:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    return SyncReport.model_validate_json(out.strip().splitlines()[-1])


def _await_lease(store: Any, connection_id: str, process: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lease = store.get_lease(connection_id)
        if lease is not None:
            return lease
        assert process.poll() is None, process.communicate()[1][-2000:]
        time.sleep(0.02)
    raise AssertionError("the first worker never took the lease")


@functools.cache
def _clean_ledger() -> list[tuple[object, ...]]:
    store = SqliteStore(":memory:")
    store.add_account("owner", "demo", account_id=ACCOUNT)
    engine = demo_engine(store, DemoSandbox(account=lease_account()))
    con = engine.connect("owner", demo_credential(), account_id=ACCOUNT, options=OPTIONS, verify=False)
    assert engine.sync_blocking(con.id).ok
    return ledger_of(store, ACCOUNT)


def _await_file(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def test_a_second_process_skips_while_the_first_syncs(store: Any, tmp_path: Path) -> None:
    con = _connect(store)
    gate = tmp_path / "gate"
    first = _start(store, con, "--gate", str(gate), "--holder", "proc-a")
    lease = _await_lease(store, con, first)
    assert lease.holder.startswith("proc-a:")

    second = _report(_start(store, con, "--holder", "proc-b"))
    assert second.status == "skipped" and not second.ok
    assert second.leased_by == lease.holder and second.leased_until is not None
    assert second.leased_until > datetime.now(UTC)
    assert second.skipped == f"leased by {lease.holder} until {second.leased_until.isoformat()}"
    assert second.streams == [] and second.errors == []

    gate.touch()
    done = _report(first)
    assert done.ok and done.total("new") > 0
    assert store.get_lease(con) is None  # released at the end
    assert ledger_of(store, ACCOUNT) == _clean_ledger()


def test_a_waiting_process_runs_once_the_first_is_done(store: Any, tmp_path: Path) -> None:
    con = _connect(store)
    gate, ready = tmp_path / "gate", tmp_path / "ready"
    first = _start(store, con, "--gate", str(gate), "--holder", "proc-a")
    _await_lease(store, con, first)
    second = _start(store, con, "--holder", "proc-b", "--wait", "60", "--ready", str(ready))
    _await_file(ready)
    time.sleep(0.3)  # the second is waiting for the lease now; let the first go on
    gate.touch()
    first_report, second_report = _report(first), _report(second)
    assert first_report.ok and first_report.total("new") > 0
    # The second ran after the first had committed everything: nothing was left for it.
    assert second_report.ok and second_report.skipped is None
    assert second_report.total("new") == 0 and second_report.total("updated") == 0
    assert ledger_of(store, ACCOUNT) == _clean_ledger()


def test_a_killed_workers_lease_expires_and_the_next_sync_completes_the_ledger(
    store: Any, tmp_path: Path
) -> None:
    con = _connect(store)
    doomed = _start(store, con, "--gate", str(tmp_path / "never"), "--ttl", "3", "--holder", "doomed")
    lease = _await_lease(store, con, doomed)
    deadline = time.monotonic() + 60
    while store.get_cursor(con, "trades") is None:  # it has committed its first page
        assert time.monotonic() < deadline and doomed.poll() is None
        time.sleep(0.02)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=30)

    # Its lease outlives it until it expires: a sync now is refused, naming the dead holder.
    refused, current = store.acquire_lease(con, "proc-b", timedelta(seconds=30))
    assert refused is None and current is not None and current.holder == lease.holder

    resumed = _report(_start(store, con, "--holder", "proc-b", "--wait", "30"))
    assert resumed.ok and resumed.skipped is None
    assert ledger_of(store, ACCOUNT) == _clean_ledger()
    assert store.get_lease(con) is None

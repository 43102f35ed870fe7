"""Every example under examples/ runs, offline, with the project's environment, and does what its docs
say. A new example needs a test here: ``test_every_example_is_run`` fails until it has one."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: Each example script and the test below that runs it.
RUN_BY: dict[str, str] = {
    "host_app.py": "test_host_app_example",
    "fastapi_app.py": "test_fastapi_example",
    "deploy/tasks.py": "test_deploy_tasks_example",
}
#: The examples that are programs (``--help`` names ``--db``); the others are modules a tool loads.
SCRIPTS = ("host_app.py", "fastapi_app.py")


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name.replace('/', '_')}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_example_is_run() -> None:
    scripts = {path.relative_to(EXAMPLES).as_posix() for path in EXAMPLES.rglob("*.py")}
    assert scripts == set(RUN_BY), "add a test for each example under examples/ and list it in RUN_BY"
    for test in RUN_BY.values():
        assert callable(globals().get(test)), test


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_as_a_script(script: str, tmp_path: Path) -> None:
    """``python examples/NAME.py`` from any directory: imports resolve with the project's venv alone."""
    done = subprocess.run(  # noqa: S603 - this interpreter and a file of this repository
        [sys.executable, str(EXAMPLES / script), "--help"], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--db" in done.stdout
    assert list(tmp_path.iterdir()) == []  # --help writes nothing


async def test_host_app_example(tmp_path: Path) -> None:
    module = _load("host_app")
    result = await module.run(tmp_path / "host.sqlite3")
    assert result["first_sync_new"] == 262
    assert result["full_resync_new"] == 0
    assert result["visible"] == 261
    assert result["label_kept"] == "first buy"
    assert result["differences"] == {asset: -amount for asset, amount in result["deleted_legs"].items()}
    assert result["explained"] == {asset: ["deleted"] for asset in result["deleted_legs"]}
    assert result["gaps"] == ["Staking rewards"]
    assert result["pages_seen"] > 0
    assert result["ledger_pages"] == [100, 100]


# starlette announces that its TestClient will move to httpx2: not this example's concern.
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_fastapi_example(tmp_path: Path) -> None:
    module = _load("fastapi_app")
    result = module.run(tmp_path / "host.sqlite3")
    # A rejected key answers 401 with txsync's message (never the secret) and stores nothing.
    status, detail = result["bad_key"]
    assert status == 401
    assert "rejected" in detail
    assert "not-the-key" not in detail
    assert result["stored_after_bad_key"] == []
    assert result["connect"] == 201
    assert result["states"] == ["active"]
    # The streamed sync: one start, a start and an end per stream, pages, one end.
    events = result["events"]
    assert events["sync_started"] == 1 and events["sync_finished"] == 1
    assert events["stream_started"] == events["stream_finished"] == 2
    assert events["page_committed"] > 0
    assert result["resync_new"] == 0
    assert result["pages"] == [100, 100]
    # The user's delete and label hold through a full re-sync.
    assert result["delete"] == 204
    assert result["label"] == result["label_kept"] == "first buy"
    assert result["full_resync_new"] == 0
    assert result["deleted_stays_deleted"] is True
    # The deleted trade shows as a mismatch on each of its assets, explained by the deletion.
    assert result["mismatches"]
    assert all("deleted" in kinds for kinds in result["mismatches"].values())
    # Another user reaches nothing of alice's; a forged cursor is a 400, not a crash.
    assert result["other_user"] == [[], 404, 404]
    assert result["bad_cursor"] == 400


def test_deploy_tasks_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployment example's Celery app (``celery -A tasks worker|beat``) builds from its environment,
    with txsync's two tasks, the beat schedule and the settings long jobs need."""
    pytest.importorskip("celery", reason="the celery extra: pip install 'txsync[celery]'")
    from txsync.jobs.celery import ENQUEUE_TASK, SYNC_TASK

    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    monkeypatch.setenv("TXSYNC_ENQUEUE_EVERY", "120")
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
    app = _load("deploy/tasks").app
    assert {SYNC_TASK, ENQUEUE_TASK} <= set(app.tasks)
    task = app.tasks[SYNC_TASK]
    assert task.acks_late and task.reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1 and app.conf.accept_content == ["json"]
    assert app.conf.beat_schedule["txsync-enqueue-due"] == {"task": ENQUEUE_TASK, "schedule": 120.0}
    assert app.conf.broker_url == "memory://"

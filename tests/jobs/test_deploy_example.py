"""The deployment example's Celery app (examples/deploy/tasks.py) builds from its environment, with
txsync's two tasks, the beat schedule and the settings long jobs need."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("celery", reason="the celery extra: pip install 'txsync[celery]'")

from txsync.jobs.celery import ENQUEUE_TASK, SYNC_TASK

TASKS = Path(__file__).resolve().parents[2] / "examples" / "deploy" / "tasks.py"


def test_the_example_app_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    monkeypatch.setenv("TXSYNC_ENQUEUE_EVERY", "120")
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
    spec = importlib.util.spec_from_file_location("txsync_deploy_tasks", TASKS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.app
    assert {SYNC_TASK, ENQUEUE_TASK} <= set(app.tasks)
    task = app.tasks[SYNC_TASK]
    assert task.acks_late and task.reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1 and app.conf.accept_content == ["json"]
    assert app.conf.beat_schedule["txsync-enqueue-due"] == {"task": ENQUEUE_TASK, "schedule": 120.0}
    assert app.conf.broker_url == "memory://"

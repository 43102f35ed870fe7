"""``txsync sync`` while another worker syncs the same connection: the report says SKIPPED, whose lease
and until when (text and JSON), nothing is synced, and the exit code asks for attention (1)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cli.conftest import run
from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox
from txsync.store import SqliteStore


def test_a_sync_of_a_leased_connection_is_reported_skipped(
    home: Path, demo_network: DemoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TXSYNC_SECRET_API_KEY", DEMO_KEY)
    monkeypatch.setenv("TXSYNC_SECRET_API_SECRET", DEMO_SECRET)
    connected = run("--json", "connect", "demo", "--owner", "alice")
    assert connected.code == 0, connected.err
    cid = str(connected.json()["id"])
    store = SqliteStore(home / "txsync.sqlite3")
    lease, _ = store.acquire_lease(cid, "worker-7", timedelta(minutes=5))
    assert lease is not None
    requests = demo_network.requests

    text = run("sync", cid)
    assert text.code == 1
    assert f"[{cid}]: SKIPPED (leased by worker-7 until " in text.out
    data = run("--json", "sync", cid).json()
    assert data[0]["skipped"].startswith("leased by worker-7 until") and data[0]["leased_by"] == "worker-7"
    assert data[0]["ok"] is False and data[0]["streams"] == []
    assert demo_network.requests == requests  # nothing fetched

    store.release_lease(lease)
    assert run("sync", cid).code == 0
    store.close()

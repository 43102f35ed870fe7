"""The SQLite store: migrations, WAL, connection states, scheduling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from helpers.backends import schema_head
from txsync.errors import UnknownConnectionError
from txsync.schedule import SchedulePolicy
from txsync.store import ConnectionState, SqliteStore, default_store_path
from txsync.store.schema import metadata

NOW = datetime(2026, 6, 1, tzinfo=UTC)




def test_migrations_build_exactly_the_declared_schema(store: SqliteStore) -> None:
    assert store.schema_version() == schema_head()
    with store._engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        sqlite = conn.dialect.name == "sqlite"
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar() if sqlite else "wal"
    assert diff == []
    assert mode == "wal"


def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "l.sqlite3")
    acc = first.add_account("o", "demo")
    first.close()
    again = SqliteStore(tmp_path / "l.sqlite3")
    assert again.get_account(acc.id).owner_id == "o"
    assert again.schema_version() == schema_head()


def test_default_path_honours_txsync_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TXSYNC_HOME", str(tmp_path))
    assert default_store_path() == tmp_path / "txsync.sqlite3"
    monkeypatch.delenv("TXSYNC_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_path() == tmp_path / "xdg" / "txsync" / "txsync.sqlite3"
    store = SqliteStore()
    assert store.path == tmp_path / "xdg" / "txsync" / "txsync.sqlite3" and store.path.exists()


def test_unknown_ids_raise_typed_errors(store: SqliteStore) -> None:
    with pytest.raises(UnknownConnectionError):
        store.get_connection("nope")
    with pytest.raises(UnknownConnectionError):
        store.add_connection("no-account")


def test_states_and_reasons(store: SqliteStore) -> None:
    acc = store.add_account("o", "demo")
    con = store.add_connection(acc.id, options={"origin": "2017-07-14"})
    assert con.state == ConnectionState.ACTIVE and con.options == {"origin": "2017-07-14"}
    off = store.set_connection_state(con.id, ConnectionState.DISABLED, "API key revoked")
    assert (off.state, off.state_reason) == (ConnectionState.DISABLED, "API key revoked")
    on = store.set_connection_state(con.id, ConnectionState.ACTIVE, "ignored")
    assert (on.state, on.state_reason) == (ConnectionState.ACTIVE, None)


def test_connections_due_weekly_when_active_quarterly_when_inactive(store: SqliteStore) -> None:
    policy = SchedulePolicy()
    active = store.add_account("busy", "demo")
    idle = store.add_account("idle", "demo")
    store.touch_owner("busy", NOW - timedelta(days=2))
    store.touch_owner("idle", NOW - timedelta(days=200))
    new = store.add_connection(active.id, connection_id="never-synced")
    a8 = store.add_connection(active.id, connection_id="active-8-days")
    a3 = store.add_connection(active.id, connection_id="active-3-days")
    i30 = store.add_connection(idle.id, connection_id="idle-30-days")
    i100 = store.add_connection(idle.id, connection_id="idle-100-days")
    paused = store.add_connection(active.id, connection_id="paused")
    for con, days in ((a8, 8), (a3, 3), (i30, 30), (i100, 100), (paused, 300)):
        store.mark_sync(con.id, attempted_at=NOW - timedelta(days=days))
    store.set_connection_state(paused.id, ConnectionState.PAUSED, "by user")
    due = [c.id for c in store.connections_due(NOW, policy)]
    assert due == [new.id, i100.id, a8.id]
    custom = SchedulePolicy(active_interval=timedelta(days=1), inactive_interval=timedelta(days=20))
    assert set(c.id for c in store.connections_due(NOW, custom)) == {new.id, a8.id, a3.id, i30.id, i100.id}


def test_a_failed_sync_is_due_again_sooner_than_a_full_interval(store: SqliteStore) -> None:
    policy = SchedulePolicy(failed_retry=timedelta(hours=6))
    account = store.add_account("busy", "demo")
    store.touch_owner("busy", NOW - timedelta(days=1))
    failed_7h = store.add_connection(account.id, connection_id="failed-7h")
    failed_1h = store.add_connection(account.id, connection_id="failed-1h")
    ok_7h = store.add_connection(account.id, connection_id="ok-7h")
    queued = store.add_connection(account.id, connection_id="failed-then-queued")
    for con, hours, ok in ((failed_7h, 7, False), (failed_1h, 1, False), (ok_7h, 7, True), (queued, 8, False)):
        at = NOW - timedelta(hours=hours)
        store.mark_sync(con.id, attempted_at=at, finished_at=at + timedelta(minutes=1), success=ok)
    # Queued again since its failure (attempted, not finished): it waits for that job.
    store.mark_sync(queued.id, attempted_at=NOW - timedelta(hours=7))
    assert [c.id for c in store.connections_due(NOW, policy)] == [failed_7h.id]
    # A success after a failure ends the early retries.
    store.mark_sync(failed_7h.id, attempted_at=NOW - timedelta(hours=7), finished_at=NOW - timedelta(hours=7),
                    success=True)
    assert store.connections_due(NOW, policy) == []


def test_schedule_policy_validates() -> None:
    with pytest.raises(ValueError, match="positive"):
        SchedulePolicy(active_interval=timedelta(0))
    with pytest.raises(ValueError, match="failed_retry must be positive"):
        SchedulePolicy(failed_retry=timedelta(0))
    policy = SchedulePolicy()
    assert policy.is_active(NOW - timedelta(days=1), NOW)
    assert not policy.is_active(None, NOW)
    assert policy.interval(True) == timedelta(days=7)


def test_a_store_at_the_first_schema_is_upgraded_in_place(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    path = tmp_path / "old.sqlite3"
    cfg = Config()
    cfg.set_main_option("script_location", "txsync.store:migrations")
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, owner_id, connector_id, label, created_at) VALUES ('a1', 'o', 'demo', '', 0)"
        )
    engine.dispose()
    store = SqliteStore(path)
    assert store.schema_version() == schema_head()
    assert store.get_account("a1").owner_id == "o"
    assert store.sealed_blobs() == []
    store.close()

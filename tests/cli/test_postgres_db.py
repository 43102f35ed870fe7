"""``--db`` (and ``$TXSYNC_DB``) naming a PostgreSQL database: the demo syncs into it and the read-only
commands read it; a read-only command on a database without a ledger, or on one it cannot reach, is a
configuration error that creates nothing and never shows the URL's password."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from cli.conftest import run

_MASTER_KEY = "dHhzeW5jLXRlc3Qtb25seS1tYXN0ZXIta2V5LTAwMDE="


@pytest.fixture
def database(postgres_databases: Callable[[], Any]) -> Iterator[str]:
    """An empty PostgreSQL database (no txsync tables): ``(url, databases, name)``."""
    from helpers.backends import require_postgres

    require_postgres()
    databases = postgres_databases()
    name = f"txsync_cli_{uuid.uuid4().hex[:16]}"
    databases._admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield databases.url_of(name)
    finally:
        databases.drop(name)


def _tables(url: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return list(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_read_only_commands_refuse_a_database_without_a_ledger(database: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TXSYNC_HOME", str(tmp_path / "home"))
    for argv in (("summary",), ("connections",), ("ledger",)):
        result = run("--db", database, *argv)
        assert result.code == 2 and "no txsync store in" in result.err, result.err
    assert _tables(database) == []  # no migration ran, no table was created
    assert not (tmp_path / "home").exists()


def test_an_unreachable_database_is_a_configuration_error_without_its_password(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TXSYNC_HOME", str(tmp_path / "home"))
    url = "postgresql+psycopg://someone:hunter2-pw@127.0.0.1:1/nowhere"
    for argv in (("--db", url, "summary"), ("--db", url, "connections")):
        result = run(*argv)
        assert result.code == 2 and "cannot reach the database" in result.err
        assert "hunter2-pw" not in result.err + result.out
    monkeypatch.setenv("TXSYNC_DB", "mysql://root@localhost/ledger")
    result = run("summary")
    assert result.code == 2 and "sqlite:///path or postgresql+psycopg://" in result.err
    assert not (tmp_path / "home").exists()


def test_the_demo_syncs_into_postgresql_and_the_commands_read_it(database: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TXSYNC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TXSYNC_MASTER_KEY", _MASTER_KEY)  # a database server has no key file beside it
    result = run("demo", "--source", "demo", "--db", database)
    assert result.code == 0, result.err
    assert "Transactions by kind (262 in all)" in result.out and "MISMATCH" not in result.out

    summary = run("--db", database, "summary")
    assert summary.code == 0, summary.err
    assert "1 accounts" in summary.out and "Transactions by kind (262 in all)" in summary.out
    monkeypatch.setenv("TXSYNC_DB", database)  # the same store from the environment
    listed = run("--json", "connections")
    assert listed.code == 0, listed.err
    assert [c["connector_id"] for c in listed.json()] == ["demo"]
    ledger = run("--json", "ledger", "--limit", "5")
    assert ledger.code == 0, ledger.err
    assert ledger.json()

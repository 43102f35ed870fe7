"""Shared fixtures: stores of both backends.

Tests that take ``store`` or ``store_factory`` (or, in the contract kit's self-test, the kit's
``txsync_store_factory``) under the directories of ``_BOTH`` run once per backend: SQLite, and
PostgreSQL when ``TXSYNC_TEST_POSTGRES_URL`` is set (see ``tests/helpers/backends.py``); elsewhere on
SQLite only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.backends import BACKENDS, PostgresDatabases, make_store_factory, require_postgres

#: Where store-touching tests run on every backend: the store, merge, engine (kill/resume included),
#: owner-layer tests and the contract kit's self-test on the Demo Exchange.
_BOTH = ("tests/store/", "tests/engine/", "tests/owner/", "tests/contract/test_demo_contract.py", "tests/jobs/")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``backend`` over SQLite and PostgreSQL for the store-touching tests of ``_BOTH``."""
    if "backend" not in metafunc.fixturenames:
        return
    path = Path(str(metafunc.definition.path)).as_posix()
    both = any(f"/{part}" in path for part in _BOTH)
    metafunc.parametrize("backend", BACKENDS if both else ("sqlite",))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[Callable[[], PostgresDatabases]]:
    """The PostgreSQL test databases (created on first use; skipped without the variable)."""
    holder: list[PostgresDatabases] = []

    def get() -> PostgresDatabases:
        if not holder:
            holder.append(PostgresDatabases(require_postgres()))
        return holder[0]

    yield get
    for databases in holder:
        databases.close()


#: The master key the vault uses for PostgreSQL test stores (a database server has no key file beside it).
_TEST_MASTER_KEY = "dHhzeW5jLXRlc3Qtb25seS1tYXN0ZXIta2V5LTAwMDE="


@pytest.fixture
def store_factory(
    backend: str, tmp_path: Path, postgres_databases: Callable[[], PostgresDatabases],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[], Any]]:
    """Makes fresh, empty, migrated stores of the test's backend; closes (and drops) them afterwards."""
    if backend == "postgres":
        require_postgres()
        monkeypatch.setenv("TXSYNC_MASTER_KEY", _TEST_MASTER_KEY)
    make, cleanup = make_store_factory(backend, tmp_path, postgres_databases)
    yield make
    cleanup()


@pytest.fixture
def store(store_factory: Callable[[], Any]) -> Any:
    """A fresh on-disk SQLite store (WAL, migrations applied), or a fresh PostgreSQL database."""
    return store_factory()


@pytest.fixture
def txsync_store_factory(
    backend: str, tmp_path: Path, postgres_databases: Callable[[], PostgresDatabases]
) -> Iterator[Callable[[], Any]]:
    """The contract kit's store factory: in-memory SQLite (as the kit's own plugin gives), or
    PostgreSQL databases for the kit's self-test (see ``_BOTH``)."""
    if backend == "sqlite":
        from txsync.store import SqliteStore

        made: list[Any] = []

        def make() -> Any:
            made.append(SqliteStore(":memory:"))
            return made[-1]

        yield make
        for s in made:
            s.close()
        return
    require_postgres()
    make, cleanup = make_store_factory(backend, tmp_path, postgres_databases)
    yield make
    cleanup()

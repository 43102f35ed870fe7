"""Shared fixtures: stores of both backends.

Tests that take ``store`` or ``store_factory`` (or, in the contract kit's self-test, the kit's
``txsync_store_factory``) under the directories of ``_BOTH`` run once per backend: SQLite, and
PostgreSQL when ``TXSYNC_TEST_POSTGRES_URL`` is set (see ``tests/helpers/backends.py``); elsewhere on
SQLite only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.backends import BACKENDS, PostgresDatabases, make_store_factory, require_postgres

#: Where store-touching tests run on every backend: the store, merge, engine (kill/resume included),
#: owner-layer tests, the contract kit's self-test on the Demo Exchange and the stored valuations.
_BOTH = ("tests/store/", "tests/engine/", "tests/owner/", "tests/contract/test_demo_contract.py",
         "tests/valuation/stored/", "tests/valuation/test_recorded_accounts.py", "tests/jobs/")


#: Set by ``.ci/run``: a test skipped for want of a service (its skip reason names a ``TXSYNC_TEST_*``
#: variable) fails instead, so CI cannot pass with its PostgreSQL, Redis or broker tests silently off.
REQUIRE_SERVICES_ENV = "TXSYNC_TEST_REQUIRE_SERVICES"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[Any, Any, None]:
    """Under ``TXSYNC_TEST_REQUIRE_SERVICES=1``, turn a skip for a missing service into a failure."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or os.environ.get(REQUIRE_SERVICES_ENV) != "1":
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if "TXSYNC_TEST_" in reason:
        report.outcome = "failed"
        report.longrepr = f"{REQUIRE_SERVICES_ENV}=1 but a service test was skipped: {reason}"


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

"""The ``txsync`` pytest plugin: fixtures the connector contract kit needs.

Registered through the ``pytest11`` entry point, so any project with txsync installed gets:

* ``txsync_store_factory`` - makes fresh, empty in-memory :class:`~txsync.store.SqliteStore`\\ s
  (migrated), all closed at the end of the test;
* ``txsync_store`` - one such store;
* ``txsync_record_source`` - whether cassettes are replayed or recorded (``TXSYNC_RECORD``);
* a report header line saying so.

It imports nothing heavy until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from txsync.store import SqliteStore
    from txsync.testing.cassettes import RecordSource

__all__ = ["txsync_record_source", "txsync_store", "txsync_store_factory"]


@pytest.fixture
def txsync_store_factory() -> Iterator[Callable[[], SqliteStore]]:
    """A factory of fresh in-memory stores (migrations applied); every one is closed afterwards."""
    from txsync.store import SqliteStore

    made: list[SqliteStore] = []

    def make() -> SqliteStore:
        store = SqliteStore(":memory:")
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def txsync_store(txsync_store_factory: Callable[[], SqliteStore]) -> SqliteStore:
    """One fresh in-memory store."""
    return txsync_store_factory()


@pytest.fixture
def txsync_record_source() -> RecordSource:
    """Where cassette requests are answered from in this run (replay unless ``TXSYNC_RECORD`` is set)."""
    from txsync.testing.cassettes import record_source

    return record_source()


def pytest_report_header(config: pytest.Config) -> str:
    """Say whether cassettes are replayed or recorded."""
    from txsync.testing.cassettes import RecordSource, record_source

    try:
        source = record_source()
    except ValueError as exc:
        return f"txsync cassettes: {exc}"
    if source is RecordSource.REPLAY:
        return "txsync cassettes: replay only, no network (TXSYNC_RECORD=1 records from the sandboxes)"
    return f"txsync cassettes: RECORDING from the {source.value}"

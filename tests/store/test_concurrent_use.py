"""The store under concurrent use (issue 11, item 4).

A host reads the ledger while syncs write it: a report in another process, a UI paging through
transactions, an export. Readers must never block writers: opening the store, a sync, the user's
edits and an erasure all go on while another connection holds an open read transaction (SQLite under
WAL; PostgreSQL under MVCC), and the ledger can be edited while it is being iterated.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from helpers.backends import _psycopg_dsn
from helpers.demo import demo_credential, demo_engine
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.errors import StoreBusyError
from txsync.store import SqliteStore

#: A hang detector, not a speed assertion: each call below returns in milliseconds when it does not
#: wait for the reader, and would wait for as long as the reader stays otherwise.
_NEVER = 60.0


def _reopen(store: Any) -> Any:
    """Another store object on the same database (as another process of the host would open it)."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path, busy_timeout=3600)
    from txsync.store import PostgresStore

    return PostgresStore(store.url.render_as_string(hide_password=False), pool_size=2)


@contextmanager
def _reader(store: Any) -> Iterator[Any]:
    """A plain database connection holding an open read transaction over the ledger's snapshot."""
    if isinstance(store, SqliteStore):
        db = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
        db.execute("BEGIN")
    else:
        import psycopg

        db = psycopg.connect(_psycopg_dsn(store.url.render_as_string(hide_password=False)))
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    try:
        db.execute("SELECT count(*) FROM transactions").fetchone()
        db.execute("SELECT count(*) FROM sealed_secrets").fetchone()
        yield db
    finally:
        db.rollback()
        db.close()


def _in_thread(call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread; fail (after ``_NEVER`` s) if it waits for the open reader."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(call())
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(_NEVER)
    assert not thread.is_alive(), "the call waited for a reader"
    if errors:
        raise errors[0]
    return out[0] if out else None


def test_an_open_reader_blocks_neither_opening_syncing_editing_nor_erasing(
    store_factory: Callable[[], Any],
) -> None:
    first = store_factory()
    engine = demo_engine(first, DemoSandbox())
    alice = engine.connect("alice", demo_credential(), verify=False)
    bob = engine.connect("bob", demo_credential(), verify=False)
    assert engine.sync_blocking(alice.id).ok
    with _reader(first) as reader:
        # opening the store again (a current schema: nothing to write)
        second = _in_thread(lambda: _reopen(first))
        try:
            other = demo_engine(second, DemoSandbox())
            report = _in_thread(lambda: other.sync_blocking(bob.id))
            assert report.ok and report.total("new") == 262, report.errors
            tx = next(iter(second.transactions(account_id=bob.account_id)))
            _in_thread(lambda: second.set_override(tx.id, note="while a report runs"))
            _in_thread(lambda: second.delete_transaction(tx.id))
            # an erasure neither waits for the reader nor holds off the writers behind it
            _in_thread(lambda: second.remove_connection(alice.id))
            assert _in_thread(lambda: other.sync_blocking(bob.id)).ok
            # the reader still sees its snapshot
            assert reader.execute("SELECT count(*) FROM transactions").fetchone()[0] == 262
        finally:
            second.close()
    assert first.get_transaction(tx.id).deleted and first.get_override(tx.id) is not None
    assert first.count_transactions() == 2 * 262 - 1


def test_the_ledger_can_be_edited_while_it_is_iterated(store_factory: Callable[[], Any]) -> None:
    store = store_factory()
    engine = demo_engine(store, DemoSandbox())
    con = engine.connect("alice", demo_credential(), verify=False)
    engine.connect("bob", demo_credential(), verify=False)
    for connection in store.list_connections():
        assert engine.sync_blocking(connection.id).ok
    seen: list[str] = []

    def edit_while_iterating() -> None:
        for n, tx in enumerate(store.transactions(batch_size=7)):  # two accounts merged, many batches
            seen.append(tx.id)
            if n % 3 == 0:
                store.set_override(tx.id, label=f"edited {n}")
            elif n % 3 == 1:
                store.delete_transaction(tx.id)

    _in_thread(edit_while_iterating)
    assert len(seen) == len(set(seen)) == 2 * 262
    ledger = {tx.id: tx for tx in store.transactions(include_deleted=True)}
    assert all(ledger[i].label == f"edited {n}" for n, i in enumerate(seen) if n % 3 == 0)
    assert all(ledger[i].deleted for n, i in enumerate(seen) if n % 3 == 1)
    deleted = sum(1 for n in range(len(seen)) if n % 3 == 1)
    assert store.count_transactions() == 2 * 262 - deleted
    assert store.count_transactions(con.account_id) < 262


def test_an_in_memory_ledger_can_be_edited_while_it_is_iterated() -> None:
    store = SqliteStore(":memory:")
    engine = demo_engine(store, DemoSandbox())
    con = engine.connect("alice", demo_credential(), verify=False)
    assert engine.sync_blocking(con.id).ok

    def edit() -> int:
        count = 0
        for tx in store.transactions(account_id=con.account_id, batch_size=5):
            store.set_override(tx.id, note="seen")
            count += 1
        return count

    assert _in_thread(edit) == 262
    assert all(tx.note == "seen" for tx in store.transactions(account_id=con.account_id))


def test_an_erasure_blocked_by_a_reader_empties_the_log_once_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The erased pages leave the write-ahead log at the first write after no reader holds an older
    snapshot (retries are spaced out in time; not here)."""
    monkeypatch.setattr("txsync.store.sqlite._ERASE_RETRY_SECONDS", 0.0)
    store = SqliteStore(tmp_path / "ledger.sqlite3")
    engine = demo_engine(store, DemoSandbox())
    con = engine.connect("alice", demo_credential(), verify=False)
    keep = engine.connect("bob", demo_credential(), verify=False)
    assert engine.sync_blocking(con.id).ok and engine.sync_blocking(keep.id).ok
    wal = tmp_path / "ledger.sqlite3-wal"
    with _reader(store):
        _in_thread(lambda: store.remove_connection(con.id))
        assert wal.stat().st_size > 0  # the reader's snapshot still needs the log
    tx = next(iter(store.transactions(account_id=keep.account_id)))
    store.set_override(tx.id, note="the next write")
    assert wal.stat().st_size == 0
    assert store.count_raws(con.id) == 0


_WRITER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("UPDATE connections SET label = label")
print("locked", flush=True)
sys.stdin.readline()
db.rollback()
"""


def test_a_writer_in_another_process_never_stops_opening_or_reading(tmp_path: Path) -> None:
    """Opening a store whose schema is current takes no write lock, and reads go on under WAL; a
    write that waits longer than the busy timeout is a typed ``StoreBusyError``."""
    path = tmp_path / "ledger.sqlite3"
    store = SqliteStore(path)
    engine = demo_engine(store, DemoSandbox())
    con = engine.connect("alice", demo_credential(), verify=False)
    assert engine.sync_blocking(con.id).ok
    writer = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _WRITER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "locked"
        again = SqliteStore(path, busy_timeout=0.2)
        assert again.count_transactions(con.account_id) == 262
        assert len(list(again.transactions(account_id=con.account_id))) == 262
        tx = again.get_transaction(next(iter(again.transactions())).id)
        with pytest.raises(StoreBusyError, match="locked by another writer"):
            again.set_override(tx.id, note="waits for the writer")
        assert again.get_override(tx.id) is None
        again.close()
    finally:
        assert writer.stdin is not None
        writer.stdin.write("\n")
        writer.stdin.close()
        writer.wait(30)

"""The ledger file is private (issue 11, item 11): created 0600 whatever the umask, an existing file
(or its write-ahead log) readable by others is tightened to 0600 when opened, and one that cannot
be tightened is refused with an error saying what to do, before anything is read or written."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from txsync.errors import StoreError
from txsync.store import SqliteStore, open_store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def test_a_new_ledger_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = SqliteStore(tmp_path / "ledger.sqlite3")
        store.add_account("alice", "demo")
        files = _files(tmp_path / "ledger.sqlite3")
        assert len(files) == 3 and all(_mode(p) == 0o600 for p in files)
        store.close()
    finally:
        os.umask(old)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666, 0o755])
def test_an_existing_ledger_readable_by_others_is_made_private(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "ledger.sqlite3"
    first = SqliteStore(path)
    account = first.add_account("alice", "demo")
    # keep the log: a second connection stays open while the first store lets go of the file
    holder = SqliteStore(path)
    first.close()
    for p in _files(path):
        os.chmod(p, mode)
    assert any(_mode(p) == mode for p in _files(path))
    store = open_store(f"sqlite:///{path}")
    assert all(_mode(p) == mode & 0o700 for p in _files(path)), [oct(_mode(p)) for p in _files(path)]
    assert store.get_account(account.id).owner_id == "alice"
    store.close()
    holder.close()


def test_a_ledger_that_cannot_be_made_private_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite3"
    SqliteStore(path).close()
    os.chmod(path, 0o644)
    before = sorted(p.name for p in tmp_path.iterdir())

    def refuse(target: Any, mode: int, **_kw: Any) -> None:
        raise PermissionError(1, "Operation not permitted", str(target))

    monkeypatch.setattr(os, "chmod", refuse)  # a file owned by another user
    with pytest.raises(StoreError, match=r"readable by other users \(mode 644\).*chmod 600"):
        SqliteStore(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no log, no key file, nothing
    assert _mode(path) == 0o644

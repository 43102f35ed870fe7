"""Which store ``--db`` names, opened without ever creating one by accident.

``--db`` takes a SQLite file path or a ``sqlite:///path`` URL (the default: the embedded store at
:func:`~txsync.store.default_store_path`). Other URLs go to ``txsync.store.open_store`` when this
txsync has it (the PostgreSQL store); anything it does not know is a configuration error that creates
nothing. Read-only commands open an existing store only: a missing one is an error naming the path,
never a new empty database (nor its folder, nor a master key).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from txsync.cli._errors import CliError
from txsync.store import SqliteStore, default_store_path

__all__ = ["StoreTarget", "open_store", "resolve_db"]

EXIT_CONFIG = 2


class StoreTarget:
    """A parsed ``--db``: a SQLite ``path``, or a ``url`` for another backend."""

    def __init__(self, *, path: Path | None = None, url: str | None = None) -> None:
        self.path = path
        self.url = url

    def describe(self) -> str:
        """What to show the user (a URL without its password)."""
        if self.path is not None:
            return str(self.path)
        parts = urlsplit(self.url or "")
        netloc = parts.netloc.rsplit("@", 1)[-1]
        user = parts.username
        return f"{parts.scheme}://{(user + '@') if user else ''}{netloc}{parts.path}"


def resolve_db(value: str | os.PathLike[str] | None) -> StoreTarget:
    """Parse ``--db``; :class:`CliError` (exit 2) for a URL txsync does not know."""
    if value is None or str(value) == "":
        return StoreTarget(path=default_store_path())
    text = str(value)
    if "://" not in text:
        return StoreTarget(path=Path(text).expanduser())
    scheme = text.split("://", 1)[0].lower()
    if scheme in ("sqlite", "sqlite+pysqlite"):
        rest = text.split("://", 1)[1]
        if not rest.startswith("/") or rest == "/":
            raise CliError(f"--db {text!r}: a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path",
                           EXIT_CONFIG)
        path = unquote(rest[1:].split("?", 1)[0])
        if path in ("", ":memory:"):
            raise CliError("--db: an in-memory SQLite store would be gone when the command ends", EXIT_CONFIG)
        return StoreTarget(path=Path(path).expanduser())
    return StoreTarget(url=text)


def open_store(target: StoreTarget, *, create: bool) -> Any:
    """Open the store ``target`` names. ``create=False`` (read-only commands, and commands that need
    an existing ledger) refuses a missing SQLite file with an error naming it, creating nothing."""
    if target.url is not None:
        from txsync import store as store_module

        opener = getattr(store_module, "open_store", None)
        if opener is None:
            raise CliError(
                f"--db {target.describe()}: this txsync stores its ledger in SQLite only "
                "(give a file path or a sqlite:///path URL)", EXIT_CONFIG,
            )
        return opener(target.url)
    path = target.path
    assert path is not None
    if not create:
        if not path.exists():
            raise CliError(
                f"no txsync store at {path}: nothing to read (run `txsync connect` or `txsync demo` first, "
                "or name the store with --db)", EXIT_CONFIG,
            )
        if not path.is_file():
            raise CliError(f"--db {path}: not a SQLite file", EXIT_CONFIG)
    elif path.exists() and not path.is_file():
        raise CliError(f"--db {path}: not a SQLite file", EXIT_CONFIG)
    return SqliteStore(path)

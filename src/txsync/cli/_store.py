"""Which store ``--db`` names, opened without ever creating one by accident.

``--db`` (or ``$TXSYNC_DB``) takes a SQLite file path or a ``sqlite:///path`` URL (the default: the
embedded store at :func:`~txsync.store.default_store_path`), or a PostgreSQL database
``postgresql+psycopg://user@host:port/database`` (through :func:`txsync.store.open_store`); anything
else is a configuration error that creates nothing. Read-only commands open an existing store only: a
missing SQLite file, or a PostgreSQL database that holds no txsync ledger, is an error naming it, never
a new empty ledger (nor its folder, its tables, or a master key). A URL is shown without its password.
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


def _require_ledger(target: StoreTarget) -> None:
    """For a read-only command on a database server: the database must hold a txsync ledger already
    (its migrations table); checked without creating anything."""
    scheme = (target.url or "").split("://", 1)[0].lower()
    if not scheme.startswith("postgres"):
        return  # open_store refuses it with the list of what it takes
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    url = "postgresql+psycopg://" + (target.url or "").split("://", 1)[1]
    try:
        engine = create_engine(url, poolclass=NullPool)
    except (ArgumentError, ValueError):
        raise CliError(f"--db {target.describe()}: not a database URL", EXIT_CONFIG) from None
    try:
        with engine.connect() as conn:
            present = inspect(conn).has_table("alembic_version")
    except SQLAlchemyError as exc:
        raise CliError(
            f"--db {target.describe()}: cannot reach the database ({type(exc).__name__})", EXIT_CONFIG
        ) from None
    finally:
        engine.dispose()
    if not present:
        raise CliError(
            f"no txsync store in {target.describe()}: nothing to read (run `txsync connect` or "
            "`txsync demo` with this --db first)", EXIT_CONFIG,
        )


def open_store(target: StoreTarget, *, create: bool) -> Any:
    """Open the store ``target`` names. ``create=False`` (read-only commands, and commands that need
    an existing ledger) refuses a missing SQLite file with an error naming it, creating nothing."""
    if target.url is not None:
        from txsync.errors import ConfigurationError, StoreError
        from txsync.store import open_store as open_url

        if not create:
            _require_ledger(target)
        try:
            return open_url(target.url)
        except (ConfigurationError, StoreError) as exc:
            raise CliError(f"--db {target.describe()}: {exc}", EXIT_CONFIG) from None
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

"""Opening a store from a URL: the embedded SQLite file or a PostgreSQL database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from txsync.errors import ConfigurationError
from txsync.store._sql import SqlStore

__all__ = ["open_store"]

_SQLITE = ("sqlite", "sqlite+pysqlite")
_POSTGRES = ("postgresql", "postgresql+psycopg", "postgres")


def open_store(url: str | os.PathLike[str] | None = None, **options: Any) -> SqlStore:
    """The store a URL names, migrated to the current schema.

    - ``None``: the embedded SQLite store at :func:`~txsync.store.default_store_path`;
    - ``sqlite:///relative/path``, ``sqlite:////absolute/path`` (or a ``pathlib.Path``): a SQLite file;
    - ``postgresql+psycopg://user:password@host:port/database`` (``postgresql://`` means the same):
      a PostgreSQL database (it must exist; its tables are created by the migrations).

    Anything else raises :class:`~txsync.errors.ConfigurationError` and creates nothing. ``options``
    go to the store (``busy_timeout`` for SQLite; ``pool_size``, ``max_overflow`` for PostgreSQL).
    """
    from txsync.store.sqlite import SqliteStore

    if url is None:
        return SqliteStore(**options)
    if isinstance(url, os.PathLike):
        return SqliteStore(Path(url), **options)
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            "a store URL is sqlite:///path or postgresql+psycopg://user@host/database "
            "(pass a pathlib.Path for a SQLite file)"
        )
    scheme = url.split("://", 1)[0].lower()
    if scheme in _SQLITE:
        rest = url.split("://", 1)[1]
        if not rest.startswith("/") or rest == "/":
            raise ConfigurationError("a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path")
        path = unquote(rest[1:].split("?", 1)[0])
        if path == ":memory:":
            return SqliteStore(":memory:", **options)
        if not path:
            raise ConfigurationError("the SQLite URL names no file")
        return SqliteStore(Path(path).expanduser(), **options)
    if scheme in _POSTGRES:
        from txsync.store.postgres import PostgresStore

        normalized = "postgresql+psycopg://" + url.split("://", 1)[1]
        return PostgresStore(normalized, **options)
    shown = urlsplit(url)
    raise ConfigurationError(
        f"txsync cannot store a ledger in {shown.scheme!r}: use sqlite:///path or "
        "postgresql+psycopg://user@host/database"
    )

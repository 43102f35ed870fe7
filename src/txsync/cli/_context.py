"""What every command shares: the output streams, ``--db``, ``--json``, the store and the engine.

A command (built in or plugged in, see :mod:`txsync.cli`) takes the :class:`CliContext` with
:func:`pass_cli` and adds the shared options with :func:`data_options` (``--db URL`` and ``--json``,
also accepted before the command name)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

import click
from rich.console import Console
from rich.table import Table

from txsync.cli._errors import CliError
from txsync.cli._store import StoreTarget, open_store, resolve_db

__all__ = ["CliContext", "data_options", "db_option", "json_option", "pass_cli"]

F = TypeVar("F", bound=Callable[..., Any])


class CliContext:
    """The state of one ``txsync`` invocation."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._out = out
        self._err = err
        self.db: str | None = None
        self.json = False
        self.verbose = 0
        self._stores: list[Any] = []
        self._cleanups: list[Callable[[], None]] = []

    # -- output ---------------------------------------------------------------------------------------

    @property
    def out(self) -> TextIO:
        """Where data goes (stdout unless the caller gave a stream)."""
        return self._out if self._out is not None else sys.stdout

    @property
    def err(self) -> TextIO:
        """Where messages, progress and logs go (stderr unless the caller gave a stream)."""
        return self._err if self._err is not None else sys.stderr

    def console(self, *, err: bool = False) -> Console:
        """A rich console on stdout (or stderr): colours on a terminal only; a wide page elsewhere so
        piped tables are never cut."""
        stream = self.err if err else self.out
        terminal = bool(getattr(stream, "isatty", lambda: False)())
        return Console(
            file=stream, width=None if terminal else 200, highlight=False, soft_wrap=not terminal,
            force_terminal=None if terminal else False, no_color=not terminal,
        )

    def print(self, *objects: Any, err: bool = False) -> None:
        """Print rich renderables (tables) and text (never read as markup). Off a terminal the output
        is plain: no colours, no borders, no trailing blanks, lines as wide as they need."""
        console = self.console(err=err)
        if console.is_terminal:
            console.print(*objects, markup=False)
            return
        buffer = io.StringIO()
        plain = Console(file=buffer, width=200, highlight=False, soft_wrap=True, no_color=True,
                        force_terminal=False)
        for item in objects:
            if isinstance(item, Table):
                item.box = None
        plain.print(*objects, markup=False)
        stream = self.err if err else self.out
        stream.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))

    def echo(self, text: str = "", *, err: bool = False) -> None:
        """Write one line of plain text."""
        click.echo(text, file=self.err if err else self.out)

    def emit_json(self, data: Any) -> None:
        """Write ``data`` as JSON (indented, UTF-8 text) on stdout."""
        self.out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    # -- store and engine ------------------------------------------------------------------------------

    @property
    def target(self) -> StoreTarget:
        """The store ``--db`` names (the default SQLite file unless given)."""
        return resolve_db(self.db)

    def store(self, *, create: bool = False) -> Any:
        """Open the store; ``create`` only for commands that make something (connect, demo). It is
        closed when the command ends."""
        store = open_store(self.target, create=create)
        self._stores.append(store)
        return store

    def engine(self, store: Any, **kwargs: Any) -> Any:
        """An engine on ``store`` with the installed connectors; the vault's master key is opened (and
        created, for a store without any sealed credential) only when a key is stored or opened."""
        from txsync.cli._vault import LazyVault
        from txsync.engine import Engine

        kwargs.setdefault("credentials", LazyVault(store))
        return Engine(store, **kwargs)

    def on_close(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` when the command ends."""
        self._cleanups.append(cleanup)

    def close(self) -> None:
        """Release the stores this invocation opened, put the logging back."""
        while self._stores:
            store = self._stores.pop()
            close = getattr(store, "close", None)
            if close is not None:
                close()
        while self._cleanups:
            self._cleanups.pop()()

    def fail(self, message: str, code: int = 1) -> CliError:
        """An error to raise: its message goes to stderr and the command ends with ``code``."""
        return CliError(message, code)


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


def _set_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(CliContext).db = value


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliContext).json = True


def db_option(f: F) -> F:
    """``--db URL``: the store (a SQLite path or sqlite:///path; default the embedded SQLite file)."""
    return click.option(
        "--db", metavar="URL", default=None, expose_value=False, callback=_set_db, is_eager=True,
        help="The store: a SQLite file path or sqlite:///path URL (default: the embedded store).",
    )(f)


def json_option(f: F) -> F:
    """``--json``: print the data as JSON instead of tables."""
    return click.option(
        "--json", "as_json", is_flag=True, expose_value=False, callback=_set_json, is_eager=True,
        help="Print JSON instead of tables.",
    )(f)


def data_options(f: F) -> F:
    """Both :func:`db_option` and :func:`json_option`."""
    return db_option(json_option(f))

"""The ``txsync`` root command: global options, lazily loaded subcommands, exit codes, broken pipes.

Subcommands are found by name in :data:`txsync.cli._commands.COMMANDS` (built in, and the features that
plug their command group in there) and in the ``txsync.cli`` entry-point group (third-party
distributions); a command's module is imported only when it runs (or for ``--help``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, TextIO

import click

from txsync import __version__
from txsync.cli._commands import COMMANDS, ENTRY_POINT_GROUP
from txsync.cli._context import CliContext
from txsync.cli._errors import (
    EXIT_ATTENTION,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE,
    EXIT_USAGE,
    CliError,
    exit_code_for,
)
from txsync.errors import TxsyncError

__all__ = ["TxsyncGroup", "cli", "main"]


def _plugin_commands() -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            found.setdefault(ep.name, ep.value)
    except Exception:  # noqa: S110 - broken metadata must never break the command line
        pass
    return found


class TxsyncGroup(click.Group):
    """A group whose commands are imported on first use, and whose errors become exit codes."""

    def _targets(self) -> dict[str, str]:
        targets = _plugin_commands()
        targets.update(COMMANDS)  # a plugin never shadows a built-in command
        return targets

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._targets()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        target = self._targets().get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        try:
            loaded = getattr(import_module(module_name), attr)
        except Exception as exc:  # a broken plugin command is reported, never fatal to the others
            raise CliError(f"the command {cmd_name!r} ({target}) cannot be loaded: {exc}",
                           EXIT_USAGE) from exc
        if not isinstance(loaded, click.Command):
            raise CliError(f"the command {cmd_name!r} ({target}) is not a click command", EXIT_USAGE)
        return loaded

    def invoke(self, ctx: click.Context) -> Any:
        cli_ctx = ctx.ensure_object(CliContext)
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except CliError as exc:
            cli_ctx.echo(f"txsync: {exc.message}", err=True)
            raise click.exceptions.Exit(exc.code) from None
        except TxsyncError as exc:
            cli_ctx.echo(f"txsync: {type(exc).__name__}: {exc}", err=True)
            raise click.exceptions.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            cli_ctx.echo("txsync: interrupted (what was committed stays; run the command again)", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            _quiet_broken_pipe()  # the reader went away (`| head`): stop quietly
            raise click.exceptions.Exit(EXIT_PIPE) from None
        finally:
            cli_ctx.close()


def _verbosity(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    from txsync.cli._logging import configure_logging

    cli_ctx = ctx.ensure_object(CliContext)
    cli_ctx.verbose = value
    cli_ctx.on_close(configure_logging(value, cli_ctx.err))
    return value


def _set_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(CliContext).db = value


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliContext).json = True


@click.group(cls=TxsyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="txsync", message="%(prog)s %(version)s")
@click.option("--db", metavar="URL", default=None, expose_value=False, callback=_set_db, envvar="TXSYNC_DB",
              help="The store: a SQLite file path, a sqlite:///path URL or a PostgreSQL database "
                   "postgresql+psycopg://user@host:port/database (its password better in $TXSYNC_DB "
                   "than on the command line). Default: $TXSYNC_DB, else the embedded store, "
                   "$TXSYNC_HOME/txsync.sqlite3 or ~/.local/share/txsync/txsync.sqlite3.")
@click.option("--json", "as_json", is_flag=True, expose_value=False, callback=_set_json,
              help="Print JSON instead of tables (every command that prints data).")
@click.option("-v", "--verbose", count=True, expose_value=False, callback=_verbosity,
              help="Show txsync's logs on stderr: -v info (retries, waits), -vv debug (requests).")
def cli() -> None:
    """Sync crypto transaction history from exchanges and blockchains into one deduplicated ledger.

    Exit codes: 0 ok; 1 the work ran but something needs you (errors, balances that differ from the
    source's, a disabled connection, a refused key); 2 usage or configuration errors (a bad option, an
    unknown connection, a missing store).
    """


def _quiet_broken_pipe() -> None:
    """The reader went away: stop writing, and keep the interpreter from complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the ``txsync`` command and return its exit status. ``out`` / ``err`` replace stdout and
    stderr (tests, embedding)."""
    context = CliContext(out=out, err=err)
    try:
        # click writes --help, --version and usage errors to sys.stdout / sys.stderr: the streams given
        # replace them for the whole run.
        with (contextlib.redirect_stdout(out) if out is not None else contextlib.nullcontext(),
              contextlib.redirect_stderr(err) if err is not None else contextlib.nullcontext()):
            result = cli.main(
                args=list(argv) if argv is not None else None, prog_name="txsync", standalone_mode=False,
                obj=context,
            )
    except click.ClickException as exc:
        exc.show(file=context.err)
        return exc.exit_code
    except click.exceptions.Abort:
        context.echo("Aborted.", err=True)
        return EXIT_ATTENTION
    except BrokenPipeError:
        _quiet_broken_pipe()
        return EXIT_PIPE
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            _quiet_broken_pipe()
            return EXIT_PIPE
        raise
    except KeyboardInterrupt:
        context.echo("txsync: interrupted", err=True)
        return EXIT_INTERRUPTED
    finally:
        context.close()
    try:
        context.out.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
        return EXIT_PIPE
    if isinstance(result, int):
        return result
    return EXIT_OK


def run() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())

"""The ``txsync`` command line (click for the commands, rich for tables and live progress).

``main(argv, out, err)`` runs it and returns the exit status: 0 ok; 1 the work ran but something needs
the user; 2 usage or configuration errors (130 interrupted; 141 the reader of the output went away).
Commands live in :mod:`txsync.cli._commands`; a command of another module takes the shared state with
:func:`pass_cli` and the shared ``--db`` / ``--json`` options with :func:`data_options`. See
``docs/cli.md``.
"""

from txsync.cli._app import cli, main
from txsync.cli._context import CliContext, data_options, db_option, json_option, pass_cli
from txsync.cli._errors import EXIT_ATTENTION, EXIT_OK, EXIT_USAGE, CliError

__all__ = [
    "EXIT_ATTENTION",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliContext",
    "CliError",
    "cli",
    "data_options",
    "db_option",
    "json_option",
    "main",
    "pass_cli",
]

"""The command line's exit codes and the error that carries one."""

from __future__ import annotations

from txsync.errors import (
    ConfigurationError,
    ModelError,
    PluginError,
    TxsyncError,
    UnknownConnectionError,
)

__all__ = [
    "EXIT_ATTENTION", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PIPE", "EXIT_USAGE", "CliError", "exit_code_for",
]

#: Everything went well.
EXIT_OK = 0
#: The work ran but something needs the user: errors in a report, a disabled connection, a refused key.
EXIT_ATTENTION = 1
#: A usage or configuration error: a bad option, an unknown connection, a missing store.
EXIT_USAGE = 2
#: Interrupted by the user (Ctrl-C), as a shell reports SIGINT.
EXIT_INTERRUPTED = 130
#: The reader of our output went away (``| head``), as a shell reports SIGPIPE.
EXIT_PIPE = 141


class CliError(Exception):
    """A message for the user and the exit code to end with."""

    def __init__(self, message: str, code: int = EXIT_ATTENTION) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def exit_code_for(exc: TxsyncError) -> int:
    """2 for what the user typed or configured wrong, 1 for everything else txsync reports."""
    if isinstance(exc, (ConfigurationError, UnknownConnectionError, PluginError, ModelError)):
        return EXIT_USAGE
    return EXIT_ATTENTION

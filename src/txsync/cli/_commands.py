"""Where each ``txsync`` subcommand lives: one line per command, imported only when it runs.

A feature adds its command (or command group) here with one line, ``"name": "module:attribute"`` where
the attribute is a click command; a third-party distribution declares the same in its
``pyproject.toml`` under ``[project.entry-points."txsync.cli"]`` (a built-in name always wins). The
commands get the shared state with :func:`txsync.cli.pass_cli` and the shared options with
:func:`txsync.cli.data_options` (see ``docs/cli.md``).
"""

from __future__ import annotations

__all__ = ["COMMANDS", "ENTRY_POINT_GROUP"]

#: The entry-point group of third-party commands.
ENTRY_POINT_GROUP = "txsync.cli"

COMMANDS: dict[str, str] = {
    # the recorded accounts, replayed from the built-in sandboxes
    "demo": "txsync.cli.demo:demo",
    # connectors and connections
    "connectors": "txsync.cli.connections:connectors",
    "connect": "txsync.cli.connections:connect",
    "connections": "txsync.cli.connections:connections",
    "pause": "txsync.cli.connections:pause",
    "resume": "txsync.cli.connections:resume",
    "remove": "txsync.cli.connections:remove",
    # syncing
    "sync": "txsync.cli.sync:sync",
    # the ledger
    "ledger": "txsync.cli.ledger:ledger",
    "summary": "txsync.cli.ledger:summary",
    "export": "txsync.cli.export:export",
    # keys and tools
    "vault": "txsync.cli._vault:vault",
    "new-connector": "txsync.cli.scaffold:new_connector",
    # the owner's ledger: transfers linked across accounts, balances explained
    "transfers": "txsync.cli.owner:transfers",
    "balances": "txsync.cli.owner:balances",
    # valuation: a pass over the owners' ledgers; one transaction's value and provenance
    "value": "txsync.cli.value:value",
    # the user's own records: manual accounts and entries, file imports (issue 12)
    "accounts": "txsync.cli.manual:accounts",
    "entries": "txsync.cli.manual:entries",
    "import": "txsync.cli.manual:import_file",
    # the built-in sandboxes served over HTTP (issue 15)
    "sandbox": "txsync.cli.sandbox:sandbox",
}

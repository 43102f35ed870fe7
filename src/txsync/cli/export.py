"""``txsync export``: an owner's ledger for a tax tool (Koinly, CoinTracking) or in full (CSV, JSON)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from txsync.cli._context import CliContext, db_option, pass_cli
from txsync.cli._errors import EXIT_USAGE, CliError
from txsync.exports import FORMATS, export_ledger

__all__ = ["export"]


@click.command()
@click.option("--owner", required=True, help="Whose ledger (every account of theirs).")
@click.option("--account", "account_id", default=None, help="Only this account of the owner's.")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), required=True,
              help="koinly (Universal template), cointracking (CSV), csv or json (full txsync export).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write to this file (default: stdout). Written whole or not at all.")
@click.option("--include-deleted", is_flag=True, help="Export the transactions you deleted too.")
@db_option
@pass_cli
def export(cli: CliContext, owner: str, account_id: str | None, fmt: str, output: Path | None,
           include_deleted: bool) -> None:
    """Export an owner's ledger; the summary (transactions, rows) goes to stderr."""
    store = cli.store()
    if account_id is not None and store.get_account(account_id).owner_id != owner:
        raise CliError(f"account {account_id} is not one of {owner}'s", EXIT_USAGE)
    from txsync.cli.ledger import value_lookup
    from txsync.owner import OwnerLedger

    values = value_lookup(store)  # the stored valuations (the user's override and a file's value first)
    links = OwnerLedger(store).link_lookup(owner)  # the owner's stored transfer links, read only
    if output is None:
        counts = export_ledger(store, fmt, cli.out, owner_id=owner, account_id=account_id,
                               include_deleted=include_deleted, values=values, links=links)
    else:
        output = output.expanduser()
        if not output.parent.is_dir():
            raise CliError(f"-o {output}: no folder {output.parent}", EXIT_USAGE)
        fd, temp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                counts = export_ledger(store, fmt, handle, owner_id=owner, account_id=account_id,
                                       include_deleted=include_deleted, values=values, links=links)
            os.chmod(temp, 0o600)  # a ledger is private financial history
            os.replace(temp, output)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    split = f", {counts['split']} split over several rows" if counts.get("split") else ""
    where = f" to {output}" if output is not None else ""
    cli.echo(f"Exported {counts['transactions']} transactions ({counts['rows']} rows{split}) as "
             f"{fmt}{where}.", err=True)

"""``txsync transfers`` (links across the owner's accounts; ``link`` / ``unlink`` by hand) and
``txsync balances`` (computed vs reported, the difference explained). The logic and the output are
:mod:`txsync.owner.cli`'s; this module gives them their options."""

from __future__ import annotations

import click

from txsync.cli._context import CliContext, data_options, pass_cli
from txsync.owner.cli import balances_command, link_command, transfers_command, unlink_command

__all__ = ["balances", "transfers"]


def _done(code: int) -> None:
    if code:
        raise click.exceptions.Exit(code)


@click.group(invoke_without_command=True)
@click.option("--owner", default=None, help="The owner (default: the store's only owner).")
@data_options
@pass_cli
@click.pass_context
def transfers(ctx: click.Context, cli: CliContext, owner: str | None) -> None:
    """Transfers linked across the owner's accounts (by hash, by heuristic, by hand) and what is left
    to decide. --json prints a list of links (withdrawal, deposit, asset, method, fee...)."""
    if ctx.invoked_subcommand is not None:
        return
    _done(transfers_command(cli.store(), owner=owner, as_json=cli.json, out=cli.out))


@transfers.command("link")
@click.argument("a")
@click.argument("b")
@click.option("--asset", default=None, help="The asset, when the two transactions share several.")
@click.option("--note", default=None, help="Why (kept with the decision).")
@data_options
@pass_cli
def link(cli: CliContext, a: str, b: str, asset: str | None, note: str | None) -> None:
    """Link two transactions by hand (a withdrawal and a deposit, either order); kept through every
    re-sync and re-link."""
    _done(link_command(cli.store(), a, b, asset=asset, note=note, as_json=cli.json, out=cli.out))


@transfers.command("unlink")
@click.argument("a")
@click.argument("b")
@click.option("--note", default=None, help="Why (kept with the decision).")
@data_options
@pass_cli
def unlink(cli: CliContext, a: str, b: str, note: str | None) -> None:
    """Undo a link for good: no re-sync or re-link makes it again."""
    _done(unlink_command(cli.store(), a, b, note=note, out=cli.out))


@click.command()
@click.option("--owner", default=None, help="Every account of this owner, and the owner's totals.")
@click.option("--account", default=None, help="One account.")
@click.option("--refresh", is_flag=True, help="Ask each account's source for its balances first (network).")
@data_options
@pass_cli
def balances(cli: CliContext, owner: str | None, account: str | None, refresh: bool) -> None:
    """Computed vs reported balances per account (and per owner), the difference and its likely causes.
    --json prints rows with account_id, asset, computed, reported, difference and explanations."""
    store = cli.store(create=refresh)
    engine = cli.engine(store) if refresh else None
    _done(balances_command(store, owner=owner, account=account, as_json=cli.json, refresh=refresh,
                           engine=engine, out=cli.out))

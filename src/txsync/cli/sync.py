"""``txsync sync``: sync connections with a live display per stream, then their reports."""

from __future__ import annotations

from typing import Any

import click

from txsync.cli._context import CliContext, data_options, pass_cli
from txsync.cli._errors import EXIT_ATTENTION, EXIT_USAGE, CliError
from txsync.cli._progress import LiveProgress
from txsync.cli._render import print_report
from txsync.engine import SyncMode, SyncReport
from txsync.errors import ConnectionStateError, TxsyncError

__all__ = ["sync"]

_MODES = {"incremental": SyncMode.INCREMENTAL, "full": SyncMode.FULL, "since-latest": SyncMode.SINCE_LATEST}


@click.command()
@click.argument("connection_ids", nargs=-1, metavar="[CONNECTION]...")
@click.option("--owner", default=None, help="Every connection of this owner.")
@click.option("--due", is_flag=True, help="The connections the schedule says are due now.")
@click.option("--mode", type=click.Choice(list(_MODES)), default="incremental", show_default=True,
              help="incremental: from the stored cursors; full: re-read everything; since-latest: from "
                   "the account's newest transaction (after a file import).")
@click.option("--stream", "streams", multiple=True, help="Only these streams (repeatable).")
@click.option("--progress/--no-progress", default=None,
              help="The live display on stderr (default: when stderr is a terminal).")
@click.option("--value", "with_value", is_flag=True,
              help="Value what each sync wrote, and retry pending valuations, after it (price services).")
@data_options
@pass_cli
def sync(cli: CliContext, connection_ids: tuple[str, ...], owner: str | None, due: bool, mode: str,
         streams: tuple[str, ...], progress: bool | None, with_value: bool) -> None:
    """Sync CONNECTIONs (or --owner's, or those --due; all active ones when none is named).

    Exit 1 when a sync reports errors, or a named connection is paused or disabled."""
    if sum(bool(x) for x in (connection_ids, owner, due)) > 1:
        raise CliError("name connections, or --owner, or --due (one of them)", EXIT_USAGE)
    store = cli.store()
    if with_value:
        from txsync.cli.value import price_policy
        from txsync.valuation import ValuationSyncHook

        engine = cli.engine(store, valuation=ValuationSyncHook(policy=lambda e: price_policy(cli, e)))
    else:
        engine = cli.engine(store)
    reports: list[SyncReport] = []
    skipped: list[str] = []
    live = LiveProgress(cli.console(err=True), enabled=progress)
    with live:
        if due:
            reports = engine.sync_due_blocking(progress=live)
        else:
            if connection_ids:
                targets = [store.get_connection(c) for c in connection_ids]
            else:
                targets = store.connections_of(owner) if owner is not None else store.list_connections()
                targets = [c for c in targets if c.state == "active"]
            for connection in targets:
                try:
                    reports.append(engine.sync_blocking(
                        connection.id, _MODES[mode], streams=list(streams) or None, progress=live))
                except ConnectionStateError as exc:
                    skipped.append(f"{connection.id}: {exc}")
                except TxsyncError as exc:  # e.g. its connector is not installed: the others still run
                    if connection_ids:
                        raise
                    skipped.append(f"{connection.id}: {type(exc).__name__}: {exc}")
    _finish(cli, reports, skipped)


def _finish(cli: CliContext, reports: list[SyncReport], skipped: list[str]) -> None:
    if cli.json:
        data: list[dict[str, Any]] = []
        for report in reports:
            item = report.model_dump(mode="json")
            item["ok"] = report.ok
            data.append(item)
        cli.emit_json(data)
    else:
        for report in reports:
            print_report(cli, report)
            if report.valuation and "valued" in report.valuation:
                v = report.valuation
                cli.echo(f"  valuation ({v['currency']}): {v['valued']} valued, {v['pending']} pending, "
                         f"{v['unpriceable']} unpriceable, {v['overridden']} overridden")
        if not reports and not skipped:
            cli.echo("Nothing to sync.")
    for line in skipped:
        cli.echo(f"txsync: not synced: {line}", err=True)
    if skipped or any(not r.ok or r.state != "active" for r in reports):
        raise click.exceptions.Exit(EXIT_ATTENTION)

"""``txsync accounts [add-manual]``, ``txsync entries [add|edit|remove]`` and ``txsync import``.

The user's own records (issue 12): accounts without a source, transactions typed in by hand, and
files imported into an account. An import is a sync of a file connection of the account (reused
when the same file is imported again, so a re-import adds nothing).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from txsync.cli._context import CliContext, data_options, pass_cli
from txsync.cli._errors import EXIT_ATTENTION, EXIT_USAGE, CliError
from txsync.cli._render import table

__all__ = ["accounts", "entries", "import_file"]

_FORMATS = ("auto", "koinly", "cointracking", "txsync", "binance-statement")


# -- accounts ---------------------------------------------------------------------------------------

def _account_json(store: Any, account: Any) -> dict[str, Any]:
    connections = store.list_connections(account.id)
    sources = sorted({c.connector_id for c in connections if c.state != "manual"})
    return {
        "account_id": account.id,
        "owner_id": account.owner_id,
        "label": account.label,
        "connector_id": account.connector_id,
        "kind": "manual" if not sources else "synced",
        "sources": sources,
        "connections": [c.id for c in connections],
        "transactions": store.count_transactions(account.id),
        "created_at": account.created_at.isoformat().replace("+00:00", "Z"),
    }


@click.group(invoke_without_command=True)
@click.option("--owner", default=None, help="Only this owner's accounts.")
@data_options
@pass_cli
@click.pass_context
def accounts(ctx: click.Context, cli: CliContext, owner: str | None) -> None:
    """The accounts (synced, file-fed and manual); `add-manual` creates one without a source."""
    if ctx.invoked_subcommand is not None:
        return
    store = cli.store()
    rows = [_account_json(store, a) for a in store.list_accounts(owner)]
    if cli.json:
        cli.emit_json(rows)
        return
    if not rows:
        cli.echo("No accounts." + ("" if owner is None else f" (owner {owner})"))
        return
    out = table("account", "owner", "label", "kind", "sources", "transactions")
    for r in rows:
        out.add_row(r["account_id"], r["owner_id"], r["label"], r["kind"], ", ".join(r["sources"]) or "-",
                    str(r["transactions"]))
    cli.print(out)


@accounts.command("add-manual")
@click.option("--owner", required=True, help="The owner of the account.")
@click.option("--label", default="", help="A name for it: 'Ledger Nano', 'OTC desk'...")
@data_options
@pass_cli
def add_manual(cli: CliContext, owner: str, label: str) -> None:
    """Create an account without a source: its entries are all it holds (never synced)."""
    store = cli.store(create=True)
    account = cli.engine(store).add_manual_account(owner, label)
    data = _account_json(store, account)
    if cli.json:
        cli.emit_json(data)
        return
    cli.echo(f"Created manual account {account.id} for {owner}" + (f" ({label})" if label else "")
             + f". Add entries with: txsync entries add --account {account.id}")


# -- entries ----------------------------------------------------------------------------------------

def _legs(specs: tuple[str, ...]) -> list[dict[str, Any]]:
    legs = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) < 2 or len(parts) > 4 or not parts[0] or not parts[1]:
            raise CliError(f"--leg {spec!r}: write ASSET:AMOUNT[:ROLE[:WALLET]] (BTC:0.5, EUR:-4.35:fee)",
                           EXIT_USAGE)
        leg: dict[str, Any] = {"asset": parts[0], "amount": parts[1]}
        if len(parts) > 2 and parts[2]:
            leg["role"] = parts[2]
        if len(parts) > 3 and parts[3]:
            leg["wallet"] = parts[3]
        legs.append(leg)
    return legs


def _ext(pairs: tuple[str, ...], tx_hash: str | None) -> dict[str, str] | None:
    ids: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value:
            raise CliError(f"--ext {pair!r}: write NAME=VALUE (order_id=A-1001)", EXIT_USAGE)
        ids[name] = value
    if tx_hash:
        ids["tx_hash"] = tx_hash
    return ids or None


def _entry_fields(date: str | None, legs: tuple[str, ...], kind: str | None, status: str | None,
                  description: str | None, ext: tuple[str, ...], tx_hash: str | None,
                  value: tuple[str, str] | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if date is not None:
        fields["timestamp"] = date
    if legs:
        fields["legs"] = _legs(legs)
    for name, given in (("kind", kind), ("status", status), ("description", description)):
        if given is not None:
            fields[name] = given
    ids = _ext(ext, tx_hash)
    if ids is not None:
        fields["external_ids"] = ids
    if value is not None:
        fields["value"] = value
    return fields


def _entry_options(f: Any) -> Any:
    for option in reversed([
        click.option("--date", "date", default=None,
                     help="When: ISO 8601 with a zone (2021-03-04T12:00:00Z, ...+02:00)."),
        click.option("--leg", "legs", multiple=True, metavar="ASSET:AMOUNT[:ROLE[:WALLET]]",
                     help="A signed movement (repeat): BTC:0.1, EUR:-4350.20, EUR:-4.35:fee."),
        click.option("--kind", default=None,
                     help="trade, deposit, withdrawal, reward... (inferred if not given)."),
        click.option("--status", default=None, help="confirmed (default), pending or failed."),
        click.option("--description", default=None, help="Free text."),
        click.option("--tx-hash", default=None, help="The transaction hash (external id tx_hash)."),
        click.option("--ext", multiple=True, metavar="NAME=VALUE", help="Another external id (repeat)."),
        click.option("--value", nargs=2, default=None, metavar="AMOUNT CURRENCY",
                     help="The fiat value: 4350.20 EUR."),
    ]):
        f = option(f)
    return f


def _show_entry(cli: CliContext, entry: Any, verb: str) -> None:
    if cli.json:
        cli.emit_json(entry.to_json())
        return
    merged = " (merged with " + ", ".join(o for o in entry.origins if o != "manual") + ")" \
        if len(entry.origins) > 1 else ""
    cli.echo(f"{verb} entry {entry.entry_id}: transaction {entry.transaction_id}{merged}")


@click.group(invoke_without_command=True)
@click.option("--account", "account_id", default=None, help="List this account's entries.")
@data_options
@pass_cli
@click.pass_context
def entries(ctx: click.Context, cli: CliContext, account_id: str | None) -> None:
    """Manual entries: list an account's (--account), or add | edit | remove one."""
    if ctx.invoked_subcommand is not None:
        return
    if account_id is None:
        raise CliError("name the account: txsync entries --account ACCOUNT (or add | edit | remove)",
                       EXIT_USAGE)
    store = cli.store()
    found = cli.engine(store).entries(account_id)
    if cli.json:
        cli.emit_json([e.to_json() for e in found])
        return
    if not found:
        cli.echo(f"No manual entries in {account_id}.")
        return
    out = table("entry", "date", "kind", "legs", "transaction", "merged with")
    for e in found:
        legs = ", ".join(f"{leg.amount} {leg.asset}" + (f" ({leg.role})" if leg.role != "principal" else "")
                         for leg in e.legs)
        out.add_row(e.entry_id, e.timestamp.isoformat().replace("+00:00", "Z"), str(e.kind), legs,
                    e.transaction_id or "", ", ".join(o for o in e.origins if o != "manual") or "-")
    cli.print(out)


@entries.command("add")
@click.option("--account", "account_id", required=True, help="The account (manual or synced).")
@_entry_options
@data_options
@pass_cli
def entries_add(cli: CliContext, account_id: str, date: str | None, legs: tuple[str, ...], kind: str | None,
                status: str | None, description: str | None, tx_hash: str | None, ext: tuple[str, ...],
                value: tuple[str, str] | None) -> None:
    """Add a manual entry to an account: --date and at least one --leg."""
    if date is None or not legs:
        raise CliError("an entry needs --date and at least one --leg", EXIT_USAGE)
    store = cli.store()
    fields = _entry_fields(date, legs, kind, status, description, ext, tx_hash, value)
    _show_entry(cli, cli.engine(store).add_entry(account_id, **fields), "Added")


@entries.command("edit")
@click.argument("entry_id", metavar="ENTRY")
@click.option("--account", "account_id", default=None, help="The entry's account (found if not given).")
@_entry_options
@data_options
@pass_cli
def entries_edit(cli: CliContext, entry_id: str, account_id: str | None, date: str | None,
                 legs: tuple[str, ...], kind: str | None, status: str | None, description: str | None,
                 tx_hash: str | None, ext: tuple[str, ...], value: tuple[str, str] | None) -> None:
    """Change ENTRY: the options given replace its values (--leg replaces every leg)."""
    fields = _entry_fields(date, legs, kind, status, description, ext, tx_hash, value)
    if not fields:
        raise CliError("nothing to change: give --date, --leg, --kind, --status, --description, "
                       "--tx-hash, --ext or --value", EXIT_USAGE)
    store = cli.store()
    _show_entry(cli, cli.engine(store).edit_entry(entry_id, account_id=account_id, **fields), "Changed")


@entries.command("remove")
@click.argument("entry_id", metavar="ENTRY")
@click.option("--account", "account_id", default=None, help="The entry's account (found if not given).")
@data_options
@pass_cli
def entries_remove(cli: CliContext, entry_id: str, account_id: str | None) -> None:
    """Remove ENTRY for good (a synced transaction it merged with stays)."""
    store = cli.store()
    engine = cli.engine(store)
    account_id = account_id or engine.manual.find(entry_id)
    tx_id = engine.remove_entry(entry_id, account_id=account_id)
    if cli.json:
        cli.emit_json({"removed": entry_id, "account_id": account_id, "transaction_id": tx_id})
    else:
        cli.echo(f"Removed entry {entry_id}.")


# -- import -----------------------------------------------------------------------------------------

@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--account", "account_id", required=True, help="The account the file's records belong to.")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="auto", show_default=True,
              help="The file's format (auto: from its header).")
@click.option("--timezone", default=None, help="An IANA zone for times written without one (Europe/Paris).")
@click.option("--mode", type=click.Choice(["incremental", "full"]), default="incremental", show_default=True)
@data_options
@pass_cli
def import_file(cli: CliContext, file: Path, account_id: str, fmt: str, timezone: str | None,
                mode: str) -> None:
    """Import FILE into an account: a sync of a file connection (importing it again adds nothing)."""
    from txsync.imports import connector_for, detect_format
    from txsync.models import Credential

    store = cli.store()
    account = store.get_account(account_id)
    path = str(file.resolve())
    if not os.path.exists(path):
        raise CliError(f"no file {file}", EXIT_USAGE)
    name = fmt if fmt != "auto" else detect_format(path)
    connector = connector_for(name)
    options: dict[str, Any] = {"path": path}
    if timezone:
        options["timezone"] = timezone
    engine = cli.engine(store)
    connection = next(
        (c for c in store.list_connections(account.id)
         if c.connector_id == connector and dict(c.options) == options), None)
    if connection is None:
        connection = engine.connect(account.owner_id, Credential(connector_id=connector),
                                    account_id=account.id, options=options, label=file.name, verify=False)
    report = engine.sync_blocking(connection.id, mode)
    counts = {k: report.total(k) for k in ("new", "updated", "unchanged")}
    errors = [*report.errors, *(e for stream in report.streams for e in stream.errors)]
    if cli.json:
        cli.emit_json({"account_id": account.id, "connection_id": connection.id, "file": path, "format": name,
                       **counts, "ok": report.ok, "errors": errors})
    else:
        cli.echo(f"Imported {file.name} ({name}) into {account.id}: {counts['new']} new, "
                 f"{counts['updated']} updated, {counts['unchanged']} unchanged")
        for error in errors:
            cli.echo(f"  error: {error}", err=True)
    if not report.ok:
        raise click.exceptions.Exit(EXIT_ATTENTION)

"""``txsync ledger`` (the transactions, as a table, JSON or CSV) and ``txsync summary``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click

from txsync.cli._context import CliContext, data_options, pass_cli
from txsync.cli._errors import EXIT_USAGE, CliError
from txsync.cli._render import legs_text, print_ledger_summary
from txsync.exports import ValueLookup, recorded_value, transaction_json, write_txsync_csv
from txsync.exports._base import time_text
from txsync.store.records import LedgerTransaction

__all__ = ["ledger", "summary", "value_lookup"]


def value_lookup(store: Any) -> ValueLookup | None:
    """The valuations ``ledger --json`` shows as each transaction's ``value`` object (``None`` for a
    store that keeps no valuations): the stored valuation with its provenance (``amount``,
    ``currency``, ``status``, ``method``, ``source``, then ``pair``, ``candle_time``, ``rate``,
    ``fx_rate``, ``reason``); the user's override always (even before the next pass); a
    transaction no pass has valued yet is ``pending``."""
    from txsync.valuation.ledger import stored_value_lookup

    return stored_value_lookup(store)


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{option} {value!r}: expected an ISO 8601 date or time (2024-01-31, "
                       "2024-01-31T12:00:00Z)", EXIT_USAGE) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


@click.command()
@click.option("--account", "account_id", default=None, help="Only this account.")
@click.option("--owner", default=None, help="Only this owner's accounts.")
@click.option("--since", default=None, help="From this time (ISO 8601, UTC unless it has an offset).")
@click.option("--until", default=None, help="Before this time (ISO 8601).")
@click.option("--kind", "kinds", multiple=True, help="Only these kinds (repeatable): trade, deposit...")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many transactions.")
@click.option("--order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True,
              help="Oldest first (asc) or newest first (desc).")
@click.option("--after", default=None, metavar="CURSOR", help="Continue after a previous page (see --limit).")
@click.option("--include-deleted", is_flag=True, help="Show the transactions you deleted too.")
@click.option("--csv", "as_csv", is_flag=True, help="The full txsync CSV (one row per leg).")
@data_options
@pass_cli
def ledger(cli: CliContext, account_id: str | None, owner: str | None, since: str | None, until: str | None,
           kinds: tuple[str, ...], limit: int | None, order: str, after: str | None, include_deleted: bool,
           as_csv: bool) -> None:
    """The transactions of an account, an owner, or the whole store, with your edits applied.

    --json prints a list of transaction objects (id, account_id, timestamp, kind, status, legs with
    asset, amount and role, ...); with --limit, the cursor of the next page goes to stderr."""
    if cli.json and as_csv:
        raise CliError("--json or --csv, not both", EXIT_USAGE)
    store = cli.store()
    if account_id is not None:
        store.get_account(account_id)  # an unknown account is an error, not an empty ledger
    filters: dict[str, Any] = {
        "owner_id": owner, "account_id": account_id, "since": _time(since, "--since"),
        "until": _time(until, "--until"), "kinds": list(kinds) or None, "include_deleted": include_deleted,
        "order": order,
    }
    state: dict[str, str | None] = {"next": None}

    def transactions() -> Iterator[LedgerTransaction]:
        cursor, left = after, limit
        while True:
            size = min(1000, left) if left is not None else 1000
            page = store.ledger_page(limit=size, after=cursor, **filters)
            yield from page.items
            if left is not None:
                left -= len(page.items)
            cursor = page.next_cursor
            if cursor is None or (left is not None and left <= 0):
                state["next"] = cursor if left is not None else None
                return

    if as_csv:
        write_txsync_csv(transactions, cli.out, values=value_lookup(store) or recorded_value)
    elif cli.json:
        values = value_lookup(store)
        _write_json(cli, transactions(), values)
    else:
        _write_table(cli, transactions())
    if state["next"] is not None:
        cli.echo(f"more: continue with --after {state['next']}", err=True)


def _write_json(
    cli: CliContext, transactions: Iterator[LedgerTransaction], values: ValueLookup | None
) -> None:
    out = cli.out
    out.write("[")
    count = 0
    for tx in transactions:
        data = transaction_json(tx, value=values(tx) if values else None, with_value=values is not None)
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(data, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")


def _write_table(cli: CliContext, transactions: Iterator[LedgerTransaction]) -> None:
    out = cli.out
    count = 0
    for tx in transactions:
        if count == 0:
            out.write(f"{'time (UTC)':<26}  {'kind':<16} {'status':<9} {'legs':<60} note\n")
        note = " ".join(x for x in (tx.label or "", "(deleted)" if tx.deleted else "") if x)
        line = f"{time_text(tx.timestamp):<26}  {tx.kind!s:<16} {tx.status!s:<9} {legs_text(tx):<60} {note}"
        out.write(line.rstrip() + "\n")
        count += 1
    if count == 0:
        cli.echo("No transactions.", err=True)


@click.command()
@click.option("--owner", default=None, help="Only this owner's accounts.")
@data_options
@pass_cli
def summary(cli: CliContext, owner: str | None) -> None:
    """Counts per kind and balances of every account in the store."""
    store = cli.store()
    accounts = store.list_accounts(owner)
    if cli.json:
        data = []
        for account in accounts:
            item = print_ledger_summary(cli, store, account.id, None)
            item.update({"owner_id": account.owner_id, "connector_id": account.connector_id,
                         "label": account.label})
            data.append(item)
        cli.emit_json({"store": cli.target.describe(), "accounts": data})
        return
    cli.echo(f"Store: {cli.target.describe()}: {len(accounts)} accounts")
    for account in accounts:
        cli.echo(f"\nAccount {account.id} ({account.connector_id}, owner {account.owner_id})"
                 + (f" {account.label}" if account.label else ""))
        print_ledger_summary(cli, store, account.id, None)

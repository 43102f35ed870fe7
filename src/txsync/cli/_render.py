"""Tables and texts the commands print: sync reports, ledgers, balances, connections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from rich import box
from rich.table import Table

from txsync.cli._context import CliContext
from txsync.engine import SyncReport
from txsync.exports._base import amount_text
from txsync.reconcile import BalanceCheck
from txsync.store.records import ConnectionRecord, LedgerTransaction

__all__ = [
    "balances_table",
    "connection_json",
    "legs_text",
    "print_ledger_summary",
    "print_report",
    "table",
]


def table(*columns: str, right: Sequence[str] = ()) -> Table:
    """A plain table (no borders: easy to read and to grep), numeric ``right`` columns right-aligned."""
    out = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for column in columns:
        out.add_column(column, justify="right" if column in right else "left", no_wrap=True)
    return out


def print_report(cli: CliContext, report: SyncReport) -> None:
    """A sync report: per stream pages, records, new / updated / unchanged, requests, weight; its errors,
    warnings and coverage gaps (what to import by file)."""
    state = "ok" if report.ok else "INCOMPLETE"
    if report.skipped is not None:
        state = f"SKIPPED ({report.skipped})"
    cli.print(f"\nSync ({report.mode}) of {report.connector_id} [{report.connection_id}]: {state}")
    numbers = ("pages", "records", "new", "updated", "unchanged", "requests", "weight")
    out = table("stream", *numbers, right=numbers)
    for s in report.streams:
        out.add_row(s.stream, *(str(v) for v in (s.pages, s.raws, s.new, s.updated, s.unchanged, s.requests,
                                                 s.weight)))
    if report.streams:
        cli.print(out)
    for stream in report.streams:
        for error in stream.errors:
            cli.print(f"  ! {stream.stream}: {error}")
    for error in report.errors:
        cli.print(f"  ! {error}")
    if report.state != "active":
        cli.print(f"  connection {report.state}: {report.state_reason or ''}")
    for warning in report.warnings:
        cli.print(f"  warning: {warning}")
    if report.coverage_gaps:
        cli.print("\nWhat the API cannot return (import these by file):")
        for gap in report.coverage_gaps:
            cli.print(f"  - {gap.title}: {gap.detail or gap.gap_id}. Remedy: {gap.remedy}")


def legs_text(tx: LedgerTransaction) -> str:
    """``+0.5 BTC, -10000 USDT, fee -0.1 BNB``."""
    parts = []
    for leg in tx.legs:
        sign = "+" if leg.amount > 0 else ""
        role = "" if str(leg.role) == "principal" else f"{leg.role} "
        parts.append(f"{role}{sign}{amount_text(leg.amount)} {leg.asset}")
    return ", ".join(parts)


def print_ledger_summary(
    cli: CliContext, store: Any, account_id: str, checks: Sequence[BalanceCheck] | None
) -> dict[str, Any]:
    """Counts per kind (pending ones noted) and balances, checked against the reported ones when given;
    returns the same as JSON-ready data."""
    kinds: Counter[str] = Counter()
    pending: Counter[str] = Counter()
    for tx in store.transactions(account_id=account_id):
        kinds[str(tx.kind)] += 1
        if tx.status != "confirmed":
            pending[str(tx.kind)] += 1
    balances = store.balances(account_id)
    data: dict[str, Any] = {
        "account_id": account_id,
        "transactions": sum(kinds.values()),
        "by_kind": {k: {"count": v, "pending": pending[k]} for k, v in sorted(kinds.items())},
        "balances": (
            [{"asset": a, "computed": amount_text(v)} for a, v in balances.items()] if checks is None else [
                {"asset": c.asset, "computed": amount_text(c.computed), "reported": amount_text(c.reported),
                 "difference": amount_text(c.difference), "ok": c.ok}
                for c in checks
            ]
        ),
    }
    if cli.json:
        return data
    cli.print(f"\nTransactions by kind ({sum(kinds.values())} in all):")
    by_kind = table("kind", "count", "pending", right=("count", "pending"))
    for kind, count in sorted(kinds.items()):
        by_kind.add_row(kind, str(count), str(pending[kind]) if pending[kind] else "")
    cli.print(by_kind)
    cli.print(balances_table(balances, checks))
    return data


def balances_table(balances: dict[str, Decimal], checks: Iterable[BalanceCheck] | None) -> Table:
    """Balances computed from the ledger; with ``checks``, against the reported ones."""
    if checks is None:
        out = table("asset", "computed", right=("computed",))
        out.title = "Balances computed from the ledger"
        for asset, amount in balances.items():
            out.add_row(asset, amount_text(amount))
        return out
    out = table("asset", "computed", "reported", "difference", "check",
                right=("computed", "reported", "difference"))
    out.title = "Balances: computed from the ledger vs reported by the source"
    for check in checks:
        out.add_row(check.asset, amount_text(check.computed), amount_text(check.reported),
                    amount_text(check.difference), "ok" if check.ok else "MISMATCH")
    return out


def connection_json(connection: ConnectionRecord, owner_id: str | None = None,
                    has_credential: bool | None = None) -> dict[str, Any]:
    """A connection as a JSON object."""
    data = connection.model_dump(mode="json")
    data["options"] = dict(connection.options)
    if owner_id is not None:
        data["owner_id"] = owner_id
    if has_credential is not None:
        data["has_credential"] = has_credential
    return data

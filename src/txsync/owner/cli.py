"""The owner layer's commands, as functions the command line calls with parsed arguments:
``txsync transfers [--owner O] [--json]``, ``txsync transfers link A B`` / ``unlink A B`` and
``txsync balances [--owner O | --account A] [--json] [--refresh]``.

Each takes an open store (and an output stream), prints text for people or JSON for programs, and
returns the exit status: 0, or 2 when the request cannot be done (the message says why).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from txsync.errors import LinkError, TxsyncError
from txsync.owner.ledger import OwnerLedger, fmt
from txsync.owner.models import BalanceRow, TransferLink

if TYPE_CHECKING:
    from txsync.engine import Engine

__all__ = ["balances_command", "link_command", "transfers_command", "unlink_command"]


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _short(tx_id: str) -> str:
    return tx_id[:12]


def _dump(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _fail(exc: TxsyncError, out: TextIO) -> int:
    """Errors go to stderr (``out`` may carry JSON a script reads), as every command's do."""
    sys.stderr.write(f"txsync: {type(exc).__name__}: {exc}\n")
    return 2


def print_transfers(links: Sequence[TransferLink], owner: str, issues: Sequence[Any], out: TextIO) -> None:
    """The owner's links as a table, then what is left for the user to decide."""
    methods = Counter(x.method.value for x in links)
    summary = ", ".join(f"{n} {m}" for m, n in sorted(methods.items())) or "none"
    out.write(f"Transfers of {owner}: {len(links)} linked ({summary})\n")
    for x in links:
        extra = f" [{', '.join(x.flags)}]" if x.flags else ""
        out.write(
            f"  {_when(x.withdrawal_time)}  {x.withdrawal_account}:{_short(x.withdrawal)} -> "
            f"{x.deposit_account}:{_short(x.deposit)}  {fmt(x.sent)} {x.asset} sent, {fmt(x.received)} "
            f"received, fee {fmt(x.fee)}  {x.method.value} ({fmt(x.confidence)}){extra}\n"
        )
    if issues:
        out.write("\nLeft for you to decide (txsync transfers link A B / unlink A B):\n")
        for issue in issues:
            out.write(f"  {issue.kind}: {issue.asset} {', '.join(_short(t) for t in issue.transactions)}: "
                      f"{issue.detail}\n")


def transfers_command(store: Any, *, owner: str | None = None, as_json: bool = False, out: TextIO) -> int:
    """``txsync transfers``: link what changed, then list the owner's transfer links."""
    try:
        ledger = OwnerLedger(store)
        owner_id = ledger.resolve_owner(owner)
        links = ledger.transfers(owner_id)
        issues = ledger.issues(owner_id)
    except TxsyncError as exc:
        return _fail(exc, out)
    if as_json:
        _dump([x.as_json() for x in links], out)
    else:
        print_transfers(links, owner_id, issues, out)
    return 0


def link_command(
    store: Any, a: str, b: str, *, asset: str | None = None, note: str | None = None, as_json: bool = False,
    out: TextIO,
) -> int:
    """``txsync transfers link A B``: the user's link (kept through every re-sync and re-link)."""
    try:
        link = OwnerLedger(store).link_transactions(a, b, asset=asset, note=note)
    except (LinkError, TxsyncError) as exc:
        return _fail(exc, out)
    if as_json:
        _dump(link.as_json(), out)
    else:
        out.write(f"Linked {link.withdrawal} -> {link.deposit}: {fmt(link.sent)} {link.asset} sent, "
                  f"{fmt(link.received)} received, fee {fmt(link.fee)} (manual)\n")
    return 0


def unlink_command(store: Any, a: str, b: str, *, note: str | None = None, out: TextIO) -> int:
    """``txsync transfers unlink A B``: undo a link for good (no re-sync or re-link makes it again)."""
    try:
        OwnerLedger(store).unlink_transactions(a, b, note=note)
    except TxsyncError as exc:
        return _fail(exc, out)
    out.write(f"Unlinked {a} and {b}: they will not be linked again (txsync transfers link to undo)\n")
    return 0


def print_balances(rows: Sequence[BalanceRow], out: TextIO, labels: dict[str, str] | None = None) -> None:
    """Computed, reported, difference and the explanations, account by account, then the owner."""
    labels = labels or {}
    current: tuple[str, str | None] | None = None
    for row in rows:
        key = (row.scope, row.account_id)
        if key != current:
            current = key
            title = (
                f"Account {row.account_id} ({labels.get(row.account_id or '', '')})" if row.scope == "account"
                else f"Owner {row.owner_id}: every account"
            )
            header = f"{'asset':<14}{'computed':>22}{'reported':>22}{'difference':>18}  status"
            out.write(f"\n{title}\n  {header}\n")
        out.write(f"  {row.asset[:14]:<14}{fmt(row.computed):>22}{fmt(row.reported):>22}"
                  f"{fmt(row.difference):>18}  {row.status}\n")
        shown = 0
        for e in row.explanations:
            if e.kind.value == "coverage_gap" and shown >= 3 and not e.accounts_for_difference:
                continue  # the rest of the account's gaps: in --json and `txsync balances --account`
            shown += 1
            mark = " (accounts for the difference)" if e.accounts_for_difference else ""
            out.write(f"      - {e.kind.value}{mark}: {e.detail}\n")
            if e.remedy:
                out.write(f"        remedy: {e.remedy}\n")
    out.write("\ndifference = computed - reported: positive, a withdrawal or sale is missing; negative, a "
              "deposit or purchase is missing.\n")


def balances_command(
    store: Any, *, owner: str | None = None, account: str | None = None, as_json: bool = False,
    refresh: bool = False, engine: Engine | None = None, out: TextIO,
) -> int:
    """``txsync balances``: every account of the owner (and the owner's totals), or one account, with
    the explanations of each difference. ``refresh`` asks each account's source for its balances first
    (through ``engine``: the network and the stored keys)."""
    try:
        ledger = OwnerLedger(store)
        if owner is not None and account is not None:
            raise LinkError("give --owner or --account, not both")
        owner_id = store.get_account(account).owner_id if account is not None else ledger.resolve_owner(owner)
        accounts = [a for a in store.list_accounts(owner_id) if account is None or a.id == account]
        if refresh:
            if engine is None:
                from txsync.engine import Engine

                engine = Engine(store)
            for acc in accounts:
                try:
                    ledger.refresh_reported_blocking(engine, acc.id)
                except TxsyncError as exc:
                    sys.stderr.write(f"txsync: account {acc.id}: balances not refreshed: {exc}\n")
        rows = ledger.balances(owner_id=None if account else owner_id, account_id=account)
    except TxsyncError as exc:
        return _fail(exc, out)
    if as_json:
        _dump([r.as_json() for r in rows], out)
    else:
        labels = {a.id: f"{a.connector_id}{', ' + a.label if a.label else ''}" for a in accounts}
        print_balances(rows, out, labels)
    # 1: the work ran but needs the user (a computed balance differs from the reported one)
    return 1 if any(r.difference for r in rows) else 0

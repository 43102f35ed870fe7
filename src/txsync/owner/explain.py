"""Balances explained: for every asset whose computed balance differs from the reported one, the likely
causes, each with the transactions or gaps behind it (see docs/reconciliation.md).

One pass over the owner's ledger (every account merged in time order) gives, per account and per
owner: the computed balance (confirmed, not deleted), the running balance's lowest point (where the
history is incomplete in time: a running balance that goes negative means an acquisition of at least
that much is missing before that moment), and the deleted and pending transactions of each asset.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from txsync.merge import from_us
from txsync.models import Balance, TransactionStatus
from txsync.models.values import exact
from txsync.owner._halves import OUT, AssetKeyer, Half
from txsync.owner.models import AccountGap, BalanceRow, Explanation, ExplanationKind, TransferLink
from txsync.reconcile import reported_totals
from txsync.store.records import AccountRecord, LedgerTransaction

__all__ = ["Low", "Scan", "explain_account", "explain_owner", "scan"]

_ZERO = Decimal(0)
#: How many unlinked transfers of other accounts an explanation names at most.
_MAX_CANDIDATES = 5


@dataclass
class Low:
    """The lowest point of a running balance: ``value`` at ``at`` (transaction ``tx_id``), and where it
    first went below zero."""

    value: Decimal = _ZERO
    at: datetime | None = None
    tx_id: str | None = None
    first_at: datetime | None = None
    first_tx: str | None = None
    first_value: Decimal = _ZERO


@dataclass
class Moves:
    """Net amount of transactions of one kind (deleted, pending) in one asset, and which."""

    net: Decimal = _ZERO
    ids: list[str] = field(default_factory=list)


@dataclass
class Scan:
    """What one pass over the ledger found, per (account, asset) and per (owner, asset key)."""

    computed: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    low: dict[tuple[str, str], Low] = field(default_factory=dict)
    deleted: dict[tuple[str, str], Moves] = field(default_factory=dict)
    pending: dict[tuple[str, str], Moves] = field(default_factory=dict)
    owner_low: dict[str, Low] = field(default_factory=dict)
    tickers: dict[tuple[str, str], str] = field(default_factory=dict)  # (account, asset) -> asset key


def _stream(store: Any, account: str) -> Iterator[tuple[tuple[datetime, str], LedgerTransaction]]:
    for tx in store.transactions(account_id=account, include_deleted=True):
        yield (tx.timestamp, tx.id), tx


def _lower(low: Low, value: Decimal, tx: LedgerTransaction) -> None:
    if value < 0 and low.first_at is None:
        low.first_at, low.first_tx, low.first_value = tx.timestamp, tx.id, value
    if value < low.value:
        low.value, low.at, low.tx_id = value, tx.timestamp, tx.id


def scan(store: Any, accounts: Sequence[AccountRecord], asset_key: AssetKeyer) -> Scan:
    """One pass over ``accounts``' ledgers in time order (see the module docstring)."""
    result = Scan()
    running: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    owner_running: dict[str, Decimal] = defaultdict(Decimal)
    connector = {a.id: a.connector_id for a in accounts}
    merged = heapq.merge(*(_stream(store, a.id) for a in accounts), key=lambda item: item[0])
    with exact():
        for _, tx in merged:
            deltas: dict[str, Decimal] = defaultdict(Decimal)
            for leg in tx.legs:
                deltas[leg.asset] += leg.amount
            for asset, delta in deltas.items():
                if delta == 0:
                    continue
                slot = (tx.account_id, asset)
                if tx.deleted:
                    moves = result.deleted.setdefault(slot, Moves())
                    moves.net += delta
                    moves.ids.append(tx.id)
                    continue
                if tx.status == TransactionStatus.PENDING:
                    moves = result.pending.setdefault(slot, Moves())
                    moves.net += delta
                    moves.ids.append(tx.id)
                    continue
                if tx.status != TransactionStatus.CONFIRMED:
                    continue
                running[slot] += delta
                result.computed[slot] += delta
                _lower(result.low.setdefault(slot, Low()), running[slot], tx)
                key = result.tickers.get(slot)
                if key is None:
                    key = result.tickers[slot] = asset_key(connector[tx.account_id], asset, tx.timestamp)
                owner_running[key] += delta
                _lower(result.owner_low.setdefault(key, Low()), owner_running[key], tx)
    return result


def _fmt(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _when(moment: datetime | None) -> str:
    return "?" if moment is None else moment.isoformat().replace("+00:00", "Z")


def _missing_acquisition(low: Low, asset: str, difference: Decimal | None) -> Explanation | None:
    if low.value >= 0 or low.at is None:
        return None
    need = -low.value
    first = (
        f"; it first goes below zero on {_when(low.first_at)} ({_fmt(low.first_value)} {asset})"
        if low.first_at is not None and low.first_tx != low.tx_id
        else ""
    )
    return Explanation(
        kind=ExplanationKind.MISSING_ACQUISITION,
        detail=(
            f"the running balance, replayed in time order, falls to {_fmt(low.value)} {asset} on "
            f"{_when(low.at)}: an acquisition (deposit or purchase) of at least {_fmt(need)} {asset} is "
            f"missing before then{first}"
        ),
        amount=low.value,
        transactions=tuple(t for t in (low.first_tx, low.tx_id) if t is not None and t)
        if low.first_tx != low.tx_id
        else ((low.tx_id,) if low.tx_id else ()),
        at=low.at,
        accounts_for_difference=difference is not None and difference == low.value,
        data={
            "missing_at_least": _fmt(need),
            "before": _when(low.at),
            "first_negative_at": _when(low.first_at),
        },
    )


def _moves(
    kind: ExplanationKind, moves: Moves | None, asset: str, difference: Decimal | None
) -> Explanation | None:
    if moves is None or moves.net == 0:
        return None
    with exact():
        effect = -moves.net  # what leaving them out does to computed - reported
        fixes = difference is not None and difference + moves.net == 0
    count = len(moves.ids)
    if kind == ExplanationKind.DELETED:
        detail = f"{count} transaction(s) you deleted move {_fmt(moves.net)} {asset}; " + (
            "restoring them makes the balances agree"
            if fixes
            else "they are left out of the computed balance"
        )
    else:
        detail = (
            f"{count} pending transaction(s) move {_fmt(moves.net)} {asset}; the computed balance leaves "
            "them out" + ("; the source counts them already, which is the whole difference" if fixes else "")
        )
    return Explanation(
        kind=kind,
        detail=detail,
        amount=effect,
        transactions=tuple(moves.ids[:50]),
        accounts_for_difference=fixes,
        data={"count": count, "net": _fmt(moves.net)},
    )


def _gap_explanations(gaps: Sequence[AccountGap], asset: str) -> list[Explanation]:
    specific = [g for g in gaps if g.assets and not g.unreported_balances and _concerns(g, asset)]
    named = re.compile(rf"(?<![A-Za-z0-9]){re.escape(asset)}(?![a-z0-9])")
    # detected gaps whose detail names the asset first (the rest may still explain it)
    detected = sorted(
        (g for g in gaps if not g.assets and not g.always), key=lambda g: not named.search(g.detail or "")
    )
    generic = [g for g in gaps if not g.assets and g.always]
    out = []
    for gap in [*specific, *detected, *generic]:
        what = gap.detail or gap.description
        out.append(
            Explanation(
                kind=ExplanationKind.COVERAGE_GAP,
                detail=f"{gap.title}" + (f": {what}" if what else "") + f" (source: {gap.connector_id})",
                gap_id=gap.gap_id,
                remedy=gap.remedy,
                data={"connector_id": gap.connector_id, "always": gap.always, "since": _when(gap.since)},
            )
        )
    return out


def _concerns(gap: AccountGap, asset: str) -> bool:
    import fnmatch

    return not gap.assets or any(fnmatch.fnmatchcase(asset, p) for p in gap.assets)


def _unlinked(
    halves: Sequence[Half],
    linked: set[tuple[str, str]],
    account_id: str,
    key: str,
    difference: Decimal,
    max_ratio: Decimal,
) -> Explanation | None:
    """Unlinked withdrawals (difference < 0: a deposit is missing here) or deposits (> 0) of the same
    asset in the owner's other accounts, of an amount close to the difference."""
    want = "out" if difference < 0 else "in"
    size = abs(difference)
    found: list[tuple[Decimal, Half]] = []
    with exact():
        for h in halves:
            if (
                h.account_id == account_id
                or h.asset_key != key
                or h.direction != want
                or not h.linkable
                or h.node in linked
                or h.amount <= 0
            ):
                continue
            gap = abs(h.amount - size)
            if gap <= max(h.amount, size) * max_ratio:
                found.append((gap, h))
    if not found:
        return None
    found.sort(key=lambda item: (item[0], item[1].ts, item[1].tx_id))
    best = [h for _, h in found[:_MAX_CANDIDATES]]
    side = "withdrawal" if want == OUT else "deposit"
    here = "deposit" if want == OUT else "withdrawal"
    names = "; ".join(
        f"{_fmt(h.amount)} {h.asset} from account {h.account_id} on {_when(from_us(h.ts))}" for h in best
    )
    return Explanation(
        kind=ExplanationKind.UNLINKED_TRANSFER,
        detail=(
            f"unlinked {side}(s) of a close amount in your other accounts ({names}): the matching {here} "
            "may be missing here, or the two need linking by hand"
        ),
        amount=difference,
        transactions=tuple(h.tx_id for h in best),
        accounts_for_difference=found[0][0] == 0,
        data={"accounts": sorted({h.account_id for h in best})},
    )


@dataclass
class AccountView:
    """What explaining one account needs."""

    account: AccountRecord
    gaps: Sequence[AccountGap]
    snapshot: tuple[datetime, list[Balance]] | None


def explain_account(
    view: AccountView,
    result: Scan,
    halves: Sequence[Half],
    links: Sequence[TransferLink],
    max_ratio: Decimal,
    asset_key: AssetKeyer,
    now: datetime,
) -> list[BalanceRow]:
    """The balance rows of one account with their explanations (see the module docstring)."""
    account = view.account
    computed = {
        asset: value for (acc, asset), value in result.computed.items() if acc == account.id and value != 0
    }
    reported = reported_totals(view.snapshot[1]) if view.snapshot is not None else None
    assets = set(computed) | set(reported or {})
    assets |= {asset for (acc, asset), low in result.low.items() if acc == account.id and low.value < 0}
    assets |= {asset for (acc, asset) in result.deleted if acc == account.id}
    assets |= {asset for (acc, asset) in result.pending if acc == account.id}
    linked = {(x.withdrawal, x.asset_key) for x in links} | {(x.deposit, x.asset_key) for x in links}
    rows = []
    for asset in sorted(assets):
        slot = (account.id, asset)
        value = computed.get(asset, _ZERO)
        unreported = [g for g in view.gaps if g.unreported_balances and _concerns(g, asset)]
        explanations: list[Explanation] = []
        difference: Decimal | None
        if reported is not None and asset in reported:
            rep: Decimal | None = reported[asset]
        elif unreported:
            rep = None
            explanations.extend(
                Explanation(
                    kind=ExplanationKind.NOT_REPORTED,
                    detail=f"{g.title}: the source reports no balance for {asset}",
                    gap_id=g.gap_id,
                    remedy=g.remedy,
                )
                for g in unreported
            )
        elif reported is None and account.connector_id == "manual":
            rep = None  # a manual account (issue 12): reconciled against nothing until a source is added
            explanations.append(
                Explanation(
                    kind=ExplanationKind.NO_REPORT,
                    detail="a manual account: its balance is what its entries say (no source reports one)",
                    remedy="connect a key, xpub or address to the account (txsync connect ... --account), "
                    "then txsync balances --refresh",
                )
            )
        elif reported is None:
            rep = None
            explanations.append(
                Explanation(
                    kind=ExplanationKind.NO_REPORT,
                    detail="no balances reported for this account yet: refresh them from the source",
                    remedy="txsync balances --refresh (or OwnerLedger.refresh_reported)",
                )
            )
        else:
            rep = _ZERO
        with exact():
            difference = None if rep is None else value - rep
        quiet = not (result.deleted.get(slot) or result.pending.get(slot))
        if difference == 0 and value == 0 and slot not in result.low and quiet:
            continue
        status = (
            "not_reported"
            if unreported and rep is None
            else "no_report"
            if rep is None
            else ("ok" if difference == 0 else "mismatch")
        )
        key = result.tickers.get(slot) or asset_key(account.connector_id, asset, now)
        low = result.low.get(slot)
        missing = _missing_acquisition(low, asset, difference) if low is not None else None
        if missing is not None:
            explanations.append(missing)
        if difference:
            for kind, table in (
                (ExplanationKind.DELETED, result.deleted),
                (ExplanationKind.PENDING, result.pending),
            ):
                found = _moves(kind, table.get(slot), asset, difference)
                if found is not None:
                    explanations.append(found)
            unlinked = _unlinked(halves, linked, account.id, key, difference, max_ratio)
            if unlinked is not None:
                explanations.append(unlinked)
            explanations.extend(_gap_explanations(view.gaps, asset))
        explanations.sort(key=lambda e: not e.accounts_for_difference)
        rows.append(
            BalanceRow(
                scope="account",
                owner_id=account.owner_id,
                account_id=account.id,
                asset=asset,
                asset_key=key,
                computed=value,
                reported=rep,
                difference=difference,
                status=status,
                explanations=tuple(explanations),
            )
        )
    return rows


def explain_owner(owner_id: str, account_rows: Sequence[BalanceRow], result: Scan) -> list[BalanceRow]:
    """The owner's rows: per asset (one name across connectors), accounts summed; ``reported`` is
    ``None`` when an account holding it reports nothing for it."""
    by_key: dict[str, list[BalanceRow]] = defaultdict(list)
    for row in account_rows:
        by_key[row.asset_key or f"ticker:{row.asset}"].append(row)
    out = []
    for key in sorted(by_key, key=lambda k: (sorted({r.asset for r in by_key[k]}), k)):
        rows = by_key[key]
        names = sorted({r.asset for r in rows})
        with exact():
            computed = sum((r.computed for r in rows), _ZERO)
            reported = (
                None
                if any(r.reported is None for r in rows)
                else sum((r.reported for r in rows if r.reported is not None), _ZERO)
            )
            difference = None if reported is None else computed - reported
        explanations: list[Explanation] = []
        low = result.owner_low.get(key)
        if low is not None:
            missing = _missing_acquisition(low, names[0], difference)
            if missing is not None:
                explanations.append(missing.model_copy(update={"data": {**missing.data, "scope": "owner"}}))
        seen = {(e.kind, e.detail) for e in explanations}
        for r in rows:
            if r.difference:
                for e in r.explanations:
                    if (e.kind, e.detail) in seen:
                        continue  # the owner's running balance says the same as the account's
                    seen.add((e.kind, e.detail))
                    explanations.append(e.model_copy(update={"data": {**e.data, "account_id": r.account_id}}))
        status = (
            "mismatch"
            if difference
            else "ok"
            if difference == 0
            else ("not_reported" if any(r.status == "not_reported" for r in rows) else "no_report")
        )
        out.append(
            BalanceRow(
                scope="owner",
                owner_id=owner_id,
                account_id=None,
                asset=" / ".join(names),
                asset_key=key,
                computed=computed,
                reported=reported,
                difference=difference,
                status=status,
                explanations=tuple(explanations),
            )
        )
    return out


def as_mapping(rows: Sequence[BalanceRow]) -> Mapping[str, BalanceRow]:
    """Rows by asset (one account's)."""
    return {r.asset: r for r in rows}

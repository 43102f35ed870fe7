"""From statement rows to events: canonical order, grouping, row identities, normalized transactions.

* **Canonical order**: rows sorted by time, then by content inside one second, so the order a file
  lists the rows of one second in never matters (and a newer export of the same history gives the
  same sequence).
* **Events**: rows of one instant form one event according to their operation's
  :class:`~txsync.connectors.binance_statement._operations.Group` (a trade = every trade row of
  (time, account); dust = the dust rows of (time, account); a transfer = the rows of (time, coin)
  across accounts; a deposit, a reward, a fee = the rows of (time, account, operation, coin)). A
  trade event missing its bought or its sold side is joined with the trade event one second before
  or after in the same account (Binance sometimes stamps a fill's rows over two seconds).
* **Identity**: a row's source id is its second, a digest of its content and its rank among
  identical rows of that second (two identical same-second fills stay two rows); an event's key is
  ``stmt:<time>:<account>:<group>[:<operation>][:<coin>]``. Both are stable across exports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from txsync.connectors.binance_statement._operations import Group, Operation, lookup, wallet_of
from txsync.connectors.binance_statement._parse import (
    StatementFormatError,
    StatementRow,
    normalize_amount,
    parse_amount,
    parse_time,
)
from txsync.merge import MATCH_WINDOW_META
from txsync.models import (
    Leg,
    LegRole,
    NormalizedTransaction,
    Origin,
    RawTransaction,
    TransactionKind,
)

__all__ = ["DEPOSIT_MATCH_WINDOW", "Plan", "PlannedRow", "build_plan", "normalize_rows"]

#: How far apart a statement deposit / withdrawal and the API's record of it may be: the statement is
#: stamped when the balance changed, the API deposit when it was first seen (confirmations can take
#: hours on slow chains). Matching still requires the same asset and the exact same amount.
DEPOSIT_MATCH_WINDOW = timedelta(hours=24)

_SECOND = timedelta(seconds=1)


def _time_text(at: datetime) -> str:
    text = at.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{at.microsecond:06d}" if at.microsecond else text


def _time_key(at: datetime) -> str:
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{at.microsecond:06d}" if at.microsecond else text


@dataclass(slots=True)
class PlannedRow:
    """A row in canonical order with its identity and the event it belongs to."""

    row: StatementRow
    op: Operation
    source_id: str = ""
    event: str = ""
    digest_line: bytes = b""

    def payload(self) -> dict[str, Any]:
        """The raw record stored for this row (no file position: it changes between exports)."""
        r = self.row
        return {
            "user_id": r.user_id,
            "utc_time": _time_text(r.time),
            "account": r.account,
            "operation": r.operation,
            "coin": r.coin,
            "change": r.change_text,
            "remark": r.remark,
            "event": self.event,
        }


@dataclass
class Plan:
    """The whole file in canonical order, with the places a page may end."""

    rows: list[PlannedRow]
    #: Indexes i such that a page may end after row i (never inside a second or inside an event).
    cuts: list[int]
    unknown: dict[str, int] = field(default_factory=dict)  # unknown operation -> rows


def _content(row: StatementRow) -> tuple[str, str, str, str, str, str]:
    return (row.account, row.operation, row.coin, normalize_amount(row.change), row.remark, row.user_id)


def build_plan(rows: Iterable[StatementRow]) -> Plan:
    """Order, identify and group the rows of a statement."""
    ordered = sorted(rows, key=lambda r: (r.time, _content(r)))
    planned = [PlannedRow(r, lookup(r.operation, r.account)) for r in ordered]

    # Row identities: second + content digest + rank among identical rows of that second.
    seen: dict[tuple[datetime, str], int] = {}
    for p in planned:
        account, operation, coin, amount, remark, user = _content(p.row)
        line = "\x1f".join((_time_text(p.row.time), account, operation, coin, amount, remark, user))
        p.digest_line = line.encode() + b"\n"
        content = hashlib.blake2b(p.digest_line, digest_size=8).hexdigest()
        rank = seen[(p.row.time, content)] = seen.get((p.row.time, content), -1) + 1
        p.source_id = f"{p.row.time.strftime('%Y%m%d%H%M%S')}{p.row.time.microsecond or ''}-{content}-{rank}"

    # Events of one instant.
    events: dict[str, list[PlannedRow]] = {}
    for p in planned:
        r, op = p.row, p.op
        stamp = _time_key(r.time)
        if op.group == Group.TRADE:
            key = f"stmt:{stamp}:{r.account}:trade"
        elif op.group == Group.DUST:
            key = f"stmt:{stamp}:{r.account}:dust"
        elif op.group == Group.TRANSFER:
            key = f"stmt:{stamp}:transfer:{r.coin}"
        elif op.group == Group.MULTI:
            key = f"stmt:{stamp}:{r.account}:{op.name}"
        else:
            key = f"stmt:{stamp}:{r.account}:{op.name}:{r.coin}"
        p.event = key
        events.setdefault(key, []).append(p)

    linked = _join_split_trades(events)

    # A page may end after a row when the next row is in a later second and no event spans both.
    cuts = []
    for i in range(len(planned) - 1):
        here, nxt = planned[i].row.time, planned[i + 1].row.time
        if nxt != here and (here, nxt) not in linked:
            cuts.append(i)
    if planned:
        cuts.append(len(planned) - 1)
    unknown: dict[str, int] = {}
    for p in planned:
        if not p.op.known:
            unknown[p.op.name] = unknown.get(p.op.name, 0) + 1
    return Plan(planned, cuts, unknown)


def _complete(rows: Sequence[PlannedRow]) -> bool:
    principal = [p.row.change for p in rows if p.op.role == LegRole.PRINCIPAL]
    return any(c > 0 for c in principal) and any(c < 0 for c in principal)


def _join_split_trades(events: dict[str, list[PlannedRow]]) -> set[tuple[datetime, datetime]]:
    """Join an incomplete trade event with the adjacent-second trade event of its account.

    Returns the (second, next second) pairs an event now spans, where no page may end."""
    trades: dict[str, list[tuple[datetime, str]]] = {}
    for key, rows in events.items():
        if rows[0].op.group == Group.TRADE:
            trades.setdefault(rows[0].row.account, []).append((rows[0].row.time, key))
    linked: set[tuple[datetime, datetime]] = set()
    for series in trades.values():
        series.sort()
        joined: set[str] = set()
        for i, (at, key) in enumerate(series):
            if key in joined or key not in events or _complete(events[key]):
                continue
            partner = None
            if i > 0 and series[i - 1][1] not in joined and at - series[i - 1][0] == _SECOND:
                partner = i - 1
            elif i + 1 < len(series) and series[i + 1][1] not in joined and series[i + 1][0] - at == _SECOND:
                partner = i + 1
            if partner is None:
                continue
            first, second = sorted((i, partner))
            keep, gone = series[first][1], series[second][1]
            for p in events[gone]:
                p.event = keep
            events[keep].extend(events.pop(gone))
            joined.update((keep, gone))
            linked.add((series[first][0], series[second][0]))
    return linked


# -- normalization ------------------------------------------------------------------------------------


def normalize_rows(raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
    """The events of a page's raws (grouped by the ``event`` their payload names), in page order."""
    grouped: dict[str, list[RawTransaction]] = {}
    for raw in raws:
        payload = raw.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
            raise StatementFormatError("stored row lacks its event", source=raw.stream, row=None)
        grouped.setdefault(payload["event"], []).append(raw)
    for key, members in grouped.items():
        yield _event(key, members)


def _event(key: str, raws: Sequence[RawTransaction]) -> NormalizedTransaction:
    rows = []
    for raw in raws:
        p = raw.payload
        try:
            at = parse_time(str(p["utc_time"]))
            change = parse_amount(str(p["change"]))
        except (KeyError, ValueError) as exc:
            raise StatementFormatError(f"stored row is malformed ({exc})", source=raw.stream) from None
        rows.append((raw, at, str(p["account"]), str(p["operation"]), str(p["coin"]), change,
                     str(p.get("remark") or ""), str(p.get("user_id") or "")))
    ops = [lookup(op, account) for _, _, account, op, _, _, _, _ in rows]
    primary = ops[0]
    at = min(r[1] for r in rows).astimezone(UTC)

    # Legs: one per (coin, role, wallet), summed; zero sums dropped (one kept if all are zero).
    sums: dict[tuple[str, LegRole, str], Decimal] = {}
    for (_, _, account, _, coin, change, _, _), op in zip(rows, ops, strict=True):
        slot = (coin, op.role, wallet_of(account))
        sums[slot] = sums.get(slot, Decimal(0)) + change
    legs = [Leg(asset=c, amount=a, role=r, wallet=w) for (c, r, w), a in sums.items() if a]
    if not legs:
        coin, role, wallet = next(iter(sums))
        legs = [Leg(asset=coin, amount=0, role=role, wallet=wallet)]

    net = sum((leg.amount for leg in legs), Decimal(0))
    kind = primary.kind
    if primary.negative_kind is not None and len({leg.asset for leg in legs}) == 1 and net < 0:
        kind = primary.negative_kind
    flags: set[str] = set()
    names = sorted({op.name for op in ops})
    unknown = sorted({op.name for op in ops if not op.known})
    if unknown:
        flags.add("unknown_type")
        kind = TransactionKind.OTHER
    meta: dict[str, Any] = {
        "operations": names,
        "accounts": sorted({r[2] for r in rows}),
    }
    users = sorted({r[7] for r in rows if r[7]})
    if users:
        meta["user_id"] = users[0]
    remarks = sorted({r[6] for r in rows if r[6]})
    if remarks:
        meta["remarks"] = remarks
    if primary.category:
        meta["category"] = primary.category
    if any(op.wide_match for op in ops):
        meta[MATCH_WINDOW_META] = int(DEPOSIT_MATCH_WINDOW.total_seconds())
    description = "Binance statement: " + ", ".join(names)
    if unknown:
        description = "unknown Binance statement operation " + ", ".join(repr(u) for u in unknown)
    return NormalizedTransaction(
        account_id=raws[0].account_id,
        key=key,
        kind=kind,
        timestamp=at,
        legs=legs,
        origin=Origin.FILE,
        sources=[raw.ref for raw in raws],
        description=description,
        flags=frozenset(flags),
        meta=meta,
    )

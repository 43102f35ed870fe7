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
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from txsync.connectors.binance_statement._operations import Group, Operation, lookup, wallet_of
from txsync.connectors.binance_statement._parse import (
    StatementFormatError,
    StatementRow,
    parse_amount,
    parse_time,
)
from txsync.imports.values import time_key, time_text
from txsync.merge import MATCH_WINDOW_META
from txsync.models import (
    Leg,
    LegRole,
    NormalizedTransaction,
    Origin,
    RawTransaction,
    TransactionKind,
)

__all__ = [
    "DEPOSIT_MATCH_WINDOW",
    "Plan",
    "PlannedRow",
    "build_plan",
    "content",
    "normalize_rows",
    "plan_rows",
    "sort_key",
]

#: How far apart a statement deposit / withdrawal and the API's record of it may be: the statement is
#: stamped when the balance changed, the API deposit when it was first seen (confirmations can take
#: hours on slow chains). Matching still requires the same asset and the exact same amount.
DEPOSIT_MATCH_WINDOW = timedelta(hours=24)

_SECOND = timedelta(seconds=1)


def _time_text(at: datetime) -> str:
    return time_text(at)


def _time_key(at: datetime) -> str:
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{at.microsecond:06d}" if at.microsecond else text


@dataclass(slots=True)
class PlannedRow:
    """A row in canonical order with its identity, the event it belongs to and whether a page may
    end after it (never inside an instant, nor inside an event that spans two)."""

    row: StatementRow
    op: Operation
    source_id: str = ""
    event: str = ""
    digest_line: bytes = b""
    cut_after: bool = False

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
    """A whole (small) file in canonical order, with the places a page may end (for tests and tools:
    the connector streams the same plan without holding it)."""

    rows: list[PlannedRow]
    #: Indexes i such that a page may end after row i (never inside a second or inside an event).
    cuts: list[int]
    unknown: dict[str, int] = field(default_factory=dict)  # unknown operation -> rows


def content(row: StatementRow) -> tuple[str, str, str, str, str, str]:
    """What identifies a row besides its time (the amount in canonical form)."""
    return (row.account, row.operation, row.coin, row.canonical_change(), row.remark, row.user_id)


def sort_key(row: StatementRow) -> bytes:
    """The canonical order of rows as bytes: time, then content (a file's own order never matters)."""
    return "\x00".join((time_key(row.time), *content(row))).encode()


def build_plan(rows: Iterable[StatementRow]) -> Plan:
    """Order, identify and group the rows of a statement held in memory."""
    ordered = sorted(rows, key=sort_key)
    planned = list(plan_rows(ordered))
    unknown: dict[str, int] = {}
    for p in planned:
        if not p.op.known:
            unknown[p.op.name] = unknown.get(p.op.name, 0) + 1
    return Plan(planned, [i for i, p in enumerate(planned) if p.cut_after], unknown)


@dataclass
class _Trade:
    """The last trade event of an account: when, its key, its rows, and whether it is joined or waits
    for the next second's event of the account to complete it."""

    at: datetime
    key: str
    rows: list[PlannedRow]
    joined: bool = False
    waiting: bool = False


@dataclass
class _Instant:
    at: datetime
    rows: list[PlannedRow]


def plan_rows(rows: Iterable[StatementRow]) -> Iterator[PlannedRow]:
    """Identities, events and page cuts of rows given in canonical order (see :func:`sort_key`), as a
    stream: memory holds about one second of rows, whatever the size of the file.

    Row identity: second + content digest + rank among identical rows of that second. Events of one
    instant by operation group; a trade event missing its bought or sold side is joined with the
    account's trade event one second before or after (Binance sometimes stamps a fill's rows over two
    seconds); no page may end inside an event, so never between the two seconds a join spans.
    """
    last: dict[str, _Trade] = {}
    pending: deque[_Instant] = deque()
    links: list[tuple[datetime, datetime]] = []  # (first, second) instants a joined event spans
    previous_line = b""
    rank = 0
    current: list[PlannedRow] = []
    stamp_at: datetime | None = None
    stamp_text = stamp_id = ""

    def close_instant() -> Iterator[PlannedRow]:
        instant = _Instant(current[0].row.time, list(current))
        _group(instant, last, links)
        pending.append(instant)
        while len(pending) > 1 and pending[0].at + _SECOND < instant.at:
            yield from _emit(pending.popleft(), links)

    for row in rows:
        if current and row.time != current[0].row.time:
            yield from close_instant()
            current = []
        if row.time != stamp_at:
            stamp_at = row.time
            stamp_text = _time_text(row.time)
            stamp_id = f"{row.time.strftime('%Y%m%d%H%M%S')}{row.time.microsecond or ''}"
        account, operation, coin, amount, remark, user = content(row)
        line = "\x1f".join((stamp_text, account, operation, coin, amount, remark, user))
        digest_line = line.encode() + b"\n"
        rank = rank + 1 if digest_line == previous_line else 0
        previous_line = digest_line
        digest = hashlib.blake2b(digest_line, digest_size=8).hexdigest()
        source_id = f"{stamp_id}-{digest}-{rank}"
        current.append(PlannedRow(row, lookup(row.operation, row.account), source_id, "", digest_line))
    if current:
        yield from close_instant()
    while pending:
        yield from _emit(pending.popleft(), links)


def _event_key(p: PlannedRow) -> str:
    r, op = p.row, p.op
    stamp = _time_key(r.time)
    if op.group == Group.TRADE:
        return f"stmt:{stamp}:{r.account}:trade"
    if op.group == Group.DUST:
        return f"stmt:{stamp}:{r.account}:dust"
    if op.group == Group.TRANSFER:
        return f"stmt:{stamp}:transfer:{r.coin}"
    if op.group == Group.MULTI:
        return f"stmt:{stamp}:{r.account}:{op.name}"
    return f"stmt:{stamp}:{r.account}:{op.name}:{r.coin}"


def _group(instant: _Instant, last: dict[str, _Trade], links: list[tuple[datetime, datetime]]) -> None:
    """Give the rows of one instant their events, joining split trades with the second before."""
    trades: dict[str, list[PlannedRow]] = {}
    for p in instant.rows:
        p.event = _event_key(p)
        if p.op.group == Group.TRADE:
            trades.setdefault(p.row.account, []).append(p)
    for account, members in trades.items():
        event = _Trade(instant.at, members[0].event, members)
        before = last.get(account)
        if (before is not None and not before.joined and instant.at - before.at == _SECOND
                and (before.waiting or not _complete(members))):
            for p in members:
                p.event = before.key
            before.joined = event.joined = True
            links.append((before.at, instant.at))
        else:
            event.waiting = not _complete(members)
        last[account] = event


def _emit(instant: _Instant, links: list[tuple[datetime, datetime]]) -> Iterator[PlannedRow]:
    spanned = any(first <= instant.at < second for first, second in links)
    links[:] = [(first, second) for first, second in links if second > instant.at]
    for p in instant.rows[:-1]:
        p.cut_after = False
    instant.rows[-1].cut_after = not spanned
    yield from instant.rows


def _complete(rows: Sequence[PlannedRow]) -> bool:
    principal = [p.row.change for p in rows if p.op.role == LegRole.PRINCIPAL]
    return any(c > 0 for c in principal) and any(c < 0 for c in principal)


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

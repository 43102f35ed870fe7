"""Group matching: one description against several of another origin whose net deltas add up.

A statement lists the fills of one second as one event, or splits one fill over two seconds; several
funding fees of one instant... When no single description of the other origin matches, the merge
looks for a *group* in the time window (see :func:`merge_groups`). The higher-priority origin keeps
its granularity; the lower one's descriptions join its transactions and the others get an empty
*cover* part, so nothing is counted twice and nothing is lost.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from txsync.merge._parts import ORIGIN_PRIORITY, duration_us, effective, net_of
from txsync.merge._types import PageBatch, RawWrite, StoredTransaction

__all__ = [
    "GROUP_MAX_ITEMS",
    "GROUP_MAX_STEPS",
    "MATCH_WINDOW_META",
    "MAX_MATCH_WINDOW",
    "PageState",
    "merge_groups",
    "origins_of",
    "window_us",
]

#: A description may widen how far apart in time it matches another origin's description of the same
#: event by putting this many seconds in its ``meta`` (a deposit's statement row is stamped when the
#: funds were credited, the API record when the deposit was first seen). The widest of the engine's
#: tolerance and both sides' windows applies; amounts must still be equal.
MATCH_WINDOW_META = "match_window_s"
#: The widest window a description may ask for.
MAX_MATCH_WINDOW = timedelta(days=2)
#: Group matching considers at most this many candidates per side, nearest in time first ...
GROUP_MAX_ITEMS = 24
#: ... and gives up on a description after this many search steps (it then stays unmatched).
GROUP_MAX_STEPS = 20_000
#: Part-key infix of cover parts (a stream name can never contain "~").
_COVER = "~cover"


def origins_of(stx: StoredTransaction) -> set[str]:
    """The origins of a transaction's parts."""
    return {p["origin"] for p in stx.parts.values()}


MAX_WINDOW_US = duration_us(MAX_MATCH_WINDOW)


def window_us(part: Mapping[str, Any]) -> int:
    """The match window a part asked for through ``meta`` (0 if none), capped."""
    meta = part.get("meta")
    if not meta:
        return 0
    raw = meta.get(MATCH_WINDOW_META)
    if raw is None or isinstance(raw, bool):
        return 0
    try:
        seconds = Decimal(str(raw))
    except ArithmeticError:
        return 0
    if not seconds.is_finite() or seconds <= 0:
        return 0
    return min(int(seconds * 1_000_000), MAX_WINDOW_US)


def _priority(origin: str) -> int:
    return ORIGIN_PRIORITY.index(origin) if origin in ORIGIN_PRIORITY else len(ORIGIN_PRIORITY)


@dataclass
class PageState:
    """What :func:`merge_page` holds while it merges one page (shared with the group step)."""

    batch: PageBatch
    working: dict[str, StoredTransaction]
    created: set[str]
    touched: dict[str, None]
    claimed: set[str]
    raw_rows: dict[str, RawWrite]
    links: dict[tuple[str, str, str], str]
    changed_raws: set[str]

    def move(self, src: str, dst: str) -> None:
        """Dissolve ``src`` (created in this page) into ``dst``: its parts, raws and links follow."""
        moved = self.working.pop(src)
        target = self.working[dst]
        target.parts = {**target.parts, **moved.parts}
        self.created.discard(src)
        self.touched.pop(src, None)
        self.touched[dst] = None
        for row in self.raw_rows.values():
            if row.tx_id == src:
                row.tx_id = dst
                self.changed_raws.add(row.source_id)
        for ref, tid in self.links.items():
            if tid == src:
                self.links[ref] = dst

    def add_part(self, tid: str, key: str, part: dict[str, Any]) -> None:
        """Give ``tid`` a part (a cover) and mark it for writing."""
        stx = self.working[tid]
        if stx.parts.get(key) != part:
            stx.parts = {**stx.parts, key: part}
        self.touched[tid] = None


@dataclass(frozen=True, slots=True)
class _Item:
    id: str
    ts: int
    origin: str
    net: dict[str, Decimal]
    #: The widest match window its descriptions asked for (0: the engine's tolerance only).
    window: int = 0


def _item(stx: StoredTransaction) -> _Item | None:
    """The transaction as a group-matching item, if it holds descriptions of one origin only."""
    origins = origins_of(stx)
    if len(origins) != 1:
        return None
    eff = effective(stx.parts)
    net = net_of(eff.legs)
    if not net:
        return None
    return _Item(stx.id, eff.ts, eff.origin, net, max(window_us(p) for p in stx.parts.values()))


def _reach(me: _Item, tol: int) -> int:
    """How far in time group partners of ``me`` are looked for.

    An event moving one asset (a deposit, a withdrawal, a reward...) may be matched as far as the
    widest window either side asked for (a statement stamps a deposit when it was credited, the API
    when it was first seen): look as far as any description may ask. Trades (several assets) keep
    their own window.
    """
    own = max(tol, me.window)
    return max(own, MAX_WINDOW_US) if len(me.net) == 1 else own


def _close(me: _Item, other: _Item, tol: int) -> bool:
    """Whether ``other`` is near enough in time to ``me`` for the windows both asked for."""
    return abs(other.ts - me.ts) <= max(tol, me.window, other.window)


def merge_groups(
    window: Any, pending: Sequence[tuple[str, str]], state: PageState, tol: int
) -> int:
    """Level 3 for groups: match each still-unmatched new description against several descriptions.

    For every transaction created in this page without a match (``pending``), look at the account's
    transactions within ``tol`` of it:

    1. one of them already holds this very description (it was merged into another origin's
       transaction when read through another connection of the account): it lands there;
    2. otherwise search a *group*: a set of single-origin transactions, this one included, where the
       descriptions of this page's origin and those of one other origin have equal net deltas (a
       statement event of one second against the API's several fills, a fill split over two seconds,
       several funding fees of one instant). The higher-priority origin keeps its transactions; each
       lower-priority description joins one of them (new ones are dissolved into them; a stored one
       absorbs a new higher-priority description instead, or - when none is left - gets an empty
       cover of the higher origin); every higher transaction left without a lower description gets an
       empty cover part of the lower origin, so it can never be matched again. Totals are unchanged
       and nothing is counted twice.

    Returns how many of this page's descriptions were matched this way.
    """
    matched = 0
    page_items: dict[str, list[tuple[int, str]]] = {}  # account -> sorted (ts, id) of pending
    for tid, _ in pending:
        stx = state.working[tid]
        page_items.setdefault(stx.account_id, []).append((effective(stx.parts).ts, tid))
    for items in page_items.values():
        items.sort()
    grouped: set[str] = set()
    pending_ids = {tid for tid, _ in pending}

    for tid, pkey in pending:
        if tid not in state.created or tid in grouped:
            continue  # dissolved into another transaction, or already part of a group
        me = state.working[tid]
        account = me.account_id
        mine = _item(me)
        ts = effective(me.parts).ts
        reach = tol if mine is None else _reach(mine, tol)
        pool: dict[str, StoredTransaction] = {}
        for cand in window(account, ts - reach, ts + reach, 2 * GROUP_MAX_ITEMS):
            pool[cand.id] = state.working.get(cand.id, cand)
        ordered = page_items[account]
        lo = bisect.bisect_left(ordered, (ts - reach, ""))
        for other_ts, other in ordered[lo:]:
            if other_ts > ts + reach:
                break
            if other in state.working:
                pool[other] = state.working[other]
        pool.pop(tid, None)

        # 1. The same description already merged elsewhere (read through another connection).
        holder = next((c for c in sorted(pool) if pkey in pool[c].parts), None)
        if holder is not None:
            state.working.setdefault(holder, pool[holder])
            state.move(tid, holder)
            matched += 1
            continue

        # 2. A group (every member within the windows it and this description asked for).
        if mine is None:
            continue
        candidates = [
            item
            for cid, stx in sorted(pool.items())
            if cid not in state.claimed and cid not in grouped and (item := _item(stx)) is not None
            and _close(mine, item, tol)
        ]
        for other_origin in sorted({c.origin for c in candidates} - {mine.origin}, key=_priority):
            same = [c for c in candidates if c.origin == mine.origin]
            others = [c for c in candidates if c.origin == other_origin]
            members = _find_group(mine, same, others)
            if members is None:
                continue
            for m in members:
                state.working.setdefault(m.id, pool[m.id] if m.id in pool else state.working[m.id])
            _resolve_group(members, mine.origin, other_origin, state)
            for m in members:
                grouped.add(m.id)
                state.claimed.add(m.id)
                if m.origin == mine.origin and m.id in pending_ids:
                    matched += 1
            break
    return matched


def _find_group(x: _Item, same: Sequence[_Item], others: Sequence[_Item]) -> list[_Item] | None:
    """A set containing ``x``, items of ``same`` (x's origin) and at least one of ``others``, where the
    net deltas of x's side equal those of the other side; nearest items are tried first. ``None``
    when there is none (or the search budget runs out)."""

    def near(items: Sequence[_Item]) -> list[_Item]:
        return sorted(items, key=lambda it: (abs(it.ts - x.ts), it.id))[:GROUP_MAX_ITEMS]

    rest = sorted(
        [(1, it) for it in near(same)] + [(-1, it) for it in near(others)],
        key=lambda pair: (abs(pair[1].ts - x.ts), pair[1].id),
    )
    assets = sorted({a for _, it in rest for a in it.net} | set(x.net))
    if not set(x.net) <= {a for sign, it in rest if sign < 0 for a in it.net}:
        return None  # some asset of x never appears on the other side
    index = {a: i for i, a in enumerate(assets)}
    zero = Decimal(0)

    def vector(sign: int, item: _Item) -> list[Decimal]:
        vec = [zero] * len(assets)
        for asset, amount in item.net.items():
            vec[index[asset]] = amount if sign > 0 else -amount
        return vec

    vectors = [vector(sign, it) for sign, it in rest]
    n = len(rest)
    # Bounds of what the items from i on can still add, per asset (for pruning).
    high = [[zero] * len(assets) for _ in range(n + 1)]
    low = [[zero] * len(assets) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for k, v in enumerate(vectors[i]):
            high[i][k] = high[i + 1][k] + (v if v > 0 else zero)
            low[i][k] = low[i + 1][k] + (v if v < 0 else zero)

    chosen: list[int] = []
    steps = 0

    def search(i: int, current: list[Decimal], has_other: bool) -> bool:
        nonlocal steps
        steps += 1
        if steps > GROUP_MAX_STEPS:
            raise _BudgetExhausted
        if has_other and not any(current):
            return True
        if i == n:
            return False
        for k, c in enumerate(current):
            if c and not (low[i][k] <= -c <= high[i][k]):
                return False
        chosen.append(i)
        nxt = [c + v for c, v in zip(current, vectors[i], strict=True)]
        if search(i + 1, nxt, has_other or rest[i][0] < 0):
            return True
        chosen.pop()
        return search(i + 1, current, has_other)

    try:
        found = search(0, vector(1, x), False)
    except _BudgetExhausted:
        return None
    return [x, *(rest[i][1] for i in chosen)] if found else None


class _BudgetExhausted(Exception):
    pass


def _cover(origin: str, group: str, like: Mapping[str, Any], ts: int) -> dict[str, Any]:
    """An empty part of ``origin``: says "this event is described by that origin too" (elsewhere)."""
    return {
        "origin": origin,
        "kind": like["kind"],
        "ts": ts,
        "status": like["status"],
        "legs": [],
        "sources": [],
        "cover": group,
    }


def _resolve_group(members: Sequence[_Item], origin_a: str, origin_b: str, state: PageState) -> None:
    """Rearrange the parts of a matched group (see :func:`_merge_groups`)."""
    high_origin, low_origin = sorted((origin_a, origin_b), key=_priority)

    def order(items: Iterable[_Item]) -> list[_Item]:
        return sorted(items, key=lambda it: (it.ts, it.id))

    high = order(m for m in members if m.origin == high_origin)
    low = order(m for m in members if m.origin == low_origin)
    low_keys = sorted(k for m in low for k in state.working[m.id].parts)
    group = hashlib.blake2b("\x1f".join(low_keys).encode(), digest_size=10).hexdigest()

    high_new = [m for m in high if m.id in state.created]
    high_keepers = [m.id for m in high if m.id not in state.created]
    low_new = [m for m in low if m.id in state.created]
    low_stored = [m for m in low if m.id not in state.created]
    # A stored lower-priority transaction cannot vanish: it absorbs a new higher-priority one.
    for low_item, high_item in zip(low_stored, high_new, strict=False):
        state.move(high_item.id, low_item.id)
        high_keepers.append(low_item.id)
    high_keepers.extend(m.id for m in high_new[len(low_stored) :])
    high_keepers.sort(key=lambda tid: (effective(state.working[tid].parts).ts, tid))
    anchor = high_keepers[0]
    anchor_part = next(p for p in state.working[anchor].parts.values() if p["origin"] == high_origin)
    for low_item in low_stored[len(high_new) :]:
        # No higher-priority description left to absorb: an empty cover of the higher origin keeps
        # its lower legs from counting twice (the group's totals are in the keepers).
        state.add_part(low_item.id, f"{high_origin}:{_COVER}:{group}",
                       _cover(high_origin, group, anchor_part, low_item.ts))
    for low_item in low_new:
        state.move(low_item.id, anchor)
    for tid in high_keepers:
        stx = state.working[tid]
        if low_origin not in origins_of(stx):
            eff = effective(stx.parts)
            like = next(p for p in stx.parts.values() if p["origin"] == high_origin)
            state.add_part(tid, f"{low_origin}:{_COVER}:{group}", _cover(low_origin, group, like, eff.ts))

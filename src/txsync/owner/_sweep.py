"""The linker's sweep: the connected components of one asset's candidate graph, built from its halves
read in time order, with memory bounded by the halves within one window of the sweep and the
components still open (never by the ledger).

A heuristic edge joins two halves at most ``pad`` (the window, or the clock skew if larger) apart in
time, so a component is closed once the sweep has gone ``pad`` past its last half, and past the last
half of every hash group (halves sharing an on-chain hash or transfer id in both directions) it holds.
The linker solves each closed component on its own (:mod:`txsync.owner.linker`).

*Dirty* marks (:class:`DirtyMarks`) say where something changed: time ranges per asset, padded by
``pad`` on both sides (the linker also marks the halves that share a hash with a changed half's former
version, and both ends of links it must reconsider). Only components holding a half inside a dirty
range are handed back; a sweep of a range starts ``pad``
before it, and if a dirty component reaches back to that start (it may have edges further back) the
sweep says so (:class:`Truncated`) and is started again earlier.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from txsync.owner._halves import IN, OUT, Half

__all__ = ["Component", "DirtyMarks", "Ranges", "Truncated", "half_keys", "sweep"]

Node = tuple[str, str]


def half_keys(half: Half) -> list[str]:
    """The hash-group keys of a half: ``h:`` + its on-chain hash, ``i:`` + its transfer id."""
    keys = []
    if half.tx_hash:
        keys.append("h:" + half.tx_hash)
    if half.internal_id:
        keys.append("i:" + half.internal_id)
    return keys


class Ranges:
    """Disjoint, sorted closed intervals of times (µs): each added point covers ``pad`` around it."""

    def __init__(self, pad: int) -> None:
        self.pad = pad
        self.lo: list[int] = []
        self.hi: list[int] = []

    def add(self, ts: int) -> bool:
        """Cover ``ts`` (and ``pad`` around it); whether anything new is covered."""
        lo, hi = ts - self.pad, ts + self.pad
        i = bisect.bisect_left(self.hi, lo)
        j = bisect.bisect_right(self.lo, hi)
        if i < j:
            if self.lo[i] <= lo and hi <= self.hi[j - 1] and j - i == 1:
                return False
            lo, hi = min(lo, self.lo[i]), max(hi, self.hi[j - 1])
        self.lo[i:j] = [lo]
        self.hi[i:j] = [hi]
        return True

    def __contains__(self, ts: int) -> bool:
        i = bisect.bisect_right(self.lo, ts) - 1
        return i >= 0 and ts <= self.hi[i]

    def spans(self) -> list[tuple[int, int]]:
        """The intervals, in time order."""
        return list(zip(self.lo, self.hi, strict=True))


class DirtyMarks:
    """Where a linking run must re-solve: time ranges per asset key and hashes of former versions."""

    def __init__(self, pad: int) -> None:
        self.pad = pad
        self.ranges: dict[str, Ranges] = {}
        #: The hash-group keys of the former versions of changed halves (their partners are marked too).
        self.ghost_keys: set[str] = set()
        #: Halves marked (each new, changed, removed, deleted or restored half counts once).
        self.count = 0

    def add(self, asset_key: str, ts: int) -> bool:
        """Mark one point of one asset; whether it widened the marks."""
        ranges = self.ranges.get(asset_key)
        if ranges is None:
            ranges = self.ranges[asset_key] = Ranges(self.pad)
        return ranges.add(ts)

    def half(self, half: Half, *, former: bool = False) -> None:
        """Mark a changed half (``former``: the version it replaces, whose hashes are remembered)."""
        self.add(half.asset_key, half.ts)
        if former:
            self.ghost_keys.update(half_keys(half))

    def of(self, asset_key: str) -> Ranges | None:
        """The marked ranges of one asset, if any."""
        return self.ranges.get(asset_key)


class Truncated(Exception):
    """A dirty component reaches back to the start of the sweep: sweep again from ``start``."""

    def __init__(self, start: int) -> None:
        super().__init__(start)
        self.start = start


@dataclass
class Component:
    """A connected component of eligible halves (possibly a union of several: solving them together
    gives what solving each alone gives)."""

    halves: list[Half] = field(default_factory=list)
    notes: dict[Node, str | None] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    until: int = 0
    reach: int = 0
    dirty: bool = False


def sweep(
    rows: Iterable[tuple[Half, str | None]],
    *,
    pad: int,
    start: int | None,
    end: int | None,
    ranges: Ranges | None,
    groups: dict[str, list[int]],
    eligible: Callable[[Half], bool],
    edge: Callable[[Half, Half], bool],
    stale_note: Callable[[Half], None],
) -> Iterator[Component]:
    """The dirty components of one asset's halves ``rows`` (read in time order from ``start``).

    ``ranges`` ``None``: everything is dirty. Reading stops once past ``end`` with no dirty component
    open. ``edge(w, d)``: whether withdrawal half ``w`` and deposit half ``d`` (at most ``pad`` apart)
    are candidates; ``groups``: hashes shared by halves further apart, whose members are joined
    whatever the rules say (over-joining is harmless: the solver splits what has no edge).
    ``stale_note``: called for a half that may not be linked but carries a note in a dirty range.
    Raises :class:`Truncated` when a dirty component may have edges before ``start``.
    """
    # recent eligible halves by (direction, account, has a hash, has a transfer id): two halves that
    # both carry a hash (or both a transfer id) can only pair by that id, found through ``recent``
    lanes: dict[tuple[str, str, bool, bool], deque[Half]] = {}
    recent: dict[str, list[Half]] = {}
    recent_order: deque[tuple[int, str]] = deque()
    root_of: dict[Node, int] = {}
    comps: dict[int, Component] = {}
    anchors: dict[str, int] = {}
    heap: list[tuple[int, int]] = []
    open_dirty = 0
    serial = 0

    def dirty_at(half: Half) -> bool:
        return ranges is None or half.ts in ranges

    def merge(a: int, b: int) -> int:
        nonlocal open_dirty
        if a == b:
            return a
        ca, cb = comps[a], comps[b]
        if len(ca.halves) < len(cb.halves):
            a, b, ca, cb = b, a, cb, ca
        open_dirty -= int(ca.dirty) + int(cb.dirty)
        for h in cb.halves:
            root_of[h.node] = a
        ca.halves.extend(cb.halves)
        ca.notes.update(cb.notes)
        for k in cb.keys:
            anchors[k] = a
        ca.keys |= cb.keys
        ca.reach = min(ca.reach, cb.reach)
        ca.dirty = ca.dirty or cb.dirty
        open_dirty += int(ca.dirty)
        del comps[b]
        if cb.until > ca.until:
            ca.until = cb.until
            heapq.heappush(heap, (ca.until, a))
        return a

    def close(comp: Component) -> Component | None:
        for h in comp.halves:
            root_of.pop(h.node, None)
        for k in comp.keys:
            if anchors.get(k) is not None and anchors[k] not in comps:
                del anchors[k]
        if not comp.dirty:
            return None
        if start is not None and comp.reach < start + pad:
            raise Truncated(comp.reach - pad)
        return comp

    def expire(now: int | None) -> Iterator[Component]:
        nonlocal open_dirty
        while heap and (now is None or heap[0][0] < now):
            until, root = heapq.heappop(heap)
            comp = comps.get(root)
            if comp is None or comp.until != until:
                continue
            del comps[root]
            open_dirty -= int(comp.dirty)
            done = close(comp)
            if done is not None:
                yield done

    for half, note in rows:
        ts = half.ts
        yield from expire(ts)
        if end is not None and ts > end and open_dirty == 0:
            return
        if not eligible(half):
            if note is not None and dirty_at(half):
                stale_note(half)
            continue
        serial += 1
        comp = Component(
            halves=[half], notes={half.node: note}, until=ts + pad, reach=ts, dirty=dirty_at(half)
        )
        me = serial
        comps[me] = comp
        root_of[half.node] = me
        open_dirty += int(comp.dirty)
        heapq.heappush(heap, (comp.until, me))
        # candidates: halves of the other direction in other accounts at most pad before
        other = IN if half.direction == OUT else OUT
        while recent_order and recent_order[0][0] < ts - pad:
            _, key = recent_order.popleft()
            kept = [h for h in recent.get(key, ()) if h.ts >= ts - pad]
            if kept:
                recent[key] = kept
            else:
                recent.pop(key, None)
        candidates: dict[Node, Half] = {}
        for key in half_keys(half):
            for cand in recent.get(key, ()):
                if cand.direction == other and cand.account_id != half.account_id and cand.ts >= ts - pad:
                    candidates[cand.node] = cand
        hashed, transfer = bool(half.tx_hash), bool(half.internal_id)
        for (direction, account, lane_hashed, lane_transfer), lane in lanes.items():
            if direction != other or account == half.account_id:
                continue
            while lane and lane[0].ts < ts - pad:
                lane.popleft()
            if (hashed and lane_hashed) or (transfer and lane_transfer):
                continue  # only the same hash or transfer id could pair them: looked up above
            for cand in lane:
                candidates[cand.node] = cand
        for cand in candidates.values():
            w, d = (half, cand) if half.direction == OUT else (cand, half)
            if edge(w, d):
                root = root_of.get(cand.node)
                if root is not None:
                    me = merge(me, root)
        for key in half_keys(half):
            members = groups.get(key)
            if members is None:
                continue
            c = comps[me]
            c.keys.add(key)
            c.reach = min(c.reach, members[0])
            if members[-1] > c.until:
                c.until = members[-1]
                heapq.heappush(heap, (c.until, me))
            anchor = anchors.get(key)
            if anchor is not None and anchor in comps:
                me = merge(me, anchor)
            anchors[key] = me
        lane = lanes.setdefault((half.direction, half.account_id, hashed, transfer), deque())
        while lane and lane[0].ts < ts - pad:
            lane.popleft()
        lane.append(half)
        for key in half_keys(half):
            recent.setdefault(key, []).append(half)
            recent_order.append((ts, key))
    yield from expire(None)

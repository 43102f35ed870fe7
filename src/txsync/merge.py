"""Dedup-merge: how raws and normalized transactions of one page join the stored ledger.

Three levels (DESIGN.md, "Sync semantics"):

1. **Same raw twice** - a raw's identity is (connection, stream, source id); seeing it again updates it
   in place (or leaves it alone when the payload is byte-identical).
2. **Several raws, one event** - a normalized transaction's id is derived from (account, origin, key),
   so every stream or connection describing the same event lands on the same stored transaction. Each
   description is kept as a *part* (keyed by origin, stream and key); the parts of one origin add
   up: an EVM hash seen in the normal, internal and token lists becomes one transaction with every leg.
3. **File vs API** - a file row and an API record of one event have different keys. They are matched
   on (account, net asset deltas, time within a tolerance) as multisets: each stored transaction can be
   claimed by one description of the other origin only, so two identical same-second trades in the file
   and two in the API make two transactions, never one. Both provenances are kept.
   **Groups**: when no single description matches, a description is matched against *several* of the
   other origin in the same time window whose net deltas add up to the same totals (a statement that
   lists the fills of one second as one event, or splits one fill over two seconds). The
   higher-priority origin keeps its granularity; the lower one's descriptions join its transactions and
   the others get an empty *cover* part, so nothing is counted twice and nothing is lost (see
   :func:`_merge_groups`). This needs a backend with ``window_candidates`` (optional, see
   :class:`WindowBackend`).

The functions here are pure; a :class:`MergeBackend` (the store's view inside one database
transaction) supplies what is stored. Amounts stay ``Decimal`` end to end.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from txsync import jsonutil
from txsync.models import NormalizedTransaction, Origin, RawTransaction, net_deltas
from txsync.models.values import exact

__all__ = [
    "GROUP_MAX_ITEMS",
    "GROUP_MAX_STEPS",
    "MATCH_WINDOW_META",
    "MAX_MATCH_WINDOW",
    "ORIGIN_PRIORITY",
    "Effective",
    "MergeBackend",
    "MergeCounts",
    "MergeWrites",
    "PageBatch",
    "StoredRaw",
    "StoredTransaction",
    "WindowBackend",
    "duration_us",
    "effective",
    "encode_payload",
    "from_us",
    "merge_page",
    "part_key",
    "signature",
    "to_us",
]

#: Which origin's parts describe a merged transaction's legs: the API is authoritative.
ORIGIN_PRIORITY: tuple[str, ...] = (Origin.API.value, Origin.FILE.value, Origin.MANUAL.value)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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


_US = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact integer arithmetic)."""
    return duration_us(moment - _EPOCH)


def duration_us(delta: timedelta) -> int:
    """A duration in whole microseconds (exact)."""
    return delta // _US


def from_us(us: int) -> datetime:
    """Inverse of :func:`to_us`."""
    return _EPOCH + timedelta(microseconds=us)


def encode_payload(payload: Any) -> str:
    """Canonical text of a raw payload (compact; Decimal numbers keep their digits)."""
    try:
        # Fast path: payloads of string-amount APIs hold no Decimal; the C encoder handles them.
        return json.dumps(payload, separators=(",", ":"), allow_nan=False, check_circular=False)
    except TypeError:
        return jsonutil.dumps(payload)


def part_key(tx: NormalizedTransaction, stream: str) -> str:
    """The key a description of an event is stored under inside its transaction.

    Descriptions from different streams add up (parts); the same stream read through another
    connection of the account (a replaced key) replaces its own part instead of doubling it.
    """
    return f"{tx.origin}:{stream}:{tx.key}"


def encode_part(tx: NormalizedTransaction) -> dict[str, Any]:
    """The stored form of one description of an event."""
    part: dict[str, Any] = {
        "origin": str(tx.origin),
        "kind": str(tx.kind),
        "ts": to_us(tx.timestamp),
        "status": str(tx.status),
        "legs": [[leg.asset, str(leg.amount), str(leg.role), leg.wallet] for leg in tx.legs],
        "sources": [[s.connection_id, s.stream, s.source_id] for s in tx.sources],
    }
    if tx.external_ids:
        part["external_ids"] = dict(tx.external_ids)
    if tx.description is not None:
        part["description"] = tx.description
    if tx.flags:
        part["flags"] = sorted(tx.flags)
    if tx.meta:
        part["meta"] = dict(tx.meta)
    part["sig"] = signature(net_deltas(tx.legs))
    return part


def signature(net: Mapping[str, Decimal]) -> str:
    """A short fingerprint of net asset deltas, equal for equal deltas whatever their notation."""
    if not net:
        return "-"
    text = ";".join(f"{asset}={amount.normalize():f}" for asset, amount in sorted(net.items()))
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


@dataclass(slots=True)
class Effective:
    """What a set of parts says about the event, read by the store for its columns and queries."""

    kind: str
    ts: int
    status: str
    origin: str  # the origin whose parts supply the legs
    origins: str
    signature: str
    legs: list[list[Any]]


def _net_of(legs: Iterable[Sequence[Any]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    with exact():
        for leg in legs:
            totals[leg[0]] = totals.get(leg[0], Decimal(0)) + Decimal(leg[1])
    return {asset: amount for asset, amount in totals.items() if amount != 0}


def _specificity(item: tuple[str, Mapping[str, Any]]) -> tuple[bool, bool, str]:
    key, part = item
    return ("cover" in part, part["kind"] == "other", key)


def effective(parts: Mapping[str, Mapping[str, Any]]) -> Effective:
    """Combine parts: the highest-priority origin present supplies the legs (its parts add up);
    its most specific part supplies kind, time and status, whatever order the parts arrived in (a
    described part before a cover, a specific kind before ``other``, then by part key)."""
    origins = sorted({p["origin"] for p in parts.values()})
    chosen = next(o for o in (*ORIGIN_PRIORITY, *origins) if o in origins)
    mine = [p for p in parts.values() if p["origin"] == chosen]
    primary = mine[0] if len(mine) == 1 else min(
        (item for item in parts.items() if item[1]["origin"] == chosen), key=_specificity
    )[1]
    if len(mine) == 1:
        legs = primary["legs"]
        sig = primary.get("sig") or signature(_net_of(legs))
    else:
        legs = [leg for p in mine for leg in p["legs"]]
        sig = signature(_net_of(legs))
    return Effective(
        kind=primary["kind"],
        ts=primary["ts"],
        status=primary["status"],
        origin=chosen,
        origins=",".join(origins),
        signature=sig,
        legs=legs,
    )


@dataclass(slots=True)
class StoredRaw:
    """A raw as stored: its canonical payload text and the transaction it belongs to."""

    payload: str
    transaction_id: str | None


@dataclass(slots=True)
class StoredTransaction:
    """A stored transaction as the merge needs it."""

    id: str
    account_id: str
    parts: dict[str, dict[str, Any]]
    body: str
    created_at: int


@dataclass
class PageBatch:
    """One page to commit: its raws, what they normalize to, and the cursor after them."""

    connection_id: str
    account_id: str
    stream: str
    raws: Sequence[RawTransaction]
    transactions: Sequence[NormalizedTransaction]
    cursor: Any
    fetched_at: datetime


@dataclass
class MergeCounts:
    """What committing a page did."""

    raws_new: int = 0
    raws_updated: int = 0
    raws_unchanged: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    matched: int = 0  # merged with a description of another origin (file vs API)
    unknown: int = 0  # kept with the ``unknown_type`` flag

    def add(self, other: MergeCounts) -> None:
        """Accumulate ``other`` into this."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class MergeWrites:
    """Rows the backend must write, computed by :func:`merge_page`."""

    raws: list[dict[str, Any]] = field(default_factory=list)  # inserts and updates (upsert)
    new_transactions: list[dict[str, Any]] = field(default_factory=list)
    changed_transactions: list[dict[str, Any]] = field(default_factory=list)
    origins: set[tuple[str, str]] = field(default_factory=set)  # (account, origin) seen


class MergeBackend(Protocol):
    """The store's view inside the database transaction that commits one page."""

    def load_raws(self, connection_id: str, stream: str, source_ids: Sequence[str]) -> dict[str, StoredRaw]:
        """Stored raws of this (connection, stream) among ``source_ids``."""
        ...

    def load_raw_links(self, refs: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        """Transaction ids of stored raws given as (connection, stream, source id)."""
        ...

    def load_transactions(self, ids: Sequence[str]) -> dict[str, StoredTransaction]:
        """Stored transactions among ``ids``."""
        ...

    def account_origins(self, account_id: str) -> set[str]:
        """Origins that have ever contributed transactions to the account."""
        ...

    def match_candidates(
        self, account_id: str, signature: str, ts_from: int, ts_to: int
    ) -> list[StoredTransaction]:
        """Stored transactions of the account with this signature and time in [ts_from, ts_to]."""
        ...

    def write(self, writes: MergeWrites) -> None:
        """Persist the computed rows."""
        ...


class WindowBackend(MergeBackend, Protocol):
    """A backend that can also list an account's transactions in a time window (any signature).

    Optional: with it, :func:`merge_page` also matches groups (one description against several of
    another origin whose deltas add up); without it, only one-to-one matching happens.
    """

    def window_candidates(
        self, account_id: str, ts_from: int, ts_to: int, limit: int
    ) -> list[StoredTransaction]:
        """Stored transactions of the account with time in [ts_from, ts_to], at most ``limit`` of
        them, nearest to the middle of the window first."""
        ...


def merge_page(
    backend: MergeBackend, batch: PageBatch, *, tolerance: timedelta, now_us: int
) -> MergeCounts:
    """Merge one page into the store through ``backend``; returns what changed."""
    counts = MergeCounts()
    writes = MergeWrites()
    fetched_us = to_us(batch.fetched_at)

    # Level 1: raws by identity.
    source_ids = [raw.source_id for raw in batch.raws]
    stored_raws = backend.load_raws(batch.connection_id, batch.stream, source_ids) if source_ids else {}
    raw_rows: dict[str, dict[str, Any]] = {}
    for raw in batch.raws:
        text = encode_payload(raw.payload)
        old = stored_raws.get(raw.source_id)
        if old is None:
            counts.raws_new += 1
        elif old.payload == text:
            counts.raws_unchanged += 1
        else:
            counts.raws_updated += 1
        raw_rows[raw.source_id] = {
            "connection_id": batch.connection_id,
            "stream": batch.stream,
            "source_id": raw.source_id,
            "account_id": batch.account_id,
            "transaction_id": old.transaction_id if old is not None else None,
            "payload": text,
            "fetched_at": fetched_us,
            "_changed": old is None or old.payload != text,
        }

    # Which stored transaction does each description belong to?
    txs = batch.transactions
    if len({tx.origin for tx in txs}) > 1:
        raise ValueError("all transactions of a page must have the same origin")
    other_refs = []
    for tx in txs:
        for src in tx.sources:
            if (src.connection_id, src.stream) != (batch.connection_id, batch.stream):
                other_refs.append((src.connection_id, src.stream, src.source_id))
    links = backend.load_raw_links(other_refs) if other_refs else {}
    for sid, row in raw_rows.items():
        if row["transaction_id"] is not None:
            links[(batch.connection_id, batch.stream, sid)] = row["transaction_id"]

    ids = [tx.id for tx in txs]
    wanted = set(ids) | set(links.values())
    working: dict[str, StoredTransaction] = backend.load_transactions(sorted(wanted)) if wanted else {}
    created: set[str] = set()
    origins_present: dict[str, set[str]] = {}
    claimed: set[str] = set()  # stored transactions matched across origins in this page
    touched: dict[str, None] = {}  # targets in page order
    pending: list[tuple[str, str]] = []  # (new transaction, part key) left unmatched: try groups

    for tx, tx_id in zip(txs, ids, strict=True):
        part = encode_part(tx)
        pkey = part_key(tx, batch.stream)
        target: str | None = None
        for src in tx.sources:
            linked = links.get((src.connection_id, src.stream, src.source_id))
            if linked is not None and linked in working:
                target = linked
                break
        if target is None and tx_id in working:
            target = tx_id
        if target is None:
            target = _match_other_origin(
                backend, tx, part, pkey, tolerance, working, claimed, origins_present
            )
            if target is not None:
                counts.matched += 1
        if "unknown_type" in tx.flags:
            counts.unknown += 1

        if target is None:
            stx = StoredTransaction(tx_id, tx.account_id, {pkey: part}, "", now_us)
            working[tx_id] = stx
            created.add(tx_id)
            target = tx_id
            if origins_present.get(tx.account_id, set()) - {part["origin"]}:
                pending.append((tx_id, pkey))
        else:
            stx = working[target]
            if stx.parts.get(pkey) != part:
                # The same raws may have been normalized under another key before (a connector
                # upgrade): their old part is replaced, never kept beside the new one.
                mine = {(s.connection_id, s.stream, s.source_id) for s in tx.sources}
                parts = {
                    k: p
                    for k, p in stx.parts.items()
                    if k == pkey
                    or p["origin"] != part["origin"]
                    or not mine & {tuple(x) for x in p["sources"]}
                }
                parts[pkey] = part
                stx.parts = parts
        touched[target] = None
        writes.origins.add((tx.account_id, tx.origin.value))
        for src in tx.sources:
            ref = (src.connection_id, src.stream, src.source_id)
            links[ref] = target
            if ref[:2] == (batch.connection_id, batch.stream) and src.source_id in raw_rows:
                row = raw_rows[src.source_id]
                if row["transaction_id"] != target:
                    row["transaction_id"] = target
                    row["_changed"] = True

    window = getattr(backend, "window_candidates", None)
    if pending and window is not None:
        with exact():
            counts.matched += _merge_groups(
                window, pending, _PageState(batch, working, created, touched, claimed, raw_rows, links),
                duration_us(tolerance),
            )

    # Count per transaction touched: new (created here), updated (stored body changed), unchanged.
    for tid in touched:
        stx = working[tid]
        body = _encode_body(stx.parts)
        if tid in created:
            counts.new += 1
            writes.new_transactions.append(_tx_row(stx, body, now_us))
        elif body != stx.body:
            counts.updated += 1
            writes.changed_transactions.append(_tx_row(stx, body, now_us))
        else:
            counts.unchanged += 1
    for row in raw_rows.values():
        if row.pop("_changed"):
            writes.raws.append(row)
    backend.write(writes)
    return counts


def _match_other_origin(
    backend: MergeBackend,
    tx: NormalizedTransaction,
    part: Mapping[str, Any],
    pkey: str,
    tolerance: timedelta,
    working: dict[str, StoredTransaction],
    claimed: set[str],
    origins_present: dict[str, set[str]],
) -> str | None:
    """Level 3: find a stored transaction of another origin describing the same event.

    Candidates have the same account and net deltas, a time within ``tolerance`` and no description
    of ``tx``'s origin yet; each is claimed once (multiset matching). The nearest in time wins, ties
    broken by id so the result does not depend on order. (A page has one origin, so only stored
    transactions can be candidates.) A candidate that already holds this very description (merged
    there when read through another connection of the account) wins outright.
    """
    origin = str(tx.origin)
    present = origins_present.get(tx.account_id)
    if present is None:
        present = origins_present[tx.account_id] = backend.account_origins(tx.account_id)
    if not present - {origin}:
        return None  # the account holds nothing of another origin: no lookup needed
    sig = part["sig"]
    tol = duration_us(tolerance)
    own = max(tol, _window_us(part))
    # Another origin's description may have asked for a wider window than ours: look as far as any
    # may reach (cheap: the lookup is by signature), then apply the pair's own window. Zero-net
    # events (signature "-") all look alike, so they never get a wide window.
    reach = own if sig == "-" else max(own, _MAX_WINDOW_US)
    ts = part["ts"]
    best: tuple[int, str] | None = None
    candidates: dict[str, StoredTransaction] = {}
    for cand in backend.match_candidates(tx.account_id, sig, ts - reach, ts + reach):
        stx = candidates[cand.id] = working.get(cand.id, cand)
        if pkey in stx.parts:
            working.setdefault(cand.id, stx)
            return cand.id
        if cand.id in claimed or origin in _origins(stx):
            continue
        eff = effective(stx.parts)
        if eff.signature != sig:
            continue
        allowed = own if sig == "-" else max(own, *(_window_us(p) for p in stx.parts.values()))
        if abs(eff.ts - ts) > allowed:
            continue
        rank = (abs(eff.ts - ts), cand.id)
        if best is None or rank < best:
            best = rank
    if best is None:
        return None
    cid = best[1]
    working.setdefault(cid, candidates[cid])
    claimed.add(cid)
    return cid


def _origins(stx: StoredTransaction) -> set[str]:
    return {p["origin"] for p in stx.parts.values()}


def _encode_body(parts: Mapping[str, Any]) -> str:
    body = {"parts": parts}
    try:
        return json.dumps(body, separators=(",", ":"), allow_nan=False, check_circular=False)
    except TypeError:
        return jsonutil.dumps(body)


def _tx_row(stx: StoredTransaction, body: str, now_us: int) -> dict[str, Any]:
    eff = effective(stx.parts)
    return {
        "id": stx.id,
        "account_id": stx.account_id,
        "kind": eff.kind,
        "ts": eff.ts,
        "status": eff.status,
        "origins": eff.origins,
        "signature": eff.signature,
        "body": body,
        "created_at": stx.created_at,
        "updated_at": now_us,
    }


# -- group matching ----------------------------------------------------------------------------------

_MAX_WINDOW_US = duration_us(MAX_MATCH_WINDOW)


def _window_us(part: Mapping[str, Any]) -> int:
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
    return min(int(seconds * 1_000_000), _MAX_WINDOW_US)


def _priority(origin: str) -> int:
    return ORIGIN_PRIORITY.index(origin) if origin in ORIGIN_PRIORITY else len(ORIGIN_PRIORITY)


@dataclass
class _PageState:
    """What :func:`merge_page` holds while it merges one page (shared with the group step)."""

    batch: PageBatch
    working: dict[str, StoredTransaction]
    created: set[str]
    touched: dict[str, None]
    claimed: set[str]
    raw_rows: dict[str, dict[str, Any]]
    links: dict[tuple[str, str, str], str]

    def move(self, src: str, dst: str) -> None:
        """Dissolve ``src`` (created in this page) into ``dst``: its parts, raws and links follow."""
        moved = self.working.pop(src)
        target = self.working[dst]
        target.parts = {**target.parts, **moved.parts}
        self.created.discard(src)
        self.touched.pop(src, None)
        self.touched[dst] = None
        for row in self.raw_rows.values():
            if row["transaction_id"] == src:
                row["transaction_id"] = dst
                row["_changed"] = True
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


def _item(stx: StoredTransaction) -> _Item | None:
    """The transaction as a group-matching item, if it holds descriptions of one origin only."""
    origins = _origins(stx)
    if len(origins) != 1:
        return None
    eff = effective(stx.parts)
    net = _net_of(eff.legs)
    if not net:
        return None
    return _Item(stx.id, eff.ts, eff.origin, net)


def _merge_groups(
    window: Any, pending: Sequence[tuple[str, str]], state: _PageState, tol: int
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
        ts = effective(me.parts).ts
        pool: dict[str, StoredTransaction] = {}
        for cand in window(account, ts - tol, ts + tol, 2 * GROUP_MAX_ITEMS):
            pool[cand.id] = state.working.get(cand.id, cand)
        ordered = page_items[account]
        lo = bisect.bisect_left(ordered, (ts - tol, ""))
        for other_ts, other in ordered[lo:]:
            if other_ts > ts + tol:
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

        # 2. A group.
        mine = _item(me)
        if mine is None:
            continue
        candidates = [
            item
            for cid, stx in sorted(pool.items())
            if cid not in state.claimed and cid not in grouped and (item := _item(stx)) is not None
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
        "sig": "-",
        "cover": group,
    }


def _resolve_group(members: Sequence[_Item], origin_a: str, origin_b: str, state: _PageState) -> None:
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
        if low_origin not in _origins(stx):
            eff = effective(stx.parts)
            like = next(p for p in stx.parts.values() if p["origin"] == high_origin)
            state.add_part(tid, f"{low_origin}:{_COVER}:{group}", _cover(low_origin, group, like, eff.ts))

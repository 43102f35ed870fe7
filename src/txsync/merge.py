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

The functions here are pure; a :class:`MergeBackend` (the store's view inside one database
transaction) supplies what is stored. Amounts stay ``Decimal`` end to end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from txsync import jsonutil
from txsync.models import NormalizedTransaction, Origin, RawTransaction, net_deltas

__all__ = [
    "ORIGIN_PRIORITY",
    "Effective",
    "MergeBackend",
    "MergeCounts",
    "MergeWrites",
    "PageBatch",
    "StoredRaw",
    "StoredTransaction",
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
    for leg in legs:
        totals[leg[0]] = totals.get(leg[0], Decimal(0)) + Decimal(leg[1])
    return {asset: amount for asset, amount in totals.items() if amount != 0}


def effective(parts: Mapping[str, Mapping[str, Any]]) -> Effective:
    """Combine parts: the highest-priority origin present supplies the legs (its parts add up);
    its first part supplies kind, time and status."""
    origins = sorted({p["origin"] for p in parts.values()})
    chosen = next(o for o in (*ORIGIN_PRIORITY, *origins) if o in origins)
    mine = [p for p in parts.values() if p["origin"] == chosen]
    primary = mine[0]
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
            target = _match_other_origin(backend, tx, part, tolerance, working, claimed, origins_present)
            if target is not None:
                counts.matched += 1
        if "unknown_type" in tx.flags:
            counts.unknown += 1

        if target is None:
            stx = StoredTransaction(tx_id, tx.account_id, {pkey: part}, "", now_us)
            working[tx_id] = stx
            created.add(tx_id)
            target = tx_id
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
    tolerance: timedelta,
    working: dict[str, StoredTransaction],
    claimed: set[str],
    origins_present: dict[str, set[str]],
) -> str | None:
    """Level 3: find a stored transaction of another origin describing the same event.

    Candidates have the same account and net deltas, a time within ``tolerance`` and no description
    of ``tx``'s origin yet; each is claimed once (multiset matching). The nearest in time wins, ties
    broken by id so the result does not depend on order. (A page has one origin, so only stored
    transactions can be candidates.)
    """
    origin = str(tx.origin)
    present = origins_present.get(tx.account_id)
    if present is None:
        present = origins_present[tx.account_id] = backend.account_origins(tx.account_id)
    if not present - {origin}:
        return None  # the account holds nothing of another origin: no lookup needed
    sig = part["sig"]
    tol = duration_us(tolerance)
    ts = part["ts"]
    best: tuple[int, str] | None = None
    candidates: dict[str, StoredTransaction] = {}
    for cand in backend.match_candidates(tx.account_id, sig, ts - tol, ts + tol):
        stx = candidates[cand.id] = working.get(cand.id, cand)
        if cand.id in claimed or origin in _origins(stx):
            continue
        eff = effective(stx.parts)
        if eff.signature != sig or abs(eff.ts - ts) > tol:
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

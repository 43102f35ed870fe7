"""Merging one page into the stored ledger (levels 1 to 3; groups in :mod:`txsync.merge._groups`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from txsync import jsonutil
from txsync.merge._groups import MAX_WINDOW_US, PageState, merge_groups, origins_of, window_us
from txsync.merge._parts import (
    duration_us,
    effective,
    encode_body,
    encode_legs,
    encode_part,
    identity_key,
    part_identity,
    part_key,
    part_signature,
    single_texts,
    to_us,
)
from txsync.merge._types import (
    MergeBackend,
    MergeCounts,
    MergeWrites,
    PageBatch,
    RawWrite,
    StoredTransaction,
)
from txsync.models import NormalizedTransaction
from txsync.models.values import exact

__all__ = ["merge_page"]


def merge_page(
    backend: MergeBackend, batch: PageBatch, *, tolerance: timedelta, now_us: int
) -> MergeCounts:
    """Merge one page into the store through ``backend``; returns what changed.

    The common case costs little: a description whose raws are new, whose identity is not stored yet
    and whose account holds descriptions of a single origin (nothing to match) becomes a new
    transaction with one encode of its part; everything else takes the general path below.
    """
    counts = MergeCounts()
    writes = MergeWrites(fetched_at=to_us(batch.fetched_at))
    connection_id, stream = batch.connection_id, batch.stream

    # Level 1: raws by identity.
    source_ids = [raw.source_id for raw in batch.raws]
    stored_raws = backend.load_raws(connection_id, stream, source_ids) if source_ids else {}
    raw_rows: dict[str, RawWrite] = {}
    changed_raws: set[str] = set()
    raw_seqs: dict[str, int] = {}
    encode = jsonutil.encode
    if not stored_raws:  # all new (the common case of a sync)
        for raw in batch.raws:
            sid = raw.source_id
            raw_rows[sid] = RawWrite(sid, encode(raw.payload), None, None, True)
        changed_raws.update(raw_rows)
        counts.raws_new = len(raw_rows)
    for raw in batch.raws if stored_raws else ():
        sid = raw.source_id
        text = encode(raw.payload)
        old = stored_raws.get(sid)
        if old is None:
            counts.raws_new += 1
            changed_raws.add(sid)
        elif old.payload == text:
            counts.raws_unchanged += 1
        elif _same_json(old.payload, text):
            counts.raws_unchanged += 1  # written by an earlier encoder: same value, other text
        else:
            counts.raws_updated += 1
            changed_raws.add(sid)
        if old is not None and old.tx_seq is not None:
            raw_seqs[sid] = old.tx_seq
        raw_rows[sid] = RawWrite(sid, text, None, None if old is None else old.tx_seq, old is None)

    txs = batch.transactions
    if not txs:
        _finish_raws(raw_rows, changed_raws, raw_seqs, {}, writes)
        backend.write(writes)
        return counts
    first = txs[0].origin
    origin = str(first)
    for tx in txs:
        if tx.origin is not first:
            raise ValueError("all transactions of a page must have the same origin")
        if tx.account_id != batch.account_id:
            raise ValueError("every transaction of a page must belong to the page's account")
    account = batch.account_id

    # Which stored transactions may the descriptions belong to: by their raws (links) or identity.
    other_refs = []
    for tx in txs:
        for src in tx.sources:
            if src.connection_id != connection_id or src.stream != stream:
                other_refs.append((src.connection_id, src.stream, src.source_id))
    seq_links = backend.load_raw_links(other_refs) if other_refs else {}
    for sid, seq in raw_seqs.items():
        seq_links[(connection_id, stream, sid)] = seq
    keys = [identity_key(origin, tx.key) for tx in txs]
    working: dict[str, StoredTransaction] = {}
    by_seq: dict[int, str] = {}
    by_key: dict[str, str] = {}
    for key, stx in backend.load_by_key(account, sorted(set(keys))).items():
        stx = working.setdefault(stx.id, stx)
        by_seq[stx.seq] = stx.id  # type: ignore[index]
        by_key[key] = stx.id
    missing = sorted({s for s in seq_links.values() if s not in by_seq})
    if missing:
        for stx in backend.load_by_seq(missing):
            working[stx.id] = stx
            by_seq[stx.seq] = stx.id  # type: ignore[index]
            by_key.setdefault(stx.tx_key, stx.id)
    links = {ref: by_seq[seq] for ref, seq in seq_links.items() if seq in by_seq}

    present = backend.account_origins(account)
    matching = bool(present - {origin})  # descriptions of another origin exist: match against them
    if matching:
        backend.prepare_matching(account)
    created: set[str] = set()
    claimed: set[str] = set()  # stored transactions matched across origins in this page
    touched: dict[str, None] = {}  # targets in page order
    pending: list[tuple[str, str]] = []  # (new transaction, part key) left unmatched: try groups
    landed: dict[str, str] = {}  # target -> identity key of a description of this page that landed there
    writes.origins.add((account, origin))

    for tx, tx_key in zip(txs, keys, strict=True):
        part = encode_part(tx)
        pkey = part_key(tx, stream)
        target: str | None = None
        sources = tx.sources
        # This page's own raws carry the transaction they joined (``row.tx_id``); other raws are in
        # ``links`` (stored links, and raws of other streams named by this page).
        for src in sources:
            if src.connection_id == connection_id and src.stream == stream:
                row = raw_rows.get(src.source_id)
                linked = row.tx_id if row is not None else None
                if linked is None and links:
                    linked = links.get((connection_id, stream, src.source_id))
            elif links:
                linked = links.get((src.connection_id, src.stream, src.source_id))
            else:
                continue
            if linked is not None and linked in working:
                target = linked
                break
        if target is None:
            target = by_key.get(tx_key)
            if target is not None and target not in working:
                target = None
        if target is None and matching:
            target = _match_other_origin(backend, tx, part, pkey, tolerance, working, claimed)
            if target is not None:
                counts.matched += 1
        if "unknown_type" in tx.flags:
            counts.unknown += 1

        if target is None:
            tx_id = tx.id
            stx = StoredTransaction(tx_id, account, {pkey: part}, "", now_us, None, tx_key)
            working[tx_id] = stx
            by_key[tx_key] = tx_id
            created.add(tx_id)
            target = tx_id
            if matching:
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
            landed.setdefault(target, tx_key)
        touched[target] = None
        for src in sources:
            if src.connection_id == connection_id and src.stream == stream:
                row = raw_rows.get(src.source_id)
                if row is not None:
                    row.tx_id = target
                    continue
            links[(src.connection_id, src.stream, src.source_id)] = target

    state = PageState(batch, working, created, touched, claimed, raw_rows, links, changed_raws)
    window = getattr(backend, "window_candidates", None)
    if pending and window is not None:
        with exact():
            counts.matched += merge_groups(window, pending, state, duration_us(tolerance))

    # Count per transaction touched: new (created here), updated (stored body changed), unchanged.
    new_rows = writes.new_transactions
    for tid in touched:
        stx = working[tid]
        if tid in created:
            parts = stx.parts
            if len(parts) == 1 and not matching:  # the common case, without effective()
                (part,) = parts.values()
                stx.kind, stx.ts, stx.status = part["kind"], part["ts"], part["status"]
                stx.origins = part["origin"]
                stx.new_body, stx.legs = single_texts(parts)
            else:
                _row(stx, matching)
            new_rows.append(stx)
            continue
        if stx.tx_key not in {part_identity(k) for k in stx.parts}:
            _heal_identity(stx, landed.get(tid), by_key, writes)
        body = encode_body(stx.parts)
        if body != stx.body:
            counts.updated += 1
            _row(stx, matching, body)
            writes.changed_transactions.append(stx)
        else:
            counts.unchanged += 1
    counts.new = len(new_rows)
    _finish_raws(raw_rows, changed_raws, raw_seqs, working, writes)
    writes.transactions = working
    backend.write(writes)
    return counts


def _finish_raws(
    raw_rows: dict[str, RawWrite], changed: set[str], raw_seqs: dict[str, int],
    working: dict[str, StoredTransaction], writes: MergeWrites,
) -> None:
    """Keep the raws to write: new or changed ones, and those whose transaction changed."""
    out = writes.raws
    for sid, row in raw_rows.items():
        if row.new:
            out.append(row)
            continue
        if row.tx_id is not None:
            target = working[row.tx_id]
            if target.seq is None or target.seq != raw_seqs.get(sid):
                changed.add(sid)
        if sid in changed:
            out.append(row)


def _row(stx: StoredTransaction, matching: bool, body: str | None = None) -> None:
    """Fill the row values of a transaction to write."""
    parts = stx.parts
    eff = effective(parts)
    stx.kind, stx.ts, stx.status, stx.origins = eff.kind, eff.ts, eff.status, eff.origins
    stx.legs = encode_legs(eff.legs)
    stx.new_body = encode_body(parts) if body is None else body
    stx.match_signature = eff.signature if matching else None


def _heal_identity(
    stx: StoredTransaction, landed: str | None, by_key: dict[str, str], writes: MergeWrites
) -> None:
    """A stored transaction whose identifying description is gone (its raws were read again under a
    corrected key) is found from now on by the key of the description that replaced it as well (an
    alias): a second connection reading the corrected record lands on it instead of doubling it. Its
    id stays, so the user's edits stay attached."""
    if landed is None or landed in by_key:
        return  # already found by that key (its own, an alias, or another transaction's)
    if landed not in {part_identity(k) for k in stx.parts}:
        return
    by_key[landed] = stx.id
    writes.aliases.append((stx, landed))


def _same_json(old: str, new: str) -> bool:
    try:
        return bool(jsonutil.loads_stored(old) == jsonutil.loads_stored(new))
    except ValueError:
        return False


def _match_other_origin(
    backend: MergeBackend,
    tx: NormalizedTransaction,
    part: Mapping[str, Any],
    pkey: str,
    tolerance: timedelta,
    working: dict[str, StoredTransaction],
    claimed: set[str],
) -> str | None:
    """Level 3: find a stored transaction of another origin describing the same event.

    Candidates have the same account and net deltas, a time within ``tolerance`` and no description
    of ``tx``'s origin yet; each is claimed once (multiset matching). The nearest in time wins, ties
    broken by id so the result does not depend on order. (A page has one origin, so only stored
    transactions can be candidates.) A candidate that already holds this very description (merged
    there when read through another connection of the account) wins outright.
    """
    origin = tx.origin.value
    sig = part_signature(part)
    tol = duration_us(tolerance)
    own = max(tol, window_us(part))
    # Another origin's description may have asked for a wider window than ours: look as far as any
    # may reach (cheap: the lookup is by signature), then apply the pair's own window. Zero-net
    # events (signature "-") all look alike, so they never get a wide window.
    reach = own if sig == "-" else max(own, MAX_WINDOW_US)
    ts = part["ts"]
    best: tuple[int, str] | None = None
    candidates: dict[str, StoredTransaction] = {}
    for cand in backend.match_candidates(tx.account_id, sig, ts - reach, ts + reach):
        stx = candidates[cand.id] = working.get(cand.id, cand)
        if pkey in stx.parts:
            working.setdefault(cand.id, stx)
            return cand.id
        if cand.id in claimed or origin in origins_of(stx):
            continue
        eff = effective(stx.parts)
        if eff.signature != sig:
            continue
        allowed = own if sig == "-" else max(own, *(window_us(p) for p in stx.parts.values()))
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

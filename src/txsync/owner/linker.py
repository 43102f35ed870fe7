"""Transfer linking across one owner's accounts: exact links by hash first, then one optimal
assignment over the heuristic candidates, with the user's link and unlink decisions on top.

Linking is incremental. Each run reads only the transactions written since the account was last
read (``owner_link_state``), turns them into *halves* (deposit- or withdrawal-like movements of one
asset, :mod:`txsync.owner._halves`), and re-solves only the connected components of the candidate graph
that a changed half belongs to (or belonged to): components are independent, so the result equals a
full re-link, and a run with nothing new changes nothing. The rules:

* **hash**: a withdrawal half and a deposit half of the same asset in two accounts with the same
  on-chain hash (and output index where both name one) or the same exchange transfer id, whose
  networks and addresses agree where both are known, and where no more arrived than left;
* **heuristic**, for what no hash links: same asset, two accounts, the deposit at most ``window``
  (12 h) after the withdrawal (``skew`` of clock difference allowed before it), received <= sent,
  the difference at most ``max_fee_ratio`` (20 %) of what was sent, hashes equal or absent; solved as
  one assignment (:mod:`txsync.owner._assign`): as many pairs as possible, then the nearest in amount
  and time; ties are reported, never guessed;
* **manual**: the user's ``link`` decisions are links whatever the rules say; ``unlink`` decisions
  forbid a pair for good (both survive every re-sync and re-link).
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from txsync.errors import StoreError
from txsync.merge import duration_us, from_us, to_us
from txsync.models.values import exact
from txsync.owner._assign import Assignment, Edge, assign
from txsync.owner._halves import CANDIDATE_KINDS, IN, OUT, REMOVED, AssetKeyer, Half, halves_of
from txsync.owner._sweep import Component, DirtyMarks, Ranges, Truncated, sweep
from txsync.owner.models import LinkMethod, LinkRun, TransferLink
from txsync.store._links import OwnerTables
from txsync.store.records import LedgerTransaction

__all__ = ["LinkRules", "Linker", "default_asset_keyer"]

Node = tuple[str, str]
_KINDS = tuple(sorted(k.value for k in CANDIDATE_KINDS))
_SCALE = 1_000_000
_PAGE = 2000


@dataclass(frozen=True)
class LinkRules:
    """The heuristic's limits (see the module docstring)."""

    window: timedelta = timedelta(hours=12)
    skew: timedelta = timedelta(minutes=10)
    max_fee_ratio: Decimal = Decimal("0.2")


def default_asset_keyer() -> AssetKeyer:
    """One name per asset across connectors: the valuation's asset id (``coin:bitcoin``), else the
    ticker as it is (``ticker:XYZ``)."""
    from txsync.valuation.assets import AssetResolver

    resolver = AssetResolver()
    cache: dict[tuple[str, str, object], str] = {}

    def key(connector_id: str, ticker: str, at: datetime) -> str:
        slot = (connector_id, ticker, at.astimezone(UTC).date())
        found = cache.get(slot)
        if found is None:
            resolution = resolver.resolve(connector_id, ticker, at)
            found = cache[slot] = resolution.asset_id or f"ticker:{ticker}"
        return found

    return key


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Graph:
    """Candidate edges among the eligible halves of some assets."""

    hash_edges: list[Edge]
    heuristic_edges: list[Edge]
    conflicts: dict[Node, str]
    adjacency: dict[Node, set[Node]]
    matched_on: dict[tuple[Node, Node], str]


class Linker:
    """Links the transfers of one owner's accounts in a store (see the module docstring)."""

    def __init__(
        self,
        store: OwnerTables,
        *,
        rules: LinkRules | None = None,
        asset_key: AssetKeyer | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.rules = rules or LinkRules()
        self.asset_key = asset_key or default_asset_keyer()
        self.clock = clock

    # -- reading the ledger ------------------------------------------------------------------------

    def _accounts(self, owner_id: str) -> list[tuple[str, str]]:
        list_accounts = getattr(self.store, "list_accounts")  # noqa: B009 - SqlStore's method
        return [(a.id, a.connector_id) for a in list_accounts(owner_id)]

    def _refresh(
        self,
        owner_id: str,
        account_id: str,
        connector_id: str,
        full: bool,
        since: int | None,
        run: LinkRun,
        marks: DirtyMarks,
    ) -> None:
        """Bring the account's stored halves up to date with its ledger, a page at a time, and mark
        where they changed."""
        store = self.store
        start = None if full else since
        newest: int | None = None
        page: list[tuple[str, LedgerTransaction | None]] = []

        def flush() -> None:
            ids = [tx_id for tx_id, _ in page]
            stored = {h.node: h for h, _ in store.stored_halves(account_id=account_id, tx_ids=ids)}
            fresh: dict[Node, Half] = {}
            for _, tx in page:
                if tx is not None:
                    for half in halves_of(tx, owner_id, connector_id, self.asset_key):
                        fresh[half.node] = half
            removed = [n for n in stored if n not in fresh]
            upserts = [
                h
                for n, h in fresh.items()
                if n not in stored or stored[n].digest() != h.digest() or stored[n].deleted != h.deleted
            ]
            for node in removed:
                marks.half(stored[node], former=True)
            for half in upserts:
                marks.half(half)
                if half.node in stored:
                    marks.half(stored[half.node], former=True)
            marks.count += len(removed) + len(upserts)
            if upserts or removed:
                replaced = [h.node for h in upserts if h.node in stored]
                store.write_halves(upserts, [*removed, *replaced], replace=False)
                self._mark_partners(owner_id, {n[0] for n in removed} | {h.tx_id for h in upserts}, marks)
            page.clear()

        for updated, tx_id, tx in store.ledger_written_since(account_id, start, _KINDS):
            run.read += 1
            newest = updated if newest is None else max(newest, updated)
            page.append((tx_id, tx))
            if len(page) >= _PAGE:
                flush()
        # Transactions whose kind changed (a deposit merged into a trade...) or, on a full run, gone.
        for ids in store.stale_half_txs(account_id, start, _KINDS, gone=full):
            run.read += len(ids)
            page.extend((tx_id, None) for tx_id in ids)
            flush()
        if page:
            flush()
        keep = newest if newest is not None else start
        if keep is not None:
            store.set_link_since(account_id, owner_id, keep, to_us(self.clock()))

    def _mark_partners(self, owner_id: str, tx_ids: set[str], marks: DirtyMarks) -> None:
        """Mark both ends of the stored links of changed transactions (a link's partner must be
        looked at again even where it was no candidate by the rules: a manual link)."""
        for x in self.store.stored_links(owner_id, tx_ids=tx_ids):
            marks.add(x.asset_key, to_us(x.withdrawal_time))
            marks.add(x.asset_key, to_us(x.deposit_time))

    # -- the run -----------------------------------------------------------------------------------

    def run(
        self,
        owner_id: str,
        *,
        accounts: Sequence[str] | None = None,
        full: bool = False,
        since: int | None = None,
        dirty_ids: Iterable[str] = (),
    ) -> LinkRun:
        """Link the owner's transfers; returns what the run did.

        ``accounts``: read only these accounts' new transactions (the engine passes the one it just
        synced; default: every account of the owner). ``since`` (store time, µs): read them from there
        at the latest (the sync's start), even if the stored read position is later. ``full``: read
        everything and re-solve every component (the result is the same as incremental runs give).
        ``dirty_ids``: transactions whose halves must be re-examined (the user's decisions).

        Memory does not grow with the ledger: transactions are read a page at a time, what changed is
        kept as time ranges per asset, and each asset's halves are swept in time order
        (:mod:`txsync.owner._sweep`); what is held at once is one window of halves, the components
        still open, and the owner's links and decisions.
        """
        store = self.store
        run = LinkRun(owner_id=owner_id, full=full)
        pad = max(duration_us(self.rules.window), duration_us(self.rules.skew))
        marks = DirtyMarks(pad)
        owned = self._accounts(owner_id)
        wanted = None if accounts is None else set(accounts)
        for account_id, connector_id in owned:
            position = store.link_since(account_id)
            if wanted is not None and account_id not in wanted and position is not None:
                continue  # (an account never read, or whose reading was forgotten, is read now)
            if since is not None and position is not None:
                position = min(position, since)  # never read: everything is read
            self._refresh(owner_id, account_id, connector_id, full, position, run, marks)

        # Deleted and restored transactions (tombstones do not touch the ledger rows), and halves of
        # transactions removed for good (a manual entry's removal leaves them marked REMOVED).
        flipped = store.deletion_flips(owner_id)
        gone = [h for h in flipped if h.status == REMOVED]
        flipped = [h for h in flipped if h.status != REMOVED]
        if gone:
            for h in gone:
                marks.half(h, former=True)
            marks.count += len(gone)
            store.write_halves([], [h.node for h in gone])
        if flipped:
            store.write_halves([h.with_deleted(not h.deleted) for h in flipped], [])
            for h in flipped:
                marks.half(h, former=True)
            marks.count += len(flipped)
            self._mark_partners(owner_id, {h.tx_id for h in flipped}, marks)
        ids = set(dirty_ids)
        if ids:
            for h, _ in store.stored_halves(owner_id=owner_id, tx_ids=ids):
                marks.half(h, former=True)
                marks.count += 1
            self._mark_partners(owner_id, ids, marks)

        decisions = store.link_decisions(owner_id)
        forbidden = {(d["withdrawal_id"], d["deposit_id"]) for d in decisions if d["decision"] == "unlink"}

        def mark_link(x: TransferLink) -> None:
            marks.add(x.asset_key, to_us(x.withdrawal_time))
            marks.add(x.asset_key, to_us(x.deposit_time))

        # The user's links first: they take their halves out of automatic linking. (Only the links of
        # the user's decisions and the stored manual ones are read, never all the owner's links.)
        manual = self._manual_links(owner_id, decisions)
        manual_nodes: set[Node] = set()
        for link in manual:
            manual_nodes.update({(link.withdrawal, link.asset_key), (link.deposit, link.asset_key)})
        manual_keys = {(m.withdrawal, m.asset_key) for m in manual}
        decided_ids = {str(d[k]) for d in decisions for k in ("withdrawal_id", "deposit_id")}
        links = {
            (x.withdrawal, x.asset_key): x
            for x in [
                *store.stored_links(owner_id, manual=True),
                *store.stored_links(owner_id, tx_ids=decided_ids),
            ]
        }
        stale_manual = sorted(
            k for k, x in links.items() if x.method == LinkMethod.MANUAL and k not in manual_keys
        )
        changed_manual = [m for m in manual if links.get((m.withdrawal, m.asset_key)) != m]
        by_deposit = {(x.deposit, x.asset_key): x for x in links.values()}
        for key in stale_manual:
            mark_link(links[key])
        for m in changed_manual:
            mark_link(m)
            for other in (links.get((m.withdrawal, m.asset_key)), by_deposit.get((m.deposit, m.asset_key))):
                if other is not None:
                    mark_link(other)
        marks.count += 2 * (len(stale_manual) + len(changed_manual))
        # Halves sharing a hash with a changed half's former version were its candidates: look again.
        if marks.ghost_keys:
            for h in store.halves_with_keys(owner_id, marks.ghost_keys):
                marks.half(h)

        run.changed = marks.count
        # The user's links are written first: dropping a stale one deletes by withdrawal, which must not
        # take the automatic link the same run gives that withdrawal afterwards.
        if stale_manual or changed_manual:
            store.write_links(stale_manual, changed_manual, to_us(self.clock()))
            run.links_added += len(changed_manual)
            run.links_removed += sum(1 for k in stale_manual if links[k] not in changed_manual)
            displaced = {
                (other.withdrawal, other.asset_key)
                for m in changed_manual
                for other in (
                    links.get((m.withdrawal, m.asset_key)),
                    by_deposit.get((m.deposit, m.asset_key)),
                )
                if other is not None and other.method != LinkMethod.MANUAL
            }
            run.links_removed += len(displaced)
        assets = store.half_asset_keys(owner_id) if full else set(marks.ranges)
        for asset_key in sorted(assets):
            self._link_asset(
                owner_id, asset_key, None if full else marks.of(asset_key), pad, forbidden, manual_nodes, run
            )
        return run

    def _link_asset(
        self,
        owner_id: str,
        asset_key: str,
        ranges: Ranges | None,
        pad: int,
        forbidden: set[tuple[str, str]],
        manual_nodes: set[Node],
        run: LinkRun,
    ) -> None:
        """Re-solve the components of one asset that hold a marked half (all of them with ``ranges``
        ``None``), writing links and notes a batch at a time.

        The automatic links with an end in a marked range go first (their ends may no longer be
        linkable); then each batch of solved components drops the other links touching its halves and
        writes its own. Only the links dropped are held (to count what really changed)."""
        store = self.store
        spans = None if ranges is None else ranges.spans()
        previous: dict[tuple[str, str], TransferLink] = {}
        for x in store.links_within(owner_id, asset_key, spans):
            if x.method != LinkMethod.MANUAL:
                previous[(x.withdrawal, x.asset_key)] = x
        if previous:
            store.write_links(sorted(previous), [], to_us(self.clock()))
        kept = 0
        batch: list[Component] = []
        # keyed by withdrawal: a component the memo forgot and solves again gives the same links
        pending_add: dict[tuple[str, str], TransferLink] = {}
        pending_notes: dict[Node, str | None] = {}

        def flush() -> None:
            nonlocal kept
            tx_ids = {h.tx_id for comp in batch for h in comp.halves}
            remove = []
            for x in store.stored_links(owner_id, tx_ids=tx_ids, asset_key=asset_key) if tx_ids else []:
                key = (x.withdrawal, x.asset_key)
                if x.method != LinkMethod.MANUAL and key not in previous:
                    previous[key] = x
                    remove.append(key)
            for key, x in pending_add.items():
                if previous.get(key) == x:
                    kept += 1
            if remove or pending_add:
                store.write_links(remove, list(pending_add.values()), to_us(self.clock()))
            if pending_notes:
                store.set_half_notes(pending_notes)
            run.links_added += len(pending_add)
            batch.clear()
            pending_add.clear()
            pending_notes.clear()

        def stale_note(half: Half) -> None:
            pending_notes[half.node] = None

        def eligible(half: Half) -> bool:
            return half.linkable and half.node not in manual_nodes

        def edge(w: Half, d: Half) -> bool:
            if (w.tx_id, d.tx_id) in forbidden:
                return False
            return self._hash_match(w, d) is not None or self._heuristic_ok(w, d)

        # Hash pairs within one window are edges the sweep finds; only those further apart are held.
        groups = store.hash_groups(owner_id, asset_key, wider_than=pad)
        solved: dict[Node, int] = {}
        limit = _PAGE * 4
        for lo, hi in spans if spans is not None else [(None, None)]:
            start = None if lo is None else lo - pad
            back = pad
            while True:
                try:
                    for comp in sweep(
                        store.halves_from(owner_id, asset_key, start),
                        pad=pad,
                        start=start,
                        end=hi,
                        ranges=ranges,
                        groups=groups,
                        eligible=eligible,
                        edge=edge,
                        stale_note=stale_note,
                    ):
                        first = min(comp.halves, key=lambda h: (h.ts, h.tx_id)).node
                        if first in solved:
                            continue
                        last = max(h.ts for h in comp.halves)
                        solved[first] = last
                        if len(solved) > limit:  # forget what the sweep has left well behind
                            horizon = last - 4 * pad
                            solved = {k: v for k, v in solved.items() if v >= horizon}
                            limit = max(_PAGE * 4, 2 * len(solved))
                        self._solve_component(owner_id, comp, forbidden, pending_add, pending_notes, run)
                        batch.append(comp)
                        if len(pending_add) + len(pending_notes) + len(batch) >= _PAGE:
                            flush()
                    break
                except Truncated as exc:
                    assert start is not None
                    start = min(exc.start, start - back)
                    back *= 2
        flush()
        run.links_added -= kept
        run.links_removed += len(previous) - kept

    def _solve_component(
        self,
        owner_id: str,
        comp: Component,
        forbidden: set[tuple[str, str]],
        pending_add: dict[tuple[str, str], TransferLink],
        pending_notes: dict[Node, str | None],
        run: LinkRun,
    ) -> None:
        current = {h.node: h for h in comp.halves}
        run.examined += len(current)
        if len(current) == 1:
            run.components += 1
            ((node, note),) = comp.notes.items()
            if note is not None:
                pending_notes[node] = None
            return
        graph = self._graph(comp.halves, forbidden)
        affected = set(current)
        edges = [*graph.hash_edges, *graph.heuristic_edges]
        if len(current) == 2 and len(edges) == 1 and not graph.conflicts:
            # one withdrawal, one deposit, one candidate edge: the assignment can only choose it
            run.components += 1
            (e,) = edges
            how = graph.matched_on.get((e.w, e.d))
            method = LinkMethod.HASH if how is not None else LinkMethod.HEURISTIC
            x = self._link(owner_id, current[e.w], current[e.d], method, how)
            pending_add[(x.withdrawal, x.asset_key)] = x
            for node, note in comp.notes.items():
                if note is not None:
                    pending_notes[node] = None
            return
        run.components += self._count_components(affected, graph.adjacency)
        links, notes, ties = self._solve(owner_id, affected, graph, current)
        run.ties += ties
        for x in links:
            pending_add[(x.withdrawal, x.asset_key)] = x
        for node, note in notes.items():
            if comp.notes.get(node) != note:
                pending_notes[node] = note

    # -- the user's links ----------------------------------------------------------------------------

    def _manual_links(self, owner_id: str, decisions: Sequence[dict[str, object]]) -> list[TransferLink]:
        out: list[TransferLink] = []
        for decision in decisions:
            if decision["decision"] != "link":
                continue
            w_id, d_id = str(decision["withdrawal_id"]), str(decision["deposit_id"])
            asset_key = decision.get("asset_key")
            pair = self.manual_pair(owner_id, w_id, d_id, None if asset_key is None else str(asset_key))
            if pair is not None:
                w, d = pair
                out.append(self._link(owner_id, w, d, LinkMethod.MANUAL, None))
        return out

    def manual_pair(
        self,
        owner_id: str,
        w_id: str,
        d_id: str,
        asset_key: str | None,
    ) -> tuple[Half, Half] | None:
        """The halves a manual link of ``w_id`` (out) and ``d_id`` (in) joins, if both transactions are
        there, not deleted, and move a common asset out of one and into the other."""
        w_halves = self._halves_of(owner_id, w_id)
        d_halves = self._halves_of(owner_id, d_id)
        for w in w_halves:
            if w.direction != OUT or w.deleted or (asset_key is not None and w.asset_key != asset_key):
                continue
            for d in d_halves:
                if d.direction == IN and not d.deleted and d.asset_key == w.asset_key:
                    return w, d
        return None

    def _halves_of(self, owner_id: str, tx_id: str) -> list[Half]:
        """The halves of any kind of one of the owner's transactions (none if it is gone)."""
        get = getattr(self.store, "get_transaction")  # noqa: B009 - SqlStore's method
        try:
            tx = get(tx_id)
        except StoreError:  # a transaction that is gone: no halves
            return []
        account = getattr(self.store, "get_account")(tx.account_id)  # noqa: B009
        if account.owner_id != owner_id:
            return []
        return halves_of(tx, owner_id, account.connector_id, self.asset_key, any_kind=True)

    # -- candidates ---------------------------------------------------------------------------------

    def _compatible(self, w: Half, d: Half) -> bool:
        if w.account_id == d.account_id or w.asset_key != d.asset_key:
            return False
        if w.network and d.network and w.network != d.network:
            return False
        return not (w.addresses and d.addresses and not (w.addresses & d.addresses))

    @staticmethod
    def _hash_match(w: Half, d: Half) -> str | None:
        if w.tx_hash is not None and w.tx_hash == d.tx_hash:
            if w.out_index is not None and d.out_index is not None and w.out_index != d.out_index:
                return None
            return "tx_hash"
        if w.internal_id is not None and w.internal_id == d.internal_id:
            return "internal_transfer_id"
        return None

    def _cost(self, w: Half, d: Half) -> int:
        rules = self.rules
        with exact():
            gap = abs(w.amount - d.amount)
        amount_part = 0
        if w.amount > 0 and gap:
            amount_part = int(gap * _SCALE / (w.amount * rules.max_fee_ratio))
        window = max(1, duration_us(rules.window))
        time_part = abs(d.ts - w.ts) * _SCALE // window
        return amount_part + time_part

    def _heuristic_ok(self, w: Half, d: Half) -> bool:
        rules = self.rules
        if w.tx_hash and d.tx_hash:
            return False  # equal: the hash rule decides; different: two different transfers
        if w.internal_id and d.internal_id:
            return False
        dt = d.ts - w.ts
        if dt < -duration_us(rules.skew) or dt > duration_us(rules.window):
            return False
        if d.amount > w.amount or w.amount <= 0:
            return False
        with exact():
            gap = w.amount - d.amount
        return gap <= w.amount * rules.max_fee_ratio and self._compatible(w, d)

    def _graph(self, eligible: Sequence[Half], forbidden: set[tuple[str, str]]) -> _Graph:
        graph = _Graph([], [], {}, defaultdict(set), {})
        by_hash: dict[str, list[Half]] = defaultdict(list)
        for h in eligible:
            if h.tx_hash:
                by_hash["h:" + h.tx_hash].append(h)
            if h.internal_id:
                by_hash["i:" + h.internal_id].append(h)
        pairs: set[tuple[Node, Node]] = set()
        for group in by_hash.values():
            outs = [h for h in group if h.direction == OUT]
            ins = [h for h in group if h.direction == IN]
            for w in outs:
                for d in ins:
                    if (w.node, d.node) in pairs or (w.tx_id, d.tx_id) in forbidden:
                        continue
                    how = self._hash_match(w, d)
                    if how is None or w.asset_key != d.asset_key or w.account_id == d.account_id:
                        continue
                    pairs.add((w.node, d.node))
                    with exact():
                        fits = d.amount <= w.amount + w.fee
                    if self._compatible(w, d) and fits:
                        graph.hash_edges.append(Edge(w.node, d.node, self._cost(w, d)))
                        graph.matched_on[(w.node, d.node)] = how
                        graph.adjacency[w.node].add(d.node)
                        graph.adjacency[d.node].add(w.node)
                    else:
                        reason = (
                            f"same {how} as {d.tx_id} but more arrived than left"
                            if not fits
                            else f"same {how} as {d.tx_id} but another network or address"
                        )
                        graph.conflicts.setdefault(w.node, reason)
                        graph.conflicts.setdefault(
                            d.node, f"same {how} as {w.tx_id}: " + reason.split(" but ")[1]
                        )
        per_asset: dict[str, tuple[list[Half], list[Half]]] = defaultdict(lambda: ([], []))
        for h in eligible:
            per_asset[h.asset_key][0 if h.direction == OUT else 1].append(h)
        skew, window = duration_us(self.rules.skew), duration_us(self.rules.window)
        for outs, ins in per_asset.values():
            ins.sort(key=lambda h: (h.ts, h.tx_id))
            times = [h.ts for h in ins]
            for w in outs:
                lo = bisect.bisect_left(times, w.ts - skew)
                hi = bisect.bisect_right(times, w.ts + window)
                for d in ins[lo:hi]:
                    if (w.tx_id, d.tx_id) in forbidden or (w.node, d.node) in pairs:
                        continue
                    if self._heuristic_ok(w, d):
                        graph.heuristic_edges.append(Edge(w.node, d.node, self._cost(w, d)))
                        graph.adjacency[w.node].add(d.node)
                        graph.adjacency[d.node].add(w.node)
        return graph

    @staticmethod
    def _count_components(nodes: set[Node], adjacency: dict[Node, set[Node]]) -> int:
        seen: set[Node] = set()
        count = 0
        for node in nodes:
            if node in seen:
                continue
            count += 1
            stack = [node]
            while stack:
                n = stack.pop()
                if n in seen:
                    continue
                seen.add(n)
                stack.extend(x for x in adjacency.get(n, ()) if x in nodes)
        return count

    # -- solving -----------------------------------------------------------------------------------

    def _solve(
        self, owner_id: str, affected: set[Node], graph: _Graph, current: dict[Node, Half]
    ) -> tuple[list[TransferLink], dict[Node, str | None], int]:
        notes: dict[Node, str | None] = dict.fromkeys(affected)
        hash_edges = [e for e in graph.hash_edges if e.w in affected]
        first = assign(hash_edges)
        taken: set[Node] = set()
        links: list[TransferLink] = []
        for e in first.chosen:
            taken.update({e.w, e.d})
            how = graph.matched_on[(e.w, e.d)]
            links.append(self._link(owner_id, current[e.w], current[e.d], LinkMethod.HASH, how))
        ties = self._note_ties(first, notes, current, "hash")
        for group in first.ties:
            for e in group:
                taken.update({e.w, e.d})
        heuristic = [
            e for e in graph.heuristic_edges if e.w in affected and e.w not in taken and e.d not in taken
        ]
        second = assign(heuristic)
        for e in second.chosen:
            links.append(self._link(owner_id, current[e.w], current[e.d], LinkMethod.HEURISTIC, None))
            taken.update({e.w, e.d})
        ties += self._note_ties(second, notes, current, "heuristic")
        for node, reason in graph.conflicts.items():
            if node in affected and node not in taken:
                notes[node] = json.dumps({"kind": "conflict", "detail": reason}, sort_keys=True)
        return links, notes, ties

    @staticmethod
    def _note_ties(
        result: Assignment, notes: dict[Node, str | None], current: dict[Node, Half], how: str
    ) -> int:
        for kind, groups in (("tie", result.ties), ("oversized", result.oversized)):
            for group in groups:
                members = sorted({e.w for e in group} | {e.d for e in group})
                for node in members:
                    others = sorted({n[0] for n in members if n != node})
                    detail = (
                        f"equally good {how} pairings: link by hand with one of {', '.join(others)}"
                        if kind == "tie"
                        else f"too many {how} candidates to pair automatically: link by hand"
                    )
                    notes[node] = json.dumps({"kind": kind, "with": others, "detail": detail}, sort_keys=True)
        return len(result.ties) + len(result.oversized)

    def _link(
        self, owner_id: str, w: Half, d: Half, method: LinkMethod, matched_on: str | None
    ) -> TransferLink:
        rules = self.rules
        flags: list[str] = []
        with exact():
            sent = w.amount + w.fee
            received = d.amount
            shortfall = w.amount - received
            ratio_exceeded = w.amount > 0 and shortfall > w.amount * rules.max_fee_ratio
            if method == LinkMethod.HASH and ratio_exceeded:
                flags.append("partial")  # the rest of what left went to someone else
                fee_leg, fee = Decimal(0), w.fee
            else:
                if ratio_exceeded:
                    flags.append("large_difference")
                fee_leg = shortfall if shortfall > 0 else Decimal(0)
                fee = sent - received
        if method == LinkMethod.HEURISTIC:
            cost = Decimal(self._cost(w, d))
            confidence = (Decimal("0.95") - Decimal("0.45") * cost / (2 * _SCALE)).quantize(Decimal("0.01"))
        else:
            confidence = Decimal(1)
        return TransferLink(
            withdrawal=w.tx_id,
            deposit=d.tx_id,
            owner_id=owner_id,
            withdrawal_account=w.account_id,
            deposit_account=d.account_id,
            asset=w.asset,
            deposit_asset=d.asset,
            asset_key=w.asset_key,
            method=method,
            matched_on=matched_on,
            confidence=confidence,
            sent=sent,
            received=received,
            declared_fee=w.fee,
            fee=fee,
            fee_leg=fee_leg,
            flags=tuple(flags),
            withdrawal_time=from_us(w.ts),
            deposit_time=from_us(d.ts),
        )

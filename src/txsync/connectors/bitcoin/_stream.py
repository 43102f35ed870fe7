"""The ``transactions`` stream: address discovery, Esplora paging, pending re-checks, the cursor.

One sync runs in three steps:

1. **Discovery.** The stats of every address of the receive and change chains, from index 0 up to
   ``gap_limit`` addresses past the last used one (the cursor remembers the last used index of each
   chain, so a sync starts with the whole known window and only extends it).
2. **Paging.** Only addresses whose stats changed since the last sync (a different confirmed
   ``tx_count``, or anything unconfirmed) are paged, newest first: ``/address/:a/txs`` (unconfirmed
   plus the newest confirmed), then ``/txs/chain/:last_seen_txid`` (or ``?after_txid=``), until an
   empty page, a page of transactions already seen (instances that serve the first page again), or
   the newest transaction the previous sync stored for that address. The txids received are then
   checked against the address's ``tx_count``.
3. **Re-checks.** Transactions stored as pending that no listing showed again are asked for one by
   one (``/tx/:txid``): confirmed ones are stored confirmed; a 404 (replaced or dropped) is stored
   under the same key as ``failed`` with the flag ``replaced`` and no value.

The cursor (JSON)::

    {"v": 1,
     "used": {"0": 6, "1": 3},                         # per chain: last used index + 1
     "addr": {"bc1q...": [54, "<newest txid>"]},       # per synced address: confirmed txs, newest
     "pending": {"<txid>": ["<first seen, ISO>", "deposit"]},
     "at": {...}}                                      # the address being paged, if interrupted

Every page's cursor describes exactly what that page and the earlier ones stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from txsync import jsonutil
from txsync.connector import Cursor, Page, RawRecord, Stream
from txsync.errors import BadRequestError, BadResponseError, PaginationLoopError
from txsync.fields import record_errors
from txsync.models import NormalizedTransaction, RawTransaction
from txsync.pagination import InvalidCursorError

from ._esplora import AddressStats, EsploraNotFoundError, IncompleteHistoryError
from ._keys import CHAINS
from ._normalize import classify, normalize_raw

if TYPE_CHECKING:
    from .connector import BitcoinWallet

__all__ = ["CURSOR_VERSION", "TransactionsStream", "cursor_progress"]

CURSOR_VERSION = 1
#: Esplora lists at most this many unconfirmed transactions per address (no paging).
MEMPOOL_LIMIT = 50


@dataclass
class _State:
    """The cursor, as the stream updates it."""

    used: dict[str, int] = field(default_factory=dict)
    addr: dict[str, list[Any]] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)
    at: dict[str, Any] | None = None

    @classmethod
    def from_cursor(cls, cursor: Cursor) -> _State:
        if cursor is None:
            return cls()
        problem = "a bitcoin cursor must be an object written by this connector"
        if not isinstance(cursor, Mapping) or cursor.get("v") != CURSOR_VERSION:
            raise InvalidCursorError(problem)
        used, addr, pending, at = (cursor.get(k) for k in ("used", "addr", "pending", "at"))
        if not isinstance(used, Mapping) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in used.values()
        ):
            raise InvalidCursorError(problem + " (used)")
        if not isinstance(addr, Mapping) or not all(
            isinstance(v, list)
            and len(v) == 2
            and isinstance(v[0], int)
            and (v[1] is None or isinstance(v[1], str))
            for v in addr.values()
        ):
            raise InvalidCursorError(problem + " (addr)")
        if not isinstance(pending, Mapping) or not all(
            isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
            for v in pending.values()
        ):
            raise InvalidCursorError(problem + " (pending)")
        if at is not None and not (isinstance(at, Mapping) and isinstance(at.get("address"), str)):
            raise InvalidCursorError(problem + " (at)")
        return cls(
            used={str(k): int(v) for k, v in used.items()},
            addr={str(k): list(v) for k, v in addr.items()},
            pending={str(k): list(v) for k, v in pending.items()},
            at=dict(at) if at is not None else None,
        )

    def cursor(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "v": CURSOR_VERSION,
            "used": dict(sorted(self.used.items())),
            "addr": {k: list(v) for k, v in sorted(self.addr.items())},
            "pending": {k: list(v) for k, v in sorted(self.pending.items())},
        }
        if self.at is not None:
            out["at"] = dict(self.at)
        return out


def cursor_progress(cursor: Cursor) -> tuple[int, int]:
    """How far a cursor is (confirmed transactions stored over all addresses, plus those of the
    address being paged), for ordering the cursors of one sync's pages."""
    if not isinstance(cursor, Mapping):
        return (0, 0)
    done = sum(int(v[0]) for v in cursor.get("addr", {}).values())
    at = cursor.get("at") or {}
    return (done, int(at.get("got", 0)))


@dataclass
class _Target:
    """An address to page, with the stats that made it due."""

    address: str
    stats: AddressStats


@dataclass
class _Step:
    """One Esplora page of one address: the transactions it brought and the paging position."""

    txs: list[dict[str, Any]]
    after: str | None
    got: int
    top: str | None
    mempool: int
    met_stop: bool


class TransactionsStream(Stream):
    """Every transaction touching the wallet's addresses, one record per txid."""

    name = "transactions"

    def __init__(self, connector: BitcoinWallet) -> None:
        self.connector = connector

    # -- discovery --------------------------------------------------------------------------------

    async def discover(
        self, used: Mapping[str, int]
    ) -> tuple[dict[str, str], list[AddressStats], dict[str, int]]:
        """Stats of every address in the gap window: ``(own address -> path, stats, used per chain)``."""
        wallet = self.connector
        keys, client = wallet.keys, wallet.client
        own: dict[str, str] = {}
        stats: list[AddressStats] = []
        if keys.single is not None:
            own[keys.single] = ""
            stats.append(await client.address_stats(keys.single))
            return own, stats, {}
        new_used: dict[str, int] = {}
        for chain in CHAINS:
            last_used = used.get(str(chain), 0) - 1
            index = 0
            while index <= last_used + wallet.gap_limit:
                address = keys.address(chain, index)
                own[address] = f"{chain}/{index}"
                found = await client.address_stats(address)
                stats.append(found)
                if found.used:
                    last_used = max(last_used, index)
                index += 1
            new_used[str(chain)] = last_used + 1
        return own, stats, new_used

    # -- paging -----------------------------------------------------------------------------------

    async def _fetch_after(self, address: str, last_seen: str) -> list[dict[str, Any]]:
        client = self.connector.client
        if self.connector.paging == "chain":
            try:
                return await client.address_txs_chain(address, last_seen)
            except (EsploraNotFoundError, BadRequestError) as exc:
                if exc.status not in (400, 404):
                    raise
                # An instance without the /txs/chain/:txid form: use the query form from now on.
                self.connector.paging = "after_txid"
        return await client.address_txs_after(address, last_seen)

    async def _steps(
        self, address: str, stop: str | None, at: Mapping[str, Any] | None, ended: dict[str, bool]
    ) -> AsyncIterator[_Step]:
        """The pages of one address, newest first, until the end, a repeat, or ``stop``. A page of
        transactions already received sets ``ended["repeat"]``: some instances serve the first page
        again once the end is reached, but if the address's count is short it is a paging loop."""
        after: str | None = None
        got, top, mempool = 0, None, 0
        if at is not None and isinstance(at.get("after"), str):  # resume an interrupted address
            after, got, top, mempool = at["after"], int(at.get("got", 0)), at.get("top"), int(at.get("mp", 0))
            stop = at.get("stop")
        seen: set[str] = set()
        while True:
            if after is None:
                page = await self.connector.client.address_txs(address)
            else:
                page = await self._fetch_after(address, after)
            fresh = [tx for tx in page if tx["txid"] not in seen]
            if not fresh:
                ended["repeat"] = bool(page)  # empty: the end; else served again (see _finish)
                return
            out: list[dict[str, Any]] = []
            met_stop = False
            last_confirmed: str | None = None
            for tx in fresh:
                seen.add(tx["txid"])
                if not tx["status"]["confirmed"]:
                    if after is None:
                        mempool += 1
                        out.append(tx)
                    continue
                if stop is not None and tx["txid"] == stop:
                    met_stop = True
                    break
                got += 1
                top = top or tx["txid"]
                last_confirmed = tx["txid"]
                out.append(tx)
            yield _Step(out, last_confirmed or after, got, top, mempool, met_stop)
            if met_stop or last_confirmed is None:
                return
            after = last_confirmed

    # -- the stream -------------------------------------------------------------------------------

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        return self._pages(_State.from_cursor(cursor), cursor)

    async def _pages(self, state: _State, start: Cursor) -> AsyncIterator[Page]:
        wallet = self.connector
        now = wallet.context.clock().isoformat()
        own, stats, used = await self.discover(state.used)
        for chain, count in used.items():
            state.used[chain] = max(state.used.get(chain, 0), count)
        by_address = {s.address: s for s in stats}
        emitted: set[str] = set()
        last_cursor = jsonutil.dumps(start) if start is not None else None

        def record(tx: dict[str, Any]) -> RawRecord:
            addresses = {p.get("scriptpubkey_address") for p in (i.get("prevout") or {} for i in tx["vin"])}
            addresses |= {o.get("scriptpubkey_address") for o in tx["vout"]}
            payload: dict[str, Any] = {"tx": tx, "own": {a: own[a] for a in sorted(own.keys() & addresses)}}
            txid = tx["txid"]
            if tx["status"]["confirmed"]:
                state.pending.pop(txid, None)
            else:
                first_seen = state.pending.get(txid, [now])[0]
                payload["first_seen"] = first_seen
                state.pending[txid] = [first_seen, str(classify(tx, own).kind)]
            return RawRecord(txid, payload)

        def page(records: list[RawRecord], label: str) -> Page | None:
            nonlocal last_cursor
            cursor = state.cursor()
            text = jsonutil.dumps(cursor)
            if not records and text == last_cursor:
                return None  # nothing stored and nothing moved
            last_cursor = text
            return Page(records, cursor, label=label)

        targets: list[_Target] = []
        resume = state.at
        if resume is not None and resume["address"] in by_address:
            targets.append(_Target(resume["address"], by_address[resume["address"]]))
        else:
            resume = state.at = None
        for found in stats:
            known = state.addr.get(found.address)
            if resume is not None and found.address == resume["address"]:
                continue
            if found.mempool.tx_count or (known[0] if known else 0) != found.chain.tx_count:
                targets.append(_Target(found.address, found))

        for target in targets:
            address = target.address
            known = state.addr.get(address)
            at = resume if resume is not None and resume["address"] == address else None
            ended = {"repeat": False}
            steps = self._steps(address, known[1] if known else None, at, ended)
            current = await anext(steps, None)
            if current is None:
                problem = self._finish(state, target, known, None, ended["repeat"])
                built = page([], "")
                if built is not None:
                    yield built
                if problem is not None:
                    raise problem
                continue
            while current is not None:
                upcoming = await anext(steps, None)
                records = []
                for tx in current.txs:
                    if tx["txid"] not in emitted:
                        emitted.add(tx["txid"])
                        records.append(record(tx))
                problem = None
                if upcoming is None:
                    problem = self._finish(state, target, known, current, ended["repeat"])
                else:
                    state.at = {
                        "address": address,
                        "after": current.after,
                        "got": current.got,
                        "top": current.top,
                        "mp": current.mempool,
                        "stop": known[1] if known else None,
                    }
                built = page(records, f"address {own.get(address, '')}".strip())
                if built is not None:
                    yield built  # what was received is stored even when the count falls short
                if problem is not None:
                    raise problem
                current = upcoming
            resume = None

        # Pending transactions no listing showed again: confirmed, still waiting, or gone.
        rechecked: list[RawRecord] = []
        for txid in sorted(state.pending):
            if txid in emitted:
                continue
            again = await wallet.client.tx(txid)
            if again is None:
                first_seen, kind = state.pending.pop(txid)
                missing = {"txid": txid, "first_seen": first_seen, "kind": kind}
                rechecked.append(RawRecord(txid, {"missing": missing}))
            elif again["status"]["confirmed"]:
                emitted.add(txid)
                rechecked.append(record(again))
        built = page(rechecked, "pending re-checks")
        if built is not None:
            yield built

    def _finish(
        self,
        state: _State,
        target: _Target,
        known: list[Any] | None,
        last: _Step | None,
        repeated: bool = False,
    ) -> BadResponseError | None:
        """An address is paged to the end: check the count, then remember where it stands. Returns
        the error to raise (after storing the page) when the count falls short and either the paging
        ended on a page served again (a :class:`PaginationLoopError`, whatever ``on_incomplete``
        says: the instance is not advancing) or the connection asks for errors."""
        state.at = None
        stats = target.stats
        got = last.got if last else 0
        mempool = last.mempool if last else 0
        met_stop = bool(last and last.met_stop)
        base = known[0] if (known and met_stop) else 0
        expected = (stats.chain.tx_count - base) + min(stats.mempool.tx_count, MEMPOOL_LIMIT)
        if got + mempool < expected:
            wallet = self.connector
            detail = (
                f"an address listed {got + mempool} of the {expected} transactions its stats announce "
                f"({wallet.keys.describe()}); the next sync asks again"
            )
            # the address keeps its old position, so the next sync pages it again
            if repeated:
                return PaginationLoopError(
                    f"address paging served transactions already received before reaching the end: {detail}",
                    endpoint="/address/:address/txs/chain/:last_seen_txid",
                )
            if wallet.on_incomplete == "error":
                return IncompleteHistoryError(
                    f"incomplete address history: {detail}",
                    expected=expected,
                    got=got + mempool,
                    endpoint="/address/:address/txs",
                )
            wallet.context.note_gap("incomplete_history", detail, stream=self.name)
            return None
        top = (last.top if last else None) or (known[1] if known else None)
        state.addr[target.address] = [base + got, top]
        return None

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        out = []
        for raw in raws:
            with record_errors(self.name, raw.source_id):
                out.append(normalize_raw(raw))
        return out

    def cursor_for_full_sync(self, stored: Cursor) -> Cursor:
        """A full re-sync reads every address from the start again but keeps, from the stored
        cursor, when each still-pending transaction was first seen: Esplora gives unconfirmed
        transactions no time, so that first-seen time is their timestamp and must not move (a
        re-sync that changed it would count an update for nothing). An unreadable stored cursor
        gives ``None``."""
        try:
            state = _State.from_cursor(stored)
        except InvalidCursorError:
            return None
        if not state.pending:
            return None
        return _State(pending=state.pending).cursor()

    def cursor_from_time(self, since: datetime) -> Cursor:
        """Esplora cannot list an address's history from a time: ``None`` (read from the stored
        cursor, or the origin; dedup keeps the ledger right)."""
        return None

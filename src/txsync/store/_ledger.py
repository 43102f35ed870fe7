"""The merge's view of the ledger inside the database transaction that commits one page.

Everything here runs once per page on the ingest path, so it talks to the database through a DB-API
cursor with plain prepared statements (positional ``?`` parameters, which the PostgreSQL store's cursor
translates; the driver caches the compiled statements): one query per kind of lookup and one
``executemany`` per kind of write, no per-statement work in Python beyond the driver call. The SQL is
the subset SQLite and PostgreSQL share (``INSERT ... ON CONFLICT``, ``RETURNING``); what differs (how
transaction keys are allocated, when ids are indexed) comes from the store as :class:`LedgerDialect`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from txsync import jsonutil
from txsync.merge import (
    MergeWrites,
    StoredRaw,
    StoredTransaction,
    legs_signature,
)

__all__ = ["IDS_TAIL_LIMIT", "LedgerBackend", "LedgerDialect", "flush_ids", "legs_value", "sqlite_allocate"]

#: Lookups by id read the id index plus the rows written since it was last filled; past this many
#: such rows a page fills it (a sync fills it when it ends anyway).
IDS_TAIL_LIMIT = 250_000
_CHUNK = 500  # parameters per IN (...) list

_TX_COLUMNS = "seq, id, tx_key, body, created_at, account_seq"
_UPSERT_MATCH_KEY = (
    "INSERT INTO match_keys (tx_seq, account_seq, signature, ts) VALUES (?, ?, ?, ?) ON CONFLICT (tx_seq) "
    "DO UPDATE SET account_seq = excluded.account_seq, signature = excluded.signature, ts = excluded.ts"
)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def flush_ids(cur: Any) -> None:
    """Fill the id index with the transactions written since it was last filled (in id order), through
    the DB-API cursor ``cur`` of an open write transaction."""
    upto = cur.execute("SELECT value FROM store_state WHERE name = 'ids_indexed_upto'").fetchone()
    top = cur.execute("SELECT max(seq) FROM transactions").fetchone()
    if top is None or upto is None or top[0] is None or top[0] <= upto[0]:
        return
    cur.execute(
        "INSERT INTO transaction_ids (id, seq) SELECT id, seq FROM transactions WHERE seq > ? ORDER BY id",
        (upto[0],),
    )
    cur.execute("UPDATE store_state SET value = ? WHERE name = 'ids_indexed_upto'", (top[0],))


def legs_value(stored: Any) -> Any:
    """Stored effective legs as a list: JSON text (SQLite), or already parsed (PostgreSQL's JSONB)."""
    return jsonutil.loads_stored(stored) if isinstance(stored, (str, bytes)) else stored


def sqlite_allocate(cur: Any, n: int) -> list[int]:
    """``n`` new transaction keys from the counter row (writers are serialized by the write lock)."""
    top = int(
        cur.execute(
            "UPDATE store_state SET value = value + ? WHERE name = 'tx_seq' RETURNING value", (n,)
        ).fetchone()[0]
    )
    return list(range(top - n + 1, top + 1))


class LedgerDialect:
    """What the ingest path does differently per database.

    ``allocate(cur, n)`` returns ``n`` new transaction keys, increasing; ``ids_now`` indexes the ids
    of new transactions in the same transaction (PostgreSQL, where several writers commit in any
    order) instead of in bulk when a sync ends (SQLite, one writer at a time).
    """

    def __init__(self, allocate: Any = sqlite_allocate, *, ids_now: bool = False) -> None:
        self.allocate = allocate
        self.ids_now = ids_now


_SQLITE = LedgerDialect()


class LedgerBackend:
    """A :class:`txsync.merge.WindowBackend` over one open write transaction.

    ``accounts`` maps account ids to their integer keys; ``stream_seq`` is the key of the page's
    (connection, stream) and ``streams`` a lookup for the others.
    """

    def __init__(
        self, cur: Any, *, account_seq: int, accounts: Any, stream_seq: int, streams: Any,
        now_us: int, dialect: LedgerDialect = _SQLITE,
    ) -> None:
        self.cur = cur
        self.dialect = dialect
        self.account_seq = account_seq
        self._accounts = accounts
        self.stream_seq = stream_seq
        self._streams = streams
        self.now_us = now_us
        self._origins: dict[str, set[str]] = {}
        self.working: dict[str, StoredTransaction] = {}

    # -- reads ----------------------------------------------------------------------------------

    def load_raws(self, connection_id: str, stream: str, source_ids: Sequence[str]) -> dict[str, StoredRaw]:
        seq = self._streams(connection_id, stream)
        found: dict[str, StoredRaw] = {}
        if seq is None:
            return found
        run = self.cur.execute
        for chunk in _chunks(list(source_ids)):
            rows = run(
                "SELECT source_id, payload, tx_seq FROM raw_transactions "
                f"WHERE stream_seq = ? AND source_id IN ({_marks(len(chunk))})",
                (seq, *chunk),
            ).fetchall()
            for sid, payload, tx_seq in rows:
                found[sid] = StoredRaw(payload, tx_seq)
        return found

    def load_raw_links(self, refs: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
        for con, stream, sid in refs:
            grouped[(con, stream)].append(sid)
        links: dict[tuple[str, str, str], int] = {}
        for (con, stream), sids in grouped.items():
            for sid, stored in self.load_raws(con, stream, sids).items():
                if stored.tx_seq is not None:
                    links[(con, stream, sid)] = stored.tx_seq
        return links

    def _stored(self, row: Sequence[Any]) -> StoredTransaction:
        seq, tid, tx_key, body, created_at, account_seq = row
        known = self.working.get(tid)
        if known is not None:
            return known
        stx = StoredTransaction(
            tid, self._accounts.id_of(account_seq), jsonutil.loads_stored(body)["parts"], body, created_at,
            seq, tx_key,
        )
        self.working[tid] = stx
        return stx

    def load_by_key(self, account_id: str, tx_keys: Sequence[str]) -> dict[str, StoredTransaction]:
        account_seq = self._accounts.seq_of(account_id)
        run = self.cur.execute
        found: dict[str, StoredTransaction] = {}
        aliases = run("SELECT 1 FROM key_aliases LIMIT 1").fetchone() is not None
        for chunk in _chunks(list(tx_keys)):
            marks = _marks(len(chunk))
            for row in run(
                f"SELECT {_TX_COLUMNS} FROM transactions WHERE account_seq = ? AND tx_key IN ({marks})",
                (account_seq, *chunk),
            ).fetchall():
                found[row[2]] = self._stored(row)
            if aliases:
                for alias in run(
                    f"SELECT a.tx_key, t.seq, t.id, t.tx_key, t.body, t.created_at, t.account_seq "
                    f"FROM key_aliases a JOIN transactions t ON t.seq = a.tx_seq "
                    f"WHERE a.account_seq = ? AND a.tx_key IN ({marks})",
                    (account_seq, *chunk),
                ).fetchall():
                    found[alias[0]] = self._stored(tuple(alias)[1:])
        return found

    def load_by_seq(self, seqs: Sequence[int]) -> list[StoredTransaction]:
        found: list[StoredTransaction] = []
        for chunk in _chunks(list(seqs)):
            found.extend(
                self._stored(row)
                for row in self.cur.execute(
                    f"SELECT {_TX_COLUMNS} FROM transactions WHERE seq IN ({_marks(len(chunk))})",
                    tuple(chunk),
                ).fetchall()
            )
        return found

    def account_origins(self, account_id: str) -> set[str]:
        origins = self._origins.get(account_id)
        if origins is None:
            rows = self.cur.execute(
                "SELECT origin FROM account_origins WHERE account_id = ?", (account_id,)
            ).fetchall()
            origins = self._origins[account_id] = {origin for (origin,) in rows}
        return origins

    def prepare_matching(self, account_id: str) -> None:
        if len(self.account_origins(account_id)) >= 2:
            return  # indexed since the account got its second origin
        account_seq = self._accounts.seq_of(account_id)
        rows = self.cur.execute(
            "SELECT seq, ts, legs FROM transactions WHERE account_seq = ?", (account_seq,)
        ).fetchall()
        if rows:
            self.cur.executemany(
                _UPSERT_MATCH_KEY,
                [(seq, account_seq, legs_signature(legs_value(legs)), ts)
                 for seq, ts, legs in rows],
            )

    def match_candidates(
        self, account_id: str, signature: str, ts_from: int, ts_to: int
    ) -> list[StoredTransaction]:
        rows = self.cur.execute(
            "SELECT t.seq, t.id, t.tx_key, t.body, t.created_at, t.account_seq FROM match_keys m "
            "JOIN transactions t ON t.seq = m.tx_seq "
            "WHERE m.account_seq = ? AND m.signature = ? AND m.ts BETWEEN ? AND ?",
            (self._accounts.seq_of(account_id), signature, ts_from, ts_to),
        ).fetchall()
        return [self._stored(row) for row in rows]

    def window_candidates(
        self, account_id: str, ts_from: int, ts_to: int, limit: int
    ) -> list[StoredTransaction]:
        middle = (ts_from + ts_to) // 2
        rows = self.cur.execute(
            f"SELECT {_TX_COLUMNS} FROM transactions WHERE account_seq = ? AND ts BETWEEN ? AND ? "
            "ORDER BY abs(ts - ?), id LIMIT ?",
            (self._accounts.seq_of(account_id), ts_from, ts_to, middle, limit),
        ).fetchall()
        return [self._stored(row) for row in rows]

    # -- writes ---------------------------------------------------------------------------------

    def write(self, writes: MergeWrites) -> None:
        run, many = self.cur.execute, self.cur.executemany
        now = self.now_us
        new = writes.new_transactions
        if new:
            for stx, seq in zip(new, self.dialect.allocate(self.cur, len(new)), strict=True):
                stx.seq = seq
            account_seq = self.account_seq  # a page's transactions are all of its account
            many(
                "INSERT INTO transactions (seq, account_seq, tx_key, id, kind, ts, status, origins, legs, "
                "body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (stx.seq, account_seq, stx.tx_key, stx.id, stx.kind, stx.ts, stx.status,
                     stx.origins, stx.legs, stx.new_body, stx.created_at, now)
                    for stx in new
                ],
            )
            if self.dialect.ids_now:
                many("INSERT INTO transaction_ids (id, seq) VALUES (?, ?)",
                     [(stx.id, stx.seq) for stx in new])
            elif (new[-1].seq or 0) - self._accounts.ids_indexed_upto(self.cur) > IDS_TAIL_LIMIT:
                flush_ids(self.cur)
                self._accounts.forget_ids_indexed_upto()
        changed = writes.changed_transactions
        if changed:
            many(
                "UPDATE transactions SET kind = ?, ts = ?, status = ?, origins = ?, legs = ?, body = ?, "
                "updated_at = ? WHERE seq = ?",
                [(stx.kind, stx.ts, stx.status, stx.origins, stx.legs, stx.new_body, now, stx.seq)
                 for stx in changed],
            )
        keyed = [stx for stx in (*new, *changed) if stx.match_signature is not None]
        if keyed:
            many(
                _UPSERT_MATCH_KEY,
                [(stx.seq, self._accounts.seq_of(stx.account_id), stx.match_signature, stx.ts)
                 for stx in keyed],
            )
        if writes.aliases:
            many(
                "INSERT INTO key_aliases (account_seq, tx_key, tx_seq) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [(self._accounts.seq_of(stx.account_id), key, stx.seq) for stx, key in writes.aliases],
            )
        if writes.raws:
            working = writes.transactions
            inserts, updates = [], []
            stream_seq, fetched_at = self.stream_seq, writes.fetched_at
            for row in writes.raws:
                tx_seq = working[row.tx_id].seq if row.tx_id is not None else row.tx_seq
                if row.new:
                    inserts.append((stream_seq, row.source_id, tx_seq, row.payload, fetched_at))
                else:
                    updates.append((tx_seq, row.payload, fetched_at, stream_seq, row.source_id))
            if inserts:
                many(
                    "INSERT INTO raw_transactions (stream_seq, source_id, tx_seq, payload, fetched_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    inserts,
                )
            if updates:
                many(
                    "UPDATE raw_transactions SET tx_seq = ?, payload = ?, fetched_at = ? "
                    "WHERE stream_seq = ? AND source_id = ?",
                    updates,
                )
        for account_id, origin in sorted(writes.origins):
            if origin not in self.account_origins(account_id):
                run("INSERT INTO account_origins (account_id, origin) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (account_id, origin))

"""The store's side of manual entries: replacing and really removing one entry's description.

A manual entry is stored like every description of an event: a raw (the entry as the user typed it)
of the account's manual connection, stream ``entries``, and a part (origin ``manual``) of the
transaction it belongs to, alone or merged with synced descriptions of the same event. Adding one is
an ordinary :meth:`~txsync.store.SqlStore.commit_page`. What only manual entries need is here:

- **removal** is real: the entry's raw and part go; a transaction left without any description is
  deleted with its rows (id index, match key, aliases, owner halves and links; and, on removal, the
  user's label or note of it), never tombstoned; a transaction that still holds synced descriptions
  is rewritten without the entry's;
- **edit** removes the old version and merges the new one in the same database transaction, so an
  edited entry may now match a synced description it did not match before (or stop matching one);
  only an entry that a synced description merged into (the transaction's id derives from the entry)
  is edited in place: its own description changes, the synced one still supplies the legs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from txsync import jsonutil
from txsync.errors import UnknownEntryError
from txsync.merge import (
    MergeCounts,
    PageBatch,
    effective,
    encode_body,
    encode_legs,
    identity_key,
    legs_signature,
    merge_page,
    to_us,
)
from txsync.store._ledger import LedgerBackend, LedgerDialect

__all__ = ["ManualEntryTables"]

#: The manual connection's stream of entries.
ENTRIES_STREAM = "entries"


class ManualEntryTables:
    """Mixed into :class:`~txsync.store._sql.SqlStore`: manual entries' removal and replacement."""

    if TYPE_CHECKING:
        _keys: Any
        _ledger_dialect: LedgerDialect

        def _hot_write(self) -> AbstractContextManager[Any]: ...
        def _read(self) -> AbstractContextManager[Any]: ...

    def manual_entries(
        self, connection_id: str, entry_ids: Sequence[str] | None = None
    ) -> list[tuple[str, str, str | None]]:
        """The manual entries of a manual connection (all, or those of ``entry_ids``), oldest first:
        (entry id, the entry as stored, the id of the transaction it belongs to)."""
        query = (
            "SELECT r.source_id, r.payload, t.id FROM raw_transactions r "
            "JOIN streams s ON s.seq = r.stream_seq LEFT JOIN transactions t ON t.seq = r.tx_seq "
            "WHERE s.connection_id = :con AND s.stream = :stream"
        )
        params: dict[str, Any] = {"con": connection_id, "stream": ENTRIES_STREAM}
        if entry_ids is not None:
            if not entry_ids:
                return []
            names = [f"e{i}" for i in range(len(entry_ids))]
            query += " AND r.source_id IN (" + ", ".join(f":{n}" for n in names) + ")"
            params.update(zip(names, entry_ids, strict=True))
        with self._read() as conn:
            rows = conn.execute(text(query + " ORDER BY r.seq"), params).all()
        return [(str(sid), str(payload), None if tid is None else str(tid)) for sid, payload, tid in rows]

    def remove_manual_entry(self, account_id: str, connection_id: str, entry_id: str) -> str:
        """Remove the manual entry ``entry_id`` (a raw of ``connection_id``'s ``entries`` stream) for
        good; returns the id of the transaction it belonged to (gone if the entry was all it held).
        :class:`~txsync.errors.UnknownTransactionError` if there is no such entry."""
        account_seq = self._keys.seq_of(account_id)
        now_us = to_us(datetime.now(UTC))
        try:
            with self._hot_write() as cur:
                tx_id = _remove(cur, account_seq, connection_id, entry_id, now_us, forget_edits=True)
        except BaseException:
            self._keys.forget()
            raise
        return tx_id

    def replace_manual_entry(
        self, batch: PageBatch, entry_id: str, *, tolerance: timedelta = timedelta(seconds=2),
        now: datetime | None = None,
    ) -> MergeCounts:
        """Replace the manual entry ``entry_id`` by the one description of ``batch`` (its new
        version, same key): the old one is removed and the new one merged, in one transaction."""
        now_us = to_us(now or datetime.now(UTC))
        keys = self._keys
        account_seq = keys.seq_of(batch.account_id)
        try:
            with self._hot_write() as cur:
                if _standalone(cur, batch.connection_id, entry_id):
                    _remove(cur, account_seq, batch.connection_id, entry_id, now_us, forget_edits=False)
                # else: merged with another source's description of the event, the entry's own
                # description is replaced in place (the merge finds it through its raw)
                stream_seq = keys.stream(cur, batch.connection_id, batch.stream, create=False)
                assert stream_seq is not None  # the entry's raw was in it
                backend = LedgerBackend(
                    cur, account_seq=account_seq, accounts=keys, stream_seq=stream_seq,
                    streams=lambda c, s: keys.stream(cur, c, s, create=False), now_us=now_us,
                    dialect=self._ledger_dialect,
                )
                counts = merge_page(backend, batch, tolerance=tolerance, now_us=now_us)
        except BaseException:
            keys.forget()
            raise
        return counts


def _rows(cur: Any, sql: str, params: tuple[Any, ...]) -> Iterator[Any]:
    yield from cur.execute(sql, params).fetchall()


def _standalone(cur: Any, connection_id: str, entry_id: str) -> bool:
    """Whether the entry can be removed and merged again: its transaction holds no description but
    the entry's own (and covers), or it is another description's transaction (whose id does not
    derive from the entry, so a new transaction of the entry cannot clash with it)."""
    found = cur.execute(
        "SELECT t.body, t.tx_key FROM raw_transactions r JOIN streams s ON s.seq = r.stream_seq "
        "JOIN transactions t ON t.seq = r.tx_seq "
        "WHERE s.connection_id = ? AND s.stream = ? AND r.source_id = ?",
        (connection_id, ENTRIES_STREAM, entry_id),
    ).fetchone()
    if found is None:
        raise UnknownEntryError(f"no manual entry {entry_id!r}")
    if found[1] != identity_key("manual", f"entry:{entry_id}"):
        return True
    ref = [connection_id, ENTRIES_STREAM, entry_id]
    parts = jsonutil.loads_stored(found[0])["parts"].values()
    return all(part.get("cover") or ref in part.get("sources", []) for part in parts)


def _remove(
    cur: Any, account_seq: int, connection_id: str, entry_id: str, now_us: int, *, forget_edits: bool
) -> str:
    """Remove one entry's raw and description through the DB-API cursor of a write transaction."""
    found = cur.execute(
        "SELECT r.seq, r.tx_seq FROM raw_transactions r JOIN streams s ON s.seq = r.stream_seq "
        "WHERE s.connection_id = ? AND s.stream = ? AND r.source_id = ?",
        (connection_id, ENTRIES_STREAM, entry_id),
    ).fetchone()
    if found is None:
        raise UnknownEntryError(f"no manual entry {entry_id!r}")
    raw_seq, tx_seq = found
    cur.execute("DELETE FROM raw_transactions WHERE seq = ?", (raw_seq,))
    row = cur.execute("SELECT id, body FROM transactions WHERE seq = ?", (tx_seq,)).fetchone()
    if row is None:
        raise UnknownEntryError(f"the transaction of manual entry {entry_id!r} is gone")
    tx_id, body = row
    parts: dict[str, Any] = jsonutil.loads_stored(body)["parts"]
    ref = [connection_id, ENTRIES_STREAM, entry_id]
    mine = [key for key, part in parts.items() if ref in part.get("sources", [])]
    # A group match left empty covers of the entry's origin in the transactions it was grouped with:
    # they go too, so those can be matched again.
    for key in mine:
        group = hashlib.blake2b(key.encode(), digest_size=10).hexdigest()
        _drop_covers(cur, account_seq, f"manual:~cover:{group}", now_us, skip=tx_seq)
    left = {key: part for key, part in parts.items() if key not in mine}
    if not any(not part.get("cover") for part in left.values()):
        _delete_transaction(cur, tx_seq, tx_id, forget_edits=forget_edits)
    else:
        _rewrite(cur, tx_seq, left, now_us)
    return str(tx_id)


def _drop_covers(cur: Any, account_seq: int, cover_key: str, now_us: int, *, skip: int) -> None:
    like = f'%"{cover_key}"%'
    for seq, tx_id, body in _rows(
        cur, "SELECT seq, id, body FROM transactions WHERE account_seq = ? AND body LIKE ?",
        (account_seq, like),
    ):
        if seq == skip:
            continue
        parts = jsonutil.loads_stored(body)["parts"]
        if cover_key not in parts:
            continue
        del parts[cover_key]
        if not any(not part.get("cover") for part in parts.values()):
            _delete_transaction(cur, seq, tx_id, forget_edits=True)
        else:
            _rewrite(cur, seq, parts, now_us)


def _rewrite(cur: Any, tx_seq: int, parts: dict[str, Any], now_us: int) -> None:
    eff = effective(parts)
    cur.execute(
        "UPDATE transactions SET kind = ?, ts = ?, status = ?, origins = ?, legs = ?, body = ?, "
        "updated_at = ? WHERE seq = ?",
        (eff.kind, eff.ts, eff.status, eff.origins, encode_legs(eff.legs), encode_body(parts), now_us,
         tx_seq),
    )
    cur.execute("UPDATE match_keys SET signature = ?, ts = ? WHERE tx_seq = ?",
                (legs_signature(eff.legs), eff.ts, tx_seq))


def _delete_transaction(cur: Any, tx_seq: int, tx_id: str, *, forget_edits: bool) -> None:
    cur.execute("DELETE FROM match_keys WHERE tx_seq = ?", (tx_seq,))
    cur.execute("DELETE FROM key_aliases WHERE tx_seq = ?", (tx_seq,))
    cur.execute("DELETE FROM transaction_ids WHERE seq = ?", (tx_seq,))
    cur.execute("UPDATE raw_transactions SET tx_seq = NULL WHERE tx_seq = ?", (tx_seq,))
    cur.execute("DELETE FROM transactions WHERE seq = ?", (tx_seq,))
    # The linker's halves stay, marked removed, until its next run has looked again at what they were
    # candidates with (their former partners); their links go now.
    cur.execute("UPDATE owner_halves SET status = 'removed', note = NULL WHERE tx_id = ?", (tx_id,))
    cur.execute("DELETE FROM owner_links WHERE withdrawal_id = ? OR deposit_id = ?", (tx_id, tx_id))
    if forget_edits:
        cur.execute("DELETE FROM overrides WHERE transaction_id = ?", (tx_id,))
        cur.execute("DELETE FROM tombstones WHERE transaction_id = ?", (tx_id,))

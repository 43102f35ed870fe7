"""The owner layer's queries (schema block "owner layer", migration 0004_owner), mixed into
:class:`~txsync.store.SqlStore` as :class:`OwnerTables`.

Everything here is small and off the ingest path: transfer halves (deposit- and withdrawal-like
movements), links, the user's link decisions, the linker's per-account read position, each account's
coverage gaps and its last reported balances. The linker and the explanations on top of these live in
:mod:`txsync.owner`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, func, insert, select, tuple_, update

from txsync import jsonutil
from txsync.errors import UnknownConnectionError
from txsync.merge import from_us, to_us
from txsync.models import Balance
from txsync.store import schema as t

if TYPE_CHECKING:
    from txsync.owner._halves import Half
    from txsync.owner.models import AccountGap, TransferLink
    from txsync.store.records import LedgerTransaction

__all__ = ["OwnerTables"]

_CHUNK = 500
Node = tuple[str, str]


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _opt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _half_row(row: Any) -> tuple[Half, str | None]:
    from txsync.owner._halves import Half

    half = Half(
        tx_id=row["tx_id"],
        asset_key=row["asset_key"],
        direction=row["direction"],
        owner_id=row["owner_id"],
        account_id=row["account_id"],
        asset=row["asset"],
        ts=int(row["ts"]),
        status=row["status"],
        amount=Decimal(row["amount"]),
        fee=Decimal(row["fee"]),
        tx_hash=row["tx_hash"],
        out_index=row["out_index"],
        internal_id=row["internal_id"],
        network=row["network"],
        addresses=frozenset(a for a in (row["address"] or "").split(",") if a),
        deleted=bool(row["deleted"]),
    )
    return half, row["note"]


def _link_row(row: Any) -> TransferLink:
    from txsync.owner.models import LinkMethod, TransferLink

    return TransferLink(
        withdrawal=row["withdrawal_id"],
        deposit=row["deposit_id"],
        owner_id=row["owner_id"],
        withdrawal_account=row["withdrawal_account"],
        deposit_account=row["deposit_account"],
        asset=row["asset"],
        deposit_asset=row["deposit_asset"],
        asset_key=row["asset_key"],
        method=LinkMethod(row["method"]),
        matched_on=row["matched_on"],
        confidence=Decimal(row["confidence"]),
        sent=Decimal(row["sent"]),
        received=Decimal(row["received"]),
        declared_fee=Decimal(row["declared_fee"]),
        fee=Decimal(row["fee"]),
        fee_leg=Decimal(row["fee_leg"]),
        flags=tuple(jsonutil.loads(row["flags"])),
        withdrawal_time=from_us(row["withdrawal_ts"]),
        deposit_time=from_us(row["deposit_ts"]),
    )


class OwnerTables:
    """Owner-layer storage on the store's SQL engine (a mixin of :class:`~txsync.store.SqlStore`)."""

    if TYPE_CHECKING:
        _keys: Any

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _write(self) -> AbstractContextManager[Connection]: ...
        def _ledger_query(self) -> Any: ...

    # -- accounts --------------------------------------------------------------------------------

    def account_owner(self, account_id: str) -> str:
        """The owner of ``account_id`` (:class:`UnknownConnectionError` if there is no such account)."""
        with self._read() as conn:
            owner = conn.execute(select(t.accounts.c.owner_id).where(t.accounts.c.id == account_id)).scalar()
        if owner is None:
            raise UnknownConnectionError(f"no account {account_id!r}")
        return str(owner)

    def owner_ids(self) -> list[str]:
        """Every owner that has an account."""
        with self._read() as conn:
            return list(
                conn.execute(
                    select(t.accounts.c.owner_id).distinct().order_by(t.accounts.c.owner_id)
                ).scalars()
            )

    # -- the linker's read position ----------------------------------------------------------------

    def link_since(self, account_id: str) -> int | None:
        """Transactions of ``account_id`` written at or after this store time (µs) are read again by
        the next linking run; ``None``: never read."""
        with self._read() as conn:
            value = conn.execute(
                select(t.owner_link_state.c.since).where(t.owner_link_state.c.account_id == account_id)
            ).scalar()
        return None if value is None else int(value)

    def set_link_since(self, account_id: str, owner_id: str, since_us: int, now_us: int) -> None:
        """Record the linker's read position of an account."""
        state = t.owner_link_state
        with self._write() as conn:
            conn.execute(delete(state).where(state.c.account_id == account_id))
            conn.execute(
                insert(state),
                {"account_id": account_id, "owner_id": owner_id, "since": since_us, "linked_at": now_us},
            )

    def forget_link_state(self, owner_id: str) -> None:
        """Make the next run read every account of ``owner_id`` again."""
        with self._write() as conn:
            conn.execute(delete(t.owner_link_state).where(t.owner_link_state.c.owner_id == owner_id))

    # -- reading the ledger --------------------------------------------------------------------------

    def ledger_written_since(
        self,
        account_id: str,
        since_us: int | None,
        kinds: Iterable[str],
        also_ids: Iterable[str] = (),
        batch: int = 2000,
    ) -> Iterator[tuple[int, str, LedgerTransaction | None]]:
        """The transactions of ``account_id`` of the given ``kinds`` written (created or changed) at or
        after ``since_us`` (all of them when ``None``), deleted ones included, in time order:
        ``(updated_at, id, transaction)``. Transactions ``also_ids`` of other kinds written since then
        come as ``(updated_at, id, None)`` (a transaction whose kind changed); the others are not read."""
        from txsync.store._sql import _ledger

        try:
            account_seq = self._keys.seq_of(account_id)
        except UnknownConnectionError:
            return
        wanted = sorted(set(kinds))
        tx = t.transactions
        after: tuple[int, str] | None = None
        while True:
            query = (
                self._ledger_query()
                .add_columns(tx.c.updated_at)
                .where(tx.c.account_seq == account_seq, tx.c.kind.in_(wanted))
            )
            if since_us is not None:
                query = query.where(tx.c.updated_at >= since_us)
            if after is not None:
                query = query.where(tuple_(tx.c.ts, tx.c.id) > tuple_(*after))
            query = query.order_by(tx.c.ts, tx.c.id).limit(batch)
            with self._read() as conn:
                rows = conn.execute(query).all()
            for row in rows:
                yield int(row.updated_at), str(row.id), _ledger(row, account_id)
            if len(rows) < batch:
                break
            after = (rows[-1].ts, rows[-1].id)
        others = sorted(set(also_ids))
        for chunk in _chunks(others):
            query = select(tx.c.updated_at, tx.c.id).where(
                tx.c.account_seq == account_seq, tx.c.id.in_(chunk), tx.c.kind.not_in(wanted)
            )
            if since_us is not None:
                query = query.where(tx.c.updated_at >= since_us)
            with self._read() as conn:
                rows = conn.execute(query).all()
            for updated, tx_id in rows:
                yield int(updated), str(tx_id), None

    def tombstoned(self, tx_ids: Iterable[str]) -> set[str]:
        """Which of ``tx_ids`` the user deleted."""
        found: set[str] = set()
        ids = sorted(set(tx_ids))
        with self._read() as conn:
            for chunk in _chunks(ids):
                found.update(
                    conn.execute(
                        select(t.tombstones.c.transaction_id).where(t.tombstones.c.transaction_id.in_(chunk))
                    ).scalars()
                )
        return found

    # -- halves --------------------------------------------------------------------------------------

    def stored_halves(
        self,
        *,
        owner_id: str | None = None,
        account_id: str | None = None,
        asset_keys: Iterable[str] | None = None,
        tx_ids: Iterable[str] | None = None,
    ) -> list[tuple[Half, str | None]]:
        """Stored halves (with their notes) of an owner, an account, some assets or transactions."""
        h = t.owner_halves
        query = select(h)
        if owner_id is not None:
            query = query.where(h.c.owner_id == owner_id)
        if account_id is not None:
            query = query.where(h.c.account_id == account_id)
        queries = [query]
        keep_ids: set[str] | None = None
        if tx_ids is not None:
            keep_ids = set(tx_ids)
        if asset_keys is not None:
            keys = sorted(set(asset_keys))
            queries = [query.where(h.c.asset_key.in_(chunk)) for chunk in _chunks(keys)]
        elif keep_ids is not None:
            queries = [query.where(h.c.tx_id.in_(chunk)) for chunk in _chunks(sorted(keep_ids))]
        out: list[tuple[Half, str | None]] = []
        seen: set[Node] = set()
        with self._read() as conn:
            for q in queries:
                for row in conn.execute(q.order_by(h.c.ts, h.c.tx_id, h.c.asset_key)).mappings():
                    node = (row["tx_id"], row["asset_key"])
                    if node in seen or (keep_ids is not None and node[0] not in keep_ids):
                        continue
                    seen.add(node)
                    out.append(_half_row(row))
        out.sort(key=lambda item: (item[0].ts, item[0].tx_id, item[0].asset_key))
        return out

    def halves_from(
        self, owner_id: str, asset_key: str, start_us: int | None, *, batch: int = 2000
    ) -> Iterator[tuple[Half, str | None]]:
        """The stored halves of one asset of an owner from ``start_us`` on (all when ``None``), in time
        order, read a page at a time (the linker's sweep: memory does not grow with the ledger)."""
        h = t.owner_halves
        after: tuple[int, str] | None = None
        while True:
            query = select(h).where(h.c.owner_id == owner_id, h.c.asset_key == asset_key)
            if start_us is not None:
                query = query.where(h.c.ts >= start_us)
            if after is not None:
                query = query.where(tuple_(h.c.ts, h.c.tx_id) > tuple_(*after))
            query = query.order_by(h.c.ts, h.c.tx_id).limit(batch)
            with self._read() as conn:
                rows = conn.execute(query).mappings().all()
            for row in rows:
                yield _half_row(row)
            if len(rows) < batch:
                return
            after = (int(rows[-1]["ts"]), str(rows[-1]["tx_id"]))

    def hash_groups(self, owner_id: str, asset_key: str, *, wider_than: int = 0) -> dict[str, list[int]]:
        """The on-chain hashes (``h:...``) and exchange transfer ids (``i:...``) that confirmed, not
        deleted halves of one asset share in both directions, with the times of those halves; only
        those whose halves lie more than ``wider_than`` µs apart."""
        h = t.owner_halves
        found: dict[str, list[int]] = {}
        live = and_(
            h.c.owner_id == owner_id,
            h.c.asset_key == asset_key,
            h.c.status == "confirmed",
            h.c.deleted == 0,
        )
        with self._read() as conn:
            for prefix, column in (("h:", h.c.tx_hash), ("i:", h.c.internal_id)):
                shared = (
                    select(column)
                    .where(live, column.is_not(None))
                    .group_by(column)
                    .having(func.count(h.c.direction.distinct()) > 1)
                    .having(func.max(h.c.ts) - func.min(h.c.ts) > wider_than)
                )
                rows = conn.execute(
                    select(column, h.c.ts).where(live, column.in_(shared)).order_by(column, h.c.ts)
                ).all()
                for key, ts in rows:
                    found.setdefault(prefix + str(key), []).append(int(ts))
        return found

    def halves_with_keys(self, owner_id: str, keys: Iterable[str]) -> list[Half]:
        """An owner's halves whose on-chain hash (key ``h:...``) or transfer id (``i:...``) is one of
        ``keys``."""
        h = t.owner_halves
        hashes = sorted({k[2:] for k in keys if k.startswith("h:")})
        internal = sorted({k[2:] for k in keys if k.startswith("i:")})
        found: dict[Node, Half] = {}
        with self._read() as conn:
            for column, values in ((h.c.tx_hash, hashes), (h.c.internal_id, internal)):
                for chunk in _chunks(values):
                    query = select(h).where(h.c.owner_id == owner_id, column.in_(chunk))
                    for row in conn.execute(query).mappings():
                        half = _half_row(row)[0]
                        found[half.node] = half
        return sorted(found.values(), key=lambda x: (x.ts, x.tx_id, x.asset_key))

    def half_asset_keys(self, owner_id: str) -> set[str]:
        """Every asset key of an owner's halves and links."""
        h, lk = t.owner_halves, t.owner_links
        with self._read() as conn:
            keys = set(
                conn.execute(select(h.c.asset_key).where(h.c.owner_id == owner_id).distinct()).scalars()
            )
            keys.update(
                conn.execute(select(lk.c.asset_key).where(lk.c.owner_id == owner_id).distinct()).scalars()
            )
        return {str(k) for k in keys}

    def deletion_flips(self, owner_id: str) -> list[Half]:
        """Halves of an owner whose ``deleted`` flag no longer says whether the user deleted the
        transaction (deleted or restored since the linker last looked), and those whose transaction
        was removed for good (status ``removed``)."""
        h, tb = t.owner_halves, t.tombstones
        query = (
            select(h)
            .select_from(h.outerjoin(tb, tb.c.transaction_id == h.c.tx_id))
            .where(
                h.c.owner_id == owner_id,
                ((tb.c.transaction_id.is_not(None)) & (h.c.deleted == 0))
                | ((tb.c.transaction_id.is_(None)) & (h.c.deleted != 0))
                | (h.c.status == "removed"),
            )
            .order_by(h.c.ts, h.c.tx_id, h.c.asset_key)
        )
        with self._read() as conn:
            return [_half_row(row)[0] for row in conn.execute(query).mappings()]

    def stale_half_txs(
        self, account_id: str, since_us: int | None, kinds: Iterable[str], *, gone: bool = False
    ) -> Iterator[list[str]]:
        """Transactions of ``account_id`` that have stored halves but whose kind is no longer one of
        ``kinds`` (written at or after ``since_us``), in chunks; with ``gone``, also those no longer in
        the ledger at all (a full run)."""
        h, tx = t.owner_halves, t.transactions
        try:
            account_seq = self._keys.seq_of(account_id)
        except UnknownConnectionError:
            account_seq = None
        wanted = sorted(set(kinds))
        if account_seq is not None:
            after: tuple[int, int] | None = None
            while True:
                # keyset on (ts, seq): the account's time index, never a scan of the account per page
                query = select(tx.c.ts, tx.c.seq, tx.c.id).where(
                    tx.c.account_seq == account_seq, tx.c.kind.not_in(wanted)
                )
                if after is not None:
                    query = query.where(tuple_(tx.c.ts, tx.c.seq) > tuple_(*after))
                if since_us is not None:
                    query = query.where(tx.c.updated_at >= since_us)
                with self._read() as conn:
                    rows = conn.execute(query.order_by(tx.c.ts, tx.c.seq).limit(_CHUNK)).all()
                    ids = [str(r.id) for r in rows]
                    held = sorted(
                        {str(x) for x in conn.execute(select(h.c.tx_id).where(h.c.tx_id.in_(ids))).scalars()}
                    )
                if held:
                    yield held
                if len(rows) < _CHUNK:
                    break
                after = (int(rows[-1].ts), int(rows[-1].seq))
        if not gone:
            return
        last = ""
        while True:
            with self._read() as conn:
                ids = list(
                    conn.execute(
                        select(h.c.tx_id)
                        .where(h.c.account_id == account_id, h.c.tx_id > last)
                        .distinct()
                        .order_by(h.c.tx_id)
                        .limit(_CHUNK)
                    ).scalars()
                )
                missing = set(ids) - self._existing_ids(conn, ids)
            if missing:
                yield sorted(missing)
            if len(ids) < _CHUNK:
                return
            last = ids[-1]

    def _existing_ids(self, conn: Connection, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are transactions of the ledger (the id index, then the rows written since
        it was filled)."""
        found = {
            str(x)
            for x in conn.execute(
                select(t.transaction_ids.c.id).where(t.transaction_ids.c.id.in_(ids))
            ).scalars()
        }
        missing = [x for x in ids if x not in found]
        if missing:
            upto = (
                select(t.store_state.c.value)
                .where(t.store_state.c.name == "ids_indexed_upto")
                .scalar_subquery()
            )
            tx = t.transactions
            found.update(
                str(x)
                for x in conn.execute(select(tx.c.id).where(tx.c.seq > upto, tx.c.id.in_(missing))).scalars()
            )
        return found

    def write_halves(self, upsert: Sequence[Half], remove: Sequence[Node], *, replace: bool = True) -> None:
        """Replace (or add) the halves ``upsert`` and drop the halves ``remove`` (``replace=False``: the
        caller knows none of ``upsert`` is stored unless it is in ``remove``)."""
        h = t.owner_halves
        gone = list(remove) + ([x.node for x in upsert] if replace else [])
        with self._write() as conn:
            for chunk in _chunks(gone):
                conn.execute(delete(h).where(tuple_(h.c.tx_id, h.c.asset_key).in_(list(chunk))))
            if upsert:
                conn.execute(
                    insert(h),
                    [
                        {
                            "tx_id": x.tx_id,
                            "asset_key": x.asset_key,
                            "direction": x.direction,
                            "owner_id": x.owner_id,
                            "account_id": x.account_id,
                            "asset": x.asset,
                            "ts": x.ts,
                            "status": x.status,
                            "amount": f"{x.amount:f}",
                            "fee": f"{x.fee:f}",
                            "tx_hash": x.tx_hash,
                            "out_index": x.out_index,
                            "internal_id": x.internal_id,
                            "network": x.network,
                            "address": ",".join(sorted(x.addresses)) or None,
                            "deleted": int(x.deleted),
                            "digest": x.digest(),
                            "note": None,
                        }
                        for x in upsert
                    ],
                )

    def set_half_notes(self, notes: Mapping[Node, str | None]) -> None:
        """Set (or clear, with ``None``) the linker's note on halves."""
        h = t.owner_halves
        if not notes:
            return
        with self._write() as conn:
            for (tx_id, asset_key), note in notes.items():
                conn.execute(
                    update(h).where(and_(h.c.tx_id == tx_id, h.c.asset_key == asset_key)).values(note=note)
                )

    # -- links ---------------------------------------------------------------------------------------

    def stored_links(
        self,
        owner_id: str | None = None,
        *,
        tx_ids: Iterable[str] | None = None,
        asset_key: str | None = None,
        manual: bool = False,
    ) -> list[TransferLink]:
        """Links of an owner (or touching some transactions, or of one asset, or the user's own), in
        withdrawal time order."""
        lk = t.owner_links
        queries = [select(lk)]
        if tx_ids is not None:
            # By the two id indexes only (the owner's index would scan all its links per chunk); the
            # other conditions are applied to the few rows found.
            ids = sorted(set(tx_ids))
            if not ids:
                return []
            queries = [
                select(lk).where(column.in_(chunk))
                for column in (lk.c.withdrawal_id, lk.c.deposit_id)
                for chunk in _chunks(ids)
            ]
        else:
            if owner_id is not None:
                queries = [q.where(lk.c.owner_id == owner_id) for q in queries]
            if asset_key is not None:
                queries = [q.where(lk.c.asset_key == asset_key) for q in queries]
            if manual:
                queries = [q.where(lk.c.method == "manual") for q in queries]
        found: dict[tuple[str, str], TransferLink] = {}
        with self._read() as conn:
            for q in queries:
                for row in conn.execute(q).mappings():
                    if tx_ids is not None and (
                        (owner_id is not None and row["owner_id"] != owner_id)
                        or (asset_key is not None and row["asset_key"] != asset_key)
                        or (manual and row["method"] != "manual")
                    ):
                        continue
                    found[(row["withdrawal_id"], row["asset_key"])] = _link_row(row)
        return sorted(found.values(), key=lambda x: (x.withdrawal_time, x.withdrawal, x.asset_key))

    def links_within(
        self, owner_id: str, asset_key: str, spans: Sequence[tuple[int, int]] | None
    ) -> Iterator[TransferLink]:
        """The links of one asset of an owner with an end (withdrawal or deposit time, µs) inside one
        of ``spans`` (every link of the asset when ``None``)."""
        lk = t.owner_links
        base = select(lk).where(lk.c.owner_id == owner_id, lk.c.asset_key == asset_key)
        if spans is None:
            queries = [base]
        else:
            queries = [
                base.where(lk.c.withdrawal_ts.between(lo, hi) | lk.c.deposit_ts.between(lo, hi))
                for lo, hi in spans
            ]
        seen: set[tuple[str, str]] = set()
        for query in queries:
            with self._read() as conn:
                rows = conn.execute(query).mappings().all()
            for row in rows:
                key = (row["withdrawal_id"], row["asset_key"])
                if key not in seen:
                    seen.add(key)
                    yield _link_row(row)

    def write_links(
        self, remove: Sequence[tuple[str, str]], add: Sequence[TransferLink], now_us: int
    ) -> None:
        """Drop the links of withdrawal halves ``remove`` and store ``add``, in one transaction."""
        lk = t.owner_links
        gone = list(remove) + [(x.withdrawal, x.asset_key) for x in add]
        with self._write() as conn:
            for chunk in _chunks(gone):
                conn.execute(delete(lk).where(tuple_(lk.c.withdrawal_id, lk.c.asset_key).in_(list(chunk))))
            deposits = [(x.deposit, x.asset_key) for x in add]
            for chunk in _chunks(deposits):
                conn.execute(delete(lk).where(tuple_(lk.c.deposit_id, lk.c.asset_key).in_(list(chunk))))
            if add:
                conn.execute(
                    insert(lk),
                    [
                        {
                            "withdrawal_id": x.withdrawal,
                            "asset_key": x.asset_key,
                            "deposit_id": x.deposit,
                            "owner_id": x.owner_id,
                            "withdrawal_account": x.withdrawal_account,
                            "deposit_account": x.deposit_account,
                            "asset": x.asset,
                            "deposit_asset": x.deposit_asset,
                            "method": x.method.value,
                            "matched_on": x.matched_on,
                            "confidence": f"{x.confidence:f}",
                            "sent": f"{x.sent:f}",
                            "received": f"{x.received:f}",
                            "declared_fee": f"{x.declared_fee:f}",
                            "fee": f"{x.fee:f}",
                            "fee_leg": f"{x.fee_leg:f}",
                            "flags": jsonutil.dumps(list(x.flags)),
                            "withdrawal_ts": to_us(x.withdrawal_time),
                            "deposit_ts": to_us(x.deposit_time),
                            "created_at": now_us,
                        }
                        for x in add
                    ],
                )

    # -- the user's link decisions ------------------------------------------------------------------

    def link_decisions(self, owner_id: str) -> list[dict[str, Any]]:
        """The user's link and unlink decisions of an owner, oldest first."""
        d = t.owner_link_decisions
        with self._read() as conn:
            rows = (
                conn.execute(
                    select(d).where(d.c.owner_id == owner_id).order_by(d.c.decided_at, d.c.withdrawal_id)
                )
                .mappings()
                .all()
            )
        return [dict(row) for row in rows]

    def put_link_decision(
        self,
        owner_id: str,
        withdrawal_id: str,
        deposit_id: str,
        decision: str,
        *,
        asset_key: str | None,
        note: str | None,
        now_us: int,
    ) -> None:
        """Record (replace) the user's decision on a pair."""
        d = t.owner_link_decisions
        with self._write() as conn:
            conn.execute(delete(d).where(d.c.withdrawal_id == withdrawal_id, d.c.deposit_id == deposit_id))
            conn.execute(
                insert(d),
                {
                    "withdrawal_id": withdrawal_id,
                    "deposit_id": deposit_id,
                    "owner_id": owner_id,
                    "decision": decision,
                    "asset_key": asset_key,
                    "note": note,
                    "decided_at": now_us,
                },
            )

    def drop_link_decision(self, withdrawal_id: str, deposit_id: str) -> bool:
        """Forget the user's decision on a pair; whether there was one."""
        d = t.owner_link_decisions
        with self._write() as conn:
            result = conn.execute(
                delete(d).where(d.c.withdrawal_id == withdrawal_id, d.c.deposit_id == deposit_id)
            )
            return bool(result.rowcount)

    # -- coverage gaps -------------------------------------------------------------------------------

    def record_account_gaps(
        self,
        account_id: str,
        connector_id: str,
        gaps: Sequence[Mapping[str, Any]],
        now_us: int,
        *,
        resolve_others_of: str | None = None,
    ) -> None:
        """Upsert the gaps that apply to an account (each a mapping of the ``owner_account_gaps``
        columns but times); a gap already recorded keeps its ``since``. With ``resolve_others_of`` (a
        connection id whose complete full sync noted ``gaps``), that connection's detected gaps not in
        ``gaps`` are marked resolved."""
        g = t.owner_account_gaps
        with self._write() as conn:
            existing = {
                row["gap_id"]: row
                for row in conn.execute(
                    select(g).where(g.c.account_id == account_id, g.c.connector_id == connector_id)
                ).mappings()
            }
            seen: set[str] = set()
            for gap in gaps:
                gap_id = str(gap["gap_id"])
                seen.add(gap_id)
                old = existing.get(gap_id)
                values = {
                    "connection_id": gap.get("connection_id"),
                    "title": gap["title"],
                    "remedy": gap["remedy"],
                    "description": gap.get("description", ""),
                    "stream": gap.get("stream"),
                    "always": int(bool(gap.get("always"))),
                    "assets": jsonutil.dumps(list(gap.get("assets", ()))),
                    "unreported_balances": int(bool(gap.get("unreported_balances"))),
                    "last_seen": now_us,
                    "resolved_at": None,
                }
                detail = str(gap.get("detail") or "")
                if old is None:
                    conn.execute(
                        insert(g),
                        {
                            "account_id": account_id,
                            "connector_id": connector_id,
                            "gap_id": gap_id,
                            "detail": detail,
                            "since": now_us,
                            **values,
                        },
                    )
                else:
                    if detail:
                        values["detail"] = detail  # a detected gap keeps its last detail
                    if old["resolved_at"] is not None:
                        values["since"] = now_us
                    conn.execute(
                        update(g)
                        .where(
                            g.c.account_id == account_id,
                            g.c.connector_id == connector_id,
                            g.c.gap_id == gap_id,
                        )
                        .values(**values)
                    )
            if resolve_others_of is not None:
                for gap_id, row in existing.items():
                    if (
                        gap_id not in seen
                        and not row["always"]
                        and row["resolved_at"] is None
                        and row["connection_id"] in (resolve_others_of, None)
                    ):
                        conn.execute(
                            update(g)
                            .where(
                                g.c.account_id == account_id,
                                g.c.connector_id == connector_id,
                                g.c.gap_id == gap_id,
                            )
                            .values(resolved_at=now_us)
                        )

    def account_gaps(self, account_id: str, *, include_resolved: bool = False) -> list[AccountGap]:
        """The coverage gaps of an account, oldest first."""
        from txsync.owner.models import AccountGap

        g = t.owner_account_gaps
        query = select(g).where(g.c.account_id == account_id)
        if not include_resolved:
            query = query.where(g.c.resolved_at.is_(None))
        with self._read() as conn:
            rows = conn.execute(query.order_by(g.c.since, g.c.connector_id, g.c.gap_id)).mappings().all()
        return [
            AccountGap(
                account_id=row["account_id"],
                connector_id=row["connector_id"],
                gap_id=row["gap_id"],
                title=row["title"],
                remedy=row["remedy"],
                description=row["description"],
                detail=row["detail"],
                stream=row["stream"],
                connection_id=row["connection_id"],
                always=bool(row["always"]),
                assets=tuple(jsonutil.loads(row["assets"])),
                unreported_balances=bool(row["unreported_balances"]),
                since=from_us(row["since"]),
                last_seen=from_us(row["last_seen"]),
                resolved_at=_opt(row["resolved_at"]),
            )
            for row in rows
        ]

    # -- reported balances ---------------------------------------------------------------------------

    def put_balance_snapshot(
        self, account_id: str, balances: Sequence[Balance], as_of: datetime, connection_id: str | None = None
    ) -> None:
        """Keep what the source reported for an account (replacing the previous snapshot)."""
        snap = t.owner_balance_snapshots
        data = [b.model_dump(mode="json") for b in balances]
        with self._write() as conn:
            conn.execute(delete(snap).where(snap.c.account_id == account_id))
            conn.execute(
                insert(snap),
                {
                    "account_id": account_id,
                    "connection_id": connection_id,
                    "as_of": to_us(as_of),
                    "balances": jsonutil.dumps(data),
                },
            )

    def balance_snapshot(self, account_id: str) -> tuple[datetime, list[Balance]] | None:
        """The last reported balances of an account and when, or ``None``."""
        snap = t.owner_balance_snapshots
        with self._read() as conn:
            row = conn.execute(select(snap).where(snap.c.account_id == account_id)).mappings().first()
        if row is None:
            return None
        items = jsonutil.loads(row["balances"])
        assert isinstance(items, list)
        return from_us(row["as_of"]), [Balance.model_validate(item) for item in items]

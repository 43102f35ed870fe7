"""The valuation tables' queries (schema block "valuation", migration 0006_valuation), mixed into
:class:`~txsync.store.SqlStore` as :class:`ValuationTables`.

* ``price_cache``: the persistent :class:`~txsync.valuation.PriceCache` (:meth:`ValuationTables.price_cache`),
  so a second valuation pass - in this process or the next - fetches nothing it already has;
* ``valuations``: one :class:`~txsync.valuation.TransactionValuation` per transaction with its
  provenance (:meth:`ValuationTables.valuation_store` is the :class:`~txsync.valuation.ValuationStore`);
* ``valuation_owners``: each owner's base currency.

Decimals are stored as decimal strings, times as integer microseconds: no float anywhere. Writes are
upserts (``ON CONFLICT DO UPDATE`` on both SQLite and PostgreSQL), so concurrent passes of one owner on
PostgreSQL never fail on a key the other wrote first; the later write wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Connection, Table, delete, func, select

from txsync import jsonutil
from txsync.errors import BadResponseError, ConfigurationError, StoreError
from txsync.merge import from_us, to_us
from txsync.store import schema as t

if TYPE_CHECKING:
    from txsync.valuation.cache import CachedPrice, PriceKey
    from txsync.valuation.results import TransactionValuation

__all__ = ["SqlPriceCache", "SqlValuationStore", "ValuationTables"]

_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert ``rows``, replacing the rows of the same primary key (``keys``)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(table)
    columns = [c.name for c in table.columns if c.name not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: stmt.excluded[name] for name in columns}
    )
    # One statement per chunk, each row's keys once (a repeated key in one statement is an error on
    # PostgreSQL): the last entry of a key wins, as put_many promises.
    unique = list({tuple(row[k] for k in keys): row for row in rows}.values())
    for chunk in _chunks(unique):
        conn.execute(stmt, list(chunk))


def _decimal(text: str | None, what: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        raise StoreError(f"the stored {what} {text[:40]!r} is not a decimal") from None


class SqlPriceCache:
    """The :class:`~txsync.valuation.PriceCache` on the store's ``price_cache`` table."""

    def __init__(self, store: ValuationTables) -> None:
        self._store = store
        # What this object read or wrote (None: not in the table): a pass asks for the same keys
        # again after filling them, and that costs no query.
        self._seen: dict[PriceKey, CachedPrice | None] = {}
        #: Lookups served and missed, and entries written (what a benchmark or a test reads).
        self.hits = 0
        self.misses = 0
        self.puts = 0

    def get_many(self, keys: Iterable[PriceKey]) -> dict[PriceKey, CachedPrice]:
        """See :meth:`txsync.valuation.PriceCache.get_many`: what this object has not seen yet is
        read in one query per instrument and interval (and per 500 times)."""
        found: dict[PriceKey, CachedPrice] = {}
        unseen: list[PriceKey] = []
        for key in keys:
            if key in self._seen:
                entry = self._seen[key]
                if entry is None:
                    self.misses += 1
                else:
                    self.hits += 1
                    found[key] = entry
            else:
                unseen.append(key)
        if unseen:
            read = self._read_many(unseen)
            for key in unseen:
                self._seen[key] = read.get(key)
            found.update(read)
            self.hits += len(read)
            self.misses += len(set(unseen)) - len(read)
        return found

    def _read_many(self, keys: Iterable[PriceKey]) -> dict[PriceKey, CachedPrice]:
        from txsync.valuation.cache import CachedPrice, PriceKey

        groups: dict[tuple[str, str, str, str], dict[int, PriceKey]] = defaultdict(dict)
        for key in keys:
            groups[(key.source, key.asset, key.quote, key.interval)][to_us(key.time)] = key
        pc = t.price_cache
        found: dict[PriceKey, CachedPrice] = {}
        with self._store._read() as conn:
            for (source, asset, quote, interval), times in groups.items():
                for chunk in _chunks(sorted(times)):
                    rows = conn.execute(
                        select(pc).where(
                            pc.c.source == source, pc.c.asset == asset, pc.c.quote == quote,
                            pc.c.interval == interval, pc.c.time.in_(chunk),
                        )
                    ).mappings()
                    for row in rows:
                        key = times.get(int(row["time"])) or PriceKey(
                            source, asset, quote, interval, from_us(int(row["time"]))
                        )
                        observed = row["observed_at"]
                        found[key] = CachedPrice(
                            key=key,
                            price=_decimal(row["price"], "price"),
                            fetched_at=from_us(int(row["fetched_at"])),
                            pair=row["pair"],
                            observed_at=None if observed is None else from_us(int(observed)),
                            note=row["note"],
                        )
        return found

    def put_many(self, entries: Iterable[CachedPrice]) -> None:
        """See :meth:`txsync.valuation.PriceCache.put_many` (one write transaction)."""
        items = list(entries)
        rows = [
            {
                "source": e.key.source, "asset": e.key.asset, "quote": e.key.quote,
                "interval": e.key.interval, "time": to_us(e.key.time),
                "price": None if e.price is None else str(e.price),
                "fetched_at": to_us(e.fetched_at), "pair": e.pair,
                "observed_at": None if e.observed_at is None else to_us(e.observed_at), "note": e.note,
            }
            for e in items
        ]
        if not rows:
            return
        with self._store._write() as conn:
            _upsert(conn, t.price_cache, rows, ("source", "asset", "quote", "interval", "time"))
        for entry in items:
            self._seen[entry.key] = entry
        self.puts += len(rows)

    def __len__(self) -> int:
        with self._store._read() as conn:
            return int(conn.execute(select(func.count()).select_from(t.price_cache)).scalar() or 0)

    def __repr__(self) -> str:
        return "SqlPriceCache()"


class SqlValuationStore:
    """The :class:`~txsync.valuation.ValuationStore` on the store's ``valuations`` table."""

    def __init__(self, store: ValuationTables) -> None:
        self._store = store

    def save(self, valuations: Iterable[TransactionValuation]) -> None:
        """See :meth:`txsync.valuation.ValuationStore.save`."""
        self._store.save_valuations(valuations)

    def load(self, transaction_ids: Iterable[str]) -> dict[str, TransactionValuation]:
        """See :meth:`txsync.valuation.ValuationStore.load`."""
        return self._store.load_valuations(transaction_ids)

    def pending(self, *, account_id: str | None = None) -> list[str]:
        """See :meth:`txsync.valuation.ValuationStore.pending`."""
        return self._store.pending_valuations(account_id=account_id)


class ValuationTables:
    """Valuation storage on the store's SQL engine (a mixin of :class:`~txsync.store.SqlStore`)."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _write(self) -> AbstractContextManager[Connection]: ...
        def account_owner(self, account_id: str) -> str: ...

    # -- the price cache ---------------------------------------------------------------------------

    def price_cache(self) -> SqlPriceCache:
        """The persistent price cache of this store (shared by every owner: prices are public data)."""
        return SqlPriceCache(self)

    # -- valuations ----------------------------------------------------------------------------------

    def valuation_store(self) -> SqlValuationStore:
        """This store's valuations as a :class:`~txsync.valuation.ValuationStore`."""
        return SqlValuationStore(self)

    def save_valuations(self, valuations: Iterable[TransactionValuation]) -> None:
        """Store (replace) valuations, keyed by transaction id, in one write transaction."""
        owners: dict[str, str] = {}
        rows: list[dict[str, Any]] = []
        for v in valuations:
            owner = owners.get(v.account_id)
            if owner is None:
                owner = owners[v.account_id] = self.account_owner(v.account_id)
            body = v.to_dict()
            rows.append({
                "transaction_id": v.transaction_id, "account_id": v.account_id, "owner_id": owner,
                "currency": v.currency, "status": v.status.value, "method": v.method.value,
                "amount": body["amount"], "source": v.source, "pair": v.pair,
                "candle_time": None if v.candle_time is None else to_us(v.candle_time),
                "rate": body["rate"], "fx_rate": body["fx_rate"], "reason": v.reason,
                "needs_retry": int(v.needs_retry), "fingerprint": v.fingerprint,
                "valued_at": to_us(v.valued_at or datetime.now(UTC)),
                # our own JSON-ready dict (strings, integers, booleans): msgspec's C encoder
                "body": msgspec.json.encode(body).decode("utf-8"),
            })  # fmt: skip
        if not rows:
            return
        with self._write() as conn:
            _upsert(conn, t.valuations, rows, ("transaction_id",))

    def load_valuations(self, transaction_ids: Iterable[str]) -> dict[str, TransactionValuation]:
        """The stored valuations of these transactions (missing ids are absent)."""
        ids = sorted(set(transaction_ids))
        v = t.valuations
        out: dict[str, TransactionValuation] = {}
        with self._read() as conn:
            for chunk in _chunks(ids):
                query = select(v.c.transaction_id, v.c.body).where(v.c.transaction_id.in_(chunk))
                for tx_id, body in conn.execute(query):
                    out[str(tx_id)] = _valuation(body)
        return out

    def valuation_of(self, transaction_id: str) -> TransactionValuation | None:
        """The stored valuation of one transaction, or ``None``."""
        return self.load_valuations([transaction_id]).get(transaction_id)

    def pending_valuations(self, *, owner_id: str | None = None, account_id: str | None = None) -> list[str]:
        """Ids of stored valuations a later pass must retry (waiting for a price), by id."""
        v = t.valuations
        query = select(v.c.transaction_id).where(v.c.needs_retry == 1)
        if owner_id is not None:
            query = query.where(v.c.owner_id == owner_id)
        if account_id is not None:
            query = query.where(v.c.account_id == account_id)
        with self._read() as conn:
            return [str(x) for x in conn.execute(query.order_by(v.c.transaction_id)).scalars()]

    def valuation_counts(
        self, *, owner_id: str | None = None, account_id: str | None = None
    ) -> dict[str, int]:
        """How many stored valuations have each status (``valued``, ``pending``, ``unpriceable``,
        ``override``; every status present, 0 when none)."""
        v = t.valuations
        query = select(v.c.status, func.count()).group_by(v.c.status)
        if owner_id is not None:
            query = query.where(v.c.owner_id == owner_id)
        if account_id is not None:
            query = query.where(v.c.account_id == account_id)
        counts = {"valued": 0, "pending": 0, "unpriceable": 0, "override": 0}
        with self._read() as conn:
            for status, count in conn.execute(query):
                counts[str(status)] = int(count)
        return counts

    def forget_valuations(self, *, owner_id: str | None = None, account_id: str | None = None) -> int:
        """Delete stored valuations (of an owner, an account, or all): the next pass values again.
        The user's overrides live in the ledger and are untouched. Returns how many were deleted."""
        v = t.valuations
        stmt = delete(v)
        if owner_id is not None:
            stmt = stmt.where(v.c.owner_id == owner_id)
        if account_id is not None:
            stmt = stmt.where(v.c.account_id == account_id)
        with self._write() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    # -- base currency -------------------------------------------------------------------------------

    def base_currency(self, owner_id: str) -> str | None:
        """The base currency set for ``owner_id`` (ISO 4217), or ``None`` when none was set."""
        vo = t.valuation_owners
        with self._read() as conn:
            value = conn.execute(select(vo.c.base_currency).where(vo.c.owner_id == owner_id)).scalar()
        return None if value is None else str(value)

    def set_base_currency(self, owner_id: str, currency: str, *, now: datetime | None = None) -> None:
        """Set ``owner_id``'s base currency (an ISO 4217 code): the next pass values every transaction
        of the owner in it (their fingerprints include the currency)."""
        from txsync.valuation.assets import fiat

        try:
            code = fiat(currency)[5:]
        except Exception:
            raise ConfigurationError(f"{currency!r} is not an ISO 4217 currency code") from None
        row = {"owner_id": owner_id, "base_currency": code, "updated_at": to_us(now or datetime.now(UTC))}
        with self._write() as conn:
            _upsert(conn, t.valuation_owners, [row], ("owner_id",))

    # -- erasure -------------------------------------------------------------------------------------

    def _erase_valuations(self, conn: Connection, *, account_id: str, owner_gone: str | None) -> None:
        """Delete an erased account's valuations (and its owner's settings when it was their last)."""
        conn.execute(delete(t.valuations).where(t.valuations.c.account_id == account_id))
        if owner_gone is not None:
            conn.execute(delete(t.valuation_owners).where(t.valuation_owners.c.owner_id == owner_gone))


def _valuation(body: str) -> TransactionValuation:
    from txsync.valuation.results import TransactionValuation

    try:
        data = jsonutil.loads_stored(body)
        if not isinstance(data, dict):
            raise TypeError("not an object")
        return TransactionValuation.from_dict(data)
    except (BadResponseError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise StoreError(f"a stored valuation cannot be read: {type(exc).__name__}") from None

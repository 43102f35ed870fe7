"""The price cache: every price a source fetched, consulted before any request.

Keys are ``(source, asset, quote, interval, time)``: the source's own instrument (its base and quote as
txsync asset ids), the interval (a :class:`~txsync.valuation.Granularity` value such as ``"1m"``, or
``"symbol"`` for facts about the instrument itself) and the interval's start. An entry whose ``price`` is
``None`` records that the source has *no* price there (an unlisted symbol, a minute before listing), so
a second pass does not ask again; sources decide how long such an entry stays true (``fetched_at``).

:class:`InMemoryPriceCache` is the implementation for tests and one-shot runs; the store provides a
persistent one on its own tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from txsync.valuation.prices import EPOCH

__all__ = ["SYMBOL_INTERVAL", "CachedPrice", "InMemoryPriceCache", "PriceCache", "PriceKey"]

#: The interval of entries that describe an instrument rather than a price (``time`` is the epoch).
SYMBOL_INTERVAL = "symbol"


@dataclass(frozen=True, slots=True, order=True)
class PriceKey:
    """Where one cached price lives."""

    source: str
    asset: str
    quote: str
    interval: str
    time: datetime

    @classmethod
    def symbol(cls, source: str, asset: str, quote: str) -> PriceKey:
        """The key of facts about the instrument ``asset``/``quote`` (listed or not)."""
        return cls(source, asset, quote, SYMBOL_INTERVAL, EPOCH)


@dataclass(frozen=True, slots=True)
class CachedPrice:
    """One cache entry: the price of ``key`` (``None`` = the source has none there) and its evidence."""

    key: PriceKey
    price: Decimal | None
    fetched_at: datetime
    #: The instrument's name at the source (``BTCEUR``).
    pair: str | None = None
    #: When the figure was observed, if not at the interval's start (a weekend's FX rate is Friday's).
    observed_at: datetime | None = None
    #: Why there is no price (``price`` is ``None``), or a remark.
    note: str | None = None


@runtime_checkable
class PriceCache(Protocol):
    """What sources need from a price cache. Implementations must accept repeated puts of a key
    (the later entry wins)."""

    def get_many(self, keys: Iterable[PriceKey]) -> Mapping[PriceKey, CachedPrice]:
        """The entries found among ``keys`` (missing keys are absent from the result)."""
        ...

    def put_many(self, entries: Iterable[CachedPrice]) -> None:
        """Store ``entries``, replacing entries of the same key."""
        ...


class InMemoryPriceCache:
    """A :class:`PriceCache` in a dict; counts lookups so tests can see what was served from it."""

    def __init__(self, entries: Iterable[CachedPrice] = ()) -> None:
        self._entries: dict[PriceKey, CachedPrice] = {}
        self.hits = 0
        self.misses = 0
        self.puts = 0
        self.put_many(entries)

    def get_many(self, keys: Iterable[PriceKey]) -> dict[PriceKey, CachedPrice]:
        """See :meth:`PriceCache.get_many`."""
        found: dict[PriceKey, CachedPrice] = {}
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
            else:
                self.hits += 1
                found[key] = entry
        return found

    def put_many(self, entries: Iterable[CachedPrice]) -> None:
        """See :meth:`PriceCache.put_many`."""
        for entry in entries:
            self._entries[entry.key] = entry
            self.puts += 1

    def entries(self) -> list[CachedPrice]:
        """Every entry, sorted by key."""
        return [self._entries[key] for key in sorted(self._entries)]

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"InMemoryPriceCache({len(self._entries)} entries)"

"""Where valuations are kept: the :class:`ValuationStore` protocol and its in-memory implementation.

The ledger store implements the protocol on its own tables; :class:`InMemoryValuationStore` serves
tests and one-shot runs. A valuation is saved whole (transaction and legs, with provenance) and keyed by
transaction id; a later save of the same id replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from txsync.valuation.results import TransactionValuation

__all__ = ["InMemoryValuationStore", "ValuationStore"]


@runtime_checkable
class ValuationStore(Protocol):
    """What the :class:`~txsync.valuation.Valuator` needs to keep valuations between passes."""

    def save(self, valuations: Iterable[TransactionValuation]) -> None:
        """Store (replace) valuations, keyed by transaction id."""
        ...

    def load(self, transaction_ids: Iterable[str]) -> dict[str, TransactionValuation]:
        """The stored valuations of these transactions (missing ids are absent)."""
        ...

    def pending(self, *, account_id: str | None = None) -> list[str]:
        """Ids of stored valuations a later pass must retry (:attr:`TransactionValuation.needs_retry`)."""
        ...


class InMemoryValuationStore:
    """A :class:`ValuationStore` in a dict."""

    def __init__(self) -> None:
        self._by_id: dict[str, TransactionValuation] = {}
        self.saves = 0

    def save(self, valuations: Iterable[TransactionValuation]) -> None:
        """See :meth:`ValuationStore.save`."""
        for valuation in valuations:
            self._by_id[valuation.transaction_id] = valuation
            self.saves += 1

    def load(self, transaction_ids: Iterable[str]) -> dict[str, TransactionValuation]:
        """See :meth:`ValuationStore.load`."""
        return {tid: self._by_id[tid] for tid in transaction_ids if tid in self._by_id}

    def pending(self, *, account_id: str | None = None) -> list[str]:
        """See :meth:`ValuationStore.pending`."""
        return sorted(
            v.transaction_id
            for v in self._by_id.values()
            if v.needs_retry and (account_id is None or v.account_id == account_id)
        )

    def get(self, transaction_id: str) -> TransactionValuation | None:
        """One stored valuation."""
        return self._by_id.get(transaction_id)

    def all(self) -> list[TransactionValuation]:
        """Every stored valuation, by transaction id."""
        return [self._by_id[tid] for tid in sorted(self._by_id)]

    def __len__(self) -> int:
        return len(self._by_id)

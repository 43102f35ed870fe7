"""What the merge reads from the store, what it asks the store to write, and what it counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec

from txsync.models import NormalizedTransaction, RawTransaction

__all__ = [
    "MergeBackend",
    "MergeCounts",
    "MergeWrites",
    "PageBatch",
    "RawWrite",
    "StoredRaw",
    "StoredTransaction",
    "WindowBackend",
]


class StoredRaw(msgspec.Struct, gc=False):
    """A raw as stored: its canonical payload text and the seq of the transaction it belongs to."""

    payload: str
    tx_seq: int | None


class StoredTransaction(msgspec.Struct, gc=False):
    """A transaction as the merge needs it (stored, or created by the page being merged).

    ``seq`` is the store's key (``None`` until a created transaction is written); ``tx_key`` the
    identity it is found by (see :func:`txsync.merge.identity_key`); ``body`` the stored text of its
    parts ("" when created by this page). The remaining fields are filled for writing.
    """

    id: str
    account_id: str
    parts: dict[str, dict[str, Any]]
    body: str
    created_at: int
    seq: int | None = None
    tx_key: str = ""
    # Row values computed when the transaction is written.
    kind: str = ""
    ts: int = 0
    status: str = ""
    origins: str = ""
    legs: str = ""
    new_body: str = ""
    #: The signature to index for matching (accounts with more than one origin), else None.
    match_signature: str | None = None


class RawWrite(msgspec.Struct, gc=False):
    """A raw of the page to insert or update (the backend knows the page's connection and stream)."""

    source_id: str
    payload: str
    #: The transaction it belongs to (of this page or stored); ``None``: keep ``tx_seq`` as stored.
    tx_id: str | None
    tx_seq: int | None
    new: bool


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
    """Rows the backend must write, computed by :func:`txsync.merge.merge_page`.

    Created transactions have ``seq=None``: the backend gives them their keys, then writes the raws
    (whose ``tx_id`` names a transaction of this page or a stored one).
    """

    fetched_at: int = 0
    raws: list[RawWrite] = field(default_factory=list)
    new_transactions: list[StoredTransaction] = field(default_factory=list)
    changed_transactions: list[StoredTransaction] = field(default_factory=list)
    #: Further identity keys of stored transactions (a record re-read under a corrected key): the
    #: transaction keeps its id and is found by both keys from now on.
    aliases: list[tuple[StoredTransaction, str]] = field(default_factory=list)
    origins: set[tuple[str, str]] = field(default_factory=set)  # (account, origin) seen
    #: Every transaction the page touched or read, by id (raws name theirs by id).
    transactions: dict[str, StoredTransaction] = field(default_factory=dict)


class MergeBackend(Protocol):
    """The store's view inside the database transaction that commits one page."""

    def load_raws(self, connection_id: str, stream: str, source_ids: Sequence[str]) -> dict[str, StoredRaw]:
        """Stored raws of this (connection, stream) among ``source_ids``."""
        ...

    def load_raw_links(self, refs: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        """Transaction seqs of stored raws given as (connection, stream, source id)."""
        ...

    def load_by_key(self, account_id: str, tx_keys: Sequence[str]) -> dict[str, StoredTransaction]:
        """Stored transactions of the account found by identity key (their own or an alias), for the
        keys of ``tx_keys`` that are stored."""
        ...

    def load_by_seq(self, seqs: Sequence[int]) -> list[StoredTransaction]:
        """Stored transactions among ``seqs``."""
        ...

    def account_origins(self, account_id: str) -> set[str]:
        """Origins that have ever contributed transactions to the account."""
        ...

    def prepare_matching(self, account_id: str) -> None:
        """Make :meth:`match_candidates` answer for the account (index its stored transactions'
        signatures if that was never needed before). Called before its first lookup in a page."""
        ...

    def match_candidates(
        self, account_id: str, signature: str, ts_from: int, ts_to: int
    ) -> list[StoredTransaction]:
        """Stored transactions of the account with this signature and time in [ts_from, ts_to]."""
        ...

    def write(self, writes: MergeWrites) -> None:
        """Persist the computed rows."""
        ...


class WindowBackend(MergeBackend, Protocol):
    """A backend that can also list an account's transactions in a time window (any signature).

    Optional: with it, :func:`txsync.merge.merge_page` also matches groups (one description against
    several of another origin whose deltas add up); without it, only one-to-one matching happens.
    """

    def window_candidates(
        self, account_id: str, ts_from: int, ts_to: int, limit: int
    ) -> list[StoredTransaction]:
        """Stored transactions of the account with time in [ts_from, ts_to], at most ``limit`` of
        them, nearest to the middle of the window first."""
        ...

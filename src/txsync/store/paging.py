"""Pages of the ledger for hosts: a bounded list of transactions and an opaque cursor to the next one.

Pagination is by keyset on (time, id), never by offset: a page costs the same however deep it is,
and a transaction written meanwhile neither repeats nor hides a row of the pages already read.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from enum import StrEnum

from txsync import jsonutil
from txsync.errors import StoreError, TxsyncError
from txsync.store.records import LedgerTransaction

__all__ = ["MAX_PAGE_SIZE", "LedgerOrder", "LedgerPage", "decode_cursor", "encode_cursor"]

#: The largest page :meth:`~txsync.store.SqlStore.ledger_page` returns.
MAX_PAGE_SIZE = 10_000


class LedgerOrder(StrEnum):
    """The order of a ledger page: oldest first (``asc``) or newest first (``desc``); ties by id."""

    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True)
class LedgerPage:
    """One page of transactions. ``next_cursor`` is ``None`` on the last page; otherwise pass it as
    ``after`` (with the same filters and order) to read the next page."""

    items: list[LedgerTransaction] = field(default_factory=list)
    next_cursor: str | None = None


def encode_cursor(ts_us: int, transaction_id: str, order: LedgerOrder) -> str:
    """The opaque cursor after the row (``ts_us``, ``transaction_id``) read in ``order``."""
    raw = jsonutil.dumps([1, str(order), ts_us, transaction_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: LedgerOrder) -> tuple[int, str]:
    """The (time, id) key a cursor stands for; :class:`~txsync.errors.StoreError` for a cursor this
    store did not make, or one made for the other order."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = jsonutil.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, TxsyncError):
        raise StoreError("invalid ledger cursor: pass back the next_cursor of a page") from None
    if (
        not isinstance(value, list) or len(value) != 4 or value[0] != 1
        or not isinstance(value[2], int) or isinstance(value[2], bool) or not isinstance(value[3], str)
    ):
        raise StoreError("invalid ledger cursor: pass back the next_cursor of a page")
    if value[1] != str(order):
        raise StoreError(f"this cursor was made for order {value[1]!r}, not {str(order)!r}")
    return value[2], value[3]

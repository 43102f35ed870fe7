"""The full txsync JSON: a list of transaction objects (every leg, value, provenance and link),
written one transaction at a time so memory stays flat."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TextIO

from txsync.exports._base import LinkLookup, ValueLookup, transaction_json
from txsync.store.records import LedgerTransaction

__all__ = ["write_txsync_json"]


def write_txsync_json(
    transactions: Callable[[], Iterator[LedgerTransaction]], out: TextIO, *, values: ValueLookup,
    links: LinkLookup | None = None, accounts: dict[str, str] | None = None,
) -> dict[str, int]:
    """Write ``[ {transaction}, ... ]`` (see :func:`~txsync.exports.transaction_json`, with ``value``
    and ``link`` always present); returns the counts (transactions)."""
    count = 0
    out.write("[")
    for tx in transactions():
        data = transaction_json(tx, value=values(tx), link=links(tx) if links else None, with_value=True,
                                with_link=True)
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(data, ensure_ascii=False, sort_keys=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return {"transactions": count, "rows": count}

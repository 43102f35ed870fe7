"""Exports of an owner's ledger for tax tools and analysis.

* ``koinly``: Koinly's Universal template (CSV) - :func:`write_koinly`;
* ``cointracking``: CoinTracking's CSV - :func:`write_cointracking`;
* ``csv``: the full txsync CSV, one row per leg, importable back as txsync's template -
  :func:`write_txsync_csv`;
* ``json``: the full txsync JSON - :func:`write_txsync_json`;
* a pandas DataFrame (the ``pandas`` extra) - :func:`to_dataframe`.

Each re-imports through the matching importer as the same ledger (where the format can hold it: see
each module). Values come from a :data:`ValueLookup` (default: :func:`recorded_value`, the user's
override or a file's value; a host plugs its stored valuations in), transfer links from a
:data:`LinkLookup` (none by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TextIO

from txsync.exports._base import (
    ExportValue,
    LinkLookup,
    ValueLookup,
    iter_ledger,
    recorded_value,
    transaction_json,
)
from txsync.exports.cointracking import write_cointracking
from txsync.exports.dataframe import to_dataframe
from txsync.exports.koinly import write_koinly
from txsync.exports.txsync_csv import write_txsync_csv
from txsync.exports.txsync_json import write_txsync_json
from txsync.store.records import LedgerTransaction

__all__ = [
    "FORMATS",
    "ExportValue",
    "LinkLookup",
    "ValueLookup",
    "export_ledger",
    "iter_ledger",
    "recorded_value",
    "to_dataframe",
    "transaction_json",
    "write_cointracking",
    "write_koinly",
    "write_txsync_csv",
    "write_txsync_json",
]

Writer = Callable[..., dict[str, int]]

#: The export formats by name.
FORMATS: dict[str, Writer] = {
    "koinly": write_koinly,
    "cointracking": write_cointracking,
    "csv": write_txsync_csv,
    "json": write_txsync_json,
}


def export_ledger(
    store: Any, fmt: str, out: TextIO, *, owner_id: str | None = None, account_id: str | None = None,
    values: ValueLookup | None = None, links: LinkLookup | None = None, include_deleted: bool = False,
) -> dict[str, int]:
    """Write the ledger of an owner (or one account) to ``out`` in ``fmt`` (one of :data:`FORMATS`);
    returns the counts (transactions, rows, and for one-row formats how many were split)."""
    try:
        writer = FORMATS[fmt]
    except KeyError:
        from txsync.errors import ConfigurationError

        raise ConfigurationError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}") from None
    accounts = {a.id: a.label or a.connector_id for a in store.list_accounts(owner_id)}

    def transactions() -> Iterator[LedgerTransaction]:
        return iter_ledger(store, owner_id=owner_id, account_id=account_id, include_deleted=include_deleted)

    return writer(transactions, out, values=values or recorded_value, links=links, accounts=accounts)

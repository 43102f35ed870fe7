"""The full txsync CSV: one row per leg, every transaction field, its value, provenance and link.

Its first columns are txsync's import template (Date, Tx, Kind, Asset, Amount, Role, Wallet, Status,
Description, Tx Hash, ``ext:<name>`` for every other external id, Value, Value Currency), so the file
imports back through the ``txsync`` format as the same ledger; the columns after them (Value Status,
Value Method, Value Source, Transaction ID, Account ID, Origins, Sources, Label, Note, Flags, Link) are
for reading (the importer ignores them). ``Tx`` groups the legs of one transaction (its id).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from typing import TextIO

from txsync.exports._base import LinkLookup, ValueLookup, amount_text, time_text
from txsync.store.records import LedgerTransaction

__all__ = ["TEMPLATE_COLUMNS", "write_txsync_csv"]

TEMPLATE_COLUMNS = ("Date", "Tx", "Kind", "Asset", "Amount", "Role", "Wallet", "Status", "Description",
                    "Tx Hash")
_VALUE_COLUMNS = ("Value", "Value Currency", "Value Status", "Value Method", "Value Source")
_MORE_COLUMNS = ("Transaction ID", "Account ID", "Origins", "Sources", "Label", "Note", "Flags", "Link")
_EXT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _ext_names(transactions: Callable[[], Iterator[LedgerTransaction]]) -> list[str]:
    names: set[str] = set()
    for tx in transactions():
        names.update(k for k in tx.external_ids if k != "tx_hash")
    return sorted(n for n in names if _EXT_NAME.match(n))


def write_txsync_csv(
    transactions: Callable[[], Iterator[LedgerTransaction]], out: TextIO, *, values: ValueLookup,
    links: LinkLookup | None = None, accounts: dict[str, str] | None = None,
) -> dict[str, int]:
    """Write every leg of the transactions (two passes: the first collects the external id names);
    returns the counts (transactions, rows)."""
    ext = _ext_names(transactions)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*TEMPLATE_COLUMNS, *(f"ext:{n}" for n in ext), *_VALUE_COLUMNS, *_MORE_COLUMNS])
    counts = {"transactions": 0, "rows": 0}
    for tx in transactions():
        counts["transactions"] += 1
        value = values(tx)
        link = links(tx) if links is not None else None
        valued = value is not None and value.amount is not None and value.currency
        common_value = [
            amount_text(value.amount) if valued and value and value.amount is not None else "",
            (value.currency or "") if valued and value else "",
            value.status if value else "", (value.method or "") if value else "",
            (value.source or "") if value else "",
        ]
        more = [
            tx.id, tx.account_id, ",".join(tx.origins),
            " | ".join(f"{s.connection_id}/{s.stream}/{s.source_id}" for s in tx.sources),
            tx.label or "", tx.note or "", ",".join(sorted(tx.flags)),
            json.dumps(link, sort_keys=True) if link else "",
        ]
        for leg in tx.legs:
            writer.writerow([
                time_text(tx.timestamp), tx.id, str(tx.kind), leg.asset, amount_text(leg.amount),
                str(leg.role), leg.wallet or "", str(tx.status), tx.description or "",
                tx.external_ids.get("tx_hash", ""),
                *(tx.external_ids.get(n, "") for n in ext), *common_value, *more,
            ])
            counts["rows"] += 1
    return counts

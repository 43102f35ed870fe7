"""Koinly's Universal template (CSV): one row per transaction, sent / received / fee, UTC times.

A transaction with more than one asset on a side (or fees in two assets) cannot be one row: its first
asset of each side makes the main row and every other asset a row of its own, at the same time and
with the same TxHash (counted in the summary as ``split``). The Label is the row's Koinly tag: the one
the transaction was imported with when Koinly knows it, else the tag of its kind (reward, airdrop,
swap...). Net Worth is the transaction's value where it has one.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import TextIO

from txsync.exports._base import (
    ExportValue,
    LinkLookup,
    ValueLookup,
    amount_text,
    time_text,
    tx_hash,
)
from txsync.exports._sides import sides_of
from txsync.models import TransactionKind
from txsync.store.records import LedgerTransaction

__all__ = ["HEADER", "koinly_label", "write_koinly"]

HEADER = ("Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency", "Fee Amount",
          "Fee Currency", "Net Worth Amount", "Net Worth Currency", "Label", "Description", "TxHash")

_K = TransactionKind
_TAGS: dict[TransactionKind, tuple[str, str]] = {  # kind -> (tag when something comes in, when it goes out)
    _K.REWARD: ("reward", "reward"),
    _K.INTEREST: ("lending interest", "interest payment"),
    _K.AIRDROP: ("airdrop", "airdrop"),
    _K.MINING: ("mining", "mining"),
    _K.DISTRIBUTION: ("fork", "fork"),
    _K.CONVERT: ("swap", "swap"),
    _K.LIQUIDITY: ("liquidity in", "liquidity out"),
    _K.REALIZED_PNL: ("realized gain", "realized loss"),
}


def koinly_label(tx: LedgerTransaction, *, receives: bool) -> str:
    """The Koinly tag of a transaction (``""`` for plain deposits, withdrawals and trades)."""
    from txsync.connectors.koinly_csv._labels import meaning

    imported = tx.meta.get("label") if hasattr(tx.meta, "get") else None
    if isinstance(imported, str) and imported and meaning(imported) is not None:
        return imported
    tags = _TAGS.get(tx.kind)
    if tags is None:
        return ""
    return tags[0] if receives else tags[1]


def write_koinly(
    transactions: Callable[[], Iterator[LedgerTransaction]], out: TextIO, *, values: ValueLookup,
    links: LinkLookup | None = None, accounts: dict[str, str] | None = None,
) -> dict[str, int]:
    """Write the transactions in Koinly's Universal template; returns the counts (transactions, rows,
    split)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    counts = {"transactions": 0, "rows": 0, "split": 0}
    for tx in transactions():
        counts["transactions"] += 1
        rows = list(_rows(tx, values(tx)))
        counts["rows"] += len(rows)
        counts["split"] += len(rows) > 1
        writer.writerows(rows)
    return counts


def _rows(tx: LedgerTransaction, value: ExportValue | None) -> Iterator[list[str]]:
    sides = sides_of(tx)
    when, description, hash_ = time_text(tx.timestamp), tx.description or "", tx_hash(tx)
    first = True
    while not sides.empty():  # a transaction whose legs sum to nothing has no row
        sent, received, fee = sides.take("sent"), sides.take("received"), sides.take("fees")
        worth = ["", ""]
        if first and value is not None and value.amount is not None and value.currency:
            worth = [amount_text(value.amount), value.currency]
        label = koinly_label(tx, receives=received is not None) if (sent or received) else ""
        yield [
            when,
            amount_text(sent[1]) if sent else "", sent[0] if sent else "",
            amount_text(received[1]) if received else "", received[0] if received else "",
            amount_text(fee[1]) if fee else "", fee[0] if fee else "",
            *worth, label, description, hash_,
        ]
        first = False



"""CoinTracking's CSV (its trade list columns): one row per transaction, Buy / Sell / Fee, UTC times.

CoinTracking's fee convention: Buy and Sell are what was actually received and given, the fee
included; a fee in the bought or sold currency is written inside that amount (txsync's importer splits
it back out). A fee in a third currency is not deducted by CoinTracking: it is written as its own
"Other Fee" row, as CoinTracking's users do. Assets beyond the first of each side become rows of their
own (Deposit / Withdrawal). Exchange is the account's label; Comment the description; Tx-ID the hash.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TextIO

from txsync.exports._base import LinkLookup, ValueLookup, amount_text, time_text, tx_hash
from txsync.exports._sides import sides_of
from txsync.models import TransactionKind
from txsync.models.values import exact
from txsync.store.records import LedgerTransaction

__all__ = ["HEADER", "cointracking_type", "write_cointracking"]

HEADER = ("Type", "Buy", "Cur.", "Sell", "Cur.", "Fee", "Cur.", "Exchange", "Group", "Comment", "Date",
          "Tx-ID")

_K = TransactionKind
_TYPES: dict[TransactionKind, tuple[str, str]] = {  # kind -> (type when something comes in, goes out)
    _K.TRADE: ("Trade", "Trade"),
    _K.DUST_CONVERSION: ("Trade", "Trade"),
    _K.DEPOSIT: ("Deposit", "Withdrawal"),
    _K.FIAT_DEPOSIT: ("Deposit", "Withdrawal"),
    _K.WITHDRAWAL: ("Deposit", "Withdrawal"),
    _K.FIAT_WITHDRAWAL: ("Deposit", "Withdrawal"),
    _K.TRANSFER: ("Deposit", "Withdrawal"),
    _K.REWARD: ("Reward / Bonus", "Other Fee"),
    _K.INTEREST: ("Interest Income", "Other Fee"),
    _K.AIRDROP: ("Airdrop", "Withdrawal"),
    _K.DISTRIBUTION: ("Dividends Income", "Withdrawal"),
    _K.MINING: ("Mining", "Withdrawal"),
    _K.REFERRAL: ("Reward / Bonus", "Withdrawal"),
    _K.FEE: ("Income", "Other Fee"),
    _K.FUNDING_FEE: ("Margin Profit", "Margin Fee"),
    _K.REALIZED_PNL: ("Margin Profit", "Margin Loss"),
    _K.CONVERT: ("Swap (non taxable)", "Swap (non taxable)"),
    _K.LIQUIDITY: ("Provide Liquidity", "Remove Liquidity"),
}


def cointracking_type(tx: LedgerTransaction, *, buys: bool, sells: bool) -> str:
    """The CoinTracking type of a row of ``tx``: the one it was imported with when CoinTracking knows
    it (and the row has the same shape), else the type of its kind and direction."""
    from txsync.connectors.cointracking_csv._types import meaning

    imported = tx.meta.get("label") if hasattr(tx.meta, "get") else None
    if isinstance(imported, str) and imported and meaning(imported) is not None:
        return imported
    if buys and sells:
        return "Trade" if tx.kind not in (_K.CONVERT, _K.LIQUIDITY) else _TYPES[tx.kind][0]
    incoming, outgoing = _TYPES.get(tx.kind, ("Deposit", "Withdrawal"))
    return incoming if buys else outgoing


def write_cointracking(
    transactions: Callable[[], Iterator[LedgerTransaction]], out: TextIO, *, values: ValueLookup,
    links: LinkLookup | None = None, accounts: dict[str, str] | None = None,
) -> dict[str, int]:
    """Write the transactions in CoinTracking's CSV; returns the counts (transactions, rows, split)."""
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(HEADER)
    counts = {"transactions": 0, "rows": 0, "split": 0}
    labels = accounts or {}
    for tx in transactions():
        counts["transactions"] += 1
        rows = list(_rows(tx, labels.get(tx.account_id, "")))
        counts["rows"] += len(rows)
        counts["split"] += len(rows) > 1
        writer.writerows(rows)
    return counts


def _rows(tx: LedgerTransaction, exchange: str) -> Iterator[list[str]]:
    sides = sides_of(tx)
    when, comment, hash_ = time_text(tx.timestamp), tx.description or "", tx_hash(tx)

    def row(kind: str, buy: tuple[str, Decimal] | None, sell: tuple[str, Decimal] | None,
            fee: tuple[str, Decimal] | None) -> list[str]:
        return [
            kind,
            amount_text(buy[1]) if buy else "", buy[0] if buy else "",
            amount_text(sell[1]) if sell else "", sell[0] if sell else "",
            amount_text(fee[1]) if fee else "", fee[0] if fee else "",
            exchange, "", comment, when, hash_,
        ]

    while not sides.empty():
        buy, sell = sides.take("received"), sides.take("sent")
        fee: tuple[str, Decimal] | None = None
        if buy is None and sell is None:  # fees alone: an "Other Fee" row each
            fee = sides.take("fees")
            assert fee is not None
            yield row("Other Fee", None, fee, None)
            continue
        with exact():
            if sell is not None and sell[0] in sides.fees:
                fee = (sell[0], sides.fees.pop(sell[0]))
                sell = (sell[0], sell[1] + fee[1])  # the fee is inside what was given
            elif buy is not None and buy[0] in sides.fees and sides.fees[buy[0]] < buy[1]:
                fee = (buy[0], sides.fees.pop(buy[0]))
                buy = (buy[0], buy[1] - fee[1])  # what was received, the fee already taken
        yield row(cointracking_type(tx, buys=buy is not None, sells=sell is not None), buy, sell, fee)

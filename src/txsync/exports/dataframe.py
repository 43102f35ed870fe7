"""The ledger as a pandas DataFrame (the ``pandas`` extra): one row per leg.

Amounts and values stay exact: they are ``decimal.Decimal`` objects in object columns, never floats.
``timestamp`` is a timezone-aware (UTC) datetime column.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from txsync.exports._base import ValueLookup, recorded_value
from txsync.store.records import LedgerTransaction

__all__ = ["COLUMNS", "to_dataframe"]

COLUMNS = ("transaction_id", "account_id", "timestamp", "kind", "status", "asset", "amount", "role",
           "wallet", "value", "value_currency", "value_status", "label", "note", "description", "tx_hash",
           "origins")


def to_dataframe(transactions: Iterable[LedgerTransaction], *, values: ValueLookup | None = None) -> Any:
    """A ``pandas.DataFrame`` of every leg of ``transactions``; raises :class:`ImportError` naming the
    extra when pandas is not installed."""
    try:
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    except ModuleNotFoundError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError("txsync's DataFrame export needs pandas: pip install 'txsync[pandas]'") from exc
    lookup = values or recorded_value
    rows: list[tuple[Any, ...]] = []
    for tx in transactions:
        value = lookup(tx)
        for leg in tx.legs:
            rows.append((
                tx.id, tx.account_id, tx.timestamp, str(tx.kind), str(tx.status), leg.asset, leg.amount,
                str(leg.role), leg.wallet, value.amount if value else None, value.currency if value else None,
                value.status if value else None, tx.label, tx.note, tx.description,
                tx.external_ids.get("tx_hash"), ",".join(tx.origins),
            ))
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    for column in ("amount", "value"):
        frame[column] = frame[column].astype(object)
    return frame

"""What every export shares: the transactions to write, their values and transfer links (as hooks),
and one transaction as plain JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from txsync.models import LegRole
from txsync.store.records import LedgerTransaction

__all__ = [
    "ExportValue",
    "LinkLookup",
    "ValueLookup",
    "amount_text",
    "iter_ledger",
    "recorded_value",
    "time_text",
    "transaction_json",
    "tx_hash",
]


@dataclass(frozen=True)
class ExportValue:
    """A transaction's value in a fiat currency, with where it comes from.

    ``status`` is ``valued``, ``pending``, ``unpriceable`` or ``override`` (the names of issue 14's
    valuations); ``amount`` is ``None`` unless valued or overridden.
    """

    amount: Decimal | None
    currency: str | None
    status: str
    method: str | None = None
    source: str | None = None
    #: More evidence, after the five fixed names (a stored valuation's pair, candle time, rate, FX
    #: rate, reason).
    details: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"amount": "<decimal>" | null, "currency", "status", "method", "source"}``, then the
        ``details``."""
        out = {
            "amount": None if self.amount is None else amount_text(self.amount),
            "currency": self.currency, "status": self.status, "method": self.method, "source": self.source,
        }
        for key, item in (self.details or {}).items():
            out.setdefault(key, item)
        return out


#: A host's valuations: the value of a transaction, or ``None`` when it has none. The stored
#: valuations plug in here (``store.valuation_of`` ...); the default is :func:`recorded_value`.
ValueLookup = Callable[[LedgerTransaction], ExportValue | None]
#: A host's transfer links: the link a transaction is part of, as a JSON object
#: (``{"withdrawal", "deposit", "asset", "method", "fee"}``), or ``None``.
LinkLookup = Callable[[LedgerTransaction], dict[str, Any] | None]


def recorded_value(tx: LedgerTransaction) -> ExportValue | None:
    """The value the ledger itself holds: the user's override (``fiat_value``), else the value a file
    row gave (``meta["value"]``)."""
    if tx.fiat_value is not None:
        return ExportValue(tx.fiat_value, tx.fiat_currency, "override", "override", "user")
    meta = tx.meta.get("value") if isinstance(tx.meta, dict) or hasattr(tx.meta, "get") else None
    if isinstance(meta, dict) and meta.get("amount") is not None and meta.get("currency"):
        try:
            amount = Decimal(str(meta["amount"]))
        except ArithmeticError:
            return None
        return ExportValue(amount, str(meta["currency"]), "valued", "file", "file")
    return None


def amount_text(amount: Decimal) -> str:
    """A decimal as plain digits (no exponent), trailing zeros of the fraction dropped."""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def time_text(at: datetime, *, iso: bool = False) -> str:
    """A UTC time as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (``iso``: ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``)."""
    at = at.astimezone(UTC)
    text = at.strftime("%Y-%m-%dT%H:%M:%S" if iso else "%Y-%m-%d %H:%M:%S")
    if at.microsecond:
        text += f".{at.microsecond:06d}".rstrip("0")
    return text + ("Z" if iso else "")


_HASH_KEYS = ("tx_hash", "txid", "hash", "transaction_hash")


def tx_hash(tx: LedgerTransaction) -> str:
    """The on-chain hash of a transaction, if a source gave one."""
    for key in _HASH_KEYS:
        value = tx.external_ids.get(key)
        if value:
            return str(value)
    return ""


def transaction_json(
    tx: LedgerTransaction, *, value: ExportValue | None = None, link: dict[str, Any] | None = None,
    with_value: bool = False, with_link: bool = False,
) -> dict[str, Any]:
    """A transaction as a JSON object: ``id``, ``account_id``, ``timestamp`` (ISO 8601 UTC), ``kind``,
    ``status``, ``legs`` (``asset``, ``amount`` as a decimal string, ``role``, ``wallet``), the user's
    ``label`` / ``note``, ``external_ids``, ``description``, ``flags``, provenance (``origins``,
    ``sources``: connection, stream and source id of every raw record behind it), ``deleted``; and
    ``value`` / ``link`` objects when asked for (``null`` when the transaction has none)."""
    out: dict[str, Any] = {
        "id": tx.id,
        "account_id": tx.account_id,
        "timestamp": time_text(tx.timestamp, iso=True),
        "kind": str(tx.kind),
        "status": str(tx.status),
        "legs": [
            {"asset": leg.asset, "amount": amount_text(leg.amount), "role": str(leg.role),
             "wallet": leg.wallet}
            for leg in tx.legs
        ],
        "description": tx.description,
        "label": tx.label,
        "note": tx.note,
        "external_ids": dict(tx.external_ids),
        "flags": sorted(tx.flags),
        "origins": list(tx.origins),
        "sources": [
            {"connection_id": s.connection_id, "stream": s.stream, "source_id": s.source_id}
            for s in tx.sources
        ],
        "deleted": tx.deleted,
    }
    if with_value:
        out["value"] = None if value is None else value.to_json()
    if with_link:
        out["link"] = link
    return out


def iter_ledger(
    store: Any, *, owner_id: str | None = None, account_id: str | None = None,
    include_deleted: bool = False, page_size: int = 1000, **filters: Any,
) -> Iterator[LedgerTransaction]:
    """Every transaction of an owner (or an account, or the whole store), oldest first, read page by
    page (keyset), so memory stays flat whatever the ledger's size."""
    after: str | None = None
    while True:
        page = store.ledger_page(owner_id=owner_id, account_id=account_id, include_deleted=include_deleted,
                                 limit=page_size, after=after, **filters)
        yield from page.items
        if page.next_cursor is None:
            return
        after = page.next_cursor


def is_fee(role: LegRole | str) -> bool:
    """Whether a leg is a fee."""
    return str(role) == LegRole.FEE.value

"""What the owner layer hands back: transfer links, linking issues, coverage gaps, explained balances."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field

from txsync.models import TxsyncModel

__all__ = [
    "AccountGap",
    "AccountStatus",
    "BalanceRow",
    "Explanation",
    "ExplanationKind",
    "LinkIssue",
    "LinkMethod",
    "LinkRun",
    "TransferLink",
]


def _text(value: Decimal) -> str:
    return f"{value:f}"


class LinkMethod(StrEnum):
    """How a transfer link was made."""

    HASH = "hash"  # the same transaction hash (or exchange transfer id) on both halves
    HEURISTIC = "heuristic"  # the optimal assignment over amount and time candidates
    MANUAL = "manual"  # the user linked the two transactions


class TransferLink(TxsyncModel):
    """A withdrawal of one account and a deposit of another of the same owner: one transfer.

    ``sent`` is what left the withdrawing account (principal plus its declared fee legs in the asset),
    ``received`` what arrived. ``fee`` is the whole cost of the move (``sent - received``);
    ``fee_leg`` the part of it no fee leg declares (the withdrawal's principal minus what arrived): the
    explicit transfer-fee leg the link adds (see :meth:`OwnerLedger.transfer_legs`). ``partial``
    among ``flags``: a hash link where far less arrived than left (a batch payment to others too): the
    rest stays a disposal and no fee leg is added.
    """

    withdrawal: str
    deposit: str
    owner_id: str
    withdrawal_account: str
    deposit_account: str
    asset: str
    deposit_asset: str
    asset_key: str
    method: LinkMethod
    matched_on: str | None = None
    confidence: Decimal
    sent: Decimal
    received: Decimal
    declared_fee: Decimal
    fee: Decimal
    fee_leg: Decimal
    flags: tuple[str, ...] = ()
    withdrawal_time: datetime
    deposit_time: datetime

    def as_json(self) -> dict[str, Any]:
        """The link as the ``transfers --json`` object (amounts as decimal strings)."""
        return {
            "withdrawal": self.withdrawal,
            "deposit": self.deposit,
            "asset": self.asset,
            "deposit_asset": self.deposit_asset,
            "asset_key": self.asset_key,
            "method": self.method.value,
            "matched_on": self.matched_on,
            "confidence": _text(self.confidence),
            "fee": _text(self.fee),
            "fee_leg": _text(self.fee_leg),
            "declared_fee": _text(self.declared_fee),
            "sent": _text(self.sent),
            "received": _text(self.received),
            "withdrawal_account": self.withdrawal_account,
            "deposit_account": self.deposit_account,
            "withdrawal_time": self.withdrawal_time.isoformat().replace("+00:00", "Z"),
            "deposit_time": self.deposit_time.isoformat().replace("+00:00", "Z"),
            "flags": list(self.flags),
        }


class LinkIssue(TxsyncModel):
    """Halves the linker left unlinked with a reason the user should see.

    ``kind``: ``tie`` (equally good pairings: the user decides), ``conflict`` (the same hash on both
    sides but they cannot be one transfer: another network or address, more received than sent),
    ``oversized`` (too many candidates to solve: link by hand), ``inactive_manual_link`` (a link the
    user made whose transaction is gone or deleted).
    """

    kind: str
    owner_id: str
    asset: str
    transactions: tuple[str, ...]
    detail: str


@dataclass
class LinkRun:
    """What one linking run did."""

    owner_id: str
    full: bool
    #: Transactions read from the ledger (changed since the last run, or all of them on a full run).
    read: int = 0
    #: Halves that changed (new, changed, removed, deleted or restored) and were re-examined with their
    #: connected candidates.
    changed: int = 0
    examined: int = 0
    components: int = 0
    links_added: int = 0
    links_removed: int = 0
    ties: int = 0


class AccountGap(TxsyncModel):
    """A coverage gap that applies to an account: what is missing, what to do, since when."""

    account_id: str
    connector_id: str
    gap_id: str
    title: str
    remedy: str
    description: str = ""
    detail: str = ""
    stream: str | None = None
    connection_id: str | None = None
    always: bool = False
    assets: tuple[str, ...] = ()
    unreported_balances: bool = False
    since: datetime
    last_seen: datetime
    resolved_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """The machine-readable form (gap id, title, remedy, detail, since when...)."""
        data = self.model_dump(mode="json")
        return data


class ExplanationKind(StrEnum):
    """Why a computed balance may differ from the reported one."""

    COVERAGE_GAP = "coverage_gap"
    DELETED = "deleted"
    PENDING = "pending"
    UNLINKED_TRANSFER = "unlinked_transfer"
    MISSING_ACQUISITION = "missing_acquisition"
    NOT_REPORTED = "not_reported"
    NO_REPORT = "no_report"


class Explanation(TxsyncModel):
    """One likely cause of a balance difference, with what is behind it.

    ``amount`` is how much of the asset the cause accounts for, in the sign convention of
    :attr:`BalanceRow.difference` when it has one (``None`` when it cannot be said).
    """

    kind: ExplanationKind
    detail: str
    amount: Decimal | None = None
    transactions: tuple[str, ...] = ()
    gap_id: str | None = None
    remedy: str | None = None
    at: datetime | None = None
    accounts_for_difference: bool = False
    data: Mapping[str, Any] = Field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The explanation as a JSON object (``kind`` and ``detail`` always there)."""
        out: dict[str, Any] = {"kind": self.kind.value, "detail": self.detail}
        if self.amount is not None:
            out["amount"] = _text(self.amount)
        if self.transactions:
            out["transactions"] = list(self.transactions)
        if self.gap_id is not None:
            out["gap_id"] = self.gap_id
        if self.remedy is not None:
            out["remedy"] = self.remedy
        if self.at is not None:
            out["at"] = self.at.isoformat().replace("+00:00", "Z")
        out["accounts_for_difference"] = self.accounts_for_difference
        if self.data:
            out["data"] = dict(self.data)
        return out


class BalanceRow(TxsyncModel):
    """One asset of one account (``scope="account"``) or of the whole owner (``"owner"``).

    ``difference`` = ``computed - reported`` (Koinly's convention): positive, the ledger holds more than
    the source, so a withdrawal or sale is missing; negative, a deposit or purchase is missing. ``None``
    when the source reports nothing for the asset (``reported`` is ``None``).
    """

    scope: str
    owner_id: str
    account_id: str | None
    asset: str
    #: The asset's name across connectors (``coin:bitcoin``), as linking and the owner's rows use it.
    asset_key: str | None = None
    computed: Decimal
    reported: Decimal | None
    difference: Decimal | None
    status: str
    explanations: tuple[Explanation, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The row as the ``balances --json`` object."""
        return {
            "scope": self.scope,
            "owner_id": self.owner_id,
            "account_id": self.account_id,
            "asset": self.asset,
            "asset_key": self.asset_key,
            "computed": _text(self.computed),
            "reported": None if self.reported is None else _text(self.reported),
            "difference": None if self.difference is None else _text(self.difference),
            "status": self.status,
            "explanations": [e.as_json() for e in self.explanations],
        }


class AccountStatus(TxsyncModel):
    """An account as the user should see it: its connections' states and its coverage gaps."""

    account_id: str
    owner_id: str
    connector_id: str
    label: str = ""
    connections: tuple[Mapping[str, Any], ...] = ()
    gaps: tuple[AccountGap, ...] = ()
    balances_as_of: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """The status as JSON."""
        return {
            "account_id": self.account_id,
            "owner_id": self.owner_id,
            "connector_id": self.connector_id,
            "label": self.label,
            "connections": [dict(c) for c in self.connections],
            "gaps": [g.as_json() for g in self.gaps],
            "balances_as_of": None if self.balances_as_of is None else self.balances_as_of.isoformat(),
        }

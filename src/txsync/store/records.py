"""What the store hands back: accounts, connections and ledger transactions as the user sees them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field

from txsync.models import Leg, SourceRef, TransactionKind, TransactionStatus, TxsyncModel
from txsync.models.values import UtcDateTime

__all__ = [
    "AccountRecord",
    "ConnectionRecord",
    "ConnectionState",
    "LedgerTransaction",
    "Override",
    "StoredCredential",
]


class ConnectionState(StrEnum):
    """Whether a connection syncs."""

    ACTIVE = "active"
    PAUSED = "paused"  # no sync at all until resumed
    DISABLED = "disabled"  # the user must act (new key); ``state_reason`` says why
    #: The account's manual entries (the user's own records): never synced, scheduled or disabled.
    MANUAL = "manual"


class AccountRecord(TxsyncModel):
    """An exchange account or wallet. Connections (keys) come and go; the account and its edits stay."""

    id: str
    owner_id: str
    connector_id: str
    label: str = ""
    created_at: UtcDateTime


class ConnectionRecord(TxsyncModel):
    """One way of reading an account: a connector, its options and (sealed elsewhere) a credential."""

    id: str
    account_id: str
    connector_id: str
    label: str = ""
    state: ConnectionState = ConnectionState.ACTIVE
    state_reason: str | None = None
    options: Mapping[str, Any] = Field(default_factory=dict)
    created_at: UtcDateTime
    last_attempt_at: UtcDateTime | None = None
    last_sync_at: UtcDateTime | None = None
    last_success_at: UtcDateTime | None = None


class Override(TxsyncModel):
    """The user's word on a transaction. ``None`` fields leave the synced value alone."""

    label: str | None = None
    note: str | None = None
    fiat_value: Decimal | None = None
    fiat_currency: str | None = None


class LedgerTransaction(TxsyncModel):
    """A transaction as the user sees it: merged descriptions with the user's changes applied."""

    id: str
    account_id: str
    kind: TransactionKind
    timestamp: datetime
    status: TransactionStatus
    legs: tuple[Leg, ...]
    origins: tuple[str, ...]
    external_ids: Mapping[str, str] = Field(default_factory=dict)
    sources: tuple[SourceRef, ...] = ()
    description: str | None = None
    flags: frozenset[str] = frozenset()
    meta: Mapping[str, Any] = Field(default_factory=dict)
    parts: int = 1
    label: str | None = None
    note: str | None = None
    fiat_value: Decimal | None = None
    fiat_currency: str | None = None
    deleted: bool = False


class StoredCredential(TxsyncModel):
    """A connection's credential as stored: public fields, and each secret field as a sealed blob."""

    connection_id: str
    connector_id: str
    public: Mapping[str, str] = Field(default_factory=dict)
    sealed: Mapping[str, bytes] = Field(default_factory=dict, repr=False)

"""What a sync did, per stream: pages, raws, new / updated / unchanged, requests, errors, gaps."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from txsync.models import Permissions
from txsync.store.records import ConnectionState

__all__ = ["GapReport", "StreamReport", "SyncMode", "SyncReport"]


class SyncMode(StrEnum):
    """How far back a sync reads."""

    INCREMENTAL = "incremental"  # resume every stream from its stored cursor (the default)
    FULL = "full"  # re-read everything from the origin; idempotent
    SINCE_LATEST = "since_latest"  # start at the account's newest transaction from any source


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class StreamReport(_Report):
    """One stream's part of a sync."""

    stream: str
    pages: int = 0
    raws: int = 0
    raws_new: int = 0
    raws_updated: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    matched: int = 0
    unknown: int = 0
    requests: int = 0
    weight: int = 0
    retries: int = 0
    rate_limited: int = 0
    duration_seconds: float = 0.0
    completed: bool = False
    errors: list[str] = Field(default_factory=list)


class GapReport(_Report):
    """A declared coverage gap that applies to this account, with what the user can do.

    ``always``: the connector declares it for every account (the API has no endpoint for it at all);
    otherwise the sync noted it for this account, ``detail`` saying what it found.
    """

    gap_id: str
    title: str
    remedy: str
    detail: str = ""
    stream: str | None = None
    always: bool = False


class SyncReport(_Report):
    """Everything a sync did. ``ok`` is False if any stream failed or the sync was stopped."""

    connection_id: str
    account_id: str
    connector_id: str
    mode: SyncMode
    started_at: datetime
    finished_at: datetime | None = None
    streams: list[StreamReport] = Field(default_factory=list)
    coverage_gaps: list[GapReport] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    permissions: Permissions | None = None
    state: ConnectionState = ConnectionState.ACTIVE
    state_reason: str | None = None
    banned_until: datetime | None = None
    #: What the valuation pass after the sync did (``ValuationReport.to_dict()``), when one ran.
    valuation: dict[str, Any] | None = None
    #: Set when the sync did not run at all because another sync of the connection holds its lease
    #: ("leased by HOLDER until TIME"); ``leased_by`` / ``leased_until`` say whose and until when.
    skipped: str | None = None
    leased_by: str | None = None
    leased_until: datetime | None = None

    @property
    def ok(self) -> bool:
        """Whether the sync ran and every stream completed without error."""
        return (
            self.skipped is None and not self.errors
            and all(s.completed and not s.errors for s in self.streams)
        )

    @property
    def status(self) -> str:
        """``"ok"``, ``"skipped"`` (another sync of the connection was running) or ``"failed"``."""
        if self.skipped is not None:
            return "skipped"
        return "ok" if self.ok else "failed"

    def total(self, field: str) -> int:
        """Sum of an integer field over the streams (``report.total("new")``)."""
        return sum(int(getattr(s, field)) for s in self.streams)

"""Static description of a connector: identity, credential schema, streams, coverage gaps."""

from __future__ import annotations

import fnmatch
import re

from pydantic import Field, field_validator, model_validator

from txsync.models import ConnectorKind, TxsyncModel

__all__ = ["API_VERSION", "ConnectorInfo", "CoverageGap", "CredentialField", "StreamInfo"]

#: The connector API version this txsync implements. A plugin declares the version it was written
#: for in ``ConnectorInfo.api_version``; the registry refuses plugins whose version differs.
API_VERSION = 1

_ID = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")


class CredentialField(TxsyncModel):
    """One value a user enters to connect (an API key, a secret, an address, an xpub)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    secret: bool
    required: bool = True
    description: str = ""


class StreamInfo(TxsyncModel):
    """One history stream a connector reads (spot trades, deposits, token transfers...)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""


class CoverageGap(TxsyncModel):
    """Something the source's API cannot return, and what the user can do about it.

    ``always``: the gap applies to every account of the connector, whatever its history (the API has
    no endpoint for the product at all: it cannot tell whether the user used it); such gaps are in
    every sync report and in the account's gap list. Other gaps apply once the connector notes them
    (``ConnectorContext.note_gap``) for an account. ``assets``: the assets the gap can affect, as
    ``fnmatch`` patterns (empty: any asset). ``unreported_balances``: the source reports no balance for
    those assets (NFTs on an explorer), so reconciliation shows them as "not reported", never as a
    mismatch against 0.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    description: str = ""
    remedy: str = Field(min_length=1)
    always: bool = False
    assets: tuple[str, ...] = ()
    unreported_balances: bool = False

    @model_validator(mode="after")
    def _unreported_needs_assets(self) -> CoverageGap:
        if self.unreported_balances and not self.assets:
            raise ValueError("a gap with unreported_balances must name the assets it concerns")
        return self

    def concerns(self, asset: str) -> bool:
        """Whether the gap can affect ``asset`` (any asset when it names none)."""
        return not self.assets or any(fnmatch.fnmatchcase(asset, pattern) for pattern in self.assets)


class ConnectorInfo(TxsyncModel):
    """What a connector is. ``id`` is stable: it keys stored connections."""

    id: str
    display_name: str = Field(min_length=1)
    kind: ConnectorKind
    api_version: int = API_VERSION
    credential_fields: tuple[CredentialField, ...] = ()
    streams: tuple[StreamInfo, ...] = Field(min_length=1)
    coverage_gaps: tuple[CoverageGap, ...] = ()
    #: Whether the source can tell a key's permissions (Binance can; Bitstamp cannot).
    reports_permissions: bool = False
    #: The least rights to grant the key, in the user's words ("Read only, no trading").
    minimal_permissions: str = ""

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("connector id must be lower-case letters, digits, '_', '-' or '.'")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> ConnectorInfo:
        for what, names in (
            ("credential field", [f.name for f in self.credential_fields]),
            ("stream", [s.name for s in self.streams]),
            ("coverage gap", [g.id for g in self.coverage_gaps]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {what} names: {dupes}")
        return self

    def gap(self, gap_id: str) -> CoverageGap:
        """The declared gap ``gap_id``; ``KeyError`` if the connector does not declare it."""
        for gap in self.coverage_gaps:
            if gap.id == gap_id:
                return gap
        raise KeyError(f"connector {self.id!r} declares no coverage gap {gap_id!r}")

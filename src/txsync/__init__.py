"""txsync: complete, deduplicated crypto transaction history from exchanges and blockchains.

The public API is what this module exports; names load on first use so ``import txsync`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # models
    "Balance": "txsync.models",
    "Credential": "txsync.models",
    "Leg": "txsync.models",
    "LegRole": "txsync.models",
    "NormalizedTransaction": "txsync.models",
    "Origin": "txsync.models",
    "Permissions": "txsync.models",
    "RawTransaction": "txsync.models",
    "SourceRef": "txsync.models",
    "TransactionKind": "txsync.models",
    "TransactionStatus": "txsync.models",
    # connector contract and registry
    "Connector": "txsync.connector",
    "ConnectorContext": "txsync.connector",
    "ConnectorInfo": "txsync.connector",
    "Page": "txsync.connector",
    "RawRecord": "txsync.connector",
    "Stream": "txsync.connector",
    "Registry": "txsync.registry",
    "default_registry": "txsync.registry",
    # engine and store
    "Engine": "txsync.engine",
    "ReadOnlyPolicy": "txsync.engine",
    "SyncMode": "txsync.engine",
    "SyncReport": "txsync.engine",
    "SchedulePolicy": "txsync.schedule",
    "SqliteStore": "txsync.store",
    "Store": "txsync.store",
    "ConnectionState": "txsync.store",
    "LedgerTransaction": "txsync.store",
    "reconcile": "txsync.reconcile",
    # the owner layer: transfers across accounts, balances explained, gaps
    "OwnerLedger": "txsync.owner",
    "TransferLink": "txsync.owner",
    "BalanceRow": "txsync.owner",
    "LinkError": "txsync.errors",
    # valuation
    "Valuator": "txsync.valuation",
    "PricePolicy": "txsync.valuation",
    "InMemoryPriceCache": "txsync.valuation",
    "TransactionValuation": "txsync.valuation",
    "ValuationStatus": "txsync.valuation",
    "AssetResolver": "txsync.valuation",
    "build_policy": "txsync.valuation",
    # the credential vault
    "VaultCredentials": "txsync.vault",
    "LocalKMS": "txsync.vault",
    "KMS": "txsync.vault",
    "local_kms": "txsync.vault",
    # errors
    "TxsyncError": "txsync.errors",
    "VaultError": "txsync.errors",
    "AuthError": "txsync.errors",
    "PermissionDeniedError": "txsync.errors",
    "RateLimitedError": "txsync.errors",
    "BannedError": "txsync.errors",
    "TransientError": "txsync.errors",
    "BadRequestError": "txsync.errors",
    "BadResponseError": "txsync.errors",
    "ConnectionStateError": "txsync.errors",
    "ModelError": "txsync.errors",
    "FileImportError": "txsync.errors",
    "FileLimitError": "txsync.errors",
    # file imports
    "detect_format": "txsync.imports",
    "connector_for": "txsync.imports",
    "ImportLimits": "txsync.imports",
}

__all__ = [
    "KMS",
    "AssetResolver",
    "AuthError",
    "BadRequestError",
    "BadResponseError",
    "Balance",
    "BalanceRow",
    "BannedError",
    "ConnectionState",
    "ConnectionStateError",
    "Connector",
    "ConnectorContext",
    "ConnectorInfo",
    "Credential",
    "Engine",
    "FileImportError",
    "FileLimitError",
    "ImportLimits",
    "InMemoryPriceCache",
    "LedgerTransaction",
    "Leg",
    "LegRole",
    "LinkError",
    "LocalKMS",
    "ModelError",
    "NormalizedTransaction",
    "Origin",
    "OwnerLedger",
    "Page",
    "PermissionDeniedError",
    "Permissions",
    "PricePolicy",
    "RateLimitedError",
    "RawRecord",
    "RawTransaction",
    "ReadOnlyPolicy",
    "Registry",
    "SchedulePolicy",
    "SourceRef",
    "SqliteStore",
    "Store",
    "Stream",
    "SyncMode",
    "SyncReport",
    "TransactionKind",
    "TransactionStatus",
    "TransactionValuation",
    "TransferLink",
    "TransientError",
    "TxsyncError",
    "ValuationStatus",
    "Valuator",
    "VaultCredentials",
    "VaultError",
    "build_policy",
    "connector_for",
    "default_registry",
    "detect_format",
    "local_kms",
    "reconcile",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'txsync' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # pragma: no cover
    from txsync.connector import Connector, ConnectorContext, ConnectorInfo, Page, RawRecord, Stream
    from txsync.engine import Engine, ReadOnlyPolicy, SyncMode, SyncReport
    from txsync.errors import (
        AuthError,
        BadRequestError,
        BadResponseError,
        BannedError,
        ConnectionStateError,
        FileImportError,
        FileLimitError,
        LinkError,
        ModelError,
        PermissionDeniedError,
        RateLimitedError,
        TransientError,
        TxsyncError,
    )
    from txsync.imports import ImportLimits, connector_for, detect_format
    from txsync.models import (
        Balance,
        Credential,
        Leg,
        LegRole,
        NormalizedTransaction,
        Origin,
        Permissions,
        RawTransaction,
        SourceRef,
        TransactionKind,
        TransactionStatus,
    )
    from txsync.owner import BalanceRow, OwnerLedger, TransferLink
    from txsync.reconcile import reconcile
    from txsync.registry import Registry, default_registry
    from txsync.schedule import SchedulePolicy
    from txsync.store import ConnectionState, LedgerTransaction, SqliteStore, Store
    from txsync.valuation import (
        AssetResolver,
        InMemoryPriceCache,
        PricePolicy,
        TransactionValuation,
        ValuationStatus,
        Valuator,
        build_policy,
    )

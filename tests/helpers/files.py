"""Helpers for the file-import tests: an engine with the built-in importers, imports, ledgers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from txsync.connectors.binance_statement import BinanceStatement
from txsync.connectors.cointracking_csv import CoinTrackingCsv
from txsync.connectors.koinly_csv import KoinlyUniversal
from txsync.connectors.txsync_template import TxsyncTemplate
from txsync.engine import Engine, SyncMode, SyncReport
from txsync.models import Credential
from txsync.registry import Registry
from txsync.store import SqliteStore

IMPORTERS = (KoinlyUniversal, CoinTrackingCsv, TxsyncTemplate, BinanceStatement)

KOINLY_HEADER = ("Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,Fee Currency,"
                 "Net Worth Amount,Net Worth Currency,Label,Description,TxHash\n")
TEMPLATE_HEADER = "Date,Tx,Kind,Asset,Amount,Role,Wallet,Status,Description,Tx Hash,Value,Value Currency\n"
CT_HEADER = '"Type","Buy","Cur.","Sell","Cur.","Fee","Cur.","Exchange","Group","Comment","Date"\n'


def registry(*extra: Any) -> Registry:
    """A registry holding the built-in importers (and ``extra`` connector classes)."""
    reg = Registry(entry_points=[])
    for cls in (*IMPORTERS, *extra):
        reg.register(cls)
    return reg


def engine(store: SqliteStore, *extra: Any, **kwargs: Any) -> Engine:
    """An engine over ``store`` that knows the importers."""
    return Engine(store, registry=registry(*extra), **kwargs)


def connect(eng: Engine, connector_id: str, account_id: str | None = None, **options: Any) -> str:
    """A file connection (its own account unless ``account_id``); returns the connection id."""
    return eng.connect("alice", Credential(connector_id=connector_id), account_id=account_id,
                       options=options, label=f"{connector_id} file", verify=False).id


async def run(eng: Engine, connection_id: str, mode: SyncMode = SyncMode.INCREMENTAL) -> SyncReport:
    """One import (a sync of the file connection)."""
    return await eng.sync(connection_id, mode)


def ledger(store: SqliteStore, account: str) -> Counter[tuple[Any, ...]]:
    """The account's transactions as a multiset of (time, kind, status, legs, origins)."""
    return Counter(
        (tx.timestamp, str(tx.kind), str(tx.status),
         tuple(sorted((leg.asset, leg.amount, str(leg.role), leg.wallet) for leg in tx.legs)), tx.origins)
        for tx in store.transactions(account_id=account)
    )


def errors(report: SyncReport) -> list[str]:
    """Every error of a report (sync level and stream level)."""
    return [*report.errors, *(e for s in report.streams for e in s.errors)]


def write(path: Path, text: str) -> Path:
    """Write ``text`` as UTF-8 (no newline translation) and return the path."""
    path.write_bytes(text.encode())
    return path

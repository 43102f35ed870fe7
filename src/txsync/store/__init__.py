"""Ledger storage: the ``Store`` protocol and the embedded SQLite default."""

from txsync.store._open import open_store
from txsync.store._sql import SqlStore
from txsync.store.base import Store
from txsync.store.leases import Lease
from txsync.store.paging import LedgerOrder, LedgerPage
from txsync.store.postgres import PostgresStore
from txsync.store.records import (
    AccountRecord,
    ConnectionRecord,
    ConnectionState,
    LedgerTransaction,
    Override,
    StoredCredential,
)
from txsync.store.scope import OwnerScope
from txsync.store.sqlite import SqliteStore, default_store_path

__all__ = [
    "AccountRecord",
    "ConnectionRecord",
    "ConnectionState",
    "Lease",
    "LedgerOrder",
    "LedgerPage",
    "LedgerTransaction",
    "Override",
    "OwnerScope",
    "PostgresStore",
    "SqlStore",
    "SqliteStore",
    "Store",
    "StoredCredential",
    "default_store_path",
    "open_store",
]

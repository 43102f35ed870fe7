"""The ledger schema, one definition for SQLite and PostgreSQL (SQLAlchemy Core).

Times are integer microseconds since the epoch (UTC), amounts live inside JSON text as decimal
strings: no backend ever sees a float. Synced data (raws, transactions, cursors) and the user's word
(tombstones, overrides) are kept in separate tables so nothing the engine writes can undo an edit.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "account_origins",
    "accounts",
    "connections",
    "cursors",
    "metadata",
    "overrides",
    "owners",
    "raw_transactions",
    "sync_runs",
    "tombstones",
    "transactions",
]

metadata = MetaData()

owners = Table(
    "owners",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("last_active_at", BigInteger, nullable=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("owner_id", String(200), nullable=False, index=True),
    Column("connector_id", String(100), nullable=False),
    Column("label", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
)

connections = Table(
    "connections",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("account_id", String(200), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("connector_id", String(100), nullable=False),
    Column("label", Text, nullable=False, default=""),
    Column("state", String(20), nullable=False),
    Column("state_reason", Text, nullable=True),
    Column("options", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
    Column("last_attempt_at", BigInteger, nullable=True),
    Column("last_sync_at", BigInteger, nullable=True),
    Column("last_success_at", BigInteger, nullable=True),
)

cursors = Table(
    "cursors",
    metadata,
    Column("connection_id", String(200), ForeignKey("connections.id"), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

raw_transactions = Table(
    "raw_transactions",
    metadata,
    Column("connection_id", String(200), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("source_id", String(400), primary_key=True),
    Column("account_id", String(200), nullable=False),
    Column("transaction_id", String(64), nullable=True),
    Column("payload", Text, nullable=False),
    Column("fetched_at", BigInteger, nullable=False),
    Index("ix_raw_transactions_transaction_id", "transaction_id"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("origins", String(60), nullable=False),
    Column("signature", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_transactions_account_ts", "account_id", "ts"),
    Index("ix_transactions_account_signature_ts", "account_id", "signature", "ts"),
)

account_origins = Table(
    "account_origins",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("origin", String(20), primary_key=True),
)

tombstones = Table(
    "tombstones",
    metadata,
    Column("transaction_id", String(64), primary_key=True),
    Column("deleted_at", BigInteger, nullable=False),
    Column("reason", Text, nullable=True),
)

overrides = Table(
    "overrides",
    metadata,
    Column("transaction_id", String(64), primary_key=True),
    Column("label", Text, nullable=True),
    Column("note", Text, nullable=True),
    Column("fiat_value", String(80), nullable=True),
    Column("fiat_currency", String(10), nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("connection_id", String(200), nullable=False, index=True),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=False),
    Column("ok", String(5), nullable=False),
    Column("report", Text, nullable=False),
)

# A connection's credential: its public fields in the clear, each secret field sealed by the vault
# (txsync.vault). Plaintext secrets are never stored.
credentials = Table(
    "credentials",
    metadata,
    Column("connection_id", String(200), ForeignKey("connections.id"), primary_key=True),
    Column("connector_id", String(100), nullable=False),
    Column("public", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

sealed_secrets = Table(
    "sealed_secrets",
    metadata,
    Column("connection_id", String(200), ForeignKey("credentials.connection_id"), primary_key=True),
    Column("field", String(100), primary_key=True),
    Column("blob", LargeBinary, nullable=False),
)

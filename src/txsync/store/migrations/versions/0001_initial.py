"""Initial ledger schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table of the first schema version."""
    big = sa.BigInteger()
    op.create_table(
        "owners",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("last_active_at", big, nullable=True),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("connector_id", sa.String(100), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("created_at", big, nullable=False),
    )
    op.create_index("ix_accounts_owner_id", "accounts", ["owner_id"])
    op.create_table(
        "connections",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("account_id", sa.String(200), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("connector_id", sa.String(100), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("state_reason", sa.Text, nullable=True),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("created_at", big, nullable=False),
        sa.Column("last_attempt_at", big, nullable=True),
        sa.Column("last_sync_at", big, nullable=True),
        sa.Column("last_success_at", big, nullable=True),
    )
    op.create_index("ix_connections_account_id", "connections", ["account_id"])
    op.create_table(
        "cursors",
        sa.Column("connection_id", sa.String(200), sa.ForeignKey("connections.id"), primary_key=True),
        sa.Column("stream", sa.String(100), primary_key=True),
        sa.Column("cursor", sa.Text, nullable=False),
        sa.Column("updated_at", big, nullable=False),
    )
    op.create_table(
        "raw_transactions",
        sa.Column("connection_id", sa.String(200), primary_key=True),
        sa.Column("stream", sa.String(100), primary_key=True),
        sa.Column("source_id", sa.String(400), primary_key=True),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("transaction_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("fetched_at", big, nullable=False),
    )
    op.create_index("ix_raw_transactions_transaction_id", "raw_transactions", ["transaction_id"])
    op.create_table(
        "transactions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("ts", big, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("origins", sa.String(60), nullable=False),
        sa.Column("signature", sa.String(40), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", big, nullable=False),
        sa.Column("updated_at", big, nullable=False),
    )
    op.create_index("ix_transactions_account_ts", "transactions", ["account_id", "ts"])
    op.create_index(
        "ix_transactions_account_signature_ts", "transactions", ["account_id", "signature", "ts"]
    )
    op.create_table(
        "account_origins",
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("origin", sa.String(20), primary_key=True),
    )
    op.create_table(
        "tombstones",
        sa.Column("transaction_id", sa.String(64), primary_key=True),
        sa.Column("deleted_at", big, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_table(
        "overrides",
        sa.Column("transaction_id", sa.String(64), primary_key=True),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("fiat_value", sa.String(80), nullable=True),
        sa.Column("fiat_currency", sa.String(10), nullable=True),
        sa.Column("updated_at", big, nullable=False),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("connection_id", sa.String(200), nullable=False),
        sa.Column("started_at", big, nullable=False),
        sa.Column("finished_at", big, nullable=False),
        sa.Column("ok", sa.String(5), nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    op.create_index("ix_sync_runs_connection_id", "sync_runs", ["connection_id"])


def downgrade() -> None:
    """Drop everything (only for tests of the migration machinery)."""
    for table in (
        "sync_runs", "overrides", "tombstones", "account_origins", "transactions",
        "raw_transactions", "cursors", "connections", "accounts", "owners",
    ):
        op.drop_table(table)

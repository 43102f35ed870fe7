"""The owner layer: transfer links, the user's link decisions, linker state, gaps, reported balances.

Revision ID: 0004_owner
Revises: 0003
Create Date: 2026-11-30

New tables only (see the owner block of :mod:`txsync.store.schema`): nothing existing changes, and a
ledger opened under this revision links its transfers on the next sync (or ``OwnerLedger.link``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_owner"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the owner layer's tables."""
    big, text = sa.BigInteger(), sa.Text()
    op.create_table(
        "owner_halves",
        sa.Column("tx_id", sa.String(64), primary_key=True),
        sa.Column("asset_key", sa.String(300), primary_key=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("ts", big, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount", text, nullable=False),
        sa.Column("fee", text, nullable=False),
        sa.Column("tx_hash", sa.String(200), nullable=True),
        sa.Column("out_index", sa.String(40), nullable=True),
        sa.Column("internal_id", sa.String(200), nullable=True),
        sa.Column("network", sa.String(60), nullable=True),
        sa.Column("address", sa.String(200), nullable=True),
        sa.Column("deleted", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("digest", sa.String(40), nullable=False),
        sa.Column("note", text, nullable=True),
    )
    op.create_index("ix_owner_halves_owner_asset_ts", "owner_halves", ["owner_id", "asset_key", "ts"])
    op.create_index("ix_owner_halves_account", "owner_halves", ["account_id"])
    op.create_table(
        "owner_links",
        sa.Column("withdrawal_id", sa.String(64), primary_key=True),
        sa.Column("asset_key", sa.String(300), primary_key=True),
        sa.Column("deposit_id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("withdrawal_account", sa.String(200), nullable=False),
        sa.Column("deposit_account", sa.String(200), nullable=False),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("deposit_asset", sa.String(200), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("matched_on", sa.String(40), nullable=True),
        sa.Column("confidence", sa.String(12), nullable=False),
        sa.Column("sent", text, nullable=False),
        sa.Column("received", text, nullable=False),
        sa.Column("declared_fee", text, nullable=False),
        sa.Column("fee", text, nullable=False),
        sa.Column("fee_leg", text, nullable=False),
        sa.Column("flags", text, nullable=False),
        sa.Column("withdrawal_ts", big, nullable=False),
        sa.Column("deposit_ts", big, nullable=False),
        sa.Column("created_at", big, nullable=False),
        sa.UniqueConstraint("deposit_id", "asset_key", name="uq_owner_links_deposit"),
    )
    op.create_index("ix_owner_links_owner", "owner_links", ["owner_id"])
    op.create_table(
        "owner_link_decisions",
        sa.Column("withdrawal_id", sa.String(64), primary_key=True),
        sa.Column("deposit_id", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("asset_key", sa.String(300), nullable=True),
        sa.Column("note", text, nullable=True),
        sa.Column("decided_at", big, nullable=False),
    )
    op.create_index("ix_owner_link_decisions_owner", "owner_link_decisions", ["owner_id"])
    op.create_table(
        "owner_link_state",
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("since", big, nullable=False),
        sa.Column("linked_at", big, nullable=False),
    )
    op.create_table(
        "owner_account_gaps",
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("connector_id", sa.String(100), primary_key=True),
        sa.Column("gap_id", sa.String(100), primary_key=True),
        sa.Column("connection_id", sa.String(200), nullable=True),
        sa.Column("title", text, nullable=False),
        sa.Column("remedy", text, nullable=False),
        sa.Column("description", text, nullable=False),
        sa.Column("detail", text, nullable=False),
        sa.Column("stream", sa.String(100), nullable=True),
        sa.Column("always", sa.Integer(), nullable=False),
        sa.Column("assets", text, nullable=False),
        sa.Column("unreported_balances", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("since", big, nullable=False),
        sa.Column("last_seen", big, nullable=False),
        sa.Column("resolved_at", big, nullable=True),
    )
    op.create_table(
        "owner_balance_snapshots",
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("connection_id", sa.String(200), nullable=True),
        sa.Column("as_of", big, nullable=False),
        sa.Column("balances", text, nullable=False),
    )


def downgrade() -> None:
    """Drop the owner layer's tables (the ledger itself is untouched)."""
    for name in (
        "owner_balance_snapshots",
        "owner_account_gaps",
        "owner_link_state",
        "owner_link_decisions",
        "owner_links",
        "owner_halves",
    ):
        op.drop_table(name)

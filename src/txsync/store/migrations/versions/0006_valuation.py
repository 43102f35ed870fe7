"""Valuation: the price cache, stored valuations with their provenance, each owner's base currency.

Revision ID: 0006_valuation
Revises: 0005_leases
Create Date: 2026-11-29

New tables only (see the valuation block of :mod:`txsync.store.schema`): nothing existing changes; a
ledger opened under this revision is valued by the next valuation pass (``txsync value``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_valuation"
down_revision = "0005_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the valuation tables."""
    big, text = sa.BigInteger(), sa.Text()
    op.create_table(
        "price_cache",
        sa.Column("source", sa.String(60), primary_key=True),
        sa.Column("asset", sa.String(300), primary_key=True),
        sa.Column("quote", sa.String(300), primary_key=True),
        sa.Column("interval", sa.String(10), primary_key=True),
        sa.Column("time", big, primary_key=True),
        sa.Column("price", text, nullable=True),
        sa.Column("fetched_at", big, nullable=False),
        sa.Column("pair", sa.String(100), nullable=True),
        sa.Column("observed_at", big, nullable=True),
        sa.Column("note", text, nullable=True),
    )
    op.create_table(
        "valuations",
        sa.Column("transaction_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(10), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("method", sa.String(12), nullable=False),
        sa.Column("amount", text, nullable=True),
        sa.Column("source", sa.String(60), nullable=True),
        sa.Column("pair", sa.String(100), nullable=True),
        sa.Column("candle_time", big, nullable=True),
        sa.Column("rate", text, nullable=True),
        sa.Column("fx_rate", text, nullable=True),
        sa.Column("reason", text, nullable=True),
        sa.Column("needs_retry", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("valued_at", big, nullable=False),
        sa.Column("body", text, nullable=False),
    )
    op.create_index("ix_valuations_owner_retry", "valuations", ["owner_id", "needs_retry"])
    op.create_index("ix_valuations_account", "valuations", ["account_id"])
    op.create_table(
        "valuation_owners",
        sa.Column("owner_id", sa.String(200), primary_key=True),
        sa.Column("base_currency", sa.String(10), nullable=False),
        sa.Column("updated_at", big, nullable=False),
    )


def downgrade() -> None:
    """Drop the valuation tables (the ledger itself is untouched)."""
    for name in ("valuation_owners", "valuations", "price_cache"):
        op.drop_table(name)

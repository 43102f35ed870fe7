"""Sync leases: at most one sync of a connection at a time, across processes and machines.

Revision ID: 0005_leases
Revises: 0004_owner
Create Date: 2026-11-30

One new table (see :mod:`txsync.store.leases`); nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_leases"
down_revision = "0004_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the lease table."""
    op.create_table(
        "sync_leases",
        sa.Column("connection_id", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("acquired_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    """Drop the lease table."""
    op.drop_table("sync_leases")

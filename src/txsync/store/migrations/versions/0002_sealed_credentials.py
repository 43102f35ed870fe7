"""Sealed credentials: public fields and vault-sealed secret fields of each connection.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the credentials and sealed_secrets tables."""
    op.create_table(
        "credentials",
        sa.Column("connection_id", sa.String(200), sa.ForeignKey("connections.id"), primary_key=True),
        sa.Column("connector_id", sa.String(100), nullable=False),
        sa.Column("public", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "sealed_secrets",
        sa.Column(
            "connection_id", sa.String(200), sa.ForeignKey("credentials.connection_id"), primary_key=True
        ),
        sa.Column("field", sa.String(100), primary_key=True),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("sealed_secrets")
    op.drop_table("credentials")

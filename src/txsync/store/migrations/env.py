"""Alembic environment: migrations run on the connection the store hands over."""

from __future__ import annotations

from alembic import context

from txsync.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the store always provides one
    raise RuntimeError("txsync migrations run through txsync.store, which provides the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

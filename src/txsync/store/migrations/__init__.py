"""Alembic migrations of the txsync store (run automatically when a store opens)."""

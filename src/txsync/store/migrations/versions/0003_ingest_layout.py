"""The ingest layout: integer surrogate keys, local indexes, ids indexed in bulk, lazy match keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Every ledger, edit, tombstone, credential and cursor is kept. Transactions keep their ids (edits are
keyed by them); their bodies are re-encoded in the canonical form of this layout (the per-part cached
signature is dropped: it is computed where matching needs it) with every amount's digits unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BATCH = 2000
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Build the new tables, copy the data across, drop the old ones."""
    # Imported here: the migration runs inside the installed package (codec and merge rules).
    from txsync import merge as _codec
    from txsync.models.transaction import transaction_id

    conn = op.get_bind()
    big = sa.BigInteger()

    # accounts: an integer key for the ledger tables, in creation order.
    # (A plain ADD COLUMN: rebuilding the table would trip the connections' foreign keys.)
    op.add_column("accounts", sa.Column("seq", big, nullable=False, server_default=sa.text("0")))
    rows = conn.execute(sa.text("SELECT id FROM accounts ORDER BY created_at, id")).all()
    for seq, (account_id,) in enumerate(rows, start=1):
        conn.execute(sa.text("UPDATE accounts SET seq = :seq WHERE id = :id"), {"seq": seq, "id": account_id})
    op.create_index("uq_accounts_seq", "accounts", ["seq"], unique=True)
    account_seq = {account_id: seq for seq, (account_id,) in enumerate(rows, start=1)}

    # streams (with the cursors), for every (connection, stream) with a cursor or raws.
    op.create_table(
        "streams",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("connection_id", sa.String(200), sa.ForeignKey("connections.id"), nullable=False),
        sa.Column("stream", sa.String(100), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("updated_at", big, nullable=True),
        sa.UniqueConstraint("connection_id", "stream", name="uq_streams_connection_stream"),
    )
    conn.execute(sa.text(
        "INSERT INTO streams (connection_id, stream, cursor, updated_at) "
        "SELECT connection_id, stream, cursor, updated_at FROM cursors ORDER BY connection_id, stream"
    ))
    conn.execute(sa.text(
        "INSERT INTO streams (connection_id, stream) "
        "SELECT DISTINCT r.connection_id, r.stream FROM raw_transactions r WHERE NOT EXISTS "
        "(SELECT 1 FROM streams s WHERE s.connection_id = r.connection_id AND s.stream = r.stream) "
        "ORDER BY r.connection_id, r.stream"
    ))

    # transactions, in (account, time) order.
    op.create_table(
        "transactions_v3",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("account_seq", big, sa.ForeignKey("accounts.seq"), nullable=False),
        sa.Column("tx_key", sa.String(600), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("ts", big, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("origins", sa.String(60), nullable=False),
        sa.Column("legs", _JSON, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", big, nullable=False),
        sa.Column("updated_at", big, nullable=False),
        sa.UniqueConstraint("account_seq", "tx_key", name="uq_transactions_account_key"),
    )
    old = sa.text(
        "SELECT id, account_id, kind, ts, status, origins, body, created_at, updated_at "
        "FROM transactions ORDER BY account_id, ts, id"
    )
    insert = sa.text(
        "INSERT INTO transactions_v3 (seq, account_seq, tx_key, id, kind, ts, status, origins, legs, body, "
        "created_at, updated_at) VALUES (:seq, :account_seq, :tx_key, :id, :kind, :ts, :status, :origins, "
        ":legs, :body, :created_at, :updated_at)"
    )
    seq = 0
    multi_origin: set[str] = set()
    for chunk in _batches(conn.execute(old)):
        values = []
        for tid, account_id, kind, ts, status, origins, body, created_at, updated_at in chunk:
            seq += 1
            parts = {
                key: _canonical(part)
                for key, part in json.loads(body, parse_float=Decimal)["parts"].items()
            }
            eff = _codec.effective(parts)
            if "," in origins:
                multi_origin.add(account_id)
            values.append({
                "seq": seq, "account_seq": account_seq[account_id],
                "tx_key": _identity_key(tid, account_id, parts, transaction_id),
                "id": tid, "kind": kind, "ts": ts, "status": status, "origins": origins,
                "legs": _codec.encode_legs(eff.legs), "body": _codec.encode_body(parts),
                "created_at": created_at, "updated_at": updated_at,
            })
        conn.execute(insert, values)
    op.create_table(
        "transaction_ids",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("seq", big, nullable=False),
        sqlite_with_rowid=False,
    )
    conn.execute(
        sa.text("INSERT INTO transaction_ids (id, seq) SELECT id, seq FROM transactions_v3 ORDER BY id")
    )
    op.create_table(
        "store_state",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", big, nullable=False),
    )
    conn.execute(
        sa.text("INSERT INTO store_state (name, value) VALUES ('ids_indexed_upto', :v), ('tx_seq', :v), "
                "('account_seq', :a)"),
        {"v": seq, "a": len(account_seq)},
    )

    # raws, pointing at their transaction by seq.
    op.create_table(
        "raw_transactions_v3",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("stream_seq", big, sa.ForeignKey("streams.seq"), nullable=False),
        sa.Column("source_id", sa.String(400), nullable=False),
        sa.Column("tx_seq", big, nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("fetched_at", big, nullable=False),
        sa.UniqueConstraint("stream_seq", "source_id", name="uq_raw_transactions_stream_source"),
    )
    conn.execute(sa.text(
        "INSERT INTO raw_transactions_v3 (stream_seq, source_id, tx_seq, payload, fetched_at) "
        "SELECT s.seq, r.source_id, i.seq, r.payload, r.fetched_at FROM raw_transactions r "
        "JOIN streams s ON s.connection_id = r.connection_id AND s.stream = r.stream "
        "LEFT JOIN transaction_ids i ON i.id = r.transaction_id "
        "ORDER BY r.fetched_at, s.seq, r.source_id"
    ))

    op.create_table(
        "key_aliases",
        sa.Column("account_seq", big, primary_key=True, autoincrement=False),
        sa.Column("tx_key", sa.String(600), primary_key=True),
        sa.Column("tx_seq", big, nullable=False),
    )

    # match keys for the accounts that hold more than one origin.
    op.create_table(
        "match_keys",
        sa.Column("tx_seq", big, primary_key=True, autoincrement=False),
        sa.Column("account_seq", big, nullable=False),
        sa.Column("signature", sa.String(40), nullable=False),
        sa.Column("ts", big, nullable=False),
    )
    multi_origin.update(
        account_id for (account_id,) in conn.execute(sa.text(
            "SELECT account_id FROM account_origins GROUP BY account_id HAVING COUNT(*) > 1"
        ))
    )
    for account_id in sorted(multi_origin):
        if account_id not in account_seq:
            continue
        rows = conn.execute(
            sa.text("SELECT seq, ts, legs FROM transactions_v3 WHERE account_seq = :a ORDER BY seq"),
            {"a": account_seq[account_id]},
        ).all()
        keys = [
            {"tx_seq": s, "account_seq": account_seq[account_id],
             "signature": _codec.legs_signature(json.loads(legs)), "ts": ts}
            for s, ts, legs in rows
        ]
        if keys:
            conn.execute(
                sa.text("INSERT INTO match_keys (tx_seq, account_seq, signature, ts) "
                        "VALUES (:tx_seq, :account_seq, :signature, :ts)"),
                keys,
            )

    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"CREATE SEQUENCE transaction_seq START WITH {seq + 1}"))

    op.drop_table("raw_transactions")
    op.drop_table("transactions")
    op.drop_table("cursors")
    op.rename_table("transactions_v3", "transactions")
    op.rename_table("raw_transactions_v3", "raw_transactions")
    op.create_index("ix_transactions_account_ts", "transactions", ["account_seq", "ts"])
    op.create_index("ix_raw_transactions_tx_seq", "raw_transactions", ["tx_seq"])
    op.create_index("ix_match_keys_account_signature_ts", "match_keys", ["account_seq", "signature", "ts"])


#: The key order of a stored part in this layout (legs last: see txsync.merge.single_texts); a cover
#: part (an empty description standing for a group matched elsewhere) keeps its own.
_PART_ORDER = ("origin", "kind", "ts", "status", "sources", "external_ids", "description", "flags", "meta",
               "legs")
_COVER_ORDER = ("origin", "kind", "ts", "status", "legs", "sources", "cover")


def _canonical(part: dict[str, Any]) -> dict[str, Any]:
    part.pop("sig", None)
    order = _COVER_ORDER if "cover" in part else _PART_ORDER
    ordered = {key: part.pop(key) for key in order if key in part}
    ordered.update(part)
    return ordered


def _batches(result: Any) -> Iterator[list[Any]]:
    while True:
        rows = result.fetchmany(_BATCH)
        if not rows:
            return
        yield rows


def _identity_key(tid: str, account_id: str, parts: dict[str, dict[str, Any]], transaction_id: Any) -> str:
    """The (origin, key) a stored id was derived from, found among the parts' keys. A transaction whose
    original description was replaced by one under another key (release 0.1.0 kept the old id) gets a
    key of its own that no description can produce; the merge heals it when its raws are read again."""
    for part_key, part in parts.items():
        origin = part["origin"]
        prefix = f"{origin}:"
        if not part_key.startswith(prefix):
            continue
        rest = part_key[len(prefix):]
        _, sep, key = rest.partition(":")
        if sep and transaction_id(account_id, origin, key) == tid:
            return f"{origin}\x1f{key}"
    return f"\x00legacy\x1f{tid}"


def downgrade() -> None:
    """Not supported: restore a backup taken before upgrading."""
    raise NotImplementedError("txsync cannot downgrade below 0003: restore a backup of the database")

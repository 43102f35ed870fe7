"""The ledger schema, one definition for SQLite and PostgreSQL (SQLAlchemy Core).

Times are integer microseconds since the epoch (UTC), amounts live inside JSON text as decimal
strings: no backend ever sees a float. Synced data (raws, transactions, cursors) and the user's word
(tombstones, overrides) are kept in separate tables so nothing the engine writes can undo an edit.

The layout is built for ingest (schema 0003): the big tables are clustered on integer surrogate keys
that grow with every insert (``seq``), so a sync appends instead of inserting at random places; their
secondary indexes are local too (an account's transactions by time, a stream's raws by source id, the
raws of a transaction). Three accesses that are random by nature are kept off the hot path:

- the deterministic transaction id (a hash) is unique, but its index (``transaction_ids``) is filled in
  bulk, in id order, when a sync ends (and before the next one starts), not row by row; lookups by id
  read it plus the few rows written since (``store_state.ids_indexed_upto``);
- the merge finds an existing transaction by (account, identity key), the key its id is derived from;
- file-vs-API matching by net deltas (``match_keys``) is indexed only for accounts that hold
  descriptions of more than one origin; single-origin accounts (most API syncs) never pay for it.
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
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql

__all__ = [
    "account_origins",
    "accounts",
    "connections",
    "credentials",
    "key_aliases",
    "match_keys",
    "metadata",
    "overrides",
    "owner_account_gaps",
    "owner_balance_snapshots",
    "owner_halves",
    "owner_link_decisions",
    "owner_link_state",
    "owner_links",
    "owners",
    "price_cache",
    "raw_transactions",
    "sealed_secrets",
    "store_state",
    "streams",
    "sync_leases",
    "sync_runs",
    "tombstones",
    "transaction_ids",
    "transactions",
    "valuation_owners",
    "valuations",
]

metadata = MetaData()

#: An integer surrogate key: SQLite's rowid alias (INTEGER PRIMARY KEY), BIGINT elsewhere.
_SEQ = BigInteger().with_variant(Integer, "sqlite")
#: JSON the database may look into: text on SQLite, JSONB on PostgreSQL.
_JSON = Text().with_variant(postgresql.JSONB(), "postgresql")

#: Transaction keys on PostgreSQL (SQLite counts them in store_state under its single writer).
transaction_seq = Sequence("transaction_seq", metadata=metadata)

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
    # The account's integer key in the ledger tables (assigned by the store, never reused).
    Column("seq", BigInteger, nullable=False, server_default=text("0")),
    Index("uq_accounts_seq", "seq", unique=True),
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

# One row per (connection, stream) that ever stored a page: its integer key for the raws and its
# cursor (None until a page was committed).
streams = Table(
    "streams",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("connection_id", String(200), ForeignKey("connections.id"), nullable=False),
    Column("stream", String(100), nullable=False),
    Column("cursor", Text, nullable=True),
    Column("updated_at", BigInteger, nullable=True),
    UniqueConstraint("connection_id", "stream", name="uq_streams_connection_stream"),
)

raw_transactions = Table(
    "raw_transactions",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("stream_seq", BigInteger, ForeignKey("streams.seq"), nullable=False),
    Column("source_id", String(400), nullable=False),
    Column("tx_seq", BigInteger, nullable=True),
    Column("payload", Text, nullable=False),
    Column("fetched_at", BigInteger, nullable=False),
    UniqueConstraint("stream_seq", "source_id", name="uq_raw_transactions_stream_source"),
    Index("ix_raw_transactions_tx_seq", "tx_seq"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=False),
    Column("account_seq", BigInteger, ForeignKey("accounts.seq"), nullable=False),
    # "<origin>\x1f<key>" of the description the id is derived from (see txsync.models.transaction_id).
    Column("tx_key", String(600), nullable=False),
    Column("id", String(64), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("origins", String(60), nullable=False),
    # The effective legs as JSON ([[asset, amount, role, wallet], ...]): what balances sum (JSONB on
    # PostgreSQL, which sums them in SQL as NUMERIC).
    Column("legs", _JSON, nullable=False),
    # Every description ("part") of the event: {"parts": {part key: part}}.
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("account_seq", "tx_key", name="uq_transactions_account_key"),
    Index("ix_transactions_account_ts", "account_seq", "ts"),
)

# The index of transaction ids, filled in bulk (see the module docstring).
transaction_ids = Table(
    "transaction_ids",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Further identity keys of transactions: a record first read under one key and later under a corrected
# one is found by both (its id, derived from the first, stays: the user's edits stay attached).
key_aliases = Table(
    "key_aliases",
    metadata,
    Column("account_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("tx_key", String(600), primary_key=True),
    Column("tx_seq", BigInteger, nullable=False),
)

# Net-delta signatures of the transactions of accounts with more than one origin (file-vs-API matching).
match_keys = Table(
    "match_keys",
    metadata,
    Column("tx_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("account_seq", BigInteger, nullable=False),
    Column("signature", String(40), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Index("ix_match_keys_account_signature_ts", "account_seq", "signature", "ts"),
)

account_origins = Table(
    "account_origins",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("origin", String(20), primary_key=True),
)

# Counters of the store itself (``ids_indexed_upto``: the highest transaction seq in transaction_ids).
store_state = Table(
    "store_state",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", BigInteger, nullable=False),
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
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("connection_id", String(200), nullable=False, index=True),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=False),
    Column("ok", String(5), nullable=False),
    Column("report", Text, nullable=False),
)

# At most one sync of a connection at a time (txsync.store.leases): the holder renews its lease while
# it syncs; a crashed holder's lease expires. Times in microseconds (UTC) of the wall clock.
sync_leases = Table(
    "sync_leases",
    metadata,
    Column("connection_id", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("token", String(64), nullable=False),
    Column("acquired_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
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


# -- the owner layer (migration 0004_owner) ---------------------------------------------------------
# Transfer links across one owner's accounts, the user's link and unlink decisions, the incremental
# linker's state, each account's coverage gaps and its last reported balances (txsync.owner). The
# queries live in txsync.store._links. Amounts are decimal strings, times integer microseconds.

# One row per (transaction, asset) that may be half of a transfer: a deposit or withdrawal-like
# transaction moving that asset in (``direction`` "in") or out ("out"), as the linker last read it.
owner_halves = Table(
    "owner_halves",
    metadata,
    Column("tx_id", String(64), primary_key=True),
    Column("asset_key", String(300), primary_key=True),
    Column("direction", String(3), nullable=False),
    Column("owner_id", String(200), nullable=False),
    Column("account_id", String(200), nullable=False),
    Column("asset", String(200), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("amount", Text, nullable=False),
    Column("fee", Text, nullable=False),
    Column("tx_hash", String(200), nullable=True),
    Column("out_index", String(40), nullable=True),
    Column("internal_id", String(200), nullable=True),
    Column("network", String(60), nullable=True),
    Column("address", String(200), nullable=True),
    # Whether the transaction was deleted (tombstoned) when the linker last ran.
    Column("deleted", Integer, nullable=False, server_default=text("0")),
    Column("digest", String(40), nullable=False),
    # Why the linker left it unlinked (a tie, a conflict), as JSON; None when nothing to say.
    Column("note", Text, nullable=True),
    Index("ix_owner_halves_owner_asset_ts", "owner_id", "asset_key", "ts"),
    Index("ix_owner_halves_account", "account_id"),
)

# The current links: each withdrawal half and each deposit half is in one link at most.
owner_links = Table(
    "owner_links",
    metadata,
    Column("withdrawal_id", String(64), primary_key=True),
    Column("asset_key", String(300), primary_key=True),
    Column("deposit_id", String(64), nullable=False),
    Column("owner_id", String(200), nullable=False),
    Column("withdrawal_account", String(200), nullable=False),
    Column("deposit_account", String(200), nullable=False),
    Column("asset", String(200), nullable=False),
    Column("deposit_asset", String(200), nullable=False),
    Column("method", String(20), nullable=False),
    Column("matched_on", String(40), nullable=True),
    Column("confidence", String(12), nullable=False),
    Column("sent", Text, nullable=False),
    Column("received", Text, nullable=False),
    Column("declared_fee", Text, nullable=False),
    Column("fee", Text, nullable=False),
    Column("fee_leg", Text, nullable=False),
    Column("flags", Text, nullable=False, default="[]"),
    Column("withdrawal_ts", BigInteger, nullable=False),
    Column("deposit_ts", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("deposit_id", "asset_key", name="uq_owner_links_deposit"),
    Index("ix_owner_links_owner", "owner_id"),
)

# The user's word on links, applied on every relink: "link" forces a pair, "unlink" forbids one.
owner_link_decisions = Table(
    "owner_link_decisions",
    metadata,
    Column("withdrawal_id", String(64), primary_key=True),
    Column("deposit_id", String(64), primary_key=True),
    Column("owner_id", String(200), nullable=False),
    Column("decision", String(10), nullable=False),
    Column("asset_key", String(300), nullable=True),
    Column("note", Text, nullable=True),
    Column("decided_at", BigInteger, nullable=False),
    Index("ix_owner_link_decisions_owner", "owner_id"),
)

# How far the linker has read each account: transactions written at or after ``since`` (store time of
# the account's last sync whose linking completed) are read again on the next run.
owner_link_state = Table(
    "owner_link_state",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("owner_id", String(200), nullable=False),
    Column("since", BigInteger, nullable=False),
    Column("linked_at", BigInteger, nullable=False),
)

# Every coverage gap that applies to an account: declared ``always`` by its connectors, or noted by a
# sync (with its detail). ``since``: when first recorded; ``resolved_at``: a later complete full sync no
# longer noted it.
owner_account_gaps = Table(
    "owner_account_gaps",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("connector_id", String(100), primary_key=True),
    Column("gap_id", String(100), primary_key=True),
    Column("connection_id", String(200), nullable=True),
    Column("title", Text, nullable=False),
    Column("remedy", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Column("stream", String(100), nullable=True),
    Column("always", Integer, nullable=False),
    Column("assets", Text, nullable=False, default="[]"),
    Column("unreported_balances", Integer, nullable=False, server_default=text("0")),
    Column("since", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
)

# The balances a source last reported for an account (JSON list of balances), for reconciliation.
owner_balance_snapshots = Table(
    "owner_balance_snapshots",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("connection_id", String(200), nullable=True),
    Column("as_of", BigInteger, nullable=False),
    Column("balances", Text, nullable=False),
)

# -- valuation (schema 0006_valuation; queries in txsync.store._valuations) -------------------------

# Every price a source fetched (txsync.valuation.PriceCache), consulted before any request: the
# instrument as txsync asset ids, the interval ("1m", "1h", "1d", or "symbol" for facts about the
# instrument) and its start. ``price`` NULL records that the source has no price there.
price_cache = Table(
    "price_cache",
    metadata,
    Column("source", String(60), primary_key=True),
    Column("asset", String(300), primary_key=True),
    Column("quote", String(300), primary_key=True),
    Column("interval", String(10), primary_key=True),
    Column("time", BigInteger, primary_key=True),
    Column("price", Text, nullable=True),
    Column("fetched_at", BigInteger, nullable=False),
    Column("pair", String(100), nullable=True),
    Column("observed_at", BigInteger, nullable=True),
    Column("note", Text, nullable=True),
)

# One valuation per transaction, in its owner's base currency, with its provenance: the summary in
# columns (what ledger --json shows and what passes select on), everything (legs, every price and
# conversion used) in ``body`` (TransactionValuation.to_dict()).
valuations = Table(
    "valuations",
    metadata,
    Column("transaction_id", String(64), primary_key=True),
    Column("account_id", String(200), nullable=False),
    Column("owner_id", String(200), nullable=False),
    Column("currency", String(10), nullable=False),
    Column("status", String(12), nullable=False),
    Column("method", String(12), nullable=False),
    Column("amount", Text, nullable=True),
    Column("source", String(60), nullable=True),
    Column("pair", String(100), nullable=True),
    Column("candle_time", BigInteger, nullable=True),
    Column("rate", Text, nullable=True),
    Column("fx_rate", Text, nullable=True),
    Column("reason", Text, nullable=True),
    # 1 while the transaction or one of its legs waits for a price: retried first by every pass.
    Column("needs_retry", Integer, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("valued_at", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_valuations_owner_retry", "owner_id", "needs_retry"),
    Index("ix_valuations_account", "account_id"),
)

# Each owner's base currency (ISO 4217), when set (the default is EUR).
valuation_owners = Table(
    "valuation_owners",
    metadata,
    Column("owner_id", String(200), primary_key=True),
    Column("base_currency", String(10), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

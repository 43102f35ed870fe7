"""Several Bitstamp connections side by side in one store, and a replaced key, with the real engine."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from txsync.connectors.bitstamp.sandbox import BitstampAccount, BitstampSandbox, SandboxKey
from txsync.engine import Engine, SyncMode
from txsync.models import Credential
from txsync.reconcile import reconcile
from txsync.store import ConnectionState, SqliteStore

EngineFor = Callable[..., Engine]
CredentialFor = Callable[..., Credential]

KEY_A = "bitstamp-key-alice-" + "a" * 24
SECRET_A = "bitstamp-secret-alice-" + "A" * 24
KEY_A2 = "bitstamp-key-alice-second-" + "c" * 20
SECRET_A2 = "bitstamp-secret-alice-second-" + "C" * 20
KEY_B = "bitstamp-key-bob-" + "b" * 26
SECRET_B = "bitstamp-secret-bob-" + "B" * 26


def two_accounts() -> tuple[BitstampAccount, BitstampAccount]:
    # Same first id on purpose: overlapping Bitstamp ids in two accounts must never collide.
    return BitstampAccount.generate(seed=1, orders=80), BitstampAccount.generate(seed=2, orders=60)


def ledger_ids(store: SqliteStore, account_id: str) -> set[str]:
    return {tx.external_ids["transaction_id"] for tx in store.transactions(account_id=account_id)}


async def test_two_accounts_side_by_side_never_mix(
    store: SqliteStore, engine_for: EngineFor, credential: CredentialFor
) -> None:
    alice, bob = two_accounts()
    sandbox = BitstampSandbox(keys={KEY_A: SandboxKey(SECRET_A, alice), KEY_B: SandboxKey(SECRET_B, bob)})
    engine = engine_for(store, sandbox)
    con_a = engine.connect("alice", credential(KEY_A, SECRET_A), label="Bitstamp", verify=False)
    con_b = engine.connect("bob", credential(KEY_B, SECRET_B), label="Bitstamp", verify=False)
    assert con_a.account_id != con_b.account_id
    for con in (con_a, con_b):
        report = await engine.sync(con.id)
        assert report.ok, report.streams[0].errors
    shared_ids = {str(r["id"]) for r in alice.transactions} & {str(r["id"]) for r in bob.transactions}
    assert shared_ids  # the two accounts reuse ids, yet:
    assert ledger_ids(store, con_a.account_id) == {str(r["id"]) for r in alice.transactions}
    assert ledger_ids(store, con_b.account_id) == {str(r["id"]) for r in bob.transactions}
    for con, account in ((con_a, alice), (con_b, bob)):
        txs = list(store.transactions(account_id=con.account_id))
        assert len(txs) == len(account.transactions)
        assert all(src.connection_id == con.id for tx in txs for src in tx.sources)
        checks = reconcile(store.balances(con.account_id), await engine.reported_balances(con.id))
        assert all(c.ok for c in checks)
    # each connection keeps its own cursor
    assert store.get_cursor(con_a.id, "user_transactions")["since_id"] == alice.transactions[-1]["id"]
    assert store.get_cursor(con_b.id, "user_transactions")["since_id"] == bob.transactions[-1]["id"]


async def test_two_keys_of_one_account_describe_each_event_once(
    store: SqliteStore, engine_for: EngineFor, credential: CredentialFor
) -> None:
    alice, _ = two_accounts()
    sandbox = BitstampSandbox(keys={KEY_A: SandboxKey(SECRET_A, alice), KEY_A2: SandboxKey(SECRET_A2, alice)})
    engine = engine_for(store, sandbox)
    first = engine.connect("alice", credential(KEY_A, SECRET_A), verify=False)
    second = engine.connect("alice", credential(KEY_A2, SECRET_A2), account_id=first.account_id, verify=False)
    assert (await engine.sync(first.id)).ok
    report = await engine.sync(second.id)
    assert report.ok and report.total("new") == 0
    txs = list(store.transactions(account_id=first.account_id))
    assert len(txs) == len(alice.transactions) and all(tx.parts == 1 for tx in txs)
    checks = reconcile(store.balances(first.account_id), await engine.reported_balances(second.id))
    assert all(c.ok for c in checks)  # nothing doubled
    assert store.count_raws(first.id) == store.count_raws(second.id)


async def test_a_replaced_key_keeps_transactions_edits_and_deletions(
    store: SqliteStore, engine_for: EngineFor, credential: CredentialFor
) -> None:
    alice, _ = two_accounts()
    sandbox = BitstampSandbox(keys={KEY_A: SandboxKey(SECRET_A, alice)})
    engine = engine_for(store, sandbox)
    con = engine.connect("alice", credential(KEY_A, SECRET_A), verify=False)
    await engine.sync(con.id)
    before = {tx.id for tx in store.transactions(account_id=con.account_id)}
    deleted, edited, *_ = store.transactions(account_id=con.account_id)
    store.delete_transaction(deleted.id, reason="duplicate of a manual entry")
    store.set_override(
        edited.id, label="savings", note="first buy", fiat_value=Decimal("99.90"), fiat_currency="EUR"
    )
    # the old key is revoked at Bitstamp: the connection is disabled with the reason
    del sandbox.keys[KEY_A]
    revoked = await engine.sync(con.id)
    assert revoked.state == ConnectionState.DISABLED and "API0001" in (revoked.state_reason or "")
    # the user creates a new key for the same account and replaces the old one
    sandbox.keys[KEY_A2] = SandboxKey(SECRET_A2, alice)
    await engine.replace_credential_verified(con.id, credential(KEY_A2, SECRET_A2))
    for mode in (SyncMode.INCREMENTAL, SyncMode.FULL):
        report = await engine.sync(con.id, mode)
        assert report.ok and report.state == ConnectionState.ACTIVE
        assert report.total("new") == 0 and report.total("updated") == 0
    kept = {tx.id for tx in store.transactions(account_id=con.account_id)}
    assert kept == before - {deleted.id}
    assert store.get_transaction(deleted.id).deleted
    again = store.get_transaction(edited.id)
    assert (again.label, again.note, again.fiat_value, again.fiat_currency) == (
        "savings",
        "first buy",
        Decimal("99.90"),
        "EUR",
    )

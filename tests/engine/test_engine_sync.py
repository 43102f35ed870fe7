"""The engine against the Demo Exchange sandbox: happy path, modes, states, errors, secrets."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from helpers.backends import database_bytes
from helpers.demo import demo_credential, demo_engine, ledger_of
from txsync.connectors.demo.sandbox import DEMO_SECRET, DemoAccount, DemoSandbox
from txsync.engine import ReadOnlyPolicy, SyncMode
from txsync.errors import ConnectionStateError
from txsync.store import ConnectionState, SqliteStore


@pytest.fixture
def sandbox() -> DemoSandbox:
    return DemoSandbox()


async def test_full_history_balances_and_report(store: SqliteStore, sandbox: DemoSandbox) -> None:
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(), label="main", verify=False)
    report = await engine.sync(con.id)
    assert report.ok, report.errors
    trades, deposits = report.streams
    assert (trades.stream, trades.raws, trades.new) == (
        "trades",
        len(sandbox.account.trades),
        len(sandbox.account.trades),
    )
    assert deposits.new == len(sandbox.account.deposits)
    assert trades.requests == 3 and trades.weight == 15
    assert report.total("new") == store.count_transactions(con.account_id)
    assert [g.gap_id for g in report.coverage_gaps] == ["staking_rewards"]
    assert report.permissions is not None and report.permissions.can_read
    # the pending deposit does not count; everything else adds up to what the exchange reports
    assert store.balances(con.account_id) == {k: v for k, v in sandbox.account.balances().items() if v}
    pending = [tx for tx in store.transactions(account_id=con.account_id) if tx.status == "pending"]
    assert len(pending) == 1 and pending[0].legs[0].amount == Decimal("0.05")
    saved = store.last_sync_run(con.id)
    assert saved is not None and f'"connection_id":"{con.id}"' in saved
    assert store.get_connection(con.id).last_success_at is not None


async def test_second_sync_adds_nothing_and_costs_a_handful_of_requests(
    store: SqliteStore, sandbox: DemoSandbox
) -> None:
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(), verify=False)
    await engine.sync(con.id)
    before = ledger_of(store, con.account_id)
    sent = sandbox.requests
    again = await engine.sync(con.id)
    assert again.ok and again.total("new") == again.total("updated") == 0
    assert sandbox.requests - sent <= 3  # key check + one trades probe; no history re-read
    full = await engine.sync(con.id, SyncMode.FULL)
    assert full.ok and full.total("new") == full.total("updated") == 0
    assert full.total("unchanged") == len(before)
    assert ledger_of(store, con.account_id) == before


async def test_new_trades_arrive_incrementally(store: SqliteStore) -> None:
    account = DemoAccount.generate(trades=60)
    later = account.trades[30:]
    account.trades = account.trades[:30]
    sandbox = DemoSandbox(account=account)
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(), verify=False)
    await engine.sync(con.id)
    account.trades.extend(later)
    report = await engine.sync(con.id)
    assert report.streams[0].new == len(later)
    assert store.count_transactions(con.account_id) == len(account.trades) + len(account.deposits)


async def test_since_latest_starts_at_the_newest_transaction(
    store: SqliteStore, sandbox: DemoSandbox
) -> None:
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(), verify=False)
    await engine.sync(con.id)
    sent = sandbox.requests
    report = await engine.sync(con.id, SyncMode.SINCE_LATEST)
    assert report.ok
    deposits = report.streams[1]
    assert deposits.requests == 1  # one window, from the newest transaction to now
    assert sandbox.requests - sent < 10


async def test_wrong_key_disables_without_retry_storm(store: SqliteStore, sandbox: DemoSandbox) -> None:
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(secret="wrong-secret-0000"), verify=False)
    report = await engine.sync(con.id)
    assert not report.ok
    assert sandbox.requests == 1  # one rejected request, never retried
    assert report.state == ConnectionState.DISABLED and "invalid signature" in (report.state_reason or "")
    assert store.count_transactions() == 0
    with pytest.raises(ConnectionStateError, match="disabled"):
        await engine.sync(con.id)
    await engine.replace_credential_verified(con.id, demo_credential())
    assert (await engine.sync(con.id)).ok


@pytest.mark.parametrize(
    ("rights", "allow_trading", "refused"),
    [
        ({"canWithdraw": True}, False, "withdraw"),
        ({"canTrade": True}, False, "trade"),
        ({"canTrade": True}, True, None),
        ({"canRead": False}, False, "cannot read"),
    ],
)
async def test_keys_with_dangerous_rights_are_refused(
    store: SqliteStore, rights: dict[str, bool], allow_trading: bool, refused: str | None
) -> None:
    sandbox = DemoSandbox()
    sandbox.permissions.update(rights)
    engine = demo_engine(store, sandbox, permissions=ReadOnlyPolicy(allow_trading=allow_trading))
    con = engine.connect("alice", demo_credential(), verify=False)
    report = await engine.sync(con.id)
    if refused is None:
        assert report.ok
    else:
        assert report.state == ConnectionState.DISABLED and refused in (report.state_reason or "")
        assert sandbox.log == ["/v1/key"]  # nothing synced with a refused key


async def test_no_ip_restriction_warns(store: SqliteStore) -> None:
    sandbox = DemoSandbox()
    sandbox.permissions["ipRestrict"] = False
    engine = demo_engine(store, sandbox)
    report = await engine.sync(engine.connect("alice", demo_credential(), verify=False).id)
    assert report.ok and any("IP restriction" in w for w in report.warnings)


async def test_ban_stops_the_sync_and_reports_until_without_disabling(store: SqliteStore) -> None:
    sandbox = DemoSandbox(faults={3: "418"})
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(), verify=False)
    report = await engine.sync(con.id)
    assert not report.ok and report.banned_until is not None
    assert report.state == ConnectionState.ACTIVE
    assert sandbox.requests == 3  # stopped at once, no other stream tried


async def test_retries_absorb_transient_faults(store: SqliteStore) -> None:
    sandbox = DemoSandbox(
        faults={2: "429", 3: "500", 4: "timeout", 6: "truncated", 9: "429-0", 10: "disconnect"}
    )
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.ok, report.errors
    assert report.total("retries") >= 5
    clean = SqliteStore(":memory:")
    clean_engine = demo_engine(clean, DemoSandbox())
    clean_con = clean_engine.connect("alice", demo_credential(), verify=False)
    await clean_engine.sync(clean_con.id)
    assert sorted(row[1:] for row in ledger_of(store, con.account_id)) == sorted(
        row[1:] for row in ledger_of(clean, clean_con.account_id)
    )


async def test_paused_connection_does_not_sync(store: SqliteStore, sandbox: DemoSandbox) -> None:
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(), verify=False)
    engine.pause(con.id)
    with pytest.raises(ConnectionStateError, match="paused"):
        await engine.sync(con.id)
    assert sandbox.requests == 0
    engine.resume(con.id)
    assert (await engine.sync(con.id)).ok


async def test_unknown_records_are_kept_and_counted(store: SqliteStore) -> None:
    account = DemoAccount.generate(trades=10)
    account.trades[3]["side"] = "SELF_TRADE"
    account.deposits[0]["status"] = "under_review"
    engine = demo_engine(store, DemoSandbox(account=account))
    con = engine.connect("alice", demo_credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.ok
    assert report.total("unknown") == 2
    flagged = [tx for tx in store.transactions(account_id=con.account_id) if "unknown_type" in tx.flags]
    assert sorted(tx.kind for tx in flagged) == ["fiat_deposit", "other"]  # the EUR deposit and the trade
    assert len(flagged) == 2


async def test_a_connector_bug_fails_its_stream_only_and_stores_nothing_of_that_page(
    store: SqliteStore,
) -> None:
    account = DemoAccount.generate(trades=10)
    del account.trades[4]["qty"]  # normalization meets a record without its quantity
    engine = demo_engine(store, DemoSandbox(account=account))
    con = engine.connect("alice", demo_credential(), verify=False)
    report = await engine.sync(con.id)
    trades, deposits = report.streams
    assert not report.ok and trades.errors
    # a typed error naming the stream, the record and the field, not a bare KeyError
    assert trades.errors[0].startswith("InvalidRecordError: trades record '" + str(account.trades[4]["id"]) + "': field 'qty' is missing")
    assert deposits.completed and deposits.new == len(account.deposits)
    assert store.count_raws(con.id) == len(account.deposits)  # the failing page left no trace
    assert store.get_cursor(con.id, "trades") is None


async def test_edits_survive_full_resync_and_replaced_key(store: SqliteStore, sandbox: DemoSandbox) -> None:
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(), verify=False)
    await engine.sync(con.id)
    first, second, *_ = store.transactions(account_id=con.account_id)
    store.delete_transaction(first.id)
    store.set_override(second.id, label="salary", fiat_value=Decimal("10.00"), fiat_currency="EUR")
    await engine.sync(con.id, SyncMode.FULL)
    await engine.replace_credential_verified(con.id, demo_credential())
    await engine.sync(con.id, SyncMode.FULL)
    # a second connection (a new key) on the same account
    other = engine.connect("alice", demo_credential(), account_id=con.account_id, verify=False)
    await engine.sync(other.id, SyncMode.FULL)
    ids = [tx.id for tx in store.transactions(account_id=con.account_id)]
    assert first.id not in ids
    assert len(ids) == len(sandbox.account.trades) + len(sandbox.account.deposits) - 1
    kept = store.get_transaction(second.id)
    assert (kept.label, kept.fiat_value) == ("salary", Decimal("10.00"))


async def test_sync_due_follows_the_schedule(store: SqliteStore, sandbox: DemoSandbox) -> None:
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(), verify=False)
    store.touch_owner("alice", sandbox.clock())
    first = await engine.sync_due()
    assert [r.connection_id for r in first] == [con.id]
    assert await engine.sync_due() == []  # synced just now: due again in a week
    assert [r.connection_id for r in await engine.sync_due(datetime(2023, 10, 10, tzinfo=UTC))] == [con.id]


async def test_no_secret_in_logs_reports_or_the_database(
    store: SqliteStore, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox = DemoSandbox(faults={2: "500", 5: "401"})
    engine = demo_engine(store, sandbox)
    con = engine.connect("alice", demo_credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.state == ConnectionState.DISABLED
    await engine.replace_credential_verified(con.id, demo_credential())
    await engine.sync(con.id)
    texts = [
        caplog.text,
        report.model_dump_json(),
        repr(engine),
        repr(engine.credentials),
        str(store.last_sync_run(con.id)),
    ]
    for text in texts:
        assert DEMO_SECRET not in text
    assert DEMO_SECRET.encode() not in database_bytes(store)

"""The Bitstamp connector synced by the real engine against its sandbox: the happy path and the bad
paths (wrong key, permissions, rate limits, broken bodies, forged answers, unknown types, loops)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from copy import deepcopy
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from txsync.connector import ConnectorContext
from txsync.connectors.bitstamp import Bitstamp, BitstampAuth
from txsync.connectors.bitstamp.sandbox import (
    NOW,
    SANDBOX_KEY,
    SANDBOX_SECRET,
    BitstampAccount,
    BitstampSandbox,
    SandboxKey,
)
from txsync.engine import Engine
from txsync.models import Credential, TransactionKind
from txsync.reconcile import reconcile
from txsync.store import ConnectionState, SqliteStore
from txsync.testing.harness import NO_SLEEP_RETRY

EngineFor = Callable[..., Engine]
CredentialFor = Callable[..., Credential]


@pytest.fixture(scope="module")
def base_account() -> BitstampAccount:
    return BitstampAccount.generate()


@pytest.fixture(scope="module")
def small_account() -> BitstampAccount:
    return BitstampAccount.generate(orders=100)  # one page of every row type


@pytest.fixture
def sandbox(base_account: BitstampAccount) -> BitstampSandbox:
    """The full multi-year account (more rows than one page)."""
    return BitstampSandbox(keys={SANDBOX_KEY: SandboxKey(SANDBOX_SECRET, deepcopy(base_account))})


@pytest.fixture
def small(small_account: BitstampAccount) -> BitstampSandbox:
    """A smaller account for the bad paths that need no second page."""
    return BitstampSandbox(keys={SANDBOX_KEY: SandboxKey(SANDBOX_SECRET, deepcopy(small_account))})


async def test_full_history_txids_balances_and_report(
    store: SqliteStore, sandbox: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    engine = engine_for(store, sandbox)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.ok, (report.errors, [s.errors for s in report.streams])
    (stream,) = report.streams
    account = sandbox.account
    assert stream.new == len(account.transactions) == store.count_transactions(con.account_id)
    assert stream.pages == 2 and len(account.transactions) > 1000
    # verify + 2 pages + crypto-transactions once
    assert stream.requests == 3 and sandbox.requests == 4
    assert report.permissions is not None and not report.permissions.reported and report.permissions.can_read
    assert any("does not report key permissions" in w for w in report.warnings)
    # the ledger adds up to what Bitstamp reports
    reported = await engine.reported_balances(con.id)
    checks = reconcile(store.balances(con.account_id), reported)
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    txs = list(store.transactions(account_id=con.account_id))
    kinds = {tx.kind for tx in txs}
    assert {
        TransactionKind.TRADE,
        TransactionKind.DEPOSIT,
        TransactionKind.FIAT_DEPOSIT,
        TransactionKind.WITHDRAWAL,
        TransactionKind.TRANSFER,
        TransactionKind.REWARD,
        TransactionKind.REFERRAL,
    } <= kinds
    matched = [tx for tx in txs if "tx_hash" in tx.external_ids]
    chain = {d["txid"] for d in account.crypto_deposits + account.crypto_withdrawals}
    assert len(matched) == len(chain) - 2  # all but the two identical deposits
    assert {tx.external_ids["tx_hash"] for tx in matched} <= chain
    ambiguous = [tx for tx in txs if "crypto_match_ambiguous" in tx.flags]
    assert len(ambiguous) == 2 and all(len(tx.meta["crypto_candidates"]) == 2 for tx in ambiguous)
    unmatched = [tx for tx in txs if "crypto_unmatched" in tx.flags]
    assert len(unmatched) == 2  # an old BTC withdrawal, and the ETH one not broadcast yet
    gaps = {g.gap_id for g in report.coverage_gaps}
    assert gaps == {"onchain_txids", "sub_accounts"}
    # same-second fills of one order stay separate transactions
    by_second: dict[tuple[str, Any], int] = {}
    for row in account.transactions:
        if row["type"] == "2":
            by_second[(row["datetime"], row.get("order_id"))] = (
                by_second.get((row["datetime"], row.get("order_id")), 0) + 1
            )
    assert max(by_second.values()) >= 2


async def test_second_sync_rechecks_only_the_young_unbroadcast_withdrawal(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(), verify=False)
    await engine.sync(con.id)
    cursor = store.get_cursor(con.id, "user_transactions")
    pending = small.account.transactions[-1]
    assert pending["type"] == "1" and cursor["since_id"] == pending["id"]
    assert cursor["recheck_from"] == small.account.transactions[-2]["id"]
    sent = small.requests
    again = await engine.sync(con.id)
    assert again.ok and again.total("new") == again.total("updated") == 0
    assert small.requests - sent == 3  # verify, the re-read tail, crypto-transactions
    # Bitstamp broadcasts the withdrawal: the next sync attaches its txid and stops re-checking
    row = small.account.add_crypto(
        "withdrawal", "ETH", -Decimal(pending["eth"]), NOW - timedelta(hours=1), network="ethereum"
    )
    third = await engine.sync(con.id)
    assert third.total("updated") == 1 and third.total("new") == 0
    tx = next(
        t
        for t in store.transactions(account_id=con.account_id)
        if t.external_ids.get("transaction_id") == str(pending["id"])
    )
    assert tx.external_ids["tx_hash"] == row["txid"] and "crypto_unmatched" not in tx.flags
    assert store.get_cursor(con.id, "user_transactions") == {"since_id": pending["id"]}
    # new rows arrive incrementally, from the stored since_id
    small.account.add(0, NOW, {"eur": Decimal(250)})
    fourth = await engine.sync(con.id)
    assert fourth.total("new") == 1


async def test_a_wrong_secret_disables_the_connection_without_a_retry_storm(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(secret="wrong-secret-" + "x" * 30), verify=False)
    report = await engine.sync(con.id)
    assert report.state == ConnectionState.DISABLED and small.requests == 1
    assert "signature" in (report.state_reason or "") and report.errors[0].startswith("AuthError")
    unknown = engine.connect("bob", credential(key="unknown-key-" + "y" * 30), verify=False)
    report = await engine.sync(unknown.id)
    assert report.state == ConnectionState.DISABLED and "API0001" in (report.state_reason or "")


async def test_a_key_without_user_transactions_is_disabled_with_the_reason(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    small.keys[SANDBOX_KEY].permissions = frozenset({"balance"})
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.state == ConnectionState.DISABLED
    assert report.errors[0].startswith("PermissionDeniedError")
    assert "No permission found" in (report.state_reason or "")
    assert "User transactions" in (report.state_reason or "")


async def test_without_the_crypto_permission_the_sync_goes_on_and_notes_the_gap(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    small.keys[SANDBOX_KEY].permissions = frozenset({"balance", "user_transactions"})
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.ok and report.state == ConnectionState.ACTIVE
    gap = next(g for g in report.coverage_gaps if g.gap_id == "onchain_txids")
    assert "Crypto transactions" in gap.detail and "permission" in gap.remedy
    assert not any("tx_hash" in tx.external_ids for tx in store.transactions(account_id=con.account_id))


@pytest.mark.parametrize("fault", ["429", "rate_limit", "500", "timeout", "truncated", "invalid_nonce"])
async def test_transient_failures_are_retried(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor, fault: str
) -> None:
    small.faults = {2: fault}
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.ok, report.streams[0].errors
    assert report.streams[0].retries == 1
    assert store.count_transactions(con.account_id) == len(small.account.transactions)


async def test_an_exhausted_rate_limit_stops_the_sync_and_keeps_what_was_committed(
    store: SqliteStore, sandbox: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    sandbox.rate_limit = 3  # verify, page 1, crypto-transactions; then 400.002 for ever
    engine = engine_for(store, sandbox)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    assert not report.ok and report.errors[0].startswith("RateLimitedError")
    assert report.state == ConnectionState.ACTIVE  # not the user's fault: no disabling
    assert report.streams[0].pages == 1 and store.count_transactions(con.account_id) == 1000
    assert report.streams[0].rate_limited == NO_SLEEP_RETRY.attempts


async def test_malformed_bodies_fail_the_stream_after_bounded_retries(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    small.faults = {2: "malformed", 3: "malformed"}
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    (stream,) = report.streams
    assert not report.ok and "MalformedBodyError" in stream.errors[0]
    assert store.count_transactions(con.account_id) == 0
    assert (await engine.sync(con.id)).ok  # the next sync starts over cleanly


@pytest.mark.parametrize("fault", ["bad_signature", "no_signature"])
async def test_a_forged_or_unsigned_answer_is_refused(
    store: SqliteStore, sandbox: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor, fault: str
) -> None:
    sandbox.faults = {4: fault}  # the second user_transactions page (3 is crypto-transactions)
    engine = engine_for(store, sandbox)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    (stream,) = report.streams
    assert not report.ok and "ResponseSignatureError" in stream.errors[0]
    assert stream.retries == 0 and store.count_transactions(con.account_id) == 1000
    assert report.state == ConnectionState.ACTIVE


async def test_a_repeated_page_is_a_loop_error_not_silent_duplicates(
    store: SqliteStore, sandbox: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    sandbox.faults = {4: "duplicate_page"}  # page 2 answers page 1 again
    engine = engine_for(store, sandbox)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    (stream,) = report.streams
    assert not report.ok and "PaginationLoopError" in stream.errors[0]
    assert store.count_transactions(con.account_id) == 1000


async def test_unknown_types_are_kept_reported_and_counted(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    small.account.add(36, NOW - timedelta(minutes=5), {"eur": Decimal("-7.50")})
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.ok and report.streams[0].unknown == 1
    assert "unknown_types" in {g.gap_id for g in report.coverage_gaps}
    other = [tx for tx in store.transactions(account_id=con.account_id) if tx.kind == TransactionKind.OTHER]
    assert len(other) == 1 and other[0].legs[0].amount == Decimal("-7.50")


async def test_offset_paging_fallback_gives_the_same_ledger(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    engine = engine_for(store, small)
    by_id = engine.connect("alice", credential(), verify=False)
    by_offset = engine.connect("bob", credential(), options={"paging": "offset", "page_limit": 100}, verify=False)
    await engine.sync(by_id.id)
    report = await engine.sync(by_offset.id)
    assert report.ok and report.streams[0].pages == 3
    assert store.get_cursor(by_offset.id, "user_transactions") == {"offset": len(small.account.transactions)}

    def picture(account_id: str) -> list[tuple[Any, ...]]:
        return sorted(
            (
                tx.external_ids["transaction_id"],
                tx.timestamp,
                tx.kind,
                tuple(tx.legs),
                dict(tx.external_ids),
                tx.flags,
            )
            for tx in store.transactions(account_id=account_id)
        )

    assert picture(by_id.account_id) == picture(by_offset.account_id)


async def test_no_secret_in_logs_reports_or_errors(
    store: SqliteStore,
    small: BitstampSandbox,
    engine_for: EngineFor,
    credential: CredentialFor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    small.faults = {2: "500", 3: "bad_signature"}
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    for text in (caplog.text, report.model_dump_json(), str(store.last_sync_run(con.id))):
        assert SANDBOX_SECRET not in text and SANDBOX_KEY not in text


# -- the sandbox itself behaves as Bitstamp does -------------------------------------------------------


def _context(sandbox: BitstampSandbox, **options: Any) -> ConnectorContext:
    return ConnectorContext(
        connection_id="c",
        account_id="a",
        credential=Credential(
            connector_id="bitstamp", secrets={"api_key": SANDBOX_KEY, "api_secret": SANDBOX_SECRET}
        ),
        options=options,
        transport=sandbox.transport(),
        clock=sandbox.clock,
        retry=NO_SLEEP_RETRY,
    )


def _post(
    sandbox: BitstampSandbox, auth: BitstampAuth, path: str, data: dict[str, Any] | None = None
) -> httpx.Response:
    with httpx.Client(
        transport=sandbox.transport(), auth=auth, base_url="https://www.bitstamp.net"
    ) as client:
        return client.post(path, data=data)


def _auth(**kw: Any) -> BitstampAuth:
    kw.setdefault("clock", lambda: int(NOW.timestamp() * 1000))
    return BitstampAuth(SANDBOX_KEY, SANDBOX_SECRET, verify_response="off", **kw)


def test_the_sandbox_refuses_a_reused_nonce_and_a_stale_timestamp(sandbox: BitstampSandbox) -> None:
    fixed = _auth(nonce=lambda: "0b4bd6a8-8d6e-4f43-9d7c-3bd0c5ad1b1e")
    assert _post(sandbox, fixed, "/api/v2/balance/").status_code == 200
    again = _post(sandbox, fixed, "/api/v2/balance/")
    assert again.status_code == 403 and again.json()["code"] == "API0004"
    stale = _post(sandbox, _auth(clock=lambda: int(NOW.timestamp() * 1000) - 151_000), "/api/v2/balance/")
    assert stale.status_code == 403 and stale.json()["reason"] == "Timestamp too old"
    upper = _post(sandbox, _auth(nonce=lambda: "0B4BD6A8-8D6E-4F43-9D7C-3BD0C5AD1B1E"), "/api/v2/balance/")
    assert upper.json()["code"] == "API0004"


def test_the_sandbox_enforces_page_limits(sandbox: BitstampSandbox) -> None:
    too_many = _post(sandbox, _auth(), "/api/v2/user_transactions/", {"limit": 1001})
    assert too_many.status_code == 400 and too_many.json()["response_code"] == "400.011"
    too_far = _post(sandbox, _auth(), "/api/v2/user_transactions/", {"offset": 200_001})
    assert too_far.json()["response_code"] == "400.010"
    old = _post(
        sandbox, _auth(), "/api/v2/user_transactions/", {"since_timestamp": int(NOW.timestamp()) - 31 * 86400}
    )
    assert old.json()["response_code"] == "400.013"
    forced = _post(
        sandbox, _auth(), "/api/v2/user_transactions/", {"since_id": 0, "limit": 10, "sort": "asc"}
    )
    assert len(forced.json()) == 1000  # since_id forces limit 1000
    crypto = _post(sandbox, _auth(), "/api/v2/crypto-transactions/", {"limit": 5000})
    assert crypto.json()["response_code"] == "400.011"


async def test_options_are_validated(sandbox: BitstampSandbox) -> None:
    from txsync.errors import ConfigurationError

    for options in (
        {"paging": "pages"},
        {"page_limit": 1001},
        {"verify_response_signature": "maybe"},
        {"txid_grace_hours": -1},
    ):
        with pytest.raises(ConfigurationError):
            Bitstamp(_context(sandbox, **options))
    async with Bitstamp(_context(sandbox)) as connector:
        assert Bitstamp.info.reports_permissions is False
        assert "User transactions" in Bitstamp.info.minimal_permissions
        assert (await connector.verify()).reported is False
        assert sandbox.log == ["/api/v2/user_transactions/"]


async def test_cursors_are_checked_and_a_changed_paging_mode_starts_over(small: BitstampSandbox) -> None:
    from txsync.pagination import InvalidCursorError

    async with Bitstamp(_context(small)) as connector:
        (stream,) = connector.streams()
        for bad in (5, {"since_id": -1}, {"since_id": True}):
            with pytest.raises(InvalidCursorError):
                await anext(stream.pages(bad))
        first = await anext(stream.pages({"offset": 40}))  # an offset-mode cursor: from the start
        assert first.records[0].source_id == str(small.account.transactions[0]["id"])
        assert small.log[-1] == "/api/v2/crypto-transactions/"


async def test_unknown_numeric_keys_are_never_assets_rows_kept_flagged_and_reported(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    account = small.account
    at = NOW - timedelta(minutes=30)
    # a trade carrying fields Bitstamp added (a price and a trade identifier, both numbers)
    trade = account.add(
        2,
        at,
        {"eth": Decimal("0.5"), "eur": Decimal("-1000.75")},
        fee=Decimal("3.00"),
        pair=("eth", "eur", Decimal("2001.50")),
        order_id=1_500_000_000_000_001,
        extra={"price": Decimal("2001.50"), "trade_uti": 52300123456789012, "tier": "0"},
    )
    # a deposit of a currency outside the connector's snapshot, named by no pair
    deposit = account.add(0, at + timedelta(minutes=1), {}, extra={"zzq": "12.5"})
    before = {c: v for c, v in account.balances().items() if v}
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.ok, [s.errors for s in report.streams]
    assert "unknown_keys" in {g.gap_id for g in report.coverage_gaps}
    txs = {tx.external_ids["transaction_id"]: tx for tx in store.transactions(account_id=con.account_id)}
    assert len(txs) == len(account.transactions)
    assets = {leg.asset for tx in txs.values() for leg in tx.legs}
    assert not assets & {"PRICE", "TRADE_UTI", "TRADE-UTI", "TRADE", "UTI", "TIER", "ZZQ"}
    tx = txs[str(trade["id"])]
    assert sorted((leg.asset, leg.amount) for leg in tx.legs) == [
        ("ETH", Decimal("0.5")),
        ("EUR", Decimal("-1000.75")),
        ("EUR", Decimal("-3.00")),
    ]
    assert tx.kind == TransactionKind.TRADE and "unknown_keys" in tx.flags
    assert tx.meta["unknown_keys"] == {"price": "2001.50", "trade_uti": "52300123456789012"}
    assert tx.meta["price"] == "2001.50" and "pair_unknown" not in tx.flags
    dep = txs[str(deposit["id"])]
    assert dep.flags >= {"unknown_keys", "no_amount"} and dep.meta["unknown_keys"] == {"zzq": "12.5"}
    assert [leg.amount for leg in dep.legs] == [0]
    # every other row is untouched, and the ledger still adds up to what Bitstamp reports
    assert sum("unknown_keys" in t.flags for t in txs.values()) == 2
    reported = await engine.reported_balances(con.id)
    assert {b.asset: b.amount for b in reported} == {c.upper(): v for c, v in before.items()}
    assert all(c.ok for c in reconcile(store.balances(con.account_id), reported))
    # Bitstamp's live currency list was asked once (zzq is not on it)
    assert small.log.count("/api/v2/currencies/") == 1


async def test_a_coin_listed_after_the_snapshot_is_a_currency_through_the_live_list(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    account = small.account
    account.extra_currencies = ("zzx",)
    at = NOW - timedelta(minutes=30)
    deposit = account.add(0, at, {}, extra={"zzx": "40.5"})
    sold = account.add(2, at + timedelta(minutes=5), {"eur": Decimal("12.00")}, fee=Decimal("0.04"),
                       pair=("zzx", "eur", Decimal("0.8")), extra={"zzx": "-15.0"})  # fmt: skip
    withdrawal = account.add(1, at + timedelta(minutes=9), {}, fee=Decimal("0.5"), extra={"zzx": "-10.0"})
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.ok, [s.errors for s in report.streams]
    assert "unknown_keys" not in {g.gap_id for g in report.coverage_gaps}
    txs = {tx.external_ids["transaction_id"]: tx for tx in store.transactions(account_id=con.account_id)}
    dep = txs[str(deposit["id"])]
    assert dep.kind is TransactionKind.DEPOSIT and [(leg.asset, leg.amount) for leg in dep.legs] == [
        ("ZZX", Decimal("40.5"))
    ]
    assert "unknown_keys" not in dep.flags
    assert txs[str(sold["id"])].meta["pair"] == "ZZX/EUR"
    out = txs[str(withdrawal["id"])]
    assert sorted((leg.asset, leg.amount) for leg in out.legs) == [("ZZX", Decimal("-10.0")), ("ZZX", Decimal("-0.5"))]
    assert small.log.count("/api/v2/currencies/") == 1  # once per sync, however many pages need it
    reported = await engine.reported_balances(con.id)
    assert {b.asset: b.amount for b in reported}["ZZX"] == Decimal("15.00000000")
    assert all(c.ok for c in reconcile(store.balances(con.account_id), reported))


async def test_without_the_live_currency_list_unknown_codes_stay_unknown_and_the_reason_is_reported(
    store: SqliteStore, small: BitstampSandbox, engine_for: EngineFor, credential: CredentialFor
) -> None:
    small.account.extra_currencies = ("zzx",)
    small.account.add(0, NOW - timedelta(minutes=30), {}, extra={"zzx": "40.5"})
    original = small.handle

    def handle(request: httpx.Request) -> httpx.Response:  # the public list is down
        if request.url.path == "/api/v2/currencies/":
            return httpx.Response(503, text="Service Unavailable")
        return original(request)

    small.handle = handle  # type: ignore[method-assign]
    engine = engine_for(store, small)
    con = engine.connect("alice", credential(), verify=False)
    report = await engine.sync(con.id)
    assert report.ok, [s.errors for s in report.streams]
    gaps = [g for g in report.coverage_gaps if g.gap_id == "unknown_keys"]
    assert any("currency list could not be read" in g.detail for g in gaps)
    (dep,) = [t for t in store.transactions(account_id=con.account_id) if "unknown_keys" in t.flags]
    assert dep.meta["unknown_keys"] == {"zzx": "40.5"}

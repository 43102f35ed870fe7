"""End to end against the Esplora sandbox: discovery with the gap limit, paging on every instance
flavor, the completeness check, balances that reconcile, pending -> confirmed / replaced, 429s
without Retry-After, malformed and truncated answers, bad credentials and options."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from txsync.connector import ConnectorContext
from txsync.connectors.bitcoin import BitcoinWallet, IncompleteHistoryError
from txsync.connectors.bitcoin.sandbox import (
    BIP84_ZPUB,
    EsploraSandbox,
    ScenarioWallet,
    external_address,
    own_address,
)
from txsync.errors import ConfigurationError, RateLimitedError
from txsync.http import RetryPolicy
from txsync.models import Credential, TransactionKind, TransactionStatus, net_deltas
from txsync.reconcile import reconcile
from txsync.store.base import Store
from txsync.testing import ContractHarness, SyncRun

CREDENTIAL = Credential(connector_id="bitcoin", public={"xpub_or_address": BIP84_ZPUB})
BUSY = own_address(0, 4)


def harness(
    sandbox: EsploraSandbox,
    credential: Credential = CREDENTIAL,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> ContractHarness:
    # a gap limit of 5 keeps the suite fast (20, the default, is exercised by the first test)
    opts = {"requests_per_second": 0, "base_url": sandbox.base_url, "gap_limit": 5, **options}
    kw: dict[str, Any] = {"retry": retry} if retry is not None else {}
    return ContractHarness(
        BitcoinWallet, credential, options=opts, transport=sandbox.transport, clock=sandbox.now, **kw
    )


def sync(h: ContractHarness, store: Store | None = None) -> SyncRun:
    return asyncio.run(h.sync(store or h.new_store()))


def ledger(h: ContractHarness, store: Store) -> dict[str, Any]:
    return {tx.external_ids["txid"]: tx for tx in store.transactions(account_id=h.account_id)}


def net(tx: Any) -> dict[str, Decimal]:
    return net_deltas(tx.legs)


def reported(h: ContractHarness) -> Any:
    async def run() -> Any:
        async with h.open_connector(verify=False) as connector:
            return await connector.balances()

    return asyncio.run(run())


def assert_clean(run: SyncRun) -> None:
    assert run.report.errors == []
    assert all(s.completed and not s.errors for s in run.report.streams), run.report.streams
    assert [g for g in run.report.coverage_gaps if not g.always] == []  # off-chain payments: always


def assert_reconciles(h: ContractHarness, store: Store, sandbox: EsploraSandbox) -> None:
    """The balance computed from the normalized transactions equals what the chain reports."""
    checks = reconcile(store.balances(h.account_id, include_pending=True), reported(h))
    assert checks and all(check.ok for check in checks), checks
    assert store.balances(h.account_id, include_pending=True)["BTC"] == Decimal(
        sandbox.wallet.balance()
    ).scaleb(-8)
    confirmed = Decimal(sandbox.wallet.balance(include_mempool=False)).scaleb(-8)
    assert store.balances(h.account_id).get("BTC", Decimal(0)) == confirmed


# -- the scenario wallet -------------------------------------------------------------------------------


def test_full_sync_of_the_scenario_wallet() -> None:
    sandbox = EsploraSandbox()
    h = harness(sandbox, gap_limit=20)
    store = h.new_store()
    run = sync(h, store)
    assert_clean(run)
    assert len([line for line in sandbox.log if line.count("/") == 3]) == 1 + 26 + 23  # verify + stats
    txs = ledger(h, store)
    named = sandbox.wallet.named
    assert len(txs) == len(sandbox.wallet.chain.txs) == 60  # one transaction per txid
    kinds = Counter((t.kind, t.status) for t in txs.values())
    assert kinds == {
        (TransactionKind.DEPOSIT, TransactionStatus.CONFIRMED): 54,
        (TransactionKind.WITHDRAWAL, TransactionStatus.CONFIRMED): 2,
        (TransactionKind.FEE, TransactionStatus.CONFIRMED): 2,
        (TransactionKind.MINING, TransactionStatus.CONFIRMED): 1,
        (TransactionKind.DEPOSIT, TransactionStatus.PENDING): 1,
    }
    assert net(txs[named["payment"]]) == {"BTC": Decimal("-0.30015000")}  # change internal, fee ours
    assert net(txs[named["self_transfer"]]) == {"BTC": Decimal("-0.00005000")}
    assert txs[named["consolidation"]].flags == frozenset({"self_transfer", "consolidation"})
    assert net(txs[named["coinbase"]]) == {"BTC": Decimal("0.05000000")}
    assert txs[named["pending"]].timestamp == sandbox.now()
    # the busy address needed three pages of 25 (and an empty one to end)
    assert sum(1 for line in sandbox.log if line.startswith(f"/api/address/{BUSY}/txs")) == 4
    cursor = store.get_cursor(h.connection_id, "transactions")
    assert cursor["used"] == {"0": 6, "1": 3}
    assert cursor["addr"][BUSY][0] == 54
    assert list(cursor["pending"]) == [named["pending"]]
    assert_reconciles(h, store, sandbox)


@pytest.mark.parametrize(
    ("flavor", "options"),
    [("blockstream", {}), ("mempool", {}), ("mempool", {"paging": "after_txid"}), ("electrum", {})],
)
def test_paging_works_on_every_instance_flavor(flavor: str, options: dict[str, str]) -> None:
    sandbox = EsploraSandbox(flavor=flavor)
    h = harness(sandbox, **options)
    store = h.new_store()
    assert_clean(sync(h, store))
    assert len(ledger(h, store)) == 60
    if flavor == "electrum":  # 10 per page, no /txs/chain/:txid form: the query form took over
        assert any("after_txid=" in line for line in sandbox.log)
    assert_reconciles(h, store, sandbox)


def test_single_address_wallet() -> None:
    sandbox = EsploraSandbox()
    credential = Credential(connector_id="bitcoin", public={"xpub_or_address": own_address(0, 1)})
    h = harness(sandbox, credential)
    store = h.new_store()
    assert_clean(sync(h, store))
    txs = ledger(h, store)
    assert set(txs) == {sandbox.wallet.named["deposit"], sandbox.wallet.named["payment"]}
    # seen from this one address, the change to 1/0 left it
    assert net(txs[sandbox.wallet.named["payment"]]) == {"BTC": Decimal("-1.00000000")}
    assert store.balances(h.account_id) == {}
    assert reported(h)[0].amount == 0


def test_second_sync_pages_only_what_changed_and_finds_new_addresses_past_the_window() -> None:
    sandbox = EsploraSandbox()
    h = harness(sandbox)
    store = h.new_store()
    assert_clean(sync(h, store))
    chain = sandbox.wallet.chain
    tip = sandbox.wallet.tip
    # a deposit to 0/6 (inside the old window) and one to 0/11 (reachable once 0/6 is used)
    new6 = chain.send(
        [chain.fund(external_address("a"), 10_000)],
        [(sandbox.wallet.mine("0/6"), 9_000)],
        fee=1_000,
        height=tip + 1,
    )
    new11 = chain.send(
        [chain.fund(external_address("b"), 20_000)],
        [(sandbox.wallet.mine("0/11"), 19_000)],
        fee=1_000,
        height=tip + 2,
    )
    sandbox.log.clear()
    run = sync(h, store)
    assert_clean(run)
    assert run.report.total("new") == 2
    assert {new6, new11} <= set(ledger(h, store))
    paged = {line.split("/")[3] for line in sandbox.log if "/txs" in line}
    assert paged == {own_address(0, 6), own_address(0, 11), own_address(0, 5)}  # 0/5: still pending
    assert store.get_cursor(h.connection_id, "transactions")["used"] == {"0": 12, "1": 3}
    assert_reconciles(h, store, sandbox)
    # nothing new: stats only, plus the pending address's first page
    sandbox.log.clear()
    run = sync(h, store)
    assert (run.report.total("new"), run.report.total("updated")) == (0, 0)
    assert [line for line in sandbox.log if "/txs" in line] == [f"/api/address/{own_address(0, 5)}/txs"]


def test_gap_limit_is_configurable() -> None:
    sandbox = EsploraSandbox()
    h = harness(sandbox, gap_limit=2)
    store = h.new_store()
    assert_clean(sync(h, store))
    stats_calls = [line for line in sandbox.log if line.count("/") == 3]
    assert len(stats_calls) == 1 + (6 + 2) + (3 + 2)  # verify, receive 0..7, change 0..4
    assert len(ledger(h, store)) == 60


def test_pending_then_confirmed_updates_the_same_row() -> None:
    sandbox = EsploraSandbox()
    h = harness(sandbox)
    store = h.new_store()
    sync(h, store)
    pending = sandbox.wallet.named["pending"]
    before = ledger(h, store)[pending]
    sandbox.wallet.chain.confirm(pending, sandbox.wallet.tip + 1)
    run = sync(h, store)
    assert_clean(run)
    assert (run.report.total("new"), run.report.total("updated")) == (0, 1)
    after = ledger(h, store)[pending]
    assert after.id == before.id
    assert after.status == TransactionStatus.CONFIRMED
    assert net(after) == net(before)
    assert store.get_cursor(h.connection_id, "transactions")["pending"] == {}
    assert_reconciles(h, store, sandbox)


def test_pending_then_replaced_by_fee() -> None:
    sandbox = EsploraSandbox()
    h = harness(sandbox)
    store = h.new_store()
    sync(h, store)
    chain, pending = sandbox.wallet.chain, sandbox.wallet.named["pending"]
    replacement = chain.replace(
        pending, [(own_address(0, 5), 2_000_000), (external_address("payer-change"), 995_000)], fee=5_000
    )
    sandbox.log.clear()
    run = sync(h, store)
    assert_clean(run)
    assert f"/api/tx/{pending}" in sandbox.log  # re-checked: 404 Transaction not found
    txs = ledger(h, store)
    gone = txs[pending]
    assert (gone.status, gone.flags, net(gone)) == (TransactionStatus.FAILED, frozenset({"replaced"}), {})
    assert txs[replacement].status == TransactionStatus.PENDING
    assert list(store.get_cursor(h.connection_id, "transactions")["pending"]) == [replacement]
    assert_reconciles(h, store, sandbox)
    chain.confirm(replacement, sandbox.wallet.tip + 1)
    assert_clean(sync(h, store))
    assert ledger(h, store)[replacement].status == TransactionStatus.CONFIRMED
    assert_reconciles(h, store, sandbox)


def test_pending_dropped_from_the_mempool() -> None:
    sandbox = EsploraSandbox()
    h = harness(sandbox)
    store = h.new_store()
    sync(h, store)
    pending = sandbox.wallet.named["pending"]
    sandbox.wallet.chain.drop(pending)
    assert_clean(sync(h, store))
    assert ledger(h, store)[pending].status == TransactionStatus.FAILED
    assert_reconciles(h, store, sandbox)


# -- completeness ------------------------------------------------------------------------------------


def _request_number(sandbox_log: list[str], predicate: Callable[[str], bool]) -> int:
    return next(i for i, line in enumerate(sandbox_log, start=1) if predicate(line))


def test_truncated_paging_is_a_noted_gap_and_the_next_sync_repairs_it() -> None:
    probe = EsploraSandbox()
    sync(harness(probe))
    n = _request_number(probe.log, lambda line: line.startswith(f"/api/address/{BUSY}/txs/chain/"))
    sandbox = EsploraSandbox(faults={n: "drop_page"})  # the busy address's second page comes back empty
    h = harness(sandbox)
    store = h.new_store()
    run = sync(h, store)
    assert run.report.errors == [] and run.report.streams[0].completed
    gaps = [g for g in run.report.coverage_gaps if not g.always]
    assert [g.gap_id for g in gaps] == ["incomplete_history"]
    assert "25 of the 54" in gaps[0].detail and BUSY not in gaps[0].detail
    assert BUSY not in store.get_cursor(h.connection_id, "transactions")["addr"]  # not advanced
    assert len(ledger(h, store)) == 60 - 29
    run = sync(h, store)  # the instance behaves again: the address is paged again, completely
    assert_clean(run)
    assert len(ledger(h, store)) == 60
    assert_reconciles(h, store, sandbox)


def test_a_page_served_again_before_the_count_is_reached_is_a_loop_never_ok() -> None:
    """An instance ignoring ``?after_txid=`` serves page one again: a paging loop, a typed error
    whatever ``on_incomplete`` says (the report is never ok with the address's history cut)."""
    for on_incomplete in ("error", "gap"):
        sandbox = EsploraSandbox(flavor="blockstream")  # ignores ?after_txid=: serves page one again
        h = harness(sandbox, paging="after_txid", on_incomplete=on_incomplete)
        store = h.new_store()
        run = sync(h, store)
        assert not run.report.ok
        errors = run.report.streams[0].errors
        assert len(errors) == 1 and errors[0].startswith("PaginationLoopError")
        assert "25 of the 54" in errors[0] and BUSY not in errors[0]
        # what was received before the loop was found is stored; the address is not marked synced
        cursor = store.get_cursor(h.connection_id, "transactions")
        assert BUSY not in cursor["addr"] and "at" not in cursor
        assert sandbox.wallet.named["payment_from_busy"] in ledger(h, store)  # on the busy address's page one


def test_tx_count_mismatch_can_be_an_error() -> None:
    probe = EsploraSandbox()
    sync(harness(probe))
    n = _request_number(probe.log, lambda line: line.startswith(f"/api/address/{BUSY}/txs/chain/"))
    sandbox = EsploraSandbox(faults={n: "drop_page"})  # the busy address's second page comes back empty
    h = harness(sandbox, on_incomplete="error")
    store = h.new_store()
    run = sync(h, store)
    errors = run.report.streams[0].errors
    assert len(errors) == 1 and errors[0].startswith("IncompleteHistoryError")
    assert "25 of the 54" in errors[0]
    cursor = store.get_cursor(h.connection_id, "transactions")
    assert BUSY not in cursor["addr"] and "at" not in cursor
    assert issubclass(IncompleteHistoryError, Exception)


# -- throttling and broken answers ---------------------------------------------------------------------


def test_429_without_retry_after_backs_off_by_itself() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    retry = RetryPolicy(attempts=4, wait_initial=1.0, wait_jitter=0.0, sleep=sleep)
    sandbox = EsploraSandbox(throttle_every=7)
    h = harness(sandbox, retry=retry)
    store = h.new_store()
    run = sync(h, store)
    assert_clean(run)
    assert run.report.streams[0].rate_limited > 0
    assert waits and set(waits) == {1.0}  # our own backoff: no Retry-After was given
    assert len(ledger(h, store)) == 60


def test_429_that_never_ends_stops_the_sync_with_a_rate_limit() -> None:
    sandbox = EsploraSandbox(throttle_every=1)
    h = harness(sandbox)
    run = sync(h)
    assert run.report.errors and run.report.errors[0].startswith("RateLimitedError")
    assert issubclass(RateLimitedError, Exception)


@pytest.mark.parametrize("fault", ["truncated", "malformed", "503", "timeout"])
def test_a_broken_answer_is_retried(fault: str) -> None:
    sandbox = EsploraSandbox(faults={30: fault})
    h = harness(sandbox)
    store = h.new_store()
    assert_clean(sync(h, store))
    assert len(ledger(h, store)) == 60


def test_malformed_json_twice_fails_the_stream_and_the_next_sync_resumes() -> None:
    probe = EsploraSandbox()
    sync(harness(probe))
    n = _request_number(probe.log, lambda line: line.startswith(f"/api/address/{BUSY}/txs/chain/"))
    # the third page of the busy address comes back cut twice in a row: the retry gives up
    sandbox = EsploraSandbox(faults={n + 1: "truncated", n + 2: "truncated"})
    h = harness(sandbox)
    store = h.new_store()
    run = sync(h, store)
    assert run.report.streams[0].errors and "MalformedBodyError" in run.report.streams[0].errors[0]
    at = store.get_cursor(h.connection_id, "transactions")["at"]
    assert (at["address"], at["got"]) == (BUSY, 25)  # the first page is kept; resume from there
    sandbox.log.clear()
    assert_clean(sync(h, store))
    assert f"/api/address/{BUSY}/txs" not in sandbox.log  # resumed after the stored page
    assert len(ledger(h, store)) == 60
    assert_reconciles(h, store, sandbox)


def test_wrong_shapes_are_bad_responses() -> None:
    sandbox = EsploraSandbox()

    def handle(request: Any) -> Any:
        import httpx

        if request.url.path.endswith("/txs"):
            return httpx.Response(200, json=[{"txid": "nope"}])
        return EsploraSandbox.handle(sandbox, request)

    sandbox.handle = handle  # type: ignore[method-assign]
    run = sync(harness(sandbox))
    assert "BadResponseError" in run.report.streams[0].errors[0]


# -- credential and options -------------------------------------------------------------------------


def _context(credential: Credential, **options: Any) -> ConnectorContext:
    return ConnectorContext(connection_id="c", account_id="a", credential=credential, options=options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"gap_limit": 0}, "gap_limit"),
        ({"gap_limit": "many"}, "gap_limit"),
        ({"paging": "offset"}, "paging"),
        ({"on_incomplete": "ignore"}, "on_incomplete"),
        ({"requests_per_second": -1}, "requests_per_second"),
        ({"base_url": "ftp://example.org"}, "base_url"),
        ({"network": "regtest"}, "cannot be used on regtest"),
        ({"colour": "blue"}, "unknown bitcoin option"),
        ({"script_type": "p2tr"}, "contradicts"),
    ],
)
def test_bad_options_are_configuration_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BitcoinWallet(_context(CREDENTIAL, **options))


def test_invalid_xpub_fails_the_sync_with_a_configuration_error() -> None:
    bad = Credential(connector_id="bitcoin", public={"xpub_or_address": BIP84_ZPUB[:-2] + "zz"})
    with pytest.raises(ConfigurationError):
        BitcoinWallet(_context(bad))
    run = sync(harness(EsploraSandbox(), bad))
    assert run.report.errors and run.report.errors[0].startswith("ConfigurationError")
    assert BIP84_ZPUB[:-2] not in run.report.errors[0]


def test_an_instance_of_another_network_is_a_configuration_error() -> None:
    sandbox = EsploraSandbox(network="test")
    run = sync(harness(sandbox))
    assert run.report.errors[0].startswith("ConfigurationError")
    assert "Address on invalid network" in run.report.errors[0]


def test_verify_reports_a_watch_only_key() -> None:
    async def run() -> Any:
        async with harness(EsploraSandbox()).open_connector(verify=False) as connector:
            return await connector.verify()

    permissions = asyncio.run(run())
    assert permissions.reported and permissions.can_read
    assert not (permissions.can_trade or permissions.can_withdraw or permissions.can_transfer)


def test_limiter_defaults_and_sharing() -> None:
    first = BitcoinWallet(_context(CREDENTIAL))
    assert first.http.limiter is not None
    assert [(b.limit, b.period) for b in first.http.limiter.buckets] == [(4, 1.0)]  # type: ignore[attr-defined]
    slow = BitcoinWallet(_context(CREDENTIAL, requests_per_second=0.5))
    assert [(b.limit, b.period) for b in slow.http.limiter.buckets] == [(1, 2.0)]  # type: ignore[union-attr]
    assert BitcoinWallet(_context(CREDENTIAL, requests_per_second=0)).http.limiter is None
    assert first.base_url == "https://blockstream.info/api"


def test_a_foreign_cursor_is_refused() -> None:
    async def run() -> None:
        async with harness(EsploraSandbox()).open_connector(verify=False) as connector:
            stream = connector.streams()[0]
            async for _ in stream.pages({"fromId": 3}):
                pass

    from txsync.pagination import InvalidCursorError

    with pytest.raises(InvalidCursorError):
        asyncio.run(run())


def test_sandbox_wallet_is_deterministic() -> None:
    one, two = ScenarioWallet.standard(), ScenarioWallet.standard()
    assert one.chain.txs == two.chain.txs
    assert one.named == two.named


def test_a_full_resync_later_leaves_a_pending_transaction_time_unchanged() -> None:
    from datetime import timedelta

    from txsync.engine import SyncMode

    sandbox = EsploraSandbox()
    later = {"by": timedelta(0)}
    h = ContractHarness(
        BitcoinWallet,
        CREDENTIAL,
        options={"requests_per_second": 0, "base_url": sandbox.base_url, "gap_limit": 5},
        transport=sandbox.transport,
        clock=lambda: sandbox.now() + later["by"],
    )
    store = h.new_store()
    sync(h, store)
    pending = sandbox.wallet.named["pending"]
    first = ledger(h, store)[pending]
    assert first.status == TransactionStatus.PENDING and first.timestamp == sandbox.now()
    later["by"] = timedelta(hours=5)  # the full re-sync runs hours later, the tx still unconfirmed
    run = asyncio.run(h.sync(store, SyncMode.FULL))
    assert_clean(run)
    assert (run.report.total("new"), run.report.total("updated")) == (0, 0)
    again = ledger(h, store)[pending]
    assert again.timestamp == first.timestamp and again.status == TransactionStatus.PENDING
    cursor = store.get_cursor(h.connection_id, "transactions")
    assert cursor["pending"][pending][0] == first.timestamp.isoformat()
    # and once it confirms, the next sync books it at its block time
    sandbox.wallet.chain.confirm(pending, sandbox.wallet.tip + 1)
    assert_clean(sync(h, store))
    assert ledger(h, store)[pending].status == TransactionStatus.CONFIRMED


def test_a_full_resync_ignores_an_unreadable_stored_cursor() -> None:
    from txsync.connectors.bitcoin._stream import TransactionsStream

    stream = TransactionsStream.__new__(TransactionsStream)
    assert stream.cursor_for_full_sync(None) is None
    assert stream.cursor_for_full_sync({"v": 99}) is None
    assert stream.cursor_for_full_sync({"v": 1, "used": {"0": 3}, "addr": {}, "pending": {}}) is None
    kept = stream.cursor_for_full_sync(
        {"v": 1, "used": {"0": 3}, "addr": {"bc1q": [4, "t"]}, "pending": {"ab": ["2024-01-01T00:00:00+00:00", "deposit"]}}
    )
    assert kept == {"v": 1, "used": {}, "addr": {}, "pending": {"ab": ["2024-01-01T00:00:00+00:00", "deposit"]}}

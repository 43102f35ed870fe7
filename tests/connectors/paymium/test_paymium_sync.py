"""The Paymium connector end to end against its sandbox: history, balances, errors, paging."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from txsync.connectors.paymium import Paymium, PaymiumNonceError, shared_nonces
from txsync.connectors.paymium._limits import PaymiumRateLimiter
from txsync.connectors.paymium.sandbox import KEY, NOW, PaymiumSandbox, Token
from txsync.engine import SyncMode
from txsync.errors import (
    AuthError,
    BadResponseError,
    PermissionDeniedError,
    RateLimitedError,
)
from txsync.models import Credential, TransactionKind, TransactionStatus
from txsync.testing import ContractHarness, SyncRun

Factory = Callable[..., ContractHarness]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def sync(harness: ContractHarness, store: Any = None, mode: SyncMode = SyncMode.INCREMENTAL) -> SyncRun:
    return run(harness.sync(store if store is not None else harness.new_store(), mode))


def ledger_net(run_: SyncRun, account_id: str = "acc_contract") -> dict[str, Decimal]:
    net: dict[str, Decimal] = {}
    for tx in run_.store.transactions(account_id=account_id):
        if tx.status is TransactionStatus.FAILED:
            continue
        for leg in tx.legs:
            net[leg.asset] = net.get(leg.asset, Decimal(0)) + leg.amount
    return net


def unlisted(sandbox: PaymiumSandbox) -> dict[str, Decimal]:
    """What the account received through orders the current API does not list."""
    out: dict[str, Decimal] = {}
    for order in sandbox.account.by_type("WireDeposit", "BitcoinDeposit", "AdminOrder"):
        for op in order.operations:
            out[op.currency] = out.get(op.currency, Decimal(0)) + op.amount
    return out


# -- history ------------------------------------------------------------------------------------------


def test_full_sync_reconciles_with_the_balances(sandbox: PaymiumSandbox, harness: ContractHarness) -> None:
    """Executions and withdrawals from the operations, plus the (unlisted) deposits, equal what
    /user reports (available + locked): locks and trading-account mirrors are not movements."""
    result = sync(harness)
    assert result.report.ok
    net = ledger_net(result)
    extra = unlisted(sandbox)

    async def balances() -> dict[str, tuple[Decimal, Decimal | None]]:
        async with harness.open_connector() as connector:
            return {b.asset: (b.amount, b.locked) for b in await connector.balances()}

    reported = run(balances())
    for asset, (available, locked) in sandbox.account.balances(NOW).items():
        assert reported[asset] == (available + locked, locked)
        assert net.get(asset, Decimal(0)) + extra.get(asset, Decimal(0)) == available + locked
    assert reported["LBTC"] == (Decimal(0), Decimal(0))
    gaps = {gap.gap_id for gap in result.report.coverage_gaps}
    assert gaps == {"deposits", "exchange_credits"}


def test_a_pending_withdrawal_reconciles_with_what_paymium_debited(
    sandbox: PaymiumSandbox, harness: ContractHarness
) -> None:
    """The rule: a withdrawal's operations debit the account when it is requested and /user reports
    the balance without them, so the ledger's confirmed balance (pending transactions excluded)
    plus the unlisted deposits equals what Paymium reports, with a withdrawal still pending."""
    pending = [o for o in sandbox.account.by_type("Transfer") if o.state == "pending"]
    assert len(pending) == 1 and pending[0].operations
    result = sync(harness)
    confirmed = result.store.balances(harness.account_id)
    extra = unlisted(sandbox)

    async def balances() -> dict[str, Decimal]:
        async with harness.open_connector() as connector:
            return {b.asset: b.amount for b in await connector.balances()}

    reported = run(balances())
    for asset, amount in reported.items():
        assert confirmed.get(asset, Decimal(0)) + extra.get(asset, Decimal(0)) == amount, asset
    (tx,) = [t for t in result.store.transactions(account_id=harness.account_id) if "pending_withdrawal" in t.flags]
    assert tx.status is TransactionStatus.CONFIRMED and tx.meta["state"] == "pending"
    assert "tx_hash" not in tx.external_ids
    # Paymium sends it: the next sync re-reads the open order and attaches the txid
    order = pending[0]
    order.state = "executed"
    order.operations[0].tx_hash = "cd" * 32
    again = sync(harness, result.store)
    assert again.report.total("updated") == 1 and again.report.total("new") == 0
    (done,) = [t for t in again.store.transactions(account_id=harness.account_id) if t.id == tx.id]
    assert done.flags == frozenset() and done.external_ids["tx_hash"] == "cd" * 32
    assert again.store.balances(harness.account_id) == confirmed


def test_executions_fees_and_withdrawals_are_normalized(harness: ContractHarness) -> None:
    result = sync(harness)
    txs = list(result.store.transactions(account_id=harness.account_id))
    trades = [t for t in txs if t.kind is TransactionKind.TRADE]
    # Every execution has a BTC and a EUR principal leg and a fee leg, signs opposite.
    for tx in trades:
        principal = {leg.asset: leg.amount for leg in tx.legs if leg.role.value == "principal"}
        assert set(principal) == {"BTC", "EUR"}
        assert (principal["BTC"] > 0) != (principal["EUR"] > 0)
        assert [leg.amount < 0 for leg in tx.legs if leg.role.value == "fee"] == [True]
    # Orders filled over several executions give several trades, keyed by operation uuid.
    keys = {tx.id: tx.key for page in result.pages for tx in page.transactions}
    per_order: dict[str, int] = {}
    for tx in trades:
        assert keys[tx.id] == f"trade:{tx.sources[0].source_id}"
        per_order[tx.external_ids["order_uuid"]] = per_order.get(tx.external_ids["order_uuid"], 0) + 1
    assert max(per_order.values()) >= 3
    # Same-second executions are kept apart.
    seconds: dict[Any, int] = {}
    for tx in trades:
        stamp = tx.timestamp.replace(microsecond=0)
        seconds[stamp] = seconds.get(stamp, 0) + 1
    assert max(seconds.values()) >= 3
    withdrawals = [t for t in txs if t.kind in (TransactionKind.WITHDRAWAL, TransactionKind.FIAT_WITHDRAWAL)]
    statuses = sorted(t.status.value for t in withdrawals)
    assert statuses.count("failed") == 1 and statuses.count("pending") == 0
    assert sum("pending_withdrawal" in t.flags for t in withdrawals) == 1
    executed = [t for t in withdrawals if t.status is TransactionStatus.CONFIRMED and "tx_hash" in t.external_ids]
    assert executed and all(any(leg.role.value == "fee" for leg in t.legs) for t in executed)
    assert all("address" in t.external_ids for t in executed)
    assert sum(1 for t in withdrawals if t.kind is TransactionKind.FIAT_WITHDRAWAL) == 1


def test_amounts_as_numbers_give_the_same_ledger(paymium_harness: Factory) -> None:
    strings = sync(paymium_harness(PaymiumSandbox()))
    numbers_box = PaymiumSandbox(amounts="number")
    numbers = sync(paymium_harness(numbers_box))
    served = [raw.payload["operation"]["amount"] for page in numbers.pages for raw in page.raws]
    assert served and all(isinstance(amount, Decimal | int) for amount in served)  # JSON numbers
    assert all(isinstance(raw.payload["operation"]["amount"], str) for p in strings.pages for raw in p.raws)
    ledger = ContractHarness.ledger
    assert ledger(paymium_harness(numbers_box), numbers.store) == ledger(
        paymium_harness(numbers_box), strings.store
    )


def test_incremental_sync_picks_up_new_orders_and_later_executions(paymium_harness: Factory) -> None:
    """A sync a month ago, then an incremental one now, gives the ledger of one sync now; the
    incremental one reads from the top down to the oldest order still open."""
    box = PaymiumSandbox()
    moment = {"now": NOW - timedelta(days=30)}
    box.clock = lambda: moment["now"]
    harness = paymium_harness(box, clock=lambda: moment["now"])
    store = harness.new_store()
    first = sync(harness, store)
    moment["now"] = NOW
    before = box.requests
    second = sync(harness, store)
    assert second.report.total("new") > 0
    assert box.requests - before <= 6  # verify (2) + a few pages, not the whole history again
    reference = sync(paymium_harness(PaymiumSandbox()))
    assert harness.ledger(store) == harness.ledger(reference.store)
    assert first.pages and second.pages


def test_an_older_api_listing_every_order_kind_adds_deposits_without_doubling_withdrawals(paymium_harness: Factory) -> None:
    box = PaymiumSandbox(legacy=True)
    result = sync(paymium_harness(box))
    txs = list(result.store.transactions(account_id="acc_contract"))
    kinds = {t.kind for t in txs}
    assert {TransactionKind.DEPOSIT, TransactionKind.FIAT_DEPOSIT, TransactionKind.OTHER} <= kinds
    assert not any("unknown_type" in t.flags for t in txs)
    net = ledger_net(result)
    for asset, (available, locked) in box.account.balances(NOW).items():
        assert net[asset] == available + locked  # deposits listed: the ledger alone adds up


def test_two_connections_with_two_tokens_of_one_account_do_not_mix(paymium_harness: Factory, paymium_credential: Callable[..., Credential]) -> None:
    box = PaymiumSandbox()
    second_key = "pm-token-second-7d1f0a9e3b5c2d4f6a8e0b1c3d5f7a9e"
    second_secret = "pm-secret-second-2b4d6f8a0c1e3f5a7b9d1c3e5f7a9b0d"
    box.tokens[second_key] = Token(second_secret)
    one = paymium_harness(box)
    two = paymium_harness(box, credential=paymium_credential(second_key, second_secret), connection_id="con_two")
    two.account_id = "acc_two"
    store = one.new_store()
    sync(one, store)
    sync(two, store)
    first = [(t.timestamp, str(t.legs)) for t in store.transactions(account_id="acc_contract")]
    second = [(t.timestamp, str(t.legs)) for t in store.transactions(account_id="acc_two")]
    assert sorted(first) == sorted(second) and len(first) > 100
    assert {s.connection_id for t in store.transactions(account_id="acc_two") for s in t.sources} == {"con_two"}


# -- errors --------------------------------------------------------------------------------------------


def test_a_wrong_key_disables_the_connection(paymium_harness: Factory, paymium_credential: Callable[..., Credential]) -> None:
    box = PaymiumSandbox()
    result = sync(paymium_harness(box, credential=paymium_credential("pm-token-unknown-00000000000000000000")))
    assert result.report.state.value == "disabled"
    assert "Invalid API token" in (result.report.state_reason or "")
    assert not result.pages


def test_a_wrong_secret_is_an_auth_error(paymium_harness: Factory, paymium_credential: Callable[..., Credential]) -> None:
    box = PaymiumSandbox()

    async def verify() -> None:
        harness = paymium_harness(box, credential=paymium_credential(KEY, "pm-secret-wrong-000000000000000000"))
        async with harness.open_connector(verify=False) as connector:
            await connector.verify()

    with pytest.raises(AuthError, match="Invalid API signature"):
        run(verify())


def test_a_token_without_the_activity_permission_is_refused_with_the_reason(paymium_harness: Factory, paymium_credential: Callable[..., Credential]) -> None:
    box = PaymiumSandbox(tokens={KEY: Token(paymium_credential().secret("api_secret"), frozenset({"basic"}))})
    result = sync(paymium_harness(box))
    assert result.report.state.value == "disabled"
    assert "activity" in (result.report.state_reason or "")

    async def verify() -> None:
        async with paymium_harness(box).open_connector() as _:
            pass

    with pytest.raises(PermissionDeniedError, match="'activity' permission"):
        run(verify())


def test_a_stale_nonce_is_retried_with_a_fresh_one(sandbox: PaymiumSandbox, harness: ContractHarness) -> None:
    sandbox.faults = {3: "nonce"}
    result = sync(harness)
    assert result.report.total("retries") == 1
    assert not result.report.errors and result.report.state.value == "active"


def test_nonces_kept_ahead_by_another_client_fail_with_an_actionable_error(paymium_harness: Factory) -> None:
    box = PaymiumSandbox()
    box._nonces[KEY] = shared_nonces().next(KEY) + 10**12  # another client, far ahead

    async def verify() -> None:
        async with paymium_harness(box).open_connector() as _:
            pass

    with pytest.raises(PaymiumNonceError, match="token of its own"):
        run(verify())


def test_429_is_retried_and_a_spent_daily_budget_stops_the_sync(sandbox: PaymiumSandbox, paymium_harness: Factory) -> None:
    sandbox.faults = {4: "429-0"}  # Retry-After 0: our own backoff (no real wait)
    result = sync(paymium_harness(sandbox))
    assert result.report.total("rate_limited") == 1 and not result.report.errors

    spent = PaymiumSandbox(daily_limit=3)
    stopped = sync(paymium_harness(spent))
    assert any("rate limit" in e.lower() for e in stopped.report.errors + [
        err for s in stopped.report.streams for err in s.errors
    ])

    async def verify() -> None:
        async with paymium_harness(PaymiumSandbox(daily_limit=1)).open_connector() as connector:
            await connector.balances()

    with pytest.raises(RateLimitedError) as caught:
        run(verify())
    assert caught.value.retry_after is not None and caught.value.retry_after > 3600


@pytest.mark.parametrize("fault", ["truncated", "malformed"])
def test_a_broken_body_is_retried_once(sandbox: PaymiumSandbox, harness: ContractHarness, fault: str, paymium_harness: Factory) -> None:
    sandbox.faults = {3: fault}
    result = sync(harness)
    assert result.report.total("retries") == 1 and not result.report.errors

    twice = PaymiumSandbox(faults={3: fault, 4: fault})
    failed = sync(paymium_harness(twice))
    errors = [err for s in failed.report.streams for err in s.errors]
    assert errors and "malformed" in errors[0].lower()


def test_a_repeated_page_is_a_pagination_loop(paymium_harness: Factory) -> None:
    box = PaymiumSandbox(faults={4: "repeat"})
    result = sync(paymium_harness(box))
    orders = next(s for s in result.report.streams if s.stream == "orders")
    assert not orders.completed
    assert "earlier page again" in " ".join(orders.errors)
    withdrawals = next(s for s in result.report.streams if s.stream == "withdrawals")
    assert withdrawals.completed


def test_the_rate_limiter_learns_the_used_count_from_the_remaining_one() -> None:
    limiter = PaymiumRateLimiter(clock=lambda: 1_000.0)
    import httpx

    limiter.observe(httpx.Headers({"X-Ratelimit-Limit": "86400", "X-Ratelimit-Remaining": "86000"}))
    assert limiter.usage() == {"ip": 400}
    limiter.observe(httpx.Headers({"X-Ratelimit-Limit": "86400", "X-Ratelimit-Remaining": "oops"}))
    assert limiter.usage() == {"ip": 400}


def test_unknown_order_and_operation_types_are_kept_and_reported(sandbox: PaymiumSandbox, paymium_harness: Factory) -> None:
    order = next(o for o in sandbox.account.orders if o.type == "LimitOrder" and o.state == "filled")
    order.type = "StopOrder"
    other = next(o for o in sandbox.account.orders if o.type == "Transfer" and o.state == "executed")
    other.operations[1].name = "network_surcharge"
    result = sync(paymium_harness(sandbox))
    assert result.report.total("unknown") == 2
    txs = list(result.store.transactions(account_id="acc_contract"))
    unknown = [t for t in txs if "unknown_type" in t.flags]
    assert {t.kind for t in unknown} == {TransactionKind.OTHER}
    assert any("StopOrder" in (t.description or "") for t in unknown)
    assert any("network_surcharge" in (t.description or "") for t in unknown)
    # Balances still add up: nothing was dropped.
    net = ledger_net(result)
    extra = unlisted(sandbox)
    for asset, (available, locked) in sandbox.account.balances(NOW).items():
        assert net[asset] + extra.get(asset, Decimal(0)) == available + locked


def test_a_wrong_shape_is_a_bad_response(sandbox: PaymiumSandbox, paymium_harness: Factory) -> None:
    async def fetch() -> None:
        async with paymium_harness(sandbox).open_connector(verify=False) as connector:
            assert isinstance(connector, Paymium)
            connector.http.get_json = _returns({"orders": []})  # type: ignore[method-assign]
            stream = connector.streams()[0]
            async for _ in stream.pages(None):
                pass

    with pytest.raises(BadResponseError, match="expected a list"):
        run(fetch())


def _returns(value: Any) -> Any:
    async def get_json(*_args: Any, **_kw: Any) -> Any:
        return value

    return get_json

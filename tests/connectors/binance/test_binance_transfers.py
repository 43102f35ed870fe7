"""Issue 18: universal transfers between the account's wallets and sub-account transfers, each its
own stream (the former ``wallet_transfers`` gap)."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.binance.binance_rig import credential, make_rig
from connectors.binance.test_binance_normalize import norm
from helpers.fuzz import connect_offline, ledger
from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import NOW, BinanceSandbox, Scenario, ScenarioAccount
from txsync.engine import Engine, InMemoryCredentials, SyncMode
from txsync.errors import InvalidRecordError
from txsync.models import TransactionKind, TransactionStatus
from txsync.registry import Registry
from txsync.store import SqliteStore
from txsync.testing import NO_SLEEP_RETRY
from txsync.testing.harness import RecordingStore, SimulatedCrash

ROW = {
    "asset": "USDT",
    "amount": "1.5",
    "type": "MAIN_FUNDING",
    "status": "CONFIRMED",
    "tranId": 11415955596,
    "timestamp": 1544433328000,
}
SUB = {
    "counterParty": "master",
    "email": "master@test.com",
    "type": 1,
    "asset": "BTC",
    "qty": "1",
    "fromAccountType": "SPOT",
    "toAccountType": "SPOT",
    "status": "SUCCESS",
    "tranId": 11798835829,
    "time": 1544433325000,
}


def _legs(tx: Any) -> list[tuple[str, Decimal, str | None]]:
    return [(leg.asset, leg.amount, leg.wallet) for leg in tx.legs]


def _account() -> ScenarioAccount:
    return copy.deepcopy(BinanceSandbox.small().account)


# -- normalization -----------------------------------------------------------------------------------


def test_a_move_between_two_reported_wallets_is_a_net_zero_wallet_transfer() -> None:
    [tx] = norm("universal_transfers", ROW)
    assert tx.kind == TransactionKind.TRANSFER and tx.key == "universal_transfer:11415955596"
    assert _legs(tx) == [("USDT", Decimal("-1.5"), "spot"), ("USDT", Decimal("1.5"), "funding")]
    assert tx.net() == {} and "wallet_transfer" in tx.flags and "internal_transfer" not in tx.flags
    assert tx.external_ids == {"tran_id": "11415955596"}
    [back] = norm("universal_transfers", dict(ROW, type="MARGIN_FUNDING"))
    assert _legs(back) == [("USDT", Decimal("-1.5"), "margin"), ("USDT", Decimal("1.5"), "funding")]
    [pm] = norm("universal_transfers", dict(ROW, type="MAIN_PORTFOLIO_MARGIN"))
    assert _legs(pm)[1][2] == "portfolio_margin"


def test_a_side_booked_by_its_own_stream_is_booked_in_spot_and_nothing_counts_twice() -> None:
    # spot <-> futures/options: futures_income / option_bills book it (against spot): no transaction
    for kind in ("MAIN_UMFUTURE", "UMFUTURE_MAIN", "MAIN_CMFUTURE", "OPTION_MAIN", "UMFUTURE_OPTION"):
        assert norm("universal_transfers", dict(ROW, type=kind)) == [], kind
    # funding -> futures: the futures income booked futures +x, spot -x; this adds funding -x, spot +x
    [tx] = norm("universal_transfers", dict(ROW, type="FUNDING_UMFUTURE"))
    assert _legs(tx) == [("USDT", Decimal("-1.5"), "funding"), ("USDT", Decimal("1.5"), "spot")]
    assert tx.meta["booked_by"] == "futures_income"
    income = {
        "symbol": "",
        "incomeType": "TRANSFER",
        "income": "1.5",
        "asset": "USDT",
        "info": "",
        "time": 1544433328000,
        "tranId": "1",
        "tradeId": "",
    }
    wallets: dict[str | None, Decimal] = {}
    for leg in [*tx.legs, *norm("futures_income", income)[0].legs]:
        wallets[leg.wallet] = wallets.get(leg.wallet, Decimal(0)) + leg.amount
    assert {w: v for w, v in wallets.items() if v} == {
        "funding": Decimal("-1.5"),
        "futures:usdm": Decimal("1.5"),
    }


def test_isolated_sides_use_the_pair_asked_for_and_statuses_are_kept() -> None:
    [tx] = norm("universal_transfers", dict(ROW, type="MARGIN_ISOLATEDMARGIN", toSymbol="BTCUSDT"))
    assert _legs(tx)[1] == ("USDT", Decimal("1.5"), "margin:isolated:BTCUSDT")
    [failed] = norm("universal_transfers", dict(ROW, status="FAILED"))
    assert failed.status == TransactionStatus.FAILED
    [pending] = norm("universal_transfers", dict(ROW, status="PENDING"))
    assert pending.status == TransactionStatus.PENDING
    [odd] = norm("universal_transfers", dict(ROW, status="QUEUED"))
    assert odd.status == TransactionStatus.PENDING and "unknown_status" in odd.flags
    [unknown] = norm("universal_transfers", dict(ROW, type="MAIN_SPACESHIP"))
    assert unknown.kind == TransactionKind.OTHER and "unknown_type" in unknown.flags and unknown.net() == {}


@pytest.mark.parametrize(
    "bad",
    [
        {k: v for k, v in ROW.items() if k != "amount"},
        dict(ROW, amount="1e999999"),
        dict(ROW, tranId=None),
        dict(ROW, timestamp="yesterday"),
        dict(ROW, type=7),
    ],
)
def test_a_malformed_universal_transfer_fails_its_page(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidRecordError):
        norm("universal_transfers", bad)


def test_sub_account_transfers_are_linkable_deposits_and_withdrawals() -> None:
    [deposit] = norm("sub_account_transfers", SUB)
    assert deposit.kind == TransactionKind.DEPOSIT and _legs(deposit) == [("BTC", Decimal(1), "spot")]
    assert "internal_transfer" in deposit.flags
    assert deposit.external_ids["internal_transfer_id"] == "11798835829"
    assert deposit.external_ids["counterparty"] == "master"
    [out] = norm("sub_account_transfers", dict(SUB, type=2, qty="0.25"))
    assert out.kind == TransactionKind.WITHDRAWAL and _legs(out) == [("BTC", Decimal("-0.25"), "spot")]
    # into this account's COIN-M wallet: coin_futures_income books it against spot, so spot here
    [coin] = norm("sub_account_transfers", dict(SUB, toAccountType="COIN_FUTURE"))
    assert _legs(coin) == [("BTC", Decimal(1), "spot")] and coin.meta["booked_by"] == "coin_futures_income"
    [failed] = norm("sub_account_transfers", dict(SUB, status="FAILURE"))
    assert failed.status == TransactionStatus.FAILED
    [odd] = norm("sub_account_transfers", dict(SUB, type=3))
    assert odd.kind == TransactionKind.OTHER and "unknown_type" in odd.flags
    with pytest.raises(InvalidRecordError):
        norm("sub_account_transfers", dict(SUB, qty="lots"))


# -- syncs -------------------------------------------------------------------------------------------


def _sync(sandbox: BinanceSandbox, **kw: Any) -> Any:
    rig = make_rig(sandbox.transport, **kw)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    return rig, report


def _stored(rig: Any, stream: str) -> list[Any]:
    return [
        tx
        for tx in rig.store.transactions(account_id=rig.connection.account_id)
        if tx.sources[0].stream == stream
    ]


def test_the_scenarios_transfers_are_synced_with_their_own_cursors() -> None:
    account = _account()
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    rig, report = _sync(sandbox)
    assert report.ok, report.errors
    by_stream = {s.stream: s for s in report.streams}
    assert by_stream["universal_transfers"].raws_new == len(account.universal_transfers)  # every raw kept
    booked = [tx for tx in _stored(rig, "universal_transfers")]
    # those between spot, funding and margin make transactions; futures/options ones are booked there
    assert sorted(tx.meta["transfer_type"] for tx in booked) == sorted(
        r["type"]
        for r in account.universal_transfers
        if "FUTURE" not in r["type"] and "OPTION" not in r["type"]
    )
    for tx in booked:
        assert sum(leg.amount for leg in tx.legs) == 0 and "wallet_transfer" in tx.flags
    subs = _stored(rig, "sub_account_transfers")
    assert len(subs) == len(account.sub_transfers)  # the failed one too (returnFailHistory=true)
    cursor = rig.store.get_cursor(rig.connection.id, "universal_transfers")
    assert set(cursor["p"]) >= {"MAIN_FUNDING", "MAIN_UMFUTURE", "OPTION_MAIN"}
    assert set(rig.store.get_cursor(rig.connection.id, "sub_account_transfers")["p"]) == {"in", "out"}
    assert not any(g.gap_id in ("wallet_transfers", "sub_account_transfers") for g in report.coverage_gaps)
    # the history starts 2024-01-01, within the 6 months served: no gap
    assert "transfers_beyond_6_months" not in {g.gap_id for g in report.coverage_gaps}
    asked = len(sandbox.log)
    again = asyncio.run(rig.engine.sync(rig.connection.id))
    assert again.ok and sum(s.new for s in again.streams) == 0
    transfers = [p for p in sandbox.log[asked:] if p == "/sapi/v1/asset/transfer"]
    assert len(transfers) <= len(cursor["p"])  # at most the last window of each type again


def test_an_origin_older_than_six_months_notes_the_gap_and_asks_only_what_is_served() -> None:
    sandbox = BinanceSandbox(account=_account(), enforce_limits=False)
    rig, report = _sync(sandbox, options={"origin": "2023-01-01", "trades_page_size": 8, "rate_limit": "off"})
    assert report.ok, report.errors
    assert "transfers_beyond_6_months" in {g.gap_id for g in report.coverage_gaps}
    assert {g.gap_id for g in report.coverage_gaps if g.gap_id == "transfers_beyond_6_months"}
    # 180 days in 30-day windows: 7 windows (the last partial) per type at most
    types = len(rig.store.get_cursor(rig.connection.id, "universal_transfers")["p"])
    assert sandbox.log.count("/sapi/v1/asset/transfer") <= 7 * types


def test_a_stale_cursor_restarts_at_the_oldest_day_served_and_notes_the_gap() -> None:
    account = _account()
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    rig, report = _sync(sandbox)
    assert report.ok
    later = NOW + timedelta(days=300)  # the next sync comes 300 days later: 6 months are served
    starts: list[int] = []
    late = BinanceSandbox(account=account, enforce_limits=False, clock=lambda: later)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/sapi/v1/asset/transfer":
            starts.append(int(request.url.params["startTime"]))
        return late.handle(request)

    engine = _engine(rig.store, httpx.MockTransport(handle), rig.engine.credentials, clock=lambda: later)
    again = asyncio.run(engine.sync(rig.connection.id))
    assert again.ok, again.errors
    assert "transfers_beyond_6_months" in {g.gap_id for g in again.coverage_gaps}
    floor = int((later - timedelta(days=179)).timestamp() * 1000)
    assert starts and min(starts) >= floor - 86_400_000


def test_a_window_with_more_than_one_page_is_read_page_by_page() -> None:
    account = _account()
    base = NOW.timestamp() * 1000 - 10 * 86_400_000
    for n in range(230):
        account.universal_transfers.append(
            dict(ROW, type="FUNDING_MAIN", amount="0.01", tranId=900_000 + n, timestamp=int(base) + n * 1000)
        )
        account.universal_transfers.append(
            dict(
                ROW,
                type="MAIN_FUNDING",
                amount="0.01",
                tranId=800_000 + n,
                timestamp=int(base) + n * 1000 + 1,
            )
        )
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    rig, report = _sync(sandbox)
    assert report.ok, report.errors
    mine = [tx for tx in _stored(rig, "universal_transfers") if tx.meta["amount"] == "0.01"]
    assert len(mine) == 460


class _Refusing(BinanceSandbox):
    """Refuses the universal transfer history (-2015) and is a master account."""

    def handle(self, request: Any) -> Any:
        if request.url.path == "/sapi/v1/asset/transfer":
            self.requests += 1
            return self._error(401, -2015, "Invalid API-key, IP, or permissions for action.", "sapi_ip")
        return super().handle(request)


def test_a_refused_key_and_a_master_key_note_their_gaps_and_the_sync_stays_ok() -> None:
    account = _account()
    account.sub_account = False
    rig, report = _sync(_Refusing(account=account, enforce_limits=False))
    assert report.ok, report.errors
    gaps = {g.gap_id for g in report.coverage_gaps}
    assert {"wallet_transfers", "sub_account_transfers"} <= gaps
    assert not _stored(rig, "universal_transfers") and not _stored(rig, "sub_account_transfers")


def test_a_sub_account_endpoint_error_that_is_not_a_refusal_fails_the_stream() -> None:
    class Broken(BinanceSandbox):
        def handle(self, request: Any) -> Any:
            if request.url.path == "/sapi/v1/sub-account/transfer/subUserHistory":
                self.requests += 1
                return self._error(400, -1100, "Illegal characters found in parameter 'type'.", "sapi_ip")
            return super().handle(request)

    _, report = _sync(Broken(account=_account(), enforce_limits=False))
    [stream] = [s for s in report.streams if s.stream == "sub_account_transfers"]
    assert stream.errors and "sub_account_transfers" not in {g.gap_id for g in report.coverage_gaps}


def test_a_page_out_of_its_window_or_repeated_is_refused_and_shuffled_rows_are_fine() -> None:
    account = _account()
    sandbox = BinanceSandbox(account=account, enforce_limits=False)

    def shuffled(request: httpx.Request) -> httpx.Response:
        response = sandbox.handle(request)
        if request.url.path == "/sapi/v1/asset/transfer" and response.status_code == 200:
            body = response.json()
            body["rows"] = list(reversed(body.get("rows") or []))
            return httpx.Response(200, json=body, headers=response.headers)
        return response

    rig = make_rig(lambda: httpx.MockTransport(shuffled))
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors

    stray = dict(ROW, tranId=1, timestamp=int(NOW.timestamp() * 1000) - 400 * 86_400_000)

    def outside(request: httpx.Request) -> httpx.Response:
        response = sandbox.handle(request)
        if request.url.path == "/sapi/v1/asset/transfer" and request.url.params["type"] == "MAIN_FUNDING":
            return httpx.Response(200, json={"total": 1, "rows": [stray]}, headers=response.headers)
        return response

    rig = make_rig(lambda: httpx.MockTransport(outside))
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    [stream] = [s for s in report.streams if s.stream == "universal_transfers"]
    assert stream.errors  # another range's row: the page is refused, nothing of it stored

    first: dict[str, httpx.Response] = {}

    def repeated(request: httpx.Request) -> httpx.Response:
        response = sandbox.handle(request)
        params = request.url.params
        if request.url.path == "/sapi/v1/asset/transfer" and params["type"] == "MAIN_FUNDING":
            page = params["current"]
            if page == "1":
                first[params["startTime"]] = response
            elif page == "2":
                return first[params["startTime"]]  # page 2 answers page 1 again
        return response

    busy = _account()
    base = int(NOW.timestamp() * 1000) - 5 * 86_400_000
    busy.universal_transfers += [dict(ROW, tranId=700_000 + n, timestamp=base + n) for n in range(150)]
    sandbox = BinanceSandbox(account=busy, enforce_limits=False)
    rig = make_rig(lambda: httpx.MockTransport(repeated))
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    [stream] = [s for s in report.streams if s.stream == "universal_transfers"]
    assert stream.errors  # page 2 answered page 1 again: a loop, not 100 rows taken twice


def test_a_pending_transfer_is_read_again_until_final() -> None:
    account = _account()
    at = int(NOW.timestamp() * 1000) - 3 * 86_400_000
    row = dict(ROW, tranId=555, status="PENDING", timestamp=at)
    account.universal_transfers.append(row)
    rig, report = _sync(BinanceSandbox(account=account, enforce_limits=False))
    assert report.ok
    [tx] = [t for t in _stored(rig, "universal_transfers") if t.sources[0].source_id == "555"]
    assert tx.status == TransactionStatus.PENDING
    assert rig.store.get_cursor(rig.connection.id, "universal_transfers")["pending"] == {
        "555": [at, "MAIN_FUNDING", "PENDING"]
    }
    row["status"] = "CONFIRMED"
    again = asyncio.run(rig.engine.sync(rig.connection.id))
    assert again.ok
    [tx] = [t for t in _stored(rig, "universal_transfers") if t.sources[0].source_id == "555"]
    assert tx.status == TransactionStatus.CONFIRMED
    assert "pending" not in rig.store.get_cursor(rig.connection.id, "universal_transfers")


def _engine(
    store: Any, transport: httpx.AsyncBaseTransport, creds: Any = None, clock: Any = lambda: NOW
) -> Engine:
    registry = Registry(entry_points=[])
    registry.register(Binance)
    return Engine(
        store,
        registry=registry,
        credentials=creds or InMemoryCredentials(),
        transport_for=lambda _c: transport,
        clock=clock,
        retry=NO_SLEEP_RETRY,
    )


def test_a_kill_inside_the_transfer_streams_resumes_to_the_same_ledger() -> None:
    options = {"origin": "2024-01-01", "trades_page_size": 8, "rate_limit": "off"}
    account = _account()
    reference = RecordingStore(SqliteStore(":memory:"))
    engine = _engine(reference, BinanceSandbox(account=account, enforce_limits=False).transport())
    con = connect_offline(engine, "owner", credential(), options=dict(options), connection_id="con_ref")
    assert asyncio.run(engine.sync(con.id)).ok
    expected = ledger(reference.inner, con.account_id)
    pages = [
        i
        for i, page in enumerate(reference.pages)
        if page.stream in ("universal_transfers", "sub_account_transfers") and page.raws
    ]
    assert len(pages) >= 4
    for kill_at in (pages[0], pages[len(pages) // 2], pages[-1]):
        store = RecordingStore(SqliteStore(":memory:"))
        store.crash_after = lambda _page, s=store, n=kill_at: len(s.pages) == n + 1
        engine = _engine(store, BinanceSandbox(account=account, enforce_limits=False).transport())
        con = connect_offline(engine, "owner", credential(), options=dict(options), connection_id="con_kill")
        with pytest.raises(SimulatedCrash):
            asyncio.run(engine.sync(con.id))
        resumed = _engine(
            store.inner, BinanceSandbox(account=account, enforce_limits=False).transport(), engine.credentials
        )
        report = asyncio.run(resumed.sync(con.id))
        assert report.ok, report.errors
        assert ledger(store.inner, con.account_id) == expected, f"resume after page {kill_at}"


def test_the_scenario_still_reconciles_every_asset() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    rig, report = _sync(BinanceSandbox(account=account, enforce_limits=False))
    assert report.ok
    net: dict[str, Decimal] = {}
    for tx in rig.store.transactions(account_id=rig.connection.account_id):
        if tx.status == "confirmed":
            for leg in tx.legs:
                net[leg.asset] = net.get(leg.asset, Decimal(0)) + leg.amount
    held: dict[str, Decimal] = {}
    for book in (account.spot, account.funding, account.futures):
        for asset, amount in book.items():
            held[asset] = held.get(asset, Decimal(0)) + amount
    assert {a: v for a, v in net.items() if v} == held

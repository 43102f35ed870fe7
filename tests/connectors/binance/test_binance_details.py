"""Issue 18, Binance details: locked deposits, internal transfers, memos, the withdrawal fee, and
fiat orders re-checked until final."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from connectors.binance.binance_rig import make_rig
from connectors.binance.test_binance_normalize import norm
from txsync.connectors.binance.sandbox import BinanceSandbox, Scenario, ScenarioAccount, statement_rows
from txsync.engine import SyncMode
from txsync.errors import InvalidRecordError
from txsync.models import LegRole, TransactionStatus
from txsync.owner import ids

DEPOSIT = {
    "id": "769800519366885376",
    "amount": "0.001",
    "coin": "BNB",
    "network": "BNB",
    "status": 1,
    "address": "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23",
    "addressTag": "101764890",
    "txId": "98A3EA560C6B3336D348B6C83F0F95ECE4F1F5919E94BD006E5BF3BF264FACFC",
    "insertTime": 1661493146000,
    "completeTime": 1661493146000,
    "transferType": 0,
    "confirmTimes": "1/1",
    "unlockConfirm": 0,
    "walletType": 0,
}
#: Binance's documented withdraw-history example.
WITHDRAWAL = {
    "id": "b6ae22b3aa844210a7041aee7589627c",
    "amount": "8.91000000",
    "transactionFee": "0.004",
    "coin": "USDT",
    "status": 6,
    "address": "0x94df8b352de7f46f64b01d3666bf6e936e44ce60",
    "txId": "0xb5ef8c13b968a406cc62a93a8bd80f9e9a906ef1b3fcf20a2e48573c17659268",
    "applyTime": "2019-10-12 11:12:02",
    "network": "ETH",
    "transferType": 0,
    "withdrawOrderId": "WITHDRAWtest123",
    "info": "The address is not valid. Please confirm with the recipient",
    "txKey": "",
}


def test_status_6_is_confirmed_with_the_withdraw_lock_as_a_flag() -> None:
    [locked] = norm("deposits", dict(DEPOSIT, status=6))
    assert locked.status == TransactionStatus.CONFIRMED and "withdraw_locked" in locked.flags
    assert locked.net() == {"BNB": Decimal("0.001")}
    [credited] = norm("deposits", DEPOSIT)
    assert credited.status == TransactionStatus.CONFIRMED and "withdraw_locked" not in credited.flags
    for status, expected in ((0, "pending"), (8, "pending"), (2, "failed"), (7, "failed")):
        [tx] = norm("deposits", dict(DEPOSIT, status=status))
        assert tx.status == expected and "withdraw_locked" not in tx.flags


def test_memo_is_kept_as_an_external_id() -> None:
    [tx] = norm("deposits", DEPOSIT)
    assert tx.external_ids["memo"] == "101764890"
    assert tx.external_ids["tx_hash"] == DEPOSIT["txId"] and "internal_transfer" not in tx.flags
    [plain] = norm("deposits", dict(DEPOSIT, addressTag=""))
    assert "memo" not in plain.external_ids
    [numeric] = norm("deposits", dict(DEPOSIT, addressTag=101764890))
    assert numeric.external_ids["memo"] == "101764890"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Internal transfer 4863214970", "4863214970"),
        ("Off-chain transfer 4b5c1f0e8d9a", "4b5c1f0e8d9a"),
        ("internal transfer: 77", "77"),
        ("4863214970", "4863214970"),
    ],
)
def test_an_internal_transfer_keeps_its_id_apart_from_tx_hashes(text: str, expected: str) -> None:
    for stream, row in (("deposits", DEPOSIT), ("withdrawals", WITHDRAWAL)):
        [tx] = norm(stream, dict(row, txId=text, transferType=1))
        assert "tx_hash" not in tx.external_ids
        assert tx.external_ids["internal_transfer_id"] == expected
        assert ids.INTERNAL_FLAG in tx.flags
        assert ids.internal_id(tx.external_ids) == expected and ids.chain_hash(tx.external_ids) is None


def test_an_internal_transfer_without_a_tx_id_has_no_internal_id() -> None:
    [tx] = norm("withdrawals", dict(WITHDRAWAL, txId="", transferType=1))
    assert "tx_hash" not in tx.external_ids and "internal_transfer_id" not in tx.external_ids
    assert "internal_transfer" in tx.flags


def test_a_bad_transfer_type_is_refused() -> None:
    with pytest.raises(InvalidRecordError, match="transferType"):
        norm("deposits", dict(DEPOSIT, transferType="one"))


def test_withdrawal_fee_is_charged_on_top_of_the_amount() -> None:
    [tx] = norm("withdrawals", WITHDRAWAL)
    assert [(leg.amount, leg.role) for leg in tx.legs] == [
        (Decimal("-8.91"), LegRole.PRINCIPAL),
        (Decimal("-0.004"), LegRole.FEE),
    ]
    assert tx.net() == {"USDT": Decimal("-8.914")}


def _withdrawals(account: ScenarioAccount, status: int = 6) -> list[dict[str, Any]]:
    return [w for w in account.withdrawals if w["status"] == status]


def test_the_statement_debits_amount_plus_fee_for_each_withdrawal() -> None:
    """The statement's ``Withdraw`` row (remark "Withdraw fee is included") is the balance change:
    the documented example sent 8.91 and paid 0.004, so the row is -8.914, as the legs net."""
    account = ScenarioAccount.generate(Scenario.small())
    rows = [r for r in statement_rows(account) if r.operation == "Withdraw"]
    done = _withdrawals(account)
    assert len(rows) == len(done) and any(w["id"] == WITHDRAWAL["id"] for w in done)
    changes = sorted(r.change for r in rows)
    assert changes == sorted(-(Decimal(w["amount"]) + Decimal(w["transactionFee"])) for w in done)
    assert Decimal("-8.914") in changes
    assert all(r.remark == "Withdraw fee is included" for r in rows)


def _sync(sandbox: BinanceSandbox, rig: Any = None, mode: SyncMode = SyncMode.INCREMENTAL) -> Any:
    rig = rig or make_rig(sandbox.transport)
    report = asyncio.run(rig.engine.sync(rig.connection.id, mode))
    assert report.ok, report.errors
    return rig


_STREAMS = {"deposit": "deposits", "withdrawal": "withdrawals", "fiat_order": "fiat_orders"}


def _by_key(rig: Any) -> dict[str, Any]:
    """Stored transactions by the connector's key (``deposit:<id>``...), from their first source."""
    out = {}
    for tx in rig.store.transactions(account_id=rig.connection.account_id):
        src = tx.sources[0]
        kind = next((k for k, v in _STREAMS.items() if v == src.stream), src.stream)
        out[f"{kind}:{src.source_id}"] = tx
    return out


def _net(tx: Any) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for leg in tx.legs:
        total[leg.asset] = total.get(leg.asset, Decimal(0)) + leg.amount
    return {a: v for a, v in total.items() if v}


def test_the_synced_ledger_matches_the_scenario_details_and_the_reported_balances() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    rig = _sync(BinanceSandbox(account=account, enforce_limits=False))
    txs = _by_key(rig)
    locked = txs["deposit:769800519366000003"]
    assert locked.status == "confirmed" and "withdraw_locked" in locked.flags
    internal_in = txs["deposit:769800519366000002"]
    assert internal_in.external_ids["internal_transfer_id"] == "4b5c1f0e8d9a"
    assert "tx_hash" not in internal_in.external_ids and "internal_transfer" in internal_in.flags
    internal_out = txs["withdrawal:156ec387f49b41df8724fa744fa82719"]
    assert internal_out.external_ids["internal_transfer_id"] == "4863214970"
    assert txs["deposit:769800519366000001"].external_ids["memo"] == "101764890"
    assert _net(txs[f"withdrawal:{WITHDRAWAL['id']}"]) == {"USDT": Decimal("-8.914")}
    # every asset's confirmed net movement in the API ledger equals the balance the sandbox
    # reports (spot + funding + futures): the legs debit amount + fee, as the wallets did
    net: dict[str, Decimal] = {}
    for tx in txs.values():
        if tx.status == "confirmed":
            for asset, amount in _net(tx).items():  # card money enters and leaves: nets to 0
                net[asset] = net.get(asset, Decimal(0)) + amount
    reported: dict[str, Decimal] = {}
    for book in (account.spot, account.funding, account.futures):
        for asset, amount in book.items():
            reported[asset] = reported.get(asset, Decimal(0)) + amount
    assert {a: v for a, v in net.items() if v} == reported


def test_a_locked_deposit_loses_its_flag_once_unlocked() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    rig = _sync(sandbox)
    key = "deposit:769800519366000003"
    assert "withdraw_locked" in _by_key(rig)[key].flags
    [row] = [d for d in account.deposits if d["id"] == "769800519366000003"]
    row["status"] = 1
    _sync(sandbox, rig)
    after = _by_key(rig)[key]
    assert after.status == "confirmed" and "withdraw_locked" not in after.flags
    cursor = rig.store.get_cursor(rig.connection.id, "deposits")
    assert "769800519366000003" not in (cursor.get("pending") or {})


def test_a_pending_fiat_order_is_rechecked_until_final() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    rig = _sync(sandbox)
    order_no = "7d76d611-0568-4f43-afb6-processing01"
    key = f"fiat_order:{order_no}"
    assert _by_key(rig)[key].status == "pending"
    cursor = rig.store.get_cursor(rig.connection.id, "fiat_orders")
    assert list(cursor["pending"]) == [order_no] and cursor["pending"][order_no][1:] == ["0", "Processing"]
    # nothing changed: looked up again (one request), still pending
    asked = sandbox.log.count("/sapi/v1/fiat/orders")
    _sync(sandbox, rig)
    assert sandbox.log.count("/sapi/v1/fiat/orders") == asked + 1
    assert _by_key(rig)[key].status == "pending"
    [row] = [o for o in account.fiat_orders if o["orderNo"] == order_no]
    row["status"] = "Successful"
    _sync(sandbox, rig)
    final = _by_key(rig)[key]
    assert final.status == "confirmed" and _net(final) == {"EUR": Decimal(150)}
    assert "pending" not in rig.store.get_cursor(rig.connection.id, "fiat_orders")
    # final: the next sync no longer asks for it
    before = sandbox.log.count("/sapi/v1/fiat/orders")
    _sync(sandbox, rig)
    assert sandbox.log.count("/sapi/v1/fiat/orders") == before  # (the clock stands still: no new range)


def test_a_corrupt_fiat_pending_cursor_is_refused() -> None:
    from txsync.connectors.binance._streams import FiatOrdersStream
    from txsync.pagination import InvalidCursorError

    stream = FiatOrdersStream.__new__(FiatOrdersStream)
    FiatOrdersStream.__init__(stream, None)  # type: ignore[arg-type]
    with pytest.raises(InvalidCursorError):
        stream.start({"pending": {"x": [1, "9", "Processing"]}})
    with pytest.raises(InvalidCursorError):
        stream.start({"pending": ["x"]})
    stream.start({"pending": {"x": [1, "0", "Processing"]}})
    assert stream.pending == {"x": [1, "0", "Processing"]}

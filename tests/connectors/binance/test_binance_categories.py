"""Issue 18, item 1: the categories Binance serves to a read-only key, each its own stream."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from connectors.binance.binance_rig import make_rig
from connectors.binance.test_binance_normalize import norm
from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import BinanceSandbox, Scenario, ScenarioAccount
from txsync.engine import SyncMode
from txsync.errors import InvalidRecordError
from txsync.models import LegRole, TransactionKind, TransactionStatus

NEW_STREAMS = (
    "coin_futures_income",
    "pay",
    "p2p",
    "eth_staking",
    "spot_rebates",
    "loans",
    "auto_invest",
    "option_bills",
)


def _legs(tx: Any) -> list[tuple[str, Decimal, str, str | None]]:
    return [(leg.asset, leg.amount, str(leg.role), leg.wallet) for leg in tx.legs]


def test_every_new_stream_is_declared_and_ordered_before_the_trades() -> None:
    declared = [s.name for s in Binance.info.streams]
    assert set(NEW_STREAMS) <= set(declared)
    names = [s.name for s in Binance.streams(Binance.__new__(Binance))]  # type: ignore[arg-type]
    assert names.index("trades") > max(names.index(n) for n in NEW_STREAMS)


def test_coin_m_income_uses_its_own_wallet() -> None:
    row = {
        "symbol": "BTCUSD_200925",
        "incomeType": "COMMISSION",
        "income": "-0.01000000",
        "asset": "BTC",
        "info": "",
        "time": 1570636800000,
        "tranId": "9689322392",
        "tradeId": "2059192",
    }
    [fee] = norm("coin_futures_income", row)
    assert fee.kind == TransactionKind.FEE and _legs(fee) == [
        ("BTC", Decimal("-0.01"), "fee", "futures:coinm")
    ]
    [transfer] = norm("coin_futures_income", dict(row, incomeType="TRANSFER", income="-0.375", symbol=""))
    assert transfer.kind == TransactionKind.TRANSFER and transfer.net() == {}
    [settled] = norm("coin_futures_income", dict(row, incomeType="DELIVERED_SETTELMENT", income="0.2"))
    assert settled.kind == TransactionKind.REALIZED_PNL
    [odd] = norm("coin_futures_income", dict(row, incomeType="NEW_THING"))
    assert odd.kind == TransactionKind.OTHER and "unknown_type" in odd.flags


def test_pay_signs_and_wallets() -> None:
    row = {
        "orderType": "C2C",
        "transactionId": "M_P_71505104267788288",
        "transactionTime": 1610090460133,
        "amount": "23.72469206",
        "currency": "BNB",
        "walletType": 1,
        "fundsDetail": [{"currency": "USDT", "amount": "1.2"}, {"currency": "ETH", "amount": "0.0001"}],
    }
    [received] = norm("pay", row)
    assert received.kind == TransactionKind.DEPOSIT
    assert received.net() == {"USDT": Decimal("1.2"), "ETH": Decimal("0.0001")}
    assert {leg.wallet for leg in received.legs} == {"funding"}
    [paid] = norm("pay", dict(row, amount="-5", fundsDetail=[], walletType=2))
    assert paid.kind == TransactionKind.WITHDRAWAL and _legs(paid) == [
        ("BNB", Decimal(-5), "principal", "spot")
    ]
    assert paid.external_ids["pay_transaction_id"] == "M_P_71505104267788288"


def test_p2p_buy_sell_fee_and_fiat_meta() -> None:
    row = {
        "orderNumber": "20219644646554779648",
        "advNo": "11218246497340923904",
        "tradeType": "SELL",
        "asset": "BUSD",
        "fiat": "CNY",
        "fiatSymbol": "¥",
        "amount": "5000.00000000",
        "totalPrice": "33400.00000000",
        "unitPrice": "6.68",
        "orderStatus": "COMPLETED",
        "createTime": 1619361369000,
        "commission": "1",
        "counterPartNickName": "ab***",
        "advertisementRole": "TAKER",
    }
    [sold] = norm("p2p", row)
    assert sold.kind == TransactionKind.TRADE and sold.status == TransactionStatus.CONFIRMED
    assert sold.net() == {"BUSD": Decimal(-5001)}
    assert sold.meta["fiat_amount"] == "33400.00000000" and sold.meta["fiat_currency"] == "CNY"
    [bought] = norm("p2p", dict(row, tradeType="BUY", commission="0"))
    assert bought.net() == {"BUSD": Decimal(5000)}
    assert norm("p2p", dict(row, orderStatus="CANCELLED"))[0].status == TransactionStatus.FAILED
    assert norm("p2p", dict(row, orderStatus="IN_APPEAL"))[0].status == TransactionStatus.PENDING
    assert "unknown_type" in norm("p2p", dict(row, tradeType="SWAP"))[0].flags


def test_eth_staking_products() -> None:
    stake = {
        "product": "staking",
        "time": 1575018510000,
        "asset": "ETH",
        "amount": "21312.23223",
        "distributeAsset": "WBETH",
        "distributeAmount": "21286.42584",
        "conversionRatio": "1.00121234",
        "status": "SUCCESS",
    }
    [tx] = norm("eth_staking", stake)
    assert tx.kind == TransactionKind.CONVERT
    assert tx.net() == {"ETH": Decimal("-21312.23223"), "WBETH": Decimal("21286.42584")}
    assert norm("eth_staking", dict(stake, status="PENDING"))[0].status == TransactionStatus.PENDING
    reward = {
        "product": "rewards",
        "time": 1575018510000,
        "asset": "BETH",
        "holding": "2.3223",
        "amount": "0.23223",
        "annualPercentageRate": "0.5",
        "status": "SUCCESS",
    }
    [paid] = norm("eth_staking", reward)
    assert paid.kind == TransactionKind.REWARD and paid.legs[0].role == LegRole.REWARD
    wbeth = {"product": "wbeth_rewards", "time": 1575018510000, "amountInETH": "0.23223", "holding": "2.3223"}
    assert norm("eth_staking", wbeth) == []  # accrues in WBETH's rate: no balance moved
    with pytest.raises(InvalidRecordError):
        norm("eth_staking", dict(wbeth, amountInETH="lots"))


def test_rebates_loans_auto_invest_and_option_bills() -> None:
    [rebate] = norm(
        "spot_rebates", {"asset": "BNB", "type": 1, "amount": "0.0001", "updateTime": 1615450000000}
    )
    assert rebate.kind == TransactionKind.REFERRAL and rebate.legs[0].role == LegRole.REBATE
    assert (
        "unknown_type"
        in norm("spot_rebates", {"asset": "BNB", "type": 9, "amount": "1", "updateTime": 1615450000000})[
            0
        ].flags
    )
    loan = {
        "asset": "BUSD",
        "type": "borrowIn",
        "amount": "100",
        "timestamp": 1633771139847,
        "tranId": "80423589583",
    }
    [borrowed] = norm("loans", loan)
    assert borrowed.net() == {"BUSD": Decimal(100)} and borrowed.meta["category"] == "loan"
    assert norm("loans", dict(loan, type="repayAmount"))[0].net() == {"BUSD": Decimal(-100)}
    assert norm("loans", dict(loan, type="collateralSpent"))[0].net() == {"BUSD": Decimal(-100)}
    assert norm("loans", dict(loan, type="removeCollateral"))[0].net() == {"BUSD": Decimal(100)}
    assert "unknown_type" in norm("loans", dict(loan, type="mystery"))[0].flags
    invest = {
        "id": 1,
        "targetAsset": "BTC",
        "planId": 104,
        "transactionDateTime": 1661493146000,
        "transactionStatus": "SUCCESS",
        "sourceAsset": "USDT",
        "sourceAssetAmount": "100",
        "targetAssetAmount": "0.005",
        "transactionFee": "0.1",
        "transactionFeeUnit": "USDT",
        "executionPrice": "20000",
    }
    [bought] = norm("auto_invest", invest)
    assert bought.kind == TransactionKind.TRADE and bought.net() == {
        "USDT": Decimal("-100.1"),
        "BTC": Decimal("0.005"),
    }
    assert norm("auto_invest", dict(invest, transactionStatus="FAILED"))[0].status == TransactionStatus.FAILED
    bill = {
        "id": 1125899906842624000,
        "asset": "USDT",
        "amount": "-0.552",
        "type": "FEE",
        "createDate": 1592449456000,
    }
    [fee] = norm("option_bills", bill)
    assert fee.kind == TransactionKind.FEE and fee.legs[0].wallet == "options"
    [move] = norm("option_bills", dict(bill, type="TRANSFER", amount="10000"))
    assert move.kind == TransactionKind.TRANSFER and move.net() == {}
    assert (
        norm("option_bills", dict(bill, type="CONTRACT", amount="100"))[0].kind
        == TransactionKind.REALIZED_PNL
    )


def _sync(account: ScenarioAccount, **kw: Any) -> Any:
    sandbox = BinanceSandbox(account=account, enforce_limits=False, **kw)
    rig = make_rig(sandbox.transport)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    return sandbox, rig, report


def test_every_category_of_the_scenario_is_synced_with_its_own_cursor() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    sandbox, rig, report = _sync(account)
    assert report.ok, report.errors
    by_stream: dict[str, int] = {}
    for tx in rig.store.transactions(account_id=rig.connection.account_id):
        stream = tx.sources[0].stream
        by_stream[stream] = by_stream.get(stream, 0) + 1
    assert by_stream["coin_futures_income"] == len(account.coin_futures_income)
    assert by_stream["eth_staking"] == len(account.eth_staking) - 1  # the WBETH reward row moves nothing
    for name in NEW_STREAMS:
        assert rig.store.get_cursor(rig.connection.id, name) is not None, name
    # the API ledger nets every asset to what the account holds (COIN-M and options emptied back)
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
    # a second sync asks nothing old again and adds nothing
    asked = len(sandbox.log)
    again = asyncio.run(rig.engine.sync(rig.connection.id))
    assert again.ok and sum(s.new for s in again.streams) == 0
    assert not any(p.startswith(("/dapi/", "/sapi/v1/pay/", "/sapi/v1/loan/")) for p in sandbox.log[asked:])


class _Refusing(BinanceSandbox):
    """A sandbox whose key is refused COIN-M futures and options (-2015 on those hosts)."""

    def handle(self, request: Any) -> Any:
        if request.url.path.startswith(("/dapi/", "/eapi/")):
            self.requests += 1
            return self._error(401, -2015, "Invalid API-key, IP, or permissions for action.", "dapi")
        return super().handle(request)


def test_a_key_refused_a_product_notes_its_gap_and_the_sync_stays_ok() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    sandbox = _Refusing(account=account, enforce_limits=False)
    rig = make_rig(sandbox.transport)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors
    gaps = {gap.gap_id for gap in report.coverage_gaps if not gap.always}
    assert {"coin_m_futures", "vanilla_options"} <= gaps


def test_always_applicable_gaps_are_in_every_report() -> None:
    _, _, report = _sync(ScenarioAccount.generate(Scenario.small()))
    always = {gap.gap_id for gap in report.coverage_gaps if gap.always}
    assert always == {"launchpad", "pos_savings", "card"}
    assert all(gap.remedy for gap in report.coverage_gaps)


def test_a_pending_p2p_order_is_read_again_until_final() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    [template] = [o for o in account.p2p if o["orderStatus"] == "COMPLETED" and o["tradeType"] == "BUY"]
    order = dict(
        template,
        orderNumber="20219644646554770000",
        orderStatus="BUYER_PAYED",
        createTime=template["createTime"] + 3_600_000,
    )
    account.p2p.append(order)
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    rig = make_rig(sandbox.transport)
    assert asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL)).ok

    def stored() -> Any:
        [tx] = [
            t
            for t in rig.store.transactions(account_id=rig.connection.account_id)
            if t.sources[0].source_id == order["orderNumber"]
        ]
        return tx

    assert stored().status == TransactionStatus.PENDING
    cursor = rig.store.get_cursor(rig.connection.id, "p2p")
    assert cursor["pending"] == {order["orderNumber"]: [order["createTime"], "BUY", "BUYER_PAYED"]}
    order["orderStatus"] = "COMPLETED"  # the windows already passed its time: only the re-check sees it
    again = asyncio.run(rig.engine.sync(rig.connection.id))
    assert again.ok, again.errors
    final = stored()
    assert final.status == TransactionStatus.CONFIRMED
    assert sum(leg.amount for leg in final.legs if leg.asset == "USDT") == Decimal(100)
    assert "pending" not in rig.store.get_cursor(rig.connection.id, "p2p")


def test_a_corrupt_pending_cursor_of_a_category_stream_is_refused() -> None:
    from txsync.connectors.binance._category_streams import P2PStream
    from txsync.pagination import InvalidCursorError

    stream = P2PStream.__new__(P2PStream)
    with pytest.raises(InvalidCursorError):
        stream.start({"pending": {"x": ["soon", "BUY", "PENDING"]}})
    with pytest.raises(InvalidCursorError):
        stream.start({"pending": ["x"]})


def test_coin_m_wallet_is_reported_with_the_balances() -> None:
    from connectors.binance.test_binance_auth import _context

    account = ScenarioAccount.generate(Scenario.small())
    account.coin_futures = {"BTC": Decimal("0.0125")}

    async def balances(sandbox: BinanceSandbox) -> list[Any]:
        async with Binance(_context(sandbox.transport())) as connector:
            return list(await connector.balances())

    reported = asyncio.run(balances(BinanceSandbox(account=account, enforce_limits=False)))
    assert [(b.asset, b.amount) for b in reported if b.wallet == "futures:coinm"] == [
        ("BTC", Decimal("0.0125"))
    ]
    refused = asyncio.run(balances(_Refusing(account=account, enforce_limits=False)))
    assert not [b for b in refused if b.wallet == "futures:coinm"]


def test_options_wallet_is_reported_with_the_balances() -> None:
    from connectors.binance.test_binance_auth import _context

    account = ScenarioAccount.generate(Scenario.small())
    account.options = {"USDT": Decimal("12.5")}

    async def balances(sandbox: BinanceSandbox) -> list[Any]:
        async with Binance(_context(sandbox.transport())) as connector:
            return list(await connector.balances())

    reported = asyncio.run(balances(BinanceSandbox(account=account, enforce_limits=False)))
    assert [(b.asset, b.amount) for b in reported if b.wallet == "options"] == [("USDT", Decimal("12.5"))]
    refused = asyncio.run(balances(_Refusing(account=account, enforce_limits=False)))  # -2015 on eapi
    assert not [b for b in refused if b.wallet == "options"]
    account.options = {}  # an emptied wallet: a zero row, nothing reported
    emptied = asyncio.run(balances(BinanceSandbox(account=account, enforce_limits=False)))
    assert not [b for b in emptied if b.wallet == "options"]

"""CoinTracking's CSV export imported end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from helpers.files import CT_HEADER, connect, engine, errors, run
from txsync.connectors.cointracking_csv import CoinTrackingCsv, cointracking_layout, meaning
from txsync.errors import FileImportError
from txsync.models import LegRole, TransactionKind, net_deltas
from txsync.store import SqliteStore

EXPORT = (
    '"Type","Buy","Cur.","Value in BTC","Value in EUR","Sell","Cur.","Value in BTC","Value in EUR","Fee",'
    '"Cur.","Exchange","Group","Comment","Trade ID","Imported From","Add Date","Date"\n'
    # a buy whose fee came out of the bought BTC: 0.99 received, 0.01 fee -> +1 principal, -0.01 fee
    '"Trade","0.99000000","BTC","0.99","495.00","500.00000000","EUR","0.01","500.00","0.01000000","BTC",'
    '"Kraken","","first buy","T1","Kraken API","01.04.2021 10:00:00","04.03.2021 12:00:00"\n'
    # a withdrawal whose fee is included in the sold amount
    '"Withdrawal","","","","","1.00100000","BTC","1.001","50000","0.00100000","BTC","Kraken","","","","","",'
    '"05.03.2021 12:00:00"\n'
    '"Deposit","1.00000000","BTC","1","50000","","","","","","","Ledger","","","","","","05.03.2021 12:30:00"\n'
    # a fee in a third currency is not deducted by CoinTracking: kept as meta, moves nothing
    '"Trade","1.00000000","ETH","0.05","1500","0.05000000","BTC","0.05","1500","0.00100000","BNB","Binance","",'
    '"","","","","06.03.2021 12:00:00"\n'
    '"Other Fee","","","","","0.00100000","BNB","0.0001","0.20","","","Binance","","","","","",'
    '"06.03.2021 12:00:00"\n'
    '"Staking","0.10000000","DOT","0.00002","2.00","","","","","","","Kraken","","","","","","2021-03-07 00:00:00"\n'
    '"Einzahlung","50.00000000","EUR","","50","","","","","","","Bank","","","","","","07.03.2021 08:00"\n'
    '"Weird Type","0.10000000","DOT","","","","","","","","","Kraken","","","","","","2021-03-08 00:00:00"\n'
)


async def test_the_export_with_its_positional_columns(store: SqliteStore) -> None:
    eng = engine(store)
    connection = connect(eng, "cointracking_csv", text=EXPORT)
    report = await run(eng, connection)
    assert report.ok, errors(report)
    account = store.get_connection(connection).account_id
    txs = sorted(store.transactions(account_id=account), key=lambda t: (t.timestamp, str(t.kind)))
    buy, withdrawal, deposit, fee, trade, staking, fiat, unknown = txs
    assert buy.timestamp == datetime(2021, 3, 4, 12, tzinfo=UTC) and buy.kind == TransactionKind.TRADE
    assert {(leg.asset, leg.amount, leg.role) for leg in buy.legs} == {
        ("BTC", Decimal(1), LegRole.PRINCIPAL), ("BTC", Decimal("-0.01"), LegRole.FEE),
        ("EUR", Decimal(-500), LegRole.PRINCIPAL)}
    assert net_deltas(buy.legs) == {"BTC": Decimal("0.99"), "EUR": Decimal(-500)}  # what CoinTracking says
    assert buy.meta["value"] == {"amount": "495", "currency": "EUR"}  # the buy side's EUR value
    assert (buy.meta["trade_id"], buy.meta["exchange"], buy.description) == ("T1", "Kraken", "first buy")
    assert net_deltas(withdrawal.legs) == {"BTC": Decimal("-1.001")}
    assert {leg.role for leg in withdrawal.legs} == {LegRole.PRINCIPAL, LegRole.FEE}
    assert deposit.kind == TransactionKind.DEPOSIT
    assert net_deltas(trade.legs) == {"ETH": Decimal(1), "BTC": Decimal("-0.05")}
    assert trade.meta["fee_not_deducted"] == {"amount": "0.001", "currency": "BNB"}
    assert (fee.kind, net_deltas(fee.legs)) == (TransactionKind.FEE, {"BNB": Decimal("-0.001")})
    assert staking.kind == TransactionKind.REWARD and staking.legs[0].role == LegRole.REWARD
    assert fiat.kind == TransactionKind.FIAT_DEPOSIT and fiat.meta["label"] == "Einzahlung"
    assert unknown.flags == frozenset({"unknown_label"}) and unknown.kind == TransactionKind.DEPOSIT
    assert [g.gap_id for g in report.coverage_gaps] == ["unknown_labels"]


async def test_the_import_template_header_and_account_currency_values(store: SqliteStore) -> None:
    text = ('"Type","Buy Amount","Buy Currency","Sell Amount","Sell Currency","Fee","Fee Currency","Exchange",'
            '"Trade-Group","Comment","Date","Tx-ID","Buy Value in Account Currency",'
            '"Sell Value in Account Currency"\n'
            '"Trade","1","ETH","2000","USDT","2","USDT","Uniswap","","","2021-03-04 12:00:00","0xabc","1650",""\n')
    eng = engine(store)
    connection = connect(eng, "cointracking_csv", text=text, value_currency="eur")
    assert (await run(eng, connection)).ok
    [tx] = store.transactions(account_id=store.get_connection(connection).account_id)
    assert tx.external_ids == {"tx_hash": "0xabc"} and tx.meta["value"] == {"amount": "1650", "currency": "EUR"}
    assert net_deltas(tx.legs) == {"ETH": Decimal(1), "USDT": Decimal(-2000)}
    assert {(leg.asset, leg.amount) for leg in tx.legs if leg.role == LegRole.FEE} == {("USDT", Decimal(-2))}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('"Trade","1,5","BTC","500","EUR","","","K","","","2021-03-04 12:00:00"\n', "'1,5' is not a number"),
        ('"Trade",1,5,"BTC","500","EUR","","","K","","","2021-03-04 12:00:00"\n', "column Buy: '1,5' looks like"),
        ('"Trade","1","BTC","500","EUR","600","EUR","K","","","2021-03-04 12:00:00"\n', "larger than the Sell"),
        ('"","1","BTC","","","","","K","","","2021-03-04 12:00:00"\n', "column Type: is empty"),
        ('"Trade","","","","","1","BTC","K","","","2021-03-04 12:00:00"\n', "moves nothing"),
        ('"Trade","1","BTC","","","","","K","","","13.13.2021 12:00"\n', "column Date"),
    ],
)
async def test_bad_rows(store: SqliteStore, row: str, message: str) -> None:
    eng = engine(store)
    connection = connect(eng, "cointracking_csv", text=CT_HEADER + row)
    [error] = errors(await run(eng, connection))
    assert "cointracking.csv: row 1 (line 2)" in error and message in error, error
    assert store.count_raws(connection) == 0


def test_header_and_types() -> None:
    layout = cointracking_layout("f.csv", ["Type", "Buy", "Cur.", "Sell", "Cur..1", "Fee", "Cur.#2",
                                           "Exchange", "Group", "Comment", "Date"])
    assert (layout.index["buy_currency"], layout.index["sell_currency"], layout.index["fee_currency"]) == (2, 4, 6)
    with pytest.raises(FileImportError, match=r"lacks Cur\. \(after Sell\)"):
        cointracking_layout("f.csv", ["Type", "Buy", "Cur.", "Sell", "Exchange", "Date"])
    assert meaning("reward / bonus") == meaning("Belohnung / Bonus") and meaning("nope") is None
    assert CoinTrackingCsv.sniff(["Type", "Buy", "Cur.", "Sell", "Cur.", "Date"])

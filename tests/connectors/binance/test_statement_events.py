"""Binance statement importer: rows grouped into events, identities, legs."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

from txsync.connectors.binance_statement import load_plan
from txsync.connectors.binance_statement._events import normalize_rows
from txsync.merge import MATCH_WINDOW_META
from txsync.models import LegRole, NormalizedTransaction, RawTransaction, TransactionKind

HEADER = "User_ID,UTC_Time,Account,Operation,Coin,Change,Remark\n"
T = datetime(2021, 3, 4, 12, 0, 0, tzinfo=UTC)


def events(body: str) -> list[NormalizedTransaction]:
    plan = load_plan({"text": HEADER + body})
    raws = [
        RawTransaction(
            connection_id="c",
            account_id="a",
            stream="statement",
            source_id=p.source_id,
            payload=p.payload(),
            fetched_at=T,
        )
        for p in plan.rows
    ]
    return list(normalize_rows(raws))


def legs(tx: NormalizedTransaction) -> set[tuple[str, Decimal, str, str | None]]:
    return {(leg.asset, leg.amount, str(leg.role), leg.wallet) for leg in tx.legs}


def test_a_trade_is_every_trade_row_of_one_second_and_account() -> None:
    [tx] = events(
        "1,2021-03-04 12:00:00,Spot,Buy,BTC,0.01,\n"
        "1,2021-03-04 12:00:00,Spot,Buy,USDT,-500,\n"
        "1,2021-03-04 12:00:00,Spot,Fee,BNB,-0.0005,\n"
        "1,2021-03-04 12:00:00,Spot,Buy,BTC,0.02,\n"  # a second fill of the same second, listed separately
        "1,2021-03-04 12:00:00,Spot,Buy,USDT,-1000.2,\n"
        "1,2021-03-04 12:00:00,Spot,Fee,BNB,-0.001,\n"
    )
    assert tx.kind == TransactionKind.TRADE and tx.timestamp == T
    assert tx.key == "stmt:2021-03-04T12:00:00:Spot:trade"
    assert legs(tx) == {
        ("BTC", Decimal("0.03"), "principal", "spot"),
        ("USDT", Decimal("-1500.2"), "principal", "spot"),
        ("BNB", Decimal("-0.0015"), "fee", "spot"),
    }
    assert len(tx.sources) == 6 and tx.meta["operations"] == ["Buy", "Fee"]


def test_new_style_trade_rows_and_margin_trades_are_separate_events_per_account() -> None:
    spot, margin = sorted(
        events(
            "1,2021-03-04 12:00:00,Spot,Transaction Sold,ETH,-1,\n"
            "1,2021-03-04 12:00:00,Spot,Transaction Revenue,USDT,1800,\n"
            "1,2021-03-04 12:00:00,Spot,Transaction Fee,USDT,-1.8,\n"
            "1,2021-03-04 12:00:00,Cross Margin,Transaction Buy,BTC,0.1,\n"
            "1,2021-03-04 12:00:00,Cross Margin,Transaction Spend,USDT,-5000,\n"
        ),
        key=lambda tx: tx.key,
        reverse=True,
    )
    assert spot.key.endswith(":Spot:trade") and margin.key.endswith(":Cross Margin:trade")
    assert legs(spot) == {
        ("ETH", Decimal(-1), "principal", "spot"),
        ("USDT", Decimal(1800), "principal", "spot"),
        ("USDT", Decimal("-1.8"), "fee", "spot"),
    }
    assert {leg.wallet for leg in margin.legs} == {"cross_margin"}


def test_a_fill_stamped_over_two_seconds_is_one_trade() -> None:
    [tx] = events(
        "1,2021-03-04 12:00:00,Spot,Transaction Buy,ADA,100,\n"
        "1,2021-03-04 12:00:00,Spot,Transaction Spend,USDT,-120,\n"
        "1,2021-03-04 12:00:01,Spot,Transaction Fee,BNB,-0.00012,\n"
    )
    assert tx.timestamp == T and len(tx.legs) == 3
    [tx] = events(  # the bought side one second late
        "1,2021-03-04 12:00:00,Spot,Transaction Spend,USDT,-120,\n"
        "1,2021-03-04 12:00:01,Spot,Transaction Buy,ADA,100,\n"
        "1,2021-03-04 12:00:01,Spot,Transaction Fee,BNB,-0.00012,\n"
    )
    assert tx.timestamp == T and len(tx.legs) == 3
    # two complete trades in consecutive seconds stay two
    assert (
        len(
            events(
                "1,2021-03-04 12:00:00,Spot,Buy,ADA,100,\n1,2021-03-04 12:00:00,Spot,Buy,USDT,-120,\n"
                "1,2021-03-04 12:00:01,Spot,Buy,ADA,100,\n1,2021-03-04 12:00:01,Spot,Buy,USDT,-120,\n"
            )
        )
        == 2
    )


def test_dust_several_assets_into_bnb_is_one_event() -> None:
    [tx] = events(
        "1,2020-11-01 00:00:00,Spot,Small assets exchange BNB,DOGE,-10,\n"
        "1,2020-11-01 00:00:00,Spot,Small Assets Exchange BNB,TRX,-5,\n"
        "1,2020-11-01 00:00:00,Spot,Small assets exchange BNB,BNB,0.003,\n"
    )
    assert tx.kind == TransactionKind.DUST_CONVERSION
    assert tx.net() == {"DOGE": Decimal(-10), "TRX": Decimal(-5), "BNB": Decimal("0.003")}


def test_a_transfer_between_wallets_is_one_event_across_accounts() -> None:
    [tx] = events(
        "1,2021-03-16 07:00:00,Spot,Transfer Between Spot Account and UM Futures Account,USDT,-50,\n"
        "1,2021-03-16 07:00:00,USDT-Futures,Transfer Between Spot Account and UM Futures Account,USDT,50,\n"
    )
    assert tx.kind == TransactionKind.TRANSFER and tx.net() == {}
    assert legs(tx) == {
        ("USDT", Decimal(-50), "principal", "spot"),
        ("USDT", Decimal(50), "principal", "usdt_futures"),
    }


def test_single_leg_operations_are_one_event_per_coin_and_deposits_ask_for_a_wide_match() -> None:
    txs = events(
        "1,2021-03-04 12:00:00,Spot,Deposit,BTC,0.5,\n"
        "1,2021-03-04 12:00:00,Spot,Deposit,ETH,2,\n"
        "1,2021-03-04 12:00:00,Earn,Simple Earn Flexible Interest,USDT,0.1,\n"
        "1,2021-03-04 12:00:00,Earn,Simple Earn Flexible Interest,USDT,0.2,\n"
        "1,2021-03-04 12:00:00,Spot,Withdraw,USDT,-101,Withdraw fee is included\n"
    )
    by_key = {tx.key: tx for tx in txs}
    assert set(by_key) == {
        "stmt:2021-03-04T12:00:00:Spot:Deposit:BTC",
        "stmt:2021-03-04T12:00:00:Spot:Deposit:ETH",
        "stmt:2021-03-04T12:00:00:Earn:Simple Earn Flexible Interest:USDT",
        "stmt:2021-03-04T12:00:00:Spot:Withdraw:USDT",
    }
    interest = by_key["stmt:2021-03-04T12:00:00:Earn:Simple Earn Flexible Interest:USDT"]
    assert legs(interest) == {("USDT", Decimal("0.3"), "interest", "earn")}
    withdraw = by_key["stmt:2021-03-04T12:00:00:Spot:Withdraw:USDT"]
    assert withdraw.kind == TransactionKind.WITHDRAWAL and withdraw.meta[MATCH_WINDOW_META] == 86400
    assert withdraw.meta["remarks"] == ["Withdraw fee is included"]
    assert MATCH_WINDOW_META not in interest.meta


def test_sign_decides_card_and_p2p_kinds() -> None:
    spend, refund, sell, buy = events(
        "1,2021-03-09 19:45:12,Funding,Binance Card Spending,BUSD,-25.5,\n"
        "1,2021-03-10 19:45:12,Funding,Binance Card Spending,BUSD,5,\n"
        "1,2021-03-11 13:13:13,Funding,P2P Trading,USDT,-200,\n"
        "1,2021-03-12 13:13:13,Funding,P2P Trading,USDT,200,\n"
    )
    assert (spend.kind, refund.kind, sell.kind, buy.kind) == (
        TransactionKind.WITHDRAWAL,
        TransactionKind.DEPOSIT,
        TransactionKind.WITHDRAWAL,
        TransactionKind.DEPOSIT,
    )
    assert spend.meta["category"] == "card" and buy.meta["category"] == "p2p"


def test_futures_rows_keep_their_roles() -> None:
    fee, pnl, funding = events(  # canonical order inside a second: by content
        "1,2021-03-12 10:00:00,USDT-Futures,Realized Profit and Loss,USDT,-5.2,\n"
        "1,2021-03-12 10:00:00,USDT-Futures,Fee,USDT,-0.3,\n"
        "1,2021-03-12 16:00:00,Coin-Futures,Funding Fee,BTC,-0.00001,\n"
    )
    assert (pnl.kind, pnl.legs[0].role) == (TransactionKind.REALIZED_PNL, LegRole.PNL)
    assert (fee.kind, fee.legs[0].role) == (TransactionKind.FEE, LegRole.FEE)
    assert (funding.kind, funding.legs[0].role, funding.legs[0].wallet) == (
        TransactionKind.FUNDING_FEE,
        LegRole.FUNDING,
        "coin_futures",
    )


def test_identical_rows_of_one_second_stay_distinct_rows_and_ids_do_not_depend_on_file_order() -> None:
    lines = [
        "1,2021-03-03 12:00:00,Spot,Transaction Buy,LINK,10,\n",
        "1,2021-03-03 12:00:00,Spot,Transaction Spend,USDT,-300,\n",
        "1,2021-03-03 12:00:00,Spot,Transaction Buy,LINK,10,\n",
        "1,2021-03-03 12:00:00,Spot,Transaction Spend,USDT,-300,\n",
        "1,2021-03-05 12:00:00,Spot,Deposit,BTC,1,\n",
    ]
    plan = load_plan({"text": HEADER + "".join(lines)})
    ids = [p.source_id for p in plan.rows]
    assert len(set(ids)) == 5 and sum(i.endswith("-1") for i in ids) == 2
    shuffled = lines[:]
    random.Random(7).shuffle(shuffled)
    again = load_plan({"text": HEADER + "".join(reversed(shuffled))})
    assert [p.source_id for p in again.rows] == ids
    [trade, _] = events("".join(lines))
    assert trade.net() == {"LINK": Decimal(20), "USDT": Decimal(-600)}
    # the same amount written differently is the same row
    assert (
        load_plan({"text": HEADER + "1,2021-03-05 12:00:00,Spot,Deposit,BTC,1.00000000,\n"}).rows[0].source_id
        == ids[-1]
    )


def test_unknown_operations_are_kept_flagged_and_counted() -> None:
    plan = load_plan(
        {
            "text": HEADER + "1,2021-03-15 08:00:00,Options,Options Premium Fee,USDT,-2.5,\n"
            "1,2021-03-16 08:00:00,Options,Options Premium Fee,USDT,-1,\n"
        }
    )
    assert plan.unknown == {"Options Premium Fee": 2}
    [tx, _] = events(
        "1,2021-03-15 08:00:00,Options,Options Premium Fee,USDT,-2.5,\n"
        "1,2021-03-16 08:00:00,Options,Options Premium Fee,USDT,-1,\n"
    )
    assert tx.kind == TransactionKind.OTHER and tx.flags == frozenset({"unknown_type"})
    assert tx.legs[0].amount == Decimal("-2.5") and tx.legs[0].wallet == "options"


def test_pages_never_cut_inside_a_second_or_a_joined_trade() -> None:
    plan = load_plan(
        {
            "text": HEADER
            + (
                "1,2021-03-04 12:00:00,Spot,Transaction Buy,ADA,100,\n"
                "1,2021-03-04 12:00:00,Spot,Transaction Spend,USDT,-120,\n"
                "1,2021-03-04 12:00:01,Spot,Transaction Fee,BNB,-0.00012,\n"
                "1,2021-03-04 12:00:02,Spot,Deposit,BTC,1,\n"
                "1,2021-03-04 12:00:02,Spot,Deposit,ETH,1,\n"
            )
        }
    )
    assert plan.cuts == [2, 4]

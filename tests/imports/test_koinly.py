"""Koinly's Universal template imported end to end (real engine, SQLite store)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from helpers.files import KOINLY_HEADER, connect, engine, errors, ledger, run, write
from txsync.connectors.koinly_csv import LABELS, KoinlyUniversal, meaning
from txsync.engine import SyncMode
from txsync.merge import MATCH_WINDOW_META
from txsync.models import LegRole, TransactionKind, net_deltas
from txsync.store import SqliteStore

ROWS = [
    "2021-03-01 09:00 UTC,,,5000,EUR,,,5000,EUR,,SEPA in,\n",
    "2021-03-02 10:15:30,4350.20,EUR,0.1,BTC,4.35,EUR,4350.20,EUR,,first bitcoin,\n",
    "2021-03-05 17:00:00,0.05,BTC,,,0.0002,BTC,2400,EUR,,to my wallet,4a5e1e4b\n",
    "2021-04-01 00:00:00,,,0.0125,ETH,,,25.10,EUR,staking,,\n",
    "2021-04-01 00:00:00,,,0.0125,ETH,,,25.10,EUR,staking,,\n",  # the same reward twice: two
    "2021-04-02 00:00:00,10,USDT,,,,,,,margin fee,,\n",
    "2021-04-03 00:00:00,1,ETH,2,STETH,,,,,swap,,\n",
    "2021-04-04 00:00:00,,,3,DOT,,,,,Lottery Win,,\n",  # a label Koinly does not have
]


def text(rows: list[str] = ROWS) -> str:
    return KOINLY_HEADER + "".join(rows)


async def test_every_kind_of_row_becomes_its_transaction(store: SqliteStore, tmp_path: Path) -> None:
    eng = engine(store)
    connection = connect(eng, "koinly_csv", path=str(write(tmp_path / "koinly.csv", text())), page_size=3)
    report = await run(eng, connection)
    assert report.ok, errors(report)
    [stream] = report.streams
    assert (stream.raws, stream.new, stream.pages) == (8, 8, 3)
    account = store.get_connection(connection).account_id
    txs = sorted(store.transactions(account_id=account), key=lambda t: (t.timestamp, t.kind))
    deposit, trade, withdrawal, reward1, reward2, fee, swap, unknown = txs
    assert (deposit.kind, net_deltas(deposit.legs)) == (TransactionKind.FIAT_DEPOSIT, {"EUR": Decimal(5000)})
    assert deposit.meta["value"] == {"amount": "5000", "currency": "EUR"}
    assert deposit.meta[MATCH_WINDOW_META] == 86400 and deposit.description == "SEPA in"
    assert trade.kind == TransactionKind.TRADE and trade.timestamp == datetime(2021, 3, 2, 10, 15, 30, tzinfo=UTC)
    assert {(leg.asset, leg.amount, leg.role) for leg in trade.legs} == {
        ("EUR", Decimal("-4350.20"), LegRole.PRINCIPAL), ("BTC", Decimal("0.1"), LegRole.PRINCIPAL),
        ("EUR", Decimal("-4.35"), LegRole.FEE)}
    assert MATCH_WINDOW_META not in trade.meta  # seconds given: the engine's tolerance applies
    # the fee is paid on top of what was sent (Koinly's convention)
    assert withdrawal.kind == TransactionKind.WITHDRAWAL
    assert net_deltas(withdrawal.legs) == {"BTC": Decimal("-0.0502")}
    assert withdrawal.external_ids == {"tx_hash": "4a5e1e4b"}
    assert reward1.kind == reward2.kind == TransactionKind.REWARD and reward1.id != reward2.id
    assert reward1.legs[0].role == LegRole.REWARD and reward1.meta["category"] == "income"
    assert (fee.kind, fee.legs[0].role) == (TransactionKind.FEE, LegRole.FEE)
    assert swap.kind == TransactionKind.CONVERT
    assert unknown.kind == TransactionKind.DEPOSIT and unknown.flags == frozenset({"unknown_label"})
    assert unknown.meta["label"] == "Lottery Win"
    [gap] = report.coverage_gaps
    assert gap.gap_id == "unknown_labels" and gap.detail == "'Lottery Win' (1 rows)"
    assert store.balances(account) == {"EUR": Decimal("645.45"), "BTC": Decimal("0.0498"),
                                       "ETH": Decimal("-0.975"), "USDT": Decimal(-10), "STETH": Decimal(2),
                                       "DOT": Decimal(3)}


async def test_reimport_overlap_and_label_edits(store: SqliteStore, tmp_path: Path) -> None:
    eng = engine(store)
    path = write(tmp_path / "koinly.csv", text(ROWS[:5]))
    connection = connect(eng, "koinly_csv", path=str(path), page_size=2)
    account = store.get_connection(connection).account_id
    assert (await run(eng, connection)).ok
    first = ledger(store, account)
    # the same file again: the cursor says it was read to its end
    again = await run(eng, connection)
    assert again.ok and again.streams[0].raws == 0
    # re-read from the start: every row is recognised
    full = await run(eng, connection, SyncMode.FULL)
    assert (full.total("new"), full.total("updated"), full.streams[0].unchanged) == (0, 0, 5)
    # the same file uploaded as a new connection of the account (rows in another order): nothing added
    shuffled = ROWS[:5]
    random.Random(3).shuffle(shuffled)
    upload = connect(eng, "koinly_csv", account_id=account, text=text(shuffled))
    report = await run(eng, upload)
    assert report.ok and report.total("new") == 0 and ledger(store, account) == first
    # a newer export: the same rows and three more, one of them a third identical reward
    write(path, text([*ROWS[:5], ROWS[4], *ROWS[5:7]]))
    newer = await run(eng, connection)
    assert newer.ok and newer.total("new") == 3 and newer.streams[0].raws == 3  # resumed after row 5
    assert sum(ledger(store, account).values()) == 8
    # an export of an overlapping range, starting elsewhere: read whole, only what is new is added
    second = write(tmp_path / "second.csv", text([*ROWS[3:], ROWS[4]]))
    other = connect(eng, "koinly_csv", account_id=account, path=str(second))
    overlap = await run(eng, other)
    assert overlap.ok and overlap.total("new") == 1  # only the Lottery Win row is new
    assert sum(ledger(store, account).values()) == 9
    # a label fixed in the file updates the transaction in place
    write(second, text([row.replace("Lottery Win", "airdrop") for row in [*ROWS[3:], ROWS[4]]]))
    fixed = await run(eng, other, SyncMode.FULL)
    assert fixed.ok and fixed.total("new") == 0 and fixed.total("updated") == 1
    [airdrop] = [t for t in store.transactions(account_id=account) if t.kind == TransactionKind.AIRDROP]
    assert airdrop.flags == frozenset() and airdrop.meta["label"] == "airdrop"
    assert sum(ledger(store, account).values()) == 9


async def test_timezone_option_reads_local_times(store: SqliteStore) -> None:
    eng = engine(store)
    rows = ["2021-07-01 14:00:00,,,1,BTC,,,,,,,\n", "2021-07-01 14:00:00Z,,,2,BTC,,,,,,,\n"]
    local = connect(eng, "koinly_csv", text=text(rows), timezone="Europe/Paris")
    assert (await run(eng, local)).ok
    account = store.get_connection(local).account_id
    times = sorted((net_deltas(t.legs)["BTC"], t.timestamp) for t in store.transactions(account_id=account))
    assert times == [(Decimal(1), datetime(2021, 7, 1, 12, 0, tzinfo=UTC)),  # Paris summer time
                     (Decimal(2), datetime(2021, 7, 1, 14, 0, tzinfo=UTC))]  # Z: the file says UTC
    bad = connect(eng, "koinly_csv", text=text(rows), timezone="Mars/Olympus")
    report = await run(eng, bad)
    assert not report.ok and any("unknown time zone 'Mars/Olympus'" in e for e in errors(report))
    ambiguous = connect(eng, "koinly_csv", text=text(["2021-10-31 02:30:00,,,1,BTC,,,,,,,\n"]),
                        timezone="Europe/Paris")
    report = await run(eng, ambiguous)
    assert any("row 1 (line 2), column Date" in e and "ambiguous" in e for e in errors(report))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2021-03-01 09:00:00,,,1,5,BTC,,,,,,,\n", "column Received Amount: '1,5' looks like an amount written with"),
        ("2021-03-01 09:00:00,,,1.5,BTC,,,,,,,,extra\n", "the row has 13 fields, the header 12"),
        ("2021-03-01 09:00:00,,,1.5,BTC,,,,,\n", "column Description: the row has 10 fields, the header 12"),
        ("2021-03-01 09:00:00,,,1e400,BTC,,,,,,,\n", "column Received Amount: '1e400' is too large"),
        ("2021-03-01 09:00:00,,,NaN,BTC,,,,,,,\n", "column Received Amount: 'NaN' is not a number"),
        ("2021-03-01 09:00:00,,,-1,BTC,,,,,,,\n", "column Received Amount: '-1' is negative"),
        ("2021-03-01 09:00:00,,,1,,,,,,,,\n", "column Received Currency: is empty while Received Amount"),
        ("03/01/2021 09:00,,,1,BTC,,,,,,,\n", "column Date: '03/01/2021 09:00' is not a time"),
        (",,,1,BTC,,,,,,,\n", "column Date: is empty"),
        ("2021-03-01 09:00:00,,,,,,,,,,,\n", "the row moves nothing"),
        ("2021-03-01 09:00:00,,,1,B\u202eTC,,,,,,,\n", "column Received Currency"),
        ("2021-03-01 09:00:00,,,1,BTC,,,,,,bad\x00text,\n", "column Description"),
        ("2021-03-01 09:00:00,,,1,BTC,,,,,,,0x\u202e12\n", "column TxHash"),
    ],
)
async def test_a_bad_row_stores_nothing_and_names_row_and_column(store: SqliteStore, tmp_path: Path, row: str,
                                                                  message: str) -> None:
    eng = engine(store)
    path = write(tmp_path / "bad.csv", text([*ROWS[:4], row, *ROWS[4:]]))
    connection = connect(eng, "koinly_csv", path=str(path), page_size=1)
    report = await run(eng, connection)
    assert not report.ok
    [error] = errors(report)
    assert error.startswith("FileImportError: bad.csv: row 5 (line 6)"), error
    assert message in error, error
    account = store.get_connection(connection).account_id
    assert store.count_raws(connection) == 0 and store.count_transactions(account) == 0
    assert store.get_cursor(connection, "rows") is None


async def test_a_file_cut_inside_its_last_amount_stores_nothing(store: SqliteStore) -> None:
    eng = engine(store)
    cut = text(ROWS)[: text(ROWS).index("3,DOT") + 1]  # "...,,,3" : the row ends inside Received Amount
    connection = connect(eng, "koinly_csv", text=cut)
    report = await run(eng, connection)
    [error] = errors(report)
    assert "row 8 (line 9), column Received Currency: the file ends inside this row: it looks truncated" in error
    assert store.count_raws(connection) == 0


def test_labels_table() -> None:
    assert meaning("  Staking ") is meaning("staking") is LABELS["staking"]
    assert meaning("realized P&L") == meaning("realized gain")
    assert meaning("something else") is None
    assert KoinlyUniversal.sniff(KOINLY_HEADER.strip().split(","))
    assert not KoinlyUniversal.sniff(["Date", "Amount", "Currency"])

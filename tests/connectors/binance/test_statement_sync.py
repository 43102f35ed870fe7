"""Binance statement importer end to end: the real engine and SqliteStore, merged with API-shaped data.

The API side is a small fake connector that normalizes Binance API records the way the Binance
connector does (a spot fill = +base, -quote, -commission (fee) at the fill's ms time, key
``trade:<SYMBOL>:<id>``; a deposit one leg at ``insertTime``; a withdrawal -amount and a fee leg at
``applyTime``; a dust conversion). It does not depend on ``txsync.connectors.binance``.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from txsync.connector import Connector, ConnectorInfo, Page, RawRecord, Stream, StreamInfo
from txsync.connectors.binance_statement import BinanceStatement, load_plan
from txsync.engine import Engine, SyncMode
from txsync.models import (
    Balance,
    ConnectorKind,
    Credential,
    Leg,
    LegRole,
    NormalizedTransaction,
    Permissions,
    RawTransaction,
    TransactionKind,
)
from txsync.store import ConnectionState, SqliteStore

DATA = Path(__file__).parent / "statement_data"
SCENARIO = DATA / "scenario.csv"


def ms(text: str) -> int:
    at = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


# -- the API side -------------------------------------------------------------------------------------

API: dict[str, list[dict[str, Any]]] = {
    "trades": [
        {
            "symbol": "BTCUSDT",
            "base": "BTC",
            "quote": "USDT",
            "id": 100,
            "qty": "0.01",
            "quoteQty": "500",
            "commission": "0.0005",
            "commissionAsset": "BNB",
            "isBuyer": True,
            "time": ms("2021-03-01 10:00:05.120"),
        },
        {
            "symbol": "BTCUSDT",
            "base": "BTC",
            "quote": "USDT",
            "id": 101,
            "qty": "0.02",
            "quoteQty": "1000.2",
            "commission": "0.001",
            "commissionAsset": "BNB",
            "isBuyer": True,
            "time": ms("2021-03-01 10:00:05.480"),
        },
        {
            "symbol": "ETHBTC",
            "base": "ETH",
            "quote": "BTC",
            "id": 200,
            "qty": "0.5",
            "quoteQty": "0.0155",
            "commission": "0.0000155",
            "commissionAsset": "BTC",
            "isBuyer": False,
            "time": ms("2021-03-02 08:30:00.700"),
        },
        {
            "symbol": "LINKUSDT",
            "base": "LINK",
            "quote": "USDT",
            "id": 300,
            "qty": "10",
            "quoteQty": "300",
            "commission": "0.01",
            "commissionAsset": "LINK",
            "isBuyer": True,
            "time": ms("2021-03-03 12:00:00.100"),
        },
        {
            "symbol": "LINKUSDT",
            "base": "LINK",
            "quote": "USDT",
            "id": 301,
            "qty": "10",
            "quoteQty": "300",
            "commission": "0.01",
            "commissionAsset": "LINK",
            "isBuyer": True,
            "time": ms("2021-03-03 12:00:00.900"),
        },
        {
            "symbol": "ADAUSDT",
            "base": "ADA",
            "quote": "USDT",
            "id": 400,
            "qty": "100",
            "quoteQty": "120",
            "commission": "0.00012",
            "commissionAsset": "BNB",
            "isBuyer": True,
            "time": ms("2021-03-04 09:15:59.950"),
        },
        # after the statement's end: only the API knows it
        {
            "symbol": "BTCUSDT",
            "base": "BTC",
            "quote": "USDT",
            "id": 102,
            "qty": "0.001",
            "quoteQty": "55",
            "commission": "0.00005",
            "commissionAsset": "BNB",
            "isBuyer": True,
            "time": ms("2021-04-01 00:00:00"),
        },
    ],
    "deposits": [
        {"id": "d1", "coin": "BTC", "amount": "0.5", "status": 1, "insertTime": ms("2021-02-28 09:00:00")}
    ],
    "withdrawals": [
        {
            "id": "w1",
            "coin": "USDT",
            "amount": "100",
            "transactionFee": "1",
            "status": 6,
            "applyTime": "2021-03-05 14:00:00",
        }
    ],
    "dust": [
        {
            "transId": 555,
            "operateTime": ms("2021-03-06 00:00:00.500"),
            "totalTransferedAmount": "0.002",
            "details": [{"fromAsset": "ADA", "amount": "1.2"}, {"fromAsset": "XLM", "amount": "3"}],
        }
    ],
}
API_MATCHED = 9  # every API record but trade 102 is also in the statement


def _at_ms(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)


def _normalize(stream: str, raw: RawTransaction) -> NormalizedTransaction:
    row = raw.payload
    common = {"account_id": raw.account_id, "sources": [raw.ref]}
    if stream == "trades":
        sign = 1 if row["isBuyer"] else -1
        return NormalizedTransaction(
            key=f"trade:{row['symbol']}:{row['id']}",
            kind=TransactionKind.TRADE,
            timestamp=_at_ms(row["time"]),
            legs=[
                Leg(asset=row["base"], amount=sign * Decimal(row["qty"]), wallet="spot"),
                Leg(asset=row["quote"], amount=-sign * Decimal(row["quoteQty"]), wallet="spot"),
                Leg(
                    asset=row["commissionAsset"],
                    amount=-Decimal(row["commission"]),
                    role=LegRole.FEE,
                    wallet="spot",
                ),
            ],
            external_ids={"trade_id": str(row["id"])},
            **common,
        )
    if stream == "deposits":
        return NormalizedTransaction(
            key=f"deposit:{row['id']}",
            kind=TransactionKind.DEPOSIT,
            timestamp=_at_ms(row["insertTime"]),
            legs=[Leg(asset=row["coin"], amount=Decimal(row["amount"]), wallet="spot")],
            **common,
        )
    if stream == "withdrawals":
        return NormalizedTransaction(
            key=f"withdrawal:{row['id']}",
            kind=TransactionKind.WITHDRAWAL,
            timestamp=datetime.fromisoformat(row["applyTime"]).replace(tzinfo=UTC),
            legs=[
                Leg(asset=row["coin"], amount=-Decimal(row["amount"]), wallet="spot"),
                Leg(
                    asset=row["coin"], amount=-Decimal(row["transactionFee"]), role=LegRole.FEE, wallet="spot"
                ),
            ],
            **common,
        )
    return NormalizedTransaction(
        key=f"dust:{row['transId']}",
        kind=TransactionKind.DUST_CONVERSION,
        timestamp=_at_ms(row["operateTime"]),
        legs=[
            *(Leg(asset=d["fromAsset"], amount=-Decimal(d["amount"])) for d in row["details"]),
            Leg(asset="BNB", amount=Decimal(row["totalTransferedAmount"])),
        ],
        **common,
    )


class _ApiStream(Stream):
    name = "api"

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]

    def pages(self, cursor: Any) -> AsyncIterator[Page]:
        async def gen() -> AsyncIterator[Page]:
            rows = API[self.name]
            start = cursor or 0
            for i in range(start, len(rows), 2):
                chunk = rows[i : i + 2]
                yield Page([RawRecord(str(r.get("id", r.get("transId"))), r) for r in chunk], i + len(chunk))

        return gen()

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        return [_normalize(self.name, raw) for raw in raws]


class FakeBinanceApi(Connector):
    info = ConnectorInfo(
        id="fakebinance",
        display_name="Binance API (test double)",
        kind=ConnectorKind.EXCHANGE,
        streams=tuple(StreamInfo(name=n) for n in API),
        reports_permissions=True,
    )

    async def verify(self) -> Permissions:
        return Permissions(
            reported=True,
            can_read=True,
            can_trade=False,
            can_withdraw=False,
            can_transfer=False,
            ip_restricted=True,
        )

    async def balances(self) -> Sequence[Balance]:
        return []

    def streams(self) -> Sequence[Stream]:
        return [_ApiStream(name) for name in API]


class Resolver:
    def get(self, connector_id: str) -> type[Connector]:
        return {"fakebinance": FakeBinanceApi, "binance_statement": BinanceStatement}[connector_id]


# -- helpers ------------------------------------------------------------------------------------------


@pytest.fixture
def engine(store: SqliteStore) -> Engine:
    return Engine(store, registry=Resolver())


def connect_api(engine: Engine) -> str:
    return engine.connect("alice", Credential(connector_id="fakebinance"), label="Binance API", verify=False).id


def connect_file(engine: Engine, account_id: str, **options: Any) -> str:
    return engine.connect(
        "alice",
        Credential(connector_id="binance_statement"),
        account_id=account_id,
        options=options,
        label="statement",
        verify=False,
    ).id


def statement_sums(path: Path = SCENARIO) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for p in load_plan({"path": str(path)}).rows:
        sums[p.row.coin] = sums.get(p.row.coin, Decimal(0)) + p.row.change
    return sums


def expected_balances() -> dict[str, Decimal]:
    sums = statement_sums()
    sums["BTC"] += Decimal("0.001")  # trade 102, after the statement
    sums["USDT"] -= Decimal(55)
    sums["BNB"] -= Decimal("0.00005")
    return {k: v for k, v in sums.items() if v}


def file_events() -> int:
    return len({p.event for p in load_plan({"path": str(SCENARIO)}).rows})


def ledger(store: SqliteStore, account: str) -> Counter[tuple[Any, ...]]:
    return Counter(
        (
            tx.timestamp,
            str(tx.kind),
            tuple(sorted((leg.asset, leg.amount, str(leg.role)) for leg in tx.legs)),
            tx.origins,
        )
        for tx in store.transactions(account_id=account)
    )


def check_merged(store: SqliteStore, account: str) -> None:
    txs = list(store.transactions(account_id=account))
    assert store.balances(account) == expected_balances()
    origins = Counter(tx.origins for tx in txs)
    assert origins[("api", "file")] == API_MATCHED
    assert origins[("api",)] == 1  # trade 102
    assert origins[("file",)] == file_events() - 7  # 7 statement events describe the 9 API records
    assert all(tx.legs for tx in txs)
    # the file-only events the API cannot give are there
    kinds = Counter(str(tx.kind) for tx in txs if tx.origins == ("file",))
    assert kinds["dust_conversion"] == 1 and kinds["trade"] == 1  # old dust; the delisted NPXS pair
    assert {"distribution", "convert", "realized_pnl", "funding_fee", "mining", "referral"} <= set(kinds)
    npxs = [tx for tx in txs if any(leg.asset == "NPXS" for leg in tx.legs)]
    assert len(npxs) == 1 and npxs[0].kind == TransactionKind.TRADE


# -- tests --------------------------------------------------------------------------------------------


async def test_file_after_api_is_merged_and_adds_what_only_the_file_has(
    engine: Engine, store: SqliteStore
) -> None:
    api = connect_api(engine)
    account = store.get_connection(api).account_id
    assert (await engine.sync(api)).ok
    stmt = connect_file(engine, account, path=str(SCENARIO), page_size=4)
    report = await engine.sync(stmt)
    assert report.ok, report.errors
    [stream] = report.streams
    assert stream.raws == 52 and stream.pages > 3
    assert stream.matched == 7  # 7 events: six 1-to-1, one (two LINK fills) as a group
    assert stream.unknown == 1
    check_merged(store, account)
    # provenance keeps both sides
    [link] = [tx for tx in store.transactions(account_id=account) if tx.external_ids.get("trade_id") == "300"]
    assert {s.stream for s in store.provenance(link.id)} == {"trades", "statement"}


async def test_api_after_file_gives_the_same_ledger(
    engine: Engine, store: SqliteStore, tmp_path: Path
) -> None:
    api = connect_api(engine)
    account = store.get_connection(api).account_id
    stmt = connect_file(engine, account, path=str(SCENARIO), page_size=3)
    assert (await engine.sync(stmt)).ok
    assert (await engine.sync(api)).ok
    check_merged(store, account)

    other = SqliteStore(tmp_path / "other.sqlite3")
    try:
        engine2 = Engine(other, registry=Resolver())
        api2 = connect_api(engine2)
        account2 = other.get_connection(api2).account_id
        await engine2.sync(api2)
        await engine2.sync(connect_file(engine2, account2, path=str(SCENARIO)))
        assert ledger(other, account2) == ledger(store, account)
    finally:
        other.close()


async def test_reimporting_the_same_file_adds_nothing(engine: Engine, store: SqliteStore) -> None:
    api = connect_api(engine)
    account = store.get_connection(api).account_id
    await engine.sync(api)
    stmt = connect_file(engine, account, path=str(SCENARIO), page_size=5)
    await engine.sync(stmt)
    before = ledger(store, account)
    again = await engine.sync(stmt)  # incremental: the cursor says the file was read to its end
    assert again.ok and again.streams[0].pages == 0
    full = await engine.sync(stmt, SyncMode.FULL)  # re-read everything: all unchanged
    assert full.ok and full.total("new") == full.total("updated") == 0
    assert full.streams[0].unchanged == file_events()
    assert ledger(store, account) == before
    # the same file uploaded again as a new connection of the account: still nothing twice
    second = connect_file(engine, account, text=SCENARIO.read_text(encoding="utf-8-sig"))
    upload = await engine.sync(second)
    assert upload.ok and upload.total("new") == 0
    assert store.balances(account) == expected_balances()
    assert len(list(store.transactions(account_id=account))) == sum(before.values())


async def test_a_longer_newer_export_continues_where_the_last_one_stopped(
    engine: Engine, store: SqliteStore, tmp_path: Path
) -> None:
    lines = SCENARIO.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    early = [line for line in body if '"2021-03-1' not in line and '"2021-03-2' not in line]
    path = tmp_path / "statement.csv"
    path.write_text(header + "".join(early), encoding="utf-8")
    api = connect_api(engine)
    account = store.get_connection(api).account_id
    stmt = connect_file(engine, account, path=str(path), page_size=2)
    first = await engine.sync(stmt)
    assert first.streams[0].raws == len(early)
    cursor = store.get_cursor(stmt, "statement")
    assert cursor["rows"] == len(early) and len(cursor["digest"]) == 64

    shutil.copy(SCENARIO, path)  # the newer export: the same history and more
    second = await engine.sync(stmt)
    assert second.ok
    assert second.streams[0].raws == len(body) - len(early)  # only the new rows were read
    assert second.streams[0].raws_new == second.streams[0].raws
    assert second.streams[0].new == file_events() - len(
        {p.event for p in load_plan({"text": header + "".join(early)}).rows}
    )
    await engine.sync(api)
    check_merged(store, account)


async def test_another_file_is_read_from_its_start_without_doubling(
    engine: Engine, store: SqliteStore, tmp_path: Path
) -> None:
    lines = SCENARIO.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    path = tmp_path / "statement.csv"
    path.write_text("".join(lines), encoding="utf-8")
    api = connect_api(engine)
    account = store.get_connection(api).account_id
    await engine.sync(api)
    stmt = connect_file(engine, account, path=str(path))
    await engine.sync(stmt)
    before = ledger(store, account)
    # an export of a later range that starts elsewhere: its first rows differ, so it is read in full
    later = [line for line in lines[1:] if "2020-" not in line]
    path.write_text(lines[0] + "".join(reversed(later)), encoding="utf-8")
    report = await engine.sync(stmt)
    assert report.ok and report.streams[0].raws == len(later)
    assert report.total("new") == 0 and report.total("updated") == 0
    assert ledger(store, account) == before


async def test_a_malformed_row_stores_nothing_and_names_the_row(
    engine: Engine, store: SqliteStore, tmp_path: Path
) -> None:
    text = (
        SCENARIO.read_text(encoding="utf-8-sig").rstrip("\r\n")
        + '\r\n"1","2021-04-01 00:00:00","Spot","Deposit","BTC","1,5",""\r\n'
    )
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    api = connect_api(engine)
    account = store.get_connection(api).account_id
    stmt = connect_file(engine, account, path=str(path), page_size=2)
    report = await engine.sync(stmt)
    assert not report.ok
    assert any(
        "StatementFormatError" in e and "bad.csv: row 53 (line 54), column Change: '1,5' is not a number" in e
        for e in report.errors
    ), report.errors
    assert store.count_raws(stmt) == 0 and store.count_transactions(account) == 0
    assert store.get_cursor(stmt, "statement") is None
    assert store.get_connection(stmt).state == ConnectionState.ACTIVE  # the user fixes the file, not a key
    # a missing file is reported the same way
    gone = connect_file(engine, account, path=str(tmp_path / "nope.csv"))
    missing = await engine.sync(gone)
    assert any("not found: nope.csv" in e for e in missing.errors)


async def test_user_deletions_and_edits_survive_reimports(engine: Engine, store: SqliteStore) -> None:
    api = connect_api(engine)
    account = store.get_connection(api).account_id
    await engine.sync(api)
    stmt = connect_file(engine, account, path=str(SCENARIO))
    await engine.sync(stmt)
    txs = list(store.transactions(account_id=account))
    [launchpad] = [tx for tx in txs if tx.kind == TransactionKind.DISTRIBUTION]
    [card] = [tx for tx in txs if "Binance Card Spending" in (tx.description or "")]
    [merged] = [tx for tx in txs if tx.external_ids.get("trade_id") == "400"]
    store.delete_transaction(launchpad.id, "not mine")
    store.set_override(card.id, label="groceries", fiat_value=Decimal("21.30"), fiat_currency="EUR")
    store.set_override(merged.id, note="first ADA")

    await engine.sync(stmt, SyncMode.FULL)
    await engine.sync(api, SyncMode.FULL)
    again = connect_file(engine, account, text=SCENARIO.read_text(encoding="utf-8-sig"))  # uploaded again
    await engine.sync(again)

    ids = {tx.id for tx in store.transactions(account_id=account)}
    assert launchpad.id not in ids
    assert store.get_transaction(launchpad.id).deleted
    assert not any(tx.kind == TransactionKind.DISTRIBUTION for tx in store.transactions(account_id=account))
    assert store.get_transaction(card.id).label == "groceries"
    assert store.get_transaction(card.id).fiat_value == Decimal("21.30")
    assert store.get_transaction(merged.id).note == "first ADA"
    assert len(ids) == len(txs) - 1


async def test_unknown_operations_are_reported_as_a_gap(engine: Engine, store: SqliteStore) -> None:
    api = connect_api(engine)
    account = store.get_connection(api).account_id
    report = await engine.sync(connect_file(engine, account, path=str(SCENARIO)))
    [gap] = report.coverage_gaps
    assert gap.gap_id == "unknown_operations" and "'Options Premium Fee' (1 rows)" in gap.detail
    assert report.streams[0].unknown == 1
    assert report.permissions is not None and report.permissions.can_withdraw is False
    assert report.warnings == []
    [unknown] = [tx for tx in store.transactions(account_id=account) if "unknown_type" in tx.flags]
    assert unknown.kind == TransactionKind.OTHER and unknown.legs[0].amount == Decimal("-2.5")


def test_connector_describes_itself() -> None:
    info = BinanceStatement.info
    assert (info.id, info.kind) == ("binance_statement", ConnectorKind.FILE)
    assert [s.name for s in info.streams] == ["statement"] and info.credential_fields == ()

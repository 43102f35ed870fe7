"""Exports: each re-imports through the matching importer as the same ledger; values and links come
through their lookups; the JSON and DataFrame forms keep every leg exactly."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from helpers import files
from helpers.demo import demo_credential, demo_engine
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.engine import Engine
from txsync.exports import (
    ExportValue,
    export_ledger,
    iter_ledger,
    recorded_value,
    to_dataframe,
    write_koinly,
)
from txsync.models import Credential
from txsync.store import SqliteStore


def picture(store: SqliteStore, account_id: str, *, meta_label: bool = False) -> Counter[tuple[Any, ...]]:
    """An account's ledger as a multiset: time, kind, status, legs, hash (and the imported label)."""
    return Counter(
        (tx.timestamp, str(tx.kind), str(tx.status),
         tuple(sorted((leg.asset, leg.amount, str(leg.role), leg.wallet) for leg in tx.legs)),
         tx.external_ids.get("tx_hash"), tx.meta.get("label") if meta_label else None)
        for tx in store.transactions(account_id=account_id)
    )


def reimport(store: SqliteStore, engine: Engine, connector_id: str, text: str, tmp_path: Path) -> str:
    """Import ``text`` into a new account of bob's; returns the account id."""
    path = tmp_path / f"{connector_id}.csv"
    path.write_text(text, encoding="utf-8")
    connection = engine.connect("bob", Credential(connector_id=connector_id), options={"path": str(path)},
                                verify=False)
    report = engine.sync_blocking(connection.id)
    assert report.ok, files.errors(report)
    return connection.account_id


@pytest.fixture
def demo_ledger(store: SqliteStore) -> tuple[SqliteStore, Engine, str]:
    """Alice's Demo Exchange account (262 transactions: trades with fees, deposits (one pending),
    withdrawals, staking rewards), and an engine that knows the file importers."""
    engine = demo_engine(store, DemoSandbox())
    connection = engine.connect("alice", demo_credential())
    assert engine.sync_blocking(connection.id).ok
    engine._registry = files.registry(*engine.registry.available().values())  # type: ignore[attr-defined]
    return store, engine, connection.account_id


def test_the_full_csv_imports_back_as_the_same_ledger(demo_ledger: tuple[SqliteStore, Engine, str],
                                                      tmp_path: Path) -> None:
    store, engine, account = demo_ledger
    out = io.StringIO()
    counts = export_ledger(store, "csv", out, owner_id="alice")
    assert counts["transactions"] == 262 and counts["rows"] > 262
    header = out.getvalue().splitlines()[0].split(",")
    assert header[:10] == ["Date", "Tx", "Kind", "Asset", "Amount", "Role", "Wallet", "Status", "Description",
                           "Tx Hash"]
    assert {"Transaction ID", "Origins", "Sources", "Value Status", "Link"} <= set(header)
    again = reimport(store, engine, "txsync_template", out.getvalue(), tmp_path)
    assert picture(store, again) == picture(store, account)
    # every external id went through (its own ext:<name> column)
    ours = {frozenset(tx.external_ids.items()) for tx in store.transactions(account_id=account)}
    theirs = {frozenset(tx.external_ids.items()) for tx in store.transactions(account_id=again)}
    assert ours == theirs


KOINLY = files.KOINLY_HEADER + "".join(
    f"{line}\n" for line in (
        "2021-01-02 10:00:00,1000,EUR,0.05,BTC,2.5,EUR,1000,EUR,,first buy,",
        "2021-01-03 11:00:00,,,0.2,ETH,,,,,,deposit from my wallet,0xabc",
        "2021-01-04 12:00:00,0.01,BTC,,,0.0001,BTC,,,,to my ledger,0xdef",
        "2021-01-05 13:00:00,,,1.5,DOT,,,,,staking,,",
        "2021-01-06 14:00:00,0.1,ETH,200,USDT,,,,,swap,,",
        "2021-01-07 15:00:00,,,,,0.5,USDT,,,,withdrawal fee,",
        "2021-01-08 16:00:00,25,USDT,,,,,,,gift,for a friend,",
        "2021-01-09 17:00:00,,,3,ATOM,,,,,airdrop,,",
        "2021-01-10 18:00:00.250000,5,USDT,0.0001,BTC,0.01,BNB,,,,,",
    )
)

CT = files.CT_HEADER + "".join(
    f"{line}\n" for line in (
        '"Trade","0.05","BTC","1002.5","EUR","2.5","EUR","Kraken","","first buy","2021-01-02 10:00:00"',
        '"Deposit","0.2","ETH","","","","","Kraken","","","2021-01-03 11:00:00"',
        '"Withdrawal","","","0.0101","BTC","0.0001","BTC","Kraken","","","2021-01-04 12:00:00"',
        '"Staking","1.5","DOT","","","","","Kraken","","","2021-01-05 13:00:00"',
        '"Trade","199.8","USDT","0.1","ETH","0.2","USDT","Kraken","","","2021-01-06 14:00:00"',
        '"Other Fee","","","0.5","USDT","","","Kraken","","","2021-01-07 15:00:00"',
        '"Gift","","","25","USDT","","","Kraken","","","2021-01-08 16:00:00"',
        '"Lending Income","0.3","USDT","","","","","Kraken","","","2021-01-09 17:00:00"',
    )
)


@pytest.mark.parametrize(("connector_id", "fmt", "text"), [("koinly_csv", "koinly", KOINLY),
                                                           ("cointracking_csv", "cointracking", CT)])
def test_koinly_and_cointracking_exports_import_back_as_the_same_ledger(
    store: SqliteStore, tmp_path: Path, connector_id: str, fmt: str, text: str
) -> None:
    engine = files.engine(store)
    source = tmp_path / "source.csv"
    source.write_text(text, encoding="utf-8")
    first = engine.connect("alice", Credential(connector_id=connector_id), options={"path": str(source)},
                           verify=False)
    assert engine.sync_blocking(first.id).ok
    out = io.StringIO()
    counts = export_ledger(store, fmt, out, owner_id="alice")
    assert counts["transactions"] == text.count("\n") - 1 and counts["split"] == 0
    again = reimport(store, engine, connector_id, out.getvalue(), tmp_path)
    assert picture(store, again, meta_label=True) == picture(store, first.account_id, meta_label=True)
    # and a second round changes nothing more
    out2 = io.StringIO()
    export_ledger(store, fmt, out2, owner_id="bob")
    assert out2.getvalue() == out.getvalue()


def test_one_row_formats_split_what_one_row_cannot_hold(store: SqliteStore) -> None:
    engine = files.engine(store)
    text = (files.TEMPLATE_HEADER
            + "2022-03-01 09:00:00,t1,trade,BTC,0.5,principal,,,,,,\n"
            + "2022-03-01 09:00:00,t1,trade,ETH,2,principal,,,,,,\n"
            + "2022-03-01 09:00:00,t1,trade,USDT,-30000,principal,,,,,,\n")
    connection = engine.connect("alice", Credential(connector_id="txsync_template"),
                                options={"text": text, "name": "t.csv"}, verify=False)
    assert engine.sync_blocking(connection.id).ok
    for fmt in ("koinly", "cointracking"):
        out = io.StringIO()
        counts = export_ledger(store, fmt, out, owner_id="alice")
        assert counts == {"transactions": 1, "rows": 2, "split": 1}
        rows = out.getvalue().splitlines()[1:]
        assert len(rows) == 2 and "30000" in rows[0] and "ETH" in rows[1]


def test_values_come_from_overrides_files_or_the_hosts_lookup(
    demo_ledger: tuple[SqliteStore, Engine, str],
) -> None:
    store, _, account = demo_ledger
    txs = list(store.transactions(account_id=account))
    store.set_override(txs[5].id, fiat_value=Decimal("123.45"), fiat_currency="EUR")
    assert recorded_value(store.get_transaction(txs[5].id)) == ExportValue(Decimal("123.45"), "EUR", "override",
                                                                           "override", "user")
    out = io.StringIO()
    export_ledger(store, "json", out, owner_id="alice")
    data = json.loads(out.getvalue())
    by_id = {item["id"]: item for item in data}
    assert by_id[txs[5].id]["value"] == {"amount": "123.45", "currency": "EUR", "status": "override",
                                         "method": "override", "source": "user"}
    assert by_id[txs[6].id]["value"] is None and by_id[txs[6].id]["link"] is None

    def host_values(tx: Any) -> ExportValue | None:
        return ExportValue(Decimal("1.5"), "USD", "valued", "market", "coingecko") if tx.id == txs[6].id else None

    def host_links(tx: Any) -> dict[str, Any] | None:
        return {"withdrawal": tx.id, "deposit": "tx_elsewhere", "asset": "BTC", "method": "hash", "fee": "0"} \
            if tx.id == txs[6].id else None

    out = io.StringIO()
    export_ledger(store, "json", out, owner_id="alice", values=host_values, links=host_links)
    item = next(i for i in json.loads(out.getvalue()) if i["id"] == txs[6].id)
    assert item["value"]["amount"] == "1.5" and item["link"]["method"] == "hash"
    koinly = io.StringIO()
    write_koinly(lambda: iter_ledger(store, owner_id="alice"), koinly, values=host_values)
    assert ",1.5,USD," in koinly.getvalue()
    csv_out = io.StringIO()
    export_ledger(store, "csv", csv_out, owner_id="alice", values=host_values, links=host_links)
    assert "coingecko" in csv_out.getvalue() and '"method"' not in csv_out.getvalue().splitlines()[0]
    assert export_ledger(store, "json", io.StringIO(), owner_id="nobody") == {"transactions": 0, "rows": 0}
    with pytest.raises(Exception, match="unknown export format"):
        export_ledger(store, "xml", io.StringIO(), owner_id="alice")


def test_the_json_export_keeps_every_leg_and_its_provenance(demo_ledger: tuple[SqliteStore, Engine, str]) -> None:
    store, _, account = demo_ledger
    store.delete_transaction(next(store.transactions(account_id=account)).id)
    out = io.StringIO()
    export_ledger(store, "json", out, owner_id="alice")
    data = json.loads(out.getvalue())
    assert len(data) == 261  # deleted transactions stay out unless asked for
    txs = {tx.id: tx for tx in store.transactions(account_id=account)}
    for item in data:
        tx = txs[item["id"]]
        assert [(leg["asset"], Decimal(leg["amount"]), leg["role"]) for leg in item["legs"]] == [
            (leg.asset, leg.amount, str(leg.role)) for leg in tx.legs]
        assert item["sources"] and item["origins"] == ["api"]
        assert datetime.fromisoformat(item["timestamp"].replace("Z", "+00:00")) == tx.timestamp
    everything = io.StringIO()
    export_ledger(store, "json", everything, owner_id="alice", include_deleted=True)
    assert len(json.loads(everything.getvalue())) == 262


def test_the_dataframe_keeps_amounts_exact(demo_ledger: tuple[SqliteStore, Engine, str]) -> None:
    store, _, account = demo_ledger
    frame = to_dataframe(store.transactions(account_id=account))
    txs = list(store.transactions(account_id=account))
    assert len(frame) == sum(len(tx.legs) for tx in txs)
    assert all(isinstance(a, Decimal) for a in frame["amount"])
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["timestamp"].iloc[0].to_pydatetime() == txs[0].timestamp.astimezone(UTC)
    by_asset = frame.groupby("asset")["amount"].apply(lambda s: sum(s, Decimal(0)))
    assert {k: v for k, v in by_asset.items() if v != 0} == {
        k: v for k, v in store.balances(account, include_pending=True).items()}

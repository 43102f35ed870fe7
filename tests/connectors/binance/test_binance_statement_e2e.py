"""The Binance API connector and the statement importer on the SAME account, end to end.

``cassettes/binance/statement.csv`` is the sandbox scenario account rendered as Binance's "Generate
all statements" CSV (:func:`txsync.connectors.binance.sandbox.statement_csv`, regenerated with
``TXSYNC_RECORD=1``). The main job's cassette is replayed (offline) into a store, the file is
imported into the same account, and the merged ledger must reconcile exactly: every event the API
also returned is one transaction with both origins, the delisted pair's trades come from the file.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connectors.binance.test_binance_main_job import CASSETTES, LABEL, OPTIONS, run_main_job
from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import KEY, SECRET, BinanceSandbox, statement_csv, statement_rows
from txsync.connectors.binance_statement import BinanceStatement
from txsync.engine import Engine, SyncReport
from txsync.models import Balance, Credential
from txsync.reconcile import BalanceCheck, reconcile
from txsync.registry import Registry
from txsync.store import SqliteStore
from txsync.testing.cassettes import RecordSource, offline_transport, record_source

STATEMENT = CASSETTES / "statement.csv"
pytestmark = pytest.mark.skipif(
    record_source() is RecordSource.LIVE, reason="the statement is generated from the sandbox"
)


def _account() -> Any:
    return BinanceSandbox(enforce_limits=False).account


def _engine(store: SqliteStore) -> Engine:
    registry = Registry(entry_points=[])
    registry.register(Binance, replace=True)
    registry.register(BinanceStatement, replace=True)
    transport = offline_transport()
    return Engine(store, registry=registry, transport_for=lambda _c: transport, clock=BinanceSandbox().clock)


def _import(store: SqliteStore, account_id: str, path: Path = STATEMENT) -> tuple[str, SyncReport]:
    engine = _engine(store)
    connection = engine.connect(
        "binance-user",
        Credential(connector_id="binance_statement"),
        account_id=account_id,
        options={"path": str(path)},  # verified: the whole file is read and checked first
    )
    return connection.id, asyncio.run(engine.sync(connection.id))


def _ledger(store: SqliteStore, account_id: str) -> Counter[tuple[Any, ...]]:
    return Counter(
        (
            str(tx.kind),
            tx.timestamp,
            str(tx.status),
            tuple(sorted((leg.asset, str(leg.amount), str(leg.role), leg.wallet or "") for leg in tx.legs)),
            tuple(sorted(tx.origins)),
        )
        for tx in store.transactions(account_id=account_id)
    )


def _bcc_events() -> int:
    """File-only events: the delisted BCC/BTC pair's trades, one event per second."""
    return len({row["time"] // 1000 for row in _account().trades["BCCBTC"]})


# -- the committed file ----------------------------------------------------------------------------


def test_committed_statement_is_the_generators_output() -> None:
    text = statement_csv(_account())
    if record_source() is RecordSource.SANDBOX:
        STATEMENT.write_text(text, encoding="utf-8", newline="")
    assert STATEMENT.is_file(), f"{STATEMENT} is missing: TXSYNC_RECORD=1 pytest {__file__}"
    assert STATEMENT.read_text(encoding="utf-8") == text
    assert statement_csv(_account()) == text  # deterministic


def test_statement_covers_what_the_api_hides() -> None:
    account = _account()
    rows = statement_rows(account)
    assert [r.at for r in rows] == sorted(r.at for r in rows)
    assert all(r.at.microsecond == 0 for r in rows)
    bcc = [r for r in rows if r.coin == "BCC"]
    assert {r.operation for r in bcc} >= {"Deposit", "Sell"}
    assert sum(r.change for r in bcc) == account.spot.get("BCC", 0)
    # Every coin's rows add up to what the account holds (spot with margin, funding, futures).
    totals: Counter[str] = Counter()
    for row in rows:
        totals[row.coin] += row.change  # type: ignore[assignment]
    held: Counter[str] = Counter()
    for wallet in (account.spot, account.funding, account.futures):
        for asset, amount in wallet.items():
            held[asset] += amount  # type: ignore[assignment]
    assert {a: v for a, v in totals.items() if v} == {a: v for a, v in held.items() if v}


# -- merged with the API ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_then_file(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("api_first") / "ledger.sqlite3"
    report, checks, store, account_id = run_main_job(db, record=False)
    assert report.ok, report.errors
    before = list(store.transactions(account_id=account_id))
    connection_id, imported = _import(store, account_id)
    return {
        "db": db,
        "store": store,
        "account_id": account_id,
        "api_checks": checks,
        "before": before,
        "report": imported,
        "connection_id": connection_id,
        "checks": reconcile(store.balances(account_id), _reported(checks)),
    }


def _reported(checks: list[BalanceCheck]) -> list[Balance]:
    """What the API reported (summed per asset), as the main job's checks recorded it."""
    return [Balance(asset=c.asset, amount=c.reported) for c in checks if c.reported != 0]


def test_every_balance_reconciles_after_the_import(api_then_file: dict[str, Any]) -> None:
    assert api_then_file["report"].ok, api_then_file["report"].errors
    assert {c.asset for c in api_then_file["api_checks"] if not c.ok} == {"BCC", "BTC", "BNB"}
    checks = api_then_file["checks"]
    assert [c for c in checks if not c.ok] == []
    assert len(checks) >= 40


def test_events_in_both_are_one_transaction(api_then_file: dict[str, Any]) -> None:
    store, account_id = api_then_file["store"], api_then_file["account_id"]
    before = api_then_file["before"]
    after = list(store.transactions(account_id=account_id))
    bcc = _bcc_events()
    assert bcc >= 3
    assert len(after) == len(before) + bcc
    trades_before = sum(1 for tx in before if tx.kind == "trade")
    assert sum(1 for tx in after if tx.kind == "trade") == trades_before + bcc
    by_id = {tx.id: tx for tx in after}
    for tx in before:
        assert tx.id in by_id
        merged = by_id[tx.id]
        if tx.status == "confirmed":  # pending / failed records moved no balance: not in the file
            assert set(merged.origins) == {"api", "file"}, (tx.kind, tx.timestamp, tx.legs)
        else:
            assert merged.origins == ("api",)
    added = [tx for tx in after if tx.id not in {b.id for b in before}]
    assert all(tx.origins == ("file",) and tx.kind == "trade" for tx in added)
    assert all({leg.asset for leg in tx.legs} >= {"BCC", "BTC"} for tx in added)


def test_reimporting_adds_nothing(api_then_file: dict[str, Any], tmp_path: Path) -> None:
    store, account_id = api_then_file["store"], api_then_file["account_id"]
    ledger = _ledger(store, account_id)
    engine = _engine(store)
    again = asyncio.run(engine.sync(api_then_file["connection_id"]))
    assert again.ok
    assert _ledger(store, account_id) == ledger
    copy = tmp_path / "statement-copy.csv"
    copy.write_bytes(STATEMENT.read_bytes())
    _, other = _import(store, account_id, copy)  # the same file through a new connection
    assert other.ok, other.errors
    assert _ledger(store, account_id) == ledger


def test_file_first_gives_the_same_ledger(api_then_file: dict[str, Any], tmp_path: Path) -> None:
    db = tmp_path / "file_first.sqlite3"
    store = SqliteStore(db)
    engine = _engine(store)
    api = engine.connect(
        "binance-user",
        Credential(connector_id="binance", secrets={"api_key": KEY, "api_secret": SECRET}),
        label=LABEL,
        options=dict(OPTIONS),
        verify=False,
    )
    _, imported = _import(store, api.account_id)
    assert imported.ok, imported.errors
    store.close()
    report, checks, store, account_id = run_main_job(db, record=False)
    assert report.ok, report.errors
    assert account_id == api.account_id
    assert [c for c in checks if not c.ok] == []
    first = api_then_file
    assert _ledger(store, account_id) == _ledger(first["store"], first["account_id"])
    store.close()

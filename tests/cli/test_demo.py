"""The README's main job: ``txsync demo`` syncs the recorded Binance account through the Binance
sandbox (API, then the statement file), and ``--source demo`` the small Demo Exchange account. An
interrupted demo leaves nothing that breaks the next run."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cli.conftest import run
from txsync.store import SqliteStore


def _line(text: str, first: str) -> list[str]:
    return next(line.split() for line in text.splitlines() if line.split()[:1] == [first])


def _value_line(text: str, asset: str) -> list[str]:
    """The asset's row in the balances' value table (the last table of the demo's output)."""
    return [line.split() for line in text.splitlines() if line.split()[:1] == [asset]][-1]


def test_the_main_job_syncs_the_account_and_its_statement_file(tmp_path: Path) -> None:
    db = str(tmp_path / "main.sqlite3")
    result = run("demo", "--db", db)
    assert result.code == 0, result.err
    text = result.out
    assert "Sync (incremental) of binance [" in text and "]: ok" in text
    # what the API cannot return is named, with its remedy: the statement file
    assert "Trades in delisted pairs: BCCBNB, BCCBTC, BCCUSDT" in text and "statement" in text
    # the file fills it in the same account: 6 file-only events, the rest merged into the API's
    assert _line(text, "statement") == ["statement", "3", "3516", "6", "1401", "0", "0", "0"]
    assert _line(text, "trades") == ["trades", "48", "1002", "1002", "0", "0", "60", "1200"]
    assert "Transactions by kind (1417 in all)" in text
    checks = [line.split()[-1] for line in text.splitlines() if line.split()[-1:] in (["ok"], ["MISMATCH"])]
    assert "MISMATCH" not in checks and checks.count("ok") >= 40
    # valued in EUR offline from the price cassette, which covers the whole account and its balances
    assert "Valuation in EUR (prices: price cassette binance_account.json.gz, offline)" in text
    # (BETH, an ETH staking reward, has no market in the price sandboxes: the one unpriceable)
    assert "1417 transactions: 1416 valued, 0 pending, 1 unpriceable, 0 overridden" in text
    assert "were not in the cassette" not in text and "Balances' value at 2024-05-31 23:59 UTC" in text
    assert _value_line(text, "BTC")[-2:] == ["binance", "BTCEUR"]
    assert _value_line(text, "EUR")[1:3] == ["22835.77722129", "22,835.78"]
    assert _value_line(text, "BCC")[2] == "unpriceable"  # Binance's BCC means nothing after 2018: never 0
    again = run("demo", "--db", db)  # incremental: nothing new from either source
    assert again.code == 0, again.err
    assert "Transactions by kind (1417 in all)" in again.out and "MISMATCH" not in again.out
    assert _line(again.out, "trades")[3] == "0"
    assert "price requests: none (all in the cache)" in again.out  # the second pass fetches nothing
    full = run("--json", "demo", "--db", db, "--full")  # re-reads everything, changes nothing
    data = full.json()
    assert full.code == 0 and data["ledger"]["transactions"] == 1417
    assert sum(s["new"] for r in data["reports"] for s in r["streams"]) == 0
    valuation = data["valuation"]
    assert (valuation["valued"], valuation["pending"], valuation["unpriceable"]) == (1416, 0, 1)
    assert valuation["report"]["requests"] == {} and valuation["not_in_cassette"] == 0
    assert valuation["balances_without_value"] == 3 and valuation["currency"] == "EUR"  # BCC, BETH, WBETH
    priced = [b for b in data["valuation"]["balances"] if b["value"] is not None]
    assert sum(Decimal(b["value"]) for b in priced) == Decimal(valuation["balances_total"])
    assert (tmp_path / "demo" / "binance-statement.csv").is_file()


def test_api_only_shows_what_the_api_misses(tmp_path: Path) -> None:
    result = run("demo", "--db", str(tmp_path / "api.sqlite3"), "--api-only", "--no-value")
    assert result.code == 1, result.err  # mismatched balances: the user has something to do
    assert "Transactions by kind (1411 in all)" in result.out and "binance_statement" not in result.out
    assert {line.split()[0] for line in result.out.splitlines() if line.endswith("MISMATCH")} == {"BCC", "BNB",
                                                                                                  "BTC"}


def test_the_demo_exchange_account(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.sqlite3")
    result = run("demo", "--source", "demo", "--db", db)
    assert result.code == 0, result.err
    assert _line(result.out, "trades") == ["trades", "3", "247", "247", "0", "0", "3", "15"]
    assert "Transactions by kind (262 in all)" in result.out
    assert _line(result.out, "deposit") == ["deposit", "8", "1"]
    assert "MISMATCH" not in result.out and "Staking rewards" in result.out
    assert "262 transactions: 262 valued, 0 pending, 0 unpriceable, 0 overridden" in result.out
    assert "price cassette demo_account.json.gz" in result.out and "not in the cassette" not in result.out
    again = run("demo", "--source", "demo", "--db", db)
    assert _line(again.out, "trades")[1:4] == ["0", "0", "0"]
    full = run("demo", "--source", "demo", "--db", db, "--full")
    assert _line(full.out, "trades")[1:6] == ["3", "247", "0", "0", "247"]


@pytest.mark.parametrize("stop_after", [0, 5, 60])
def test_an_interrupted_demo_leaves_nothing_that_breaks_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop_after: int
) -> None:
    """Ctrl-C while connecting (0 pages) or in the middle of the sync: exit 130, then a complete run."""
    db = tmp_path / "ledger.sqlite3"
    original = SqliteStore.commit_page
    committed = {"pages": 0}

    def commit(self: SqliteStore, *args: Any, **kwargs: Any) -> Any:
        if committed["pages"] >= stop_after:
            raise KeyboardInterrupt
        committed["pages"] += 1
        return original(self, *args, **kwargs)

    def put(self: Any, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # stopped while the key is being sealed

    with monkeypatch.context() as patch:
        if stop_after == 0:
            patch.setattr("txsync.cli._vault.LazyVault.put", put)
        else:
            patch.setattr(SqliteStore, "commit_page", commit)
        stopped = run("demo", "--db", str(db), "--no-value")
    assert stopped.code == 130 and "interrupted" in stopped.err
    store = SqliteStore(db)
    assert len(store.list_connections()) == (0 if stop_after == 0 else 1)
    assert len(store.list_accounts()) == (0 if stop_after == 0 else 1)
    store.close()
    result = run("demo", "--db", str(db), "--no-value")
    assert result.code == 0, result.err
    assert "Transactions by kind (1417 in all)" in result.out and "MISMATCH" not in result.out
    store = SqliteStore(db)
    assert len(store.list_accounts()) == 1 and len(store.list_connections()) == 2
    store.close()


def test_a_plain_sync_after_the_demo_never_sends_its_sandbox_keys_anywhere(tmp_path: Path) -> None:
    """The demo's connections read the packaged sandbox: paused between demos, so `txsync sync` (every
    active connection) leaves them alone; the next demo resumes them. A connection whose connector is
    not installed is reported and does not stop the others."""
    db = str(tmp_path / "demo.sqlite3")
    assert run("demo", "--source", "demo", "--db", db).code == 0
    store = SqliteStore(db)
    try:
        (connection,) = store.list_connections()
        assert connection.state == "paused" and "txsync demo" in (connection.state_reason or "")
    finally:
        store.close()
    result = run("sync", "--db", db)
    assert result.code == 0 and "Nothing to sync." in result.out, result.err
    again = run("demo", "--source", "demo", "--db", db)  # resumed, synced, paused again
    assert again.code == 0, again.err
    assert "]: ok" in again.out

    assert run("resume", connection.id, "--db", db).code == 0
    result = run("sync", "--db", db)  # `demo` is no installed connector: reported, not a crash
    assert result.code == 1
    assert f"not synced: {connection.id}: PluginError" in result.err

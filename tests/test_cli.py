"""The README's main job: ``txsync demo`` replays the recorded Binance account offline (and
``--source demo`` the small Demo Exchange account)."""

from __future__ import annotations

import io
from pathlib import Path

from txsync.cli import main


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out)
    return code, out.getvalue()


def test_main_job_syncs_the_recorded_binance_account_and_its_statement_file(tmp_path: Path) -> None:
    db = str(tmp_path / "main.sqlite3")
    code, text = run("demo", "--db", db)
    assert code == 0, text
    assert "Sync (incremental) of binance: ok" in text
    # what the API cannot return is named, with its remedy: the statement file
    assert "Trades in delisted pairs: BCCBNB, BCCBTC, BCCUSDT" in text and "statement" in text
    # the file fills it in the same account: 6 file-only events, the rest merged into the API's
    assert "Sync (incremental) of binance_statement: ok" in text
    assert "  statement      3     3460    6     1362          0" in text
    assert "Transactions by kind (1373 in all)" in text
    assert "MISMATCH" not in text and text.count("  ok\n") >= 40
    again_code, again = run("demo", "--db", db)  # incremental: nothing new from either source
    assert again_code == 0, again
    assert "Transactions by kind (1373 in all)" in again and "MISMATCH" not in again
    new_column = [line.split()[3] for line in again.splitlines() if line.startswith("  trades ")]
    assert new_column == ["0"]


def test_main_job_api_only_shows_what_the_api_misses(tmp_path: Path) -> None:
    code, text = run("demo", "--db", str(tmp_path / "api.sqlite3"), "--api-only")
    assert code == 0, text
    assert "Transactions by kind (1367 in all)" in text and "binance_statement" not in text
    assert {line.split()[0] for line in text.splitlines() if line.endswith("MISMATCH")} == {"BCC", "BNB", "BTC"}


def test_demo_source_syncs_the_recorded_demo_account_and_reconciles(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.sqlite3")
    code, text = run("demo", "--source", "demo", "--db", db)
    assert code == 0, text
    assert "trades        3      247  247" in text
    assert "Transactions by kind (262 in all)" in text
    assert "deposit                8  (1 pending)" in text
    assert "MISMATCH" not in text
    assert text.count("  ok\n") == 3
    assert "Staking rewards" in text
    again_code, again = run("demo", "--source", "demo", "--db", db)  # incremental: nothing new, one request
    assert again_code == 0, again
    assert "trades        0        0    0" in again
    assert "Transactions by kind (262 in all)" in again
    full_code, full = run("demo", "--source", "demo", "--db", db, "--full")
    assert full_code == 0, full
    assert "trades        3      247    0        0        247" in full  # re-read, all unchanged
    assert "deposits     46       15    0        0         15" in full


def test_summary_and_connectors(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.sqlite3")
    run("demo", "--source", "demo", "--db", db)
    code, text = run("summary", "--db", db)
    assert code == 0
    assert "1 accounts" in text
    assert "trade                247" in text
    code, text = run("connectors")
    assert code == 0
    for builtin in ("binance", "bitcoin", "bitstamp", "evm", "paymium", "binance_statement"):
        assert any(line.split()[:2] == [builtin, "available"] for line in text.splitlines()), text

"""The README's main job: ``txsync demo`` replays the recorded Demo Exchange account offline."""

from __future__ import annotations

import io
from pathlib import Path

from txsync.cli import main


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out)
    return code, out.getvalue()


def test_demo_syncs_the_recorded_account_and_reconciles(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.sqlite3")
    code, text = run("demo", "--db", db)
    assert code == 0, text
    assert "trades        3      247  247" in text
    assert "Transactions by kind (262 in all)" in text
    assert "deposit                8  (1 pending)" in text
    assert "MISMATCH" not in text
    assert text.count("  ok\n") == 3
    assert "Staking rewards" in text
    again_code, again = run("demo", "--db", db)  # incremental: nothing new, one request
    assert again_code == 0, again
    assert "trades        0        0    0" in again
    assert "Transactions by kind (262 in all)" in again
    full_code, full = run("demo", "--db", db, "--full")
    assert full_code == 0, full
    assert "trades        3      247    0        0        247" in full  # re-read, all unchanged
    assert "deposits     46       15    0        0         15" in full


def test_summary_and_connectors(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.sqlite3")
    run("demo", "--db", db)
    code, text = run("summary", "--db", db)
    assert code == 0
    assert "1 accounts" in text
    assert "trade                247" in text
    code, text = run("connectors")
    assert code == 0
    for builtin in ("bitcoin", "bitstamp", "evm", "paymium", "binance_statement"):
        assert any(line.split()[:2] == [builtin, "available"] for line in text.splitlines()), text

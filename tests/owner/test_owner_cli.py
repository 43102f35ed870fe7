"""``txsync transfers``, ``transfers link|unlink`` and ``txsync balances``: text and the fixed JSON."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.owner.world import T0, World, hours

from txsync.cli import main
from txsync.models import Balance
from txsync.owner.ledger import OwnerLedger
from txsync.store import SqliteStore

H = "e5" * 32


def run(*argv: str) -> tuple[int, str]:
    """Exit code and stdout (asserting nothing else went to stderr when it succeeded)."""
    code, out, err = run_both(*argv)
    return code, out if code in (0, 1) else out + err


def run_both(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def db(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "owner.sqlite3"
    w = World(SqliteStore(path))
    w.account("binance", "binance")
    w.account("wallet", "bitcoin")
    ids = {
        "hash_out": w.move("binance", "-0.5", at=T0, fee="0.0002", tx_hash=H),
        "hash_in": w.move("wallet", "0.5", at=T0 + hours(1), tx_hash=H),
        "out": w.move("binance", "-1.0", at=T0 + hours(50)),
        "in": w.move("wallet", "0.99", at=T0 + hours(51)),
    }
    OwnerLedger(w.store).record_reported("wallet", [Balance(asset="BTC", amount=Decimal("2"))], as_of=T0)
    w.store.close()
    return {"db": str(path), **ids}


def test_transfers_json_has_the_fixed_fields(db: dict[str, Any]) -> None:
    code, text = run("transfers", "--json", "--db", db["db"])
    assert code == 0
    links = json.loads(text)
    assert {(x["withdrawal"], x["deposit"], x["method"], x["fee"]) for x in links} == {
        (db["hash_out"], db["hash_in"], "hash", "0.0002"),
        (db["out"], db["in"], "heuristic", "0.01"),
    }
    assert all(
        set(x) >= {"withdrawal", "deposit", "asset", "method", "fee"} and x["asset"] == "BTC" for x in links
    )


def test_transfers_text_link_and_unlink(db: dict[str, Any]) -> None:
    code, text = run("transfers", "--owner", "alice", "--db", db["db"])
    assert code == 0 and "Transfers of alice: 2 linked (1 hash, 1 heuristic)" in text
    code, text = run("transfers", "unlink", db["in"], db["out"], "--db", db["db"])
    assert code == 0 and "will not be linked again" in text
    assert len(json.loads(run("transfers", "--json", "--db", db["db"])[1])) == 1
    code, text = run("transfers", "link", db["out"], db["in"], "--json", "--db", db["db"])
    assert code == 0 and json.loads(text)["method"] == "manual"
    methods = {x["method"] for x in json.loads(run("transfers", "--json", "--db", db["db"])[1])}
    assert methods == {"hash", "manual"}


def test_transfers_refuses_bad_requests(db: dict[str, Any]) -> None:
    assert run("transfers", "link", db["out"], "--db", db["db"])[0] == 2  # a usage error (B missing)
    code, out, err = run_both("transfers", "link", db["out"], db["hash_out"], "--db", db["db"])
    assert code == 2 and err.startswith("txsync: LinkError: ") and "same account" in err
    assert out == ""  # errors never mix with what a script reads from stdout
    code, out, err = run_both("transfers", "--owner", "bob", "--json", "--db", db["db"])
    assert code == 2 and "no owner 'bob'" in err and out == ""
    code, text = run("transfers", "link", "nope", db["in"], "--db", db["db"])
    assert code == 2 and "no transaction 'nope'" in text


def test_balances_json_rows(db: dict[str, Any]) -> None:
    code, text = run("balances", "--json", "--db", db["db"])
    assert code == 1  # the wallet's computed BTC differs from the reported: the user has work to do
    rows = json.loads(text)
    wallet = next(r for r in rows if r["account_id"] == "wallet")
    assert (wallet["asset"], wallet["computed"], wallet["reported"], wallet["difference"]) == (
        "BTC",
        "1.49",
        "2",
        "-0.51",
    )
    assert all(
        set(r) >= {"account_id", "asset", "computed", "reported", "difference", "explanations"} for r in rows
    )
    binance = next(r for r in rows if r["account_id"] == "binance")
    assert binance["reported"] is None and binance["difference"] is None
    assert [e["kind"] for e in binance["explanations"]] == ["no_report", "missing_acquisition"]
    assert all({"kind", "detail"} <= set(e) for r in rows for e in r["explanations"])
    owner = next(r for r in rows if r["account_id"] is None)
    assert owner["scope"] == "owner" and owner["reported"] is None
    code, text = run("balances", "--account", "wallet", "--json", "--db", db["db"])
    assert code == 1 and [r["account_id"] for r in json.loads(text)] == ["wallet"]
    code, text = run("balances", "--account", "binance", "--json", "--db", db["db"])
    assert code == 0 and all(r["difference"] is None for r in json.loads(text))  # nothing to compare: ok


def test_balances_text(db: dict[str, Any]) -> None:
    code, text = run("balances", "--db", db["db"])
    assert code == 1
    assert "Account wallet (bitcoin)" in text and "Owner alice: every account" in text
    assert "missing_acquisition" in text and "difference = computed - reported" in text
    code, text = run("balances", "--owner", "alice", "--account", "wallet", "--db", db["db"])
    assert code == 2 and "not both" in text


def test_export_carries_the_owners_transfer_links(db: dict[str, Any], tmp_path: Path) -> None:
    """`txsync export` fills each linked transaction's `link` (both sides) from the stored links."""
    assert run("transfers", "--db", db["db"])[0] == 0  # links made and stored
    target = tmp_path / "ledger.json"
    code, _out, err = run_both("export", "--owner", "alice", "--format", "json", "-o", str(target), "--db", db["db"])
    assert code == 0, err
    by_id = {item["id"]: item for item in json.loads(target.read_text())}
    out_link, in_link = by_id[db["hash_out"]]["link"], by_id[db["hash_in"]]["link"]
    assert (out_link["role"], out_link["counterpart"], out_link["method"]) == ("withdrawal", db["hash_in"], "hash")
    assert (in_link["role"], in_link["counterpart"], in_link["fee"]) == ("deposit", db["hash_out"], "0.0002")
    assert by_id[db["out"]]["link"]["method"] == "heuristic"

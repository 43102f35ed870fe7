"""The commands in-process: connect (secrets never from argv), connections, pause / resume / remove,
sync, ledger, summary, export, exit codes, read-only commands that create nothing, -v logging."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.conftest import run, wire_demo
from txsync.cli import cli
from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox
from txsync.store import SqliteStore

pytestmark = pytest.mark.usefixtures("home")


def _env(monkeypatch: pytest.MonkeyPatch, key: str = DEMO_KEY, secret: str = DEMO_SECRET) -> None:
    monkeypatch.setenv("TXSYNC_SECRET_API_KEY", key)
    monkeypatch.setenv("TXSYNC_SECRET_API_SECRET", secret)


def _connect(monkeypatch: pytest.MonkeyPatch, *extra: str) -> dict[str, object]:
    _env(monkeypatch)
    result = run("--json", "connect", "demo", "--owner", "alice", "--label", "main", *extra)
    assert result.code == 0, result.err
    data = result.json()
    assert isinstance(data, dict)
    return data


def test_version_and_help() -> None:
    result = run("--version")
    assert result.code == 0 and result.out.strip() == "txsync 0.1.0"
    result = run("--help")
    assert result.code == 0
    for command in ("connect", "connections", "sync", "ledger", "export", "demo", "vault", "new-connector"):
        assert command in result.out
    result = run("no-such-command")
    assert result.code == 2 and "No such command" in result.err


def test_read_only_commands_on_a_missing_store_create_nothing(home: Path, tmp_path: Path) -> None:
    for argv in (["ledger"], ["connections"], ["summary"], ["sync"], ["export", "--owner", "o", "--format", "json"],
                 ["vault", "status"], ["pause", "con_x"], ["remove", "con_x", "--yes"]):
        result = run(*argv)
        assert result.code == 2, (argv, result.err)
        assert f"no txsync store at {home / 'txsync.sqlite3'}" in result.err
    missing = tmp_path / "nowhere" / "deeper" / "ledger.sqlite3"
    result = run("ledger", "--db", str(missing))
    assert result.code == 2 and str(missing) in result.err
    result = run("--db", f"sqlite:///{missing}", "summary")
    assert result.code == 2 and str(missing) in result.err
    assert not home.exists() and not (tmp_path / "nowhere").exists()
    for url in ("mysql://u:p@h/db", "sqlite://relative", "sqlite:///:memory:"):
        result = run("--db", url, "ledger")
        assert result.code == 2 and "p@" not in result.err, result.err
    assert not home.exists()


def test_connect_takes_secrets_from_the_environment_and_verifies_first(
    home: Path, demo_network: DemoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _connect(monkeypatch)
    assert data["connector_id"] == "demo" and data["owner_id"] == "alice" and data["has_credential"] is True
    assert demo_network.log == ["/v1/key"]  # verified against the source
    store = SqliteStore(home / "txsync.sqlite3")
    assert [c.id for c in store.connections_of("alice")] == [data["id"]]
    assert (home / "master.key").exists()
    raw = (home / "txsync.sqlite3").read_bytes()
    assert DEMO_SECRET.encode() not in raw and DEMO_KEY.encode() not in raw  # sealed, never in the clear
    store.close()


def test_a_secret_on_the_command_line_is_refused_and_nothing_is_created(
    home: Path, demo_network: DemoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TXSYNC_SECRET_API_KEY", DEMO_KEY)
    result = run("connect", "demo", "--owner", "alice", "--field", f"api_secret={DEMO_SECRET}")
    assert result.code == 2 and "never taken from the command line" in result.err
    assert DEMO_SECRET not in result.err + result.out
    result = run("connect", "demo", "--owner", "alice", "--no-interactive")  # api_secret missing
    assert result.code == 2 and "TXSYNC_SECRET_API_SECRET" in result.err
    _env(monkeypatch, secret="wrong-secret-0123456789")
    result = run("connect", "demo", "--owner", "alice")
    assert result.code == 1 and "AuthError" in result.err and "wrong-secret" not in result.err
    result = run("connect", "nope", "--owner", "alice")
    assert result.code == 2 and "nope" in result.err
    assert not home.exists()  # no store, no master key: a refused key leaves nothing


def test_connect_prompts_without_echo_and_reads_a_secrets_file(
    home: Path, demo_network: DemoSandbox, tmp_path: Path
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["connect", "demo", "--owner", "bob", "--interactive"],
                           input=f"{DEMO_KEY}\n{DEMO_SECRET}\n")
    assert result.exit_code == 0, result.output
    assert "API key" in result.output and DEMO_SECRET not in result.output and DEMO_KEY not in result.output
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"api_key": DEMO_KEY, "api_secret": DEMO_SECRET}))
    secrets.chmod(0o600)
    result = runner.invoke(cli, ["connect", "demo", "--owner", "bob", "--secrets-file", str(secrets)])
    assert result.exit_code == 0, result.output
    lines = tmp_path / "secrets.env"
    lines.write_text(f"# demo\napi_key={DEMO_KEY}\napi_secret = {DEMO_SECRET}\n")
    result = runner.invoke(cli, ["--json", "connect", "demo", "--owner", "carol", "--secrets-file", str(lines),
                                 "--option", "origin=2019-01-01T00:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["options"] == {"origin": "2019-01-01T00:00:00+00:00"}
    result = run("--json", "connections", "--owner", "bob")
    assert result.code == 0 and len(result.json()) == 2


def test_sync_ledger_pages_and_the_json_schema(demo_network: DemoSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    con = _connect(monkeypatch)
    result = run("--json", "sync", str(con["id"]))
    assert result.code == 0, result.err
    (report,) = result.json()
    assert report["ok"] and sum(s["new"] for s in report["streams"]) == 262
    assert {s["stream"] for s in report["streams"]} >= {"trades", "deposits"}
    result = run("ledger", "--json", "--owner", "alice")
    txs = result.json()
    assert result.code == 0 and len(txs) == 262
    for tx in txs:
        assert {"id", "account_id", "timestamp", "kind", "status", "legs"} <= set(tx)
        assert tx["timestamp"].endswith("Z") and tx["account_id"] == con["account_id"]
        for leg in tx["legs"]:
            assert {"asset", "amount", "role"} <= set(leg) and isinstance(leg["amount"], str)
    # keyset pages: --limit, the cursor on stderr, --after continues, newest first on request
    first = run("ledger", "--json", "--limit", "100")
    cursor = first.err.split("--after ")[1].strip()
    rest = run("ledger", "--json", "--after", cursor)
    assert [t["id"] for t in first.json() + rest.json()] == [t["id"] for t in txs]
    newest = run("ledger", "--json", "--order", "desc", "--limit", "5").json()
    assert [t["id"] for t in newest] == [t["id"] for t in reversed(txs)][:5]
    trades = run("ledger", "--json", "--kind", "trade", "--since", "2020-01-01").json()
    assert trades and all(t["kind"] == "trade" and t["timestamp"] >= "2020-01-01" for t in trades)
    table = run("ledger", "--account", str(con["account_id"]), "--limit", "3")
    assert table.code == 0 and len(table.out.splitlines()) == 4
    rows = list(csv.DictReader(io.StringIO(run("ledger", "--csv").out)))
    assert {r["Tx"] for r in rows} == {t["id"] for t in txs}
    assert run("ledger", "--account", "acc_nope").code == 2
    assert run("ledger", "--since", "yesterday").code == 2
    assert run("ledger", "--after", "garbage").code == 1  # a StoreError: the cursor is not ours
    again = run("sync")  # all active connections, incremental: nothing new
    assert again.code == 0 and "ok" in again.out


def test_pause_resume_remove_and_exit_codes(home: Path, demo_network: DemoSandbox,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    con = _connect(monkeypatch)
    cid = str(con["id"])
    assert run("pause", cid).out.strip() == f"{cid}: paused"
    result = run("sync", cid)
    assert result.code == 1 and "paused" in result.err
    assert run("sync").code == 0  # only active connections when none is named
    assert run("resume", cid).code == 0
    assert run("sync", cid).code == 0
    assert run("pause", "con_nope").code == 2
    result = run("remove", cid)
    assert result.code == 2 and "--yes" in result.err  # no terminal to confirm on
    result = run("--json", "remove", cid, "--yes")
    assert result.code == 0 and result.json()["removed"] == "connection"
    store = SqliteStore(home / "txsync.sqlite3")
    assert store.list_connections() == [] and store.count_transactions(str(con["account_id"])) == 262
    store.close()
    second = _connect(monkeypatch, "--account", str(con["account_id"]))
    result = run("remove", str(second["id"]), "--account", "--yes")
    assert result.code == 0 and "ledger" in result.out
    store = SqliteStore(home / "txsync.sqlite3")
    assert store.list_accounts() == [] and store.sealed_blobs() == []
    store.close()


def test_a_disabled_connection_and_a_failing_sync_exit_1(demo_network: DemoSandbox,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    con = _connect(monkeypatch)
    demo_network.api_key = "rotated-key-on-the-exchange"  # the stored key is now rejected
    result = run("sync", str(con["id"]))
    assert result.code == 1 and "disabled" in result.out
    listed = run("connections")
    assert "disabled" in listed.out


def test_verbose_logs_go_through_txsyncs_logger(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    sandbox = wire_demo(monkeypatch, DemoSandbox(faults={3: "503"}))
    con = _connect(monkeypatch)
    quiet = run("sync", str(con["id"]))
    assert quiet.code == 0 and "retry" not in quiet.err
    sandbox.faults[sandbox.requests + 2] = "503"
    loud = run("-v", "sync", str(con["id"]), "--mode", "full")
    assert loud.code == 0, loud.err
    assert "INFO txsync.retry: retry 1 of" in loud.err and "TransientError" in loud.err
    assert DEMO_SECRET not in loud.err and DEMO_KEY not in loud.err


def test_summary_connectors_and_export(demo_network: DemoSandbox, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    con = _connect(monkeypatch)
    assert run("sync", str(con["id"])).code == 0
    result = run("summary")
    assert result.code == 0 and "1 accounts" in result.out and "trade" in result.out
    data = run("--json", "summary").json()
    assert data["accounts"][0]["transactions"] == 262
    listed = run("connectors")
    assert any(line.split()[:2] == ["demo", "available"] for line in listed.out.splitlines()), listed.out
    info = {c["id"]: c for c in run("connectors", "--json").json()}
    assert [f["name"] for f in info["demo"]["credential_fields"]] == ["api_key", "api_secret"]
    assert info["demo"]["coverage_gaps"] and info["demo"]["streams"] and "options" in info["demo"]
    target = tmp_path / "out" / "koinly.csv"
    target.parent.mkdir()
    result = run("export", "--owner", "alice", "--format", "koinly", "-o", str(target))
    assert result.code == 0 and "Exported 262 transactions" in result.err
    assert target.read_text().startswith("Date,Sent Amount,Sent Currency")
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in target.parent.iterdir()] == ["koinly.csv"]  # no temporary file left
    assert len(json.loads(run("export", "--owner", "alice", "--format", "json").out)) == 262
    assert run("export", "--owner", "alice", "--format", "xml").code == 2
    assert run("export", "--owner", "bob", "--account", str(con["account_id"]), "--format", "csv").code == 2
    assert run("export", "--owner", "alice", "--format", "csv", "-o", str(tmp_path / "no" / "x.csv")).code == 2


def test_vault_status_on_a_store_without_keys_creates_no_master_key(home: Path) -> None:
    home.mkdir(parents=True)
    SqliteStore(home / "txsync.sqlite3").close()
    result = run("vault", "status")
    assert result.code == 0 and "No master key yet" in result.out
    assert not (home / "master.key").exists()
    assert run("vault", "rotate").code == 1
    assert not (home / "master.key").exists()
    assert os.listdir(home) == ["txsync.sqlite3"] or set(os.listdir(home)) <= {"txsync.sqlite3",
                                                                                 "txsync.sqlite3-wal",
                                                                                 "txsync.sqlite3-shm"}

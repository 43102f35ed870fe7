"""``txsync accounts [add-manual]``, ``txsync entries add | edit | remove`` and ``txsync import``."""

from __future__ import annotations

from pathlib import Path

from cli.conftest import run
from helpers.files import KOINLY_HEADER, TEMPLATE_HEADER


def test_manual_account_and_entries_end_to_end(home: Path) -> None:
    # a read-only command on a missing store creates nothing
    assert run("accounts").code == 2 and not home.exists()
    made = run("accounts", "add-manual", "--owner", "alice", "--label", "Cold wallet", "--json")
    assert made.code == 0, made.err
    account = made.json()["account_id"]
    assert made.json()["kind"] == "manual"
    listed = run("accounts", "--json").json()
    assert [(a["account_id"], a["label"], a["kind"]) for a in listed] == [(account, "Cold wallet", "manual")]
    assert account in run("accounts").out

    add = run("entries", "add", "--account", account, "--date", "2021-03-02T10:15:30Z",
              "--leg", "BTC:0.1", "--leg", "EUR:-4350.20", "--leg", "EUR:-4.35:fee",
              "--description", "OTC desk", "--ext", "order_id=A-1", "--value", "4350.20", "EUR", "--json")
    assert add.code == 0, add.err
    entry = add.json()
    assert entry["kind"] == "trade" and entry["legs"][2] == {"asset": "EUR", "amount": "-4.35", "role": "fee",
                                                             "wallet": None}
    assert entry["external_ids"] == {"order_id": "A-1"} and entry["value"] == {"amount": "4350.20",
                                                                                "currency": "EUR"}
    deposit = run("entries", "add", "--account", account, "--date", "2021-04-01T00:00:00+02:00",
                  "--leg", "BTC:0.5", "--tx-hash", "ab" * 32, "--json").json()
    assert deposit["kind"] == "deposit" and deposit["timestamp"] == "2021-03-31T22:00:00Z"

    edited = run("entries", "edit", deposit["entry_id"], "--leg", "BTC:0.25", "--json")
    assert edited.code == 0, edited.err
    assert edited.json()["transaction_id"] == deposit["transaction_id"]
    assert edited.json()["external_ids"] == {"tx_hash": "ab" * 32}  # what was not given stays
    summary = run("summary", "--json").json()
    assert "0.35" in str(summary)

    ledger = run("ledger", "--account", account, "--json").json()
    assert [tx["origins"] for tx in ledger] == [["manual"], ["manual"]]
    listed_entries = run("entries", "--account", account, "--json").json()
    assert [e["entry_id"] for e in listed_entries] == [entry["entry_id"], deposit["entry_id"]]

    removed = run("entries", "remove", entry["entry_id"], "--json")
    assert removed.code == 0 and removed.json()["transaction_id"] == entry["transaction_id"]
    assert len(run("ledger", "--account", account, "--include-deleted", "--json").json()) == 1

    # bad input: typed errors, exit 2, nothing stored
    for argv in (["--leg", "BTC:1.5e400"], ["--leg", "BTC"], ["--leg", "BTC:1", "--kind", "gift"]):
        bad = run("entries", "add", "--account", account, "--date", "2021-01-01T00:00:00Z", *argv)
        assert bad.code == 2, (argv, bad.out, bad.err)
    naive = run("entries", "add", "--account", account, "--date", "2021-01-01 00:00", "--leg", "BTC:1")
    assert naive.code == 2 and "naive" in naive.err
    assert run("entries", "remove", "ent_unknown").code == 2
    assert len(run("entries", "--account", account, "--json").json()) == 1
    # reconciled against nothing: its balance is what its entries say
    rows = run("balances", "--owner", "alice", "--json").json()
    row = next(r for r in rows if r["scope"] == "account" and r["asset"] == "BTC")
    assert (row["computed"], row["reported"]) == ("0.25", None)
    assert "manual account" in row["explanations"][0]["detail"]
    # the manual connection is listed but never synced
    connections = run("connections", "--json").json()
    assert [c["state"] for c in connections] == ["manual"]
    sync = run("sync", "--json")
    assert sync.code == 0 and sync.json() == []


def test_import_prints_counts_and_a_reimport_adds_nothing(home: Path, tmp_path: Path) -> None:
    account = run("accounts", "add-manual", "--owner", "alice", "--json").json()["account_id"]
    koinly = tmp_path / "history.csv"
    koinly.write_text(KOINLY_HEADER
                      + "2021-03-01 09:00 UTC,,,5000,EUR,,,5000,EUR,,SEPA in,\n"
                      + "2021-03-02 10:15:30,4350.20,EUR,0.1,BTC,4.35,EUR,4350.20,EUR,,first bitcoin,\n")
    first = run("import", str(koinly), "--account", account, "--json")
    assert first.code == 0, first.err
    data = first.json()
    assert (data["format"], data["new"], data["updated"], data["unchanged"]) == ("koinly", 2, 0, 0)
    again = run("import", str(koinly), "--account", account, "--mode", "full", "--json").json()
    assert (again["new"], again["updated"], again["unchanged"], again["connection_id"]) == (
        0, 0, 2, data["connection_id"])
    # a longer export of the same history adds only its new row; text output names the counts
    koinly.write_text(koinly.read_text() + "2021-04-01 00:00:00,,,0.0125,ETH,,,25.10,EUR,staking,,\n")
    longer = run("import", str(koinly), "--account", account)
    assert longer.code == 0 and "1 new, 0 updated" in longer.out

    # a typed-in entry of the same event as a file row merges with it
    entry = run("entries", "add", "--account", account, "--date", "2021-03-01T09:00:20Z", "--leg", "EUR:5000",
                "--json").json()
    assert entry["origins"] == ["file", "manual"]
    assert len(run("ledger", "--account", account, "--json").json()) == 3

    # the txsync template with --format and a local time zone
    template = tmp_path / "wallet.csv"
    template.write_text(TEMPLATE_HEADER + "2021-05-01 12:00:00,,deposit,ETH,1,,,,,,,\n")
    imported = run("import", str(template), "--account", account, "--format", "txsync",
                   "--timezone", "Europe/Paris", "--json").json()
    assert imported["new"] == 1
    tx = [t for t in run("ledger", "--account", account, "--json").json() if t["timestamp"].startswith("2021-05")]
    assert tx[0]["timestamp"] == "2021-05-01T10:00:00Z"

    # an unknown format is a clear error listing the known ones; a bad row stores nothing
    odd = tmp_path / "odd.csv"
    odd.write_text("When,What\n2021-01-01,1\n")
    unknown = run("import", str(odd), "--account", account)
    assert unknown.code == 1 and "koinly" in unknown.err and "cointracking" in unknown.err
    broken = tmp_path / "broken.csv"
    broken.write_text(KOINLY_HEADER + "2021-06-01 00:00:00,,,1,BTC,,,,,,,\n2021-06-02 00:00:00,,,NaN,BTC,,,,,,,\n")
    failed = run("import", str(broken), "--account", account, "--json")
    assert failed.code == 1 and failed.json()["new"] == 0 and "row 2" in failed.json()["errors"][0]
    assert run("import", str(tmp_path / "missing.csv"), "--account", account).code == 2
    assert run("import", str(koinly), "--account", "acc_nope").code == 2

"""``txsync value`` and the ``value`` object of ``txsync ledger --json``: the Demo Exchange account
synced, then valued through the price sandboxes (no network)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from cli.conftest import run
from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox
from txsync.testing import NO_SLEEP_RETRY
from txsync.valuation.sources.sandboxes import PriceSandboxes


@pytest.fixture
def prices(monkeypatch: pytest.MonkeyPatch) -> PriceSandboxes:
    sandboxes = PriceSandboxes()
    monkeypatch.setattr(
        "txsync.cli.value.price_policy", lambda _cli, _engine: sandboxes.policy(retry=NO_SLEEP_RETRY)
    )
    return sandboxes


def _synced(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("TXSYNC_SECRET_API_KEY", DEMO_KEY)
    monkeypatch.setenv("TXSYNC_SECRET_API_SECRET", DEMO_SECRET)
    connected = run("--json", "connect", "demo", "--owner", "alice", "--label", "main")
    assert connected.code == 0, connected.err
    data: dict[str, Any] = connected.json()
    assert run("sync", str(data["id"])).code == 0
    return data


def test_value_then_ledger_json_carries_each_value_with_its_provenance(
    home: Any, demo_network: DemoSandbox, prices: PriceSandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    _synced(monkeypatch)
    before = run("ledger", "--json", "--owner", "alice").json()
    assert {tx["value"]["status"] for tx in before} == {"pending"}  # not valued yet
    assert all(tx["value"]["amount"] is None for tx in before)
    result = run("value", "--owner", "alice", "--json")
    assert result.code == 0, result.err
    (owner,) = result.json()["owners"]
    report = owner["report"]
    assert (owner["owner_id"], owner["currency"]) == ("alice", "EUR")
    assert (report["valued"], report["pending"], report["unpriceable"], report["overridden"]) == (262, 0, 0, 0)
    assert report["requests"]
    txs = run("ledger", "--json", "--owner", "alice").json()
    assert len(txs) == 262
    for tx in txs:
        value = tx["value"]
        assert list(value)[:5] == ["amount", "currency", "status", "method", "source"]
        assert value["status"] == "valued" and value["currency"] == "EUR"
        assert isinstance(value["amount"], str) and Decimal(value["amount"]) >= 0
    fiat = [tx for tx in txs if tx["value"]["method"] == "fiat_leg"]
    assert fiat and all(tx["value"]["source"] is None for tx in fiat)
    for tx in fiat:
        paid = [Decimal(leg["amount"]) for leg in tx["legs"] if leg["asset"] == "EUR" and leg["role"] == "principal"]
        assert Decimal(tx["value"]["amount"]) == abs(paid[0])
    market = next(tx for tx in txs if tx["value"]["method"] == "market")
    assert market["value"]["pair"] and market["value"]["candle_time"] and market["value"]["rate"]
    # the provenance query: the value's full evidence, each leg's, the raw records behind it
    shown = run("value", "--transaction", market["id"], "--json").json()
    assert shown["value"]["source"] == market["value"]["source"] and shown["value"]["legs"]
    assert shown["value"]["price"]["pair"] == market["value"]["pair"] and shown["raws"]
    text = run("value", "--transaction", market["id"])
    assert text.code == 0 and "pair:" in text.out and "from " in text.out
    # exports carry the same values (the full JSON's value objects, the CSV's Value column)
    exported = run("export", "--owner", "alice", "--format", "json")
    assert exported.code == 0, exported.err
    by_id = {tx["id"]: tx["value"] for tx in json.loads(exported.out)}
    assert by_id[market["id"]]["amount"] == market["value"]["amount"].rstrip("0").rstrip(".")
    assert by_id[market["id"]]["status"] == "valued"
    # a second run sends nothing
    sent = sum(prices.requests.values())
    again = run("value", "--json").json()["owners"][0]["report"]
    assert again["requests"] == {} and again["kept"] == 262 and sum(prices.requests.values()) == sent


def test_other_currencies_by_fx_only_and_the_base_currency_per_owner(
    home: Any, demo_network: DemoSandbox, prices: PriceSandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    _synced(monkeypatch)
    assert run("value", "--owner", "alice").code == 0
    market_before = prices.requests["binance"] + prices.requests["coingecko"]
    result = run("value", "--owner", "alice", "--currency", "usd")
    assert result.code == 0, result.err
    assert "in USD (ECB reference rates): 262 with an amount, 0 without" in result.out
    assert prices.requests["binance"] + prices.requests["coingecko"] == market_before
    tx_id = run("ledger", "--json", "--owner", "alice").json()[0]["id"]
    shown = run("value", "--transaction", tx_id, "--currency", "USD", "--json").json()
    assert shown["value"]["currency"] == "USD" and shown["value"]["conversions"][-1]["source"] == "ecb"
    # bad input is a usage error and changes nothing
    for argv in (["--base-currency", "GBP"], ["--owner", "bob"], ["--owner", "alice", "--base-currency", "12"]):
        bad = run("value", *argv)
        assert bad.code == 2, argv
    assert run("ledger", "--json").json()[0]["value"]["currency"] == "EUR"


def test_an_override_shows_in_the_ledger_before_and_after_a_pass(
    home: Any, demo_network: DemoSandbox, prices: PriceSandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    _synced(monkeypatch)
    from txsync.store import SqliteStore

    store = SqliteStore(home / "txsync.sqlite3")
    tx = next(iter(store.transactions()))
    store.set_override(tx.id, fiat_value=Decimal("99.5"), fiat_currency="EUR")
    store.close()
    shown = {t["id"]: t["value"] for t in run("ledger", "--json").json()}
    assert (shown[tx.id]["amount"], shown[tx.id]["status"]) == ("99.5", "override")
    assert run("value", "--revalue").code == 0
    shown = {t["id"]: t["value"] for t in run("ledger", "--json").json()}
    assert (shown[tx.id]["amount"], shown[tx.id]["status"], shown[tx.id]["method"]) == (
        "99.5", "override", "override",
    )  # fmt: skip


def test_sync_with_value_values_what_it_wrote(
    home: Any, demo_network: DemoSandbox, prices: PriceSandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TXSYNC_SECRET_API_KEY", DEMO_KEY)
    monkeypatch.setenv("TXSYNC_SECRET_API_SECRET", DEMO_SECRET)
    connection = run("--json", "connect", "demo", "--owner", "alice", "--label", "main").json()
    result = run("sync", str(connection["id"]), "--value")
    assert result.code == 0, result.err
    assert "valuation (EUR): 262 valued, 0 pending, 0 unpriceable, 0 overridden" in result.out
    (report,) = run("--json", "sync", str(connection["id"]), "--value").json()
    assert report["valuation"] == {"skipped": "nothing new and nothing pending"}
    plain = run("--json", "sync", str(connection["id"])).json()[0]
    assert plain["valuation"] is None  # off unless asked

"""A Paymium account made complete by a file of its deposits.

Paymium's current API lists neither deposits nor admin credits (the connector declares both gaps). The
user imports a file (Koinly's template or txsync's) of the account's history that holds those deposits
and also rows the API gives (withdrawals, trade executions): the file's extra rows are added, the
overlapping ones merge with the API's records (no duplicate, both provenances), in either import
order, and the balances then reconcile exactly with what the sandbox reports.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from helpers.files import KOINLY_HEADER, TEMPLATE_HEADER, errors, ledger, registry, write
from txsync.connectors.paymium import Paymium
from txsync.connectors.paymium.sandbox import KEY, NOW, SECRET, PaymiumSandbox
from txsync.engine import Engine
from txsync.models import Credential
from txsync.reconcile import reconcile
from txsync.store import SqliteStore

CREDENTIAL = Credential(connector_id="paymium", secrets={"api_key": KEY, "api_secret": SECRET})


def _when(op: Any) -> str:
    return op.at.strftime("%Y-%m-%d %H:%M:%S")


def history(sandbox: PaymiumSandbox) -> tuple[list[dict[str, Any]], int]:
    """The rows a user's file of this account holds: every deposit and admin credit (the API has none),
    every executed withdrawal and the executions of the first ten trade orders (the API has those).
    Returns the rows and how many of them the API also describes."""
    rows: list[dict[str, Any]] = []
    overlap = 0
    account = sandbox.account
    for order in account.by_type("WireDeposit", "BitcoinDeposit", "AdminOrder"):
        [op] = order.operations
        rows.append({"at": _when(op), "in": (op.amount, op.currency), "hash": op.tx_hash or "",
                     "label": "reward" if order.type == "AdminOrder" else ""})
    for order in account.by_type("Transfer", "EmailTransfer"):
        if order.state != "executed":
            continue
        out = [op for op in order.operations if op.amount < 0]
        principal = next(op for op in out if not op.name.endswith("_fee"))
        fee = next((op for op in out if op.name.endswith("_fee")), None)
        rows.append({"at": _when(principal), "out": (-principal.amount, principal.currency),
                     "fee": (-fee.amount, fee.currency) if fee else None, "hash": principal.tx_hash or ""})
        overlap += 1
    trades = [o for o in account.by_type("LimitOrder", "MarketOrder") if o.state == "filled"][:10]
    for order in trades:
        executions: dict[Any, list[Any]] = {}
        for op in order.operations:
            if op.name.startswith(("btc_purchase", "btc_sale")):
                executions.setdefault(op.at, []).append(op)
        for ops in executions.values():
            if any(op.name.endswith("_incentive") for op in ops):
                continue  # a fill with a fee rebate: the file's row format has no place for it
            btc = next(op for op in ops if not op.name.endswith("_fee") and op.currency == "BTC")
            eur = next(op for op in ops if not op.name.endswith("_fee") and op.currency == "EUR")
            fee = next(op for op in ops if op.name.endswith("_fee"))
            give, get = (eur, btc) if btc.amount > 0 else (btc, eur)
            rows.append({"at": _when(btc), "out": (-give.amount, give.currency), "in": (get.amount, get.currency),
                         "fee": (-fee.amount, fee.currency)})
            overlap += 1
    return rows, overlap


def koinly(rows: list[dict[str, Any]]) -> str:
    def pair(p: tuple[Decimal, str] | None) -> str:
        return f"{p[0]},{p[1]}" if p else ","

    return KOINLY_HEADER + "".join(
        f"{r['at']},{pair(r.get('out'))},{pair(r.get('in'))},{pair(r.get('fee'))},,,{r.get('label', '')},,"
        f"{r.get('hash', '')}\n" for r in rows)


def template(rows: list[dict[str, Any]]) -> str:
    lines = []
    for i, r in enumerate(rows):
        legs = [(r[k][1], sign * r[k][0], role) for k, sign, role in
                (("out", -1, ""), ("in", 1, ""), ("fee", -1, "fee")) if r.get(k)]
        kind = "reward" if r.get("label") else ""
        for j, (asset, amount, role) in enumerate(legs):
            date = r["at"] if j == 0 else ""
            lines.append(f"{date},t{i},{kind if j == 0 else ''},{asset},{amount},{role},,,,"
                         f"{r.get('hash', '') if j == 0 else ''},,\n")
    return TEMPLATE_HEADER + "".join(lines)


async def _import(store: SqliteStore, sandbox: PaymiumSandbox, file_connector: str, text: str, *,
                  file_first: bool) -> tuple[str, str, str]:
    eng = Engine(store, registry=registry(Paymium), clock=lambda: NOW,
                 transport_for=lambda c: sandbox.transport() if c.connector_id == "paymium" else None)
    api = eng.connect("alice", CREDENTIAL, label="Paymium", verify=False).id
    account = store.get_connection(api).account_id
    path = write(Path(store.path).parent / f"history-{file_connector}.csv", text)
    file = eng.connect("alice", Credential(connector_id=file_connector), account_id=account,
                       options={"path": str(path), "page_size": 7}, label="history file", verify=False).id
    for connection in ([file, api] if file_first else [api, file]):
        report = await eng.sync(connection)
        assert report.ok, errors(report)
    return account, api, file


@pytest.mark.parametrize(("connector", "render"), [("koinly_csv", koinly), ("txsync_template", template)])
def test_a_file_of_deposits_makes_the_paymium_account_complete(tmp_path: Path, connector: str, render: Any) -> None:
    sandbox = PaymiumSandbox()
    rows, overlap = history(sandbox)
    text = render(rows)
    deposits = len(rows) - overlap
    assert deposits >= 10 and overlap >= 15

    ledgers = []
    for file_first in (False, True):
        store = SqliteStore(tmp_path / f"{connector}-{file_first}.sqlite3")
        try:
            account, api, _ = asyncio.run(_import(store, sandbox, connector, text, file_first=file_first))
            api_only = SqliteStore(tmp_path / f"api-{connector}-{file_first}.sqlite3")
            try:
                eng = Engine(api_only, registry=registry(Paymium), clock=lambda: NOW,
                             transport_for=lambda _c: sandbox.transport())
                alone = eng.connect("alice", CREDENTIAL, verify=False).id
                assert asyncio.run(eng.sync(alone)).ok
                api_count = api_only.count_transactions(api_only.get_connection(alone).account_id)
            finally:
                api_only.close()
            txs = list(store.transactions(account_id=account))
            # nothing twice: the API's transactions, plus one per deposit or credit only the file knows
            assert len(txs) == api_count + deposits
            origins = Counter(tx.origins for tx in txs)
            assert origins[("api", "file")] == overlap and origins[("file",)] == deposits
            # the balances now reconcile with what Paymium reports (pending withdrawals are debited there)
            reported = asyncio.run(Engine(store, registry=registry(Paymium), clock=lambda: NOW,
                                          transport_for=lambda _c: sandbox.transport()).reported_balances(api))
            checks = reconcile(store.balances(account, include_pending=True), reported)
            assert checks and all(check.ok for check in checks), [c for c in checks if not c.ok]
            ledgers.append(ledger(store, account))
        finally:
            store.close()
    assert ledgers[0] == ledgers[1]  # the same ledger whichever was imported first


def test_without_the_file_the_deposits_are_missing(tmp_path: Path) -> None:
    sandbox = PaymiumSandbox()
    store = SqliteStore(tmp_path / "api.sqlite3")
    try:
        eng = Engine(store, registry=registry(Paymium), clock=lambda: NOW, transport_for=lambda _c: sandbox.transport())
        api = eng.connect("alice", CREDENTIAL, verify=False).id
        report = asyncio.run(eng.sync(api))
        assert {g.gap_id for g in report.coverage_gaps} == {"deposits", "exchange_credits"}
        account = store.get_connection(api).account_id
        checks = reconcile(store.balances(account, include_pending=True), asyncio.run(eng.reported_balances(api)))
        assert {c.asset for c in checks if not c.ok} == {"BTC", "EUR"}
    finally:
        store.close()


def test_typed_in_deposits_make_the_paymium_account_complete_too(tmp_path: Path) -> None:
    """The other remedy the connector prints: the deposits typed in as manual entries (and the overlapping
    withdrawals too, which merge with the API's instead of counting twice)."""
    sandbox = PaymiumSandbox()
    rows, overlap = history(sandbox)
    store = SqliteStore(tmp_path / "manual.sqlite3")
    try:
        eng = Engine(store, registry=registry(Paymium), clock=lambda: NOW, transport_for=lambda _c: sandbox.transport())
        api = eng.connect("alice", CREDENTIAL, label="Paymium", verify=False).id
        account = store.get_connection(api).account_id
        assert asyncio.run(eng.sync(api)).ok
        api_count = store.count_transactions(account)
        typed = [r for r in rows if "out" not in r or "in" not in r]  # deposits, credits, withdrawals
        for r in typed:
            legs = [{"asset": r[k][1], "amount": str(sign * r[k][0]), "role": role}
                    for k, sign, role in (("out", -1, "principal"), ("in", 1, "principal"), ("fee", -1, "fee"))
                    if r.get(k)]
            eng.add_entry(account, timestamp=r["at"] + "Z", legs=legs,
                          kind="reward" if r.get("label") else None,
                          external_ids={"tx_hash": r["hash"]} if r.get("hash") else None)
        deposits = len(rows) - overlap
        withdrawals = len(typed) - deposits
        assert withdrawals >= 3
        txs = list(store.transactions(account_id=account))
        assert len(txs) == api_count + deposits
        origins = Counter(tx.origins for tx in txs)
        assert origins[("api", "manual")] == withdrawals and origins[("manual",)] == deposits
        reported = asyncio.run(eng.reported_balances(api))
        checks = reconcile(store.balances(account, include_pending=True), reported)
        assert checks and all(check.ok for check in checks), [c for c in checks if not c.ok]
    finally:
        store.close()

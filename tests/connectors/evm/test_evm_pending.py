"""Pending and dropped transactions where the explorer lists the mempool (Blockscout), against the
sandbox: pending with their first-seen time, stable across a full re-sync, then mined (no value
counted twice) or dropped (failed, nothing moved); Etherscan cannot list them."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from txsync.connectors.evm._pending import check_pending_row
from txsync.connectors.evm.sandbox import (
    ADDRESS_A,
    EtherscanSandbox,
    EvmChain,
    sandbox_credential,
    sandbox_harness,
)
from txsync.connectors.evm.sandbox._scenario import address
from txsync.engine import SyncMode
from txsync.errors import ConfigurationError, InvalidRecordError
from txsync.models import TransactionStatus, net_deltas
from txsync.reconcile import reconcile

ETH = 10**18
EXCHANGE = address("exchange-hot-wallet")
FRIEND = address("friend")


def blockscout() -> tuple[EtherscanSandbox, Any]:
    chain = EvmChain.scenario(filler_blocks=2)
    chain.send("incoming", EXCHANGE, ADDRESS_A, value=ETH // 4)
    chain.send("outgoing", ADDRESS_A, FRIEND, index=1, value=ETH // 8, gas_price=30 * 10**9)
    sandbox = EtherscanSandbox(chain=chain, flavor="blockscout", host="eth.blockscout.com")
    harness = sandbox_harness(
        sandbox,
        options={"base_url": "https://eth.blockscout.com/api", "beacon_withdrawals": True},
        credential=sandbox_credential(key=None),
    )
    return sandbox, harness


def sync(harness: Any, store: Any, mode: SyncMode = SyncMode.INCREMENTAL) -> Any:
    harness.connect(store)
    report = asyncio.run(harness.engine(store).sync(harness.connection_id, mode))
    assert report.ok, (report.errors, [s.errors for s in report.streams])
    return report


def by_hash(harness: Any, store: Any) -> dict[str, Any]:
    return {tx.external_ids.get("tx_hash", ""): tx for tx in store.transactions(account_id=harness.account_id)}


def reconciles(harness: Any, store: Any) -> None:
    async def reported() -> Any:
        async with harness.open_connector() as connector:
            return await connector.balances()

    checks = reconcile(store.balances(harness.account_id), asyncio.run(reported()))
    fungible = [c for c in checks if "/erc721:" not in c.asset and "/erc1155:" not in c.asset]
    assert fungible and all(c.ok for c in fungible), [c for c in fungible if not c.ok]


def test_pending_then_mined_or_dropped() -> None:
    sandbox, harness = blockscout()
    chain = sandbox.chain
    incoming, outgoing = chain.pending[0], chain.pending[1]
    store = harness.new_store()
    first = sync(harness, store)
    pending_report = next(s for s in first.streams if s.stream == "pending")
    assert pending_report.new == 2
    txs = by_hash(harness, store)
    seen_in, seen_out = txs[incoming.hash], txs[outgoing.hash]
    assert seen_in.status is TransactionStatus.PENDING and "pending" in seen_in.flags
    assert net_deltas(seen_in.legs) == {"ETH": Decimal("0.25")}
    assert net_deltas(seen_out.legs) == {"ETH": Decimal("-0.125")}
    assert "unknown_fee" in seen_out.flags  # the gas used is known once mined
    reconciles(harness, store)  # pending transactions are not in the confirmed balance

    # a full re-sync later: still pending, the same first-seen time, nothing updated
    again = sync(harness, store, SyncMode.FULL)
    assert again.total("new") == 0 and again.total("updated") == 0
    assert by_hash(harness, store)[incoming.hash].timestamp == seen_in.timestamp

    # one is mined, the other dropped (replaced by fee and evicted)
    head = chain.head
    chain.mine("incoming", head + 1)
    chain.drop("outgoing")
    third = sync(harness, store)
    assert third.total("new") == 0
    txs = by_hash(harness, store)
    mined, dropped = txs[incoming.hash], txs[outgoing.hash]
    assert mined.status is TransactionStatus.CONFIRMED
    assert net_deltas(mined.legs) == {"ETH": Decimal("0.25")}, "the pending legs are not counted twice"
    assert mined.timestamp.timestamp() == chain.time_of(head + 1)
    assert dropped.status is TransactionStatus.FAILED and "dropped" in dropped.flags
    assert net_deltas(dropped.legs) == {}
    assert store.get_cursor(harness.connection_id, "pending") == {"pending": {}}
    assert any(e.get("action") == "gettxinfo" for e in sandbox.log)
    reconciles(harness, store)
    # nothing left pending: the next sync asks the mempool and nothing else of it
    sandbox.log.clear()
    assert sync(harness, store).total("updated") == 0
    assert [e["action"] for e in sandbox.log].count("gettxinfo") == 0


def test_etherscan_lists_no_mempool() -> None:
    sandbox = EtherscanSandbox(chain=EvmChain.scenario(filler_blocks=1))
    harness = sandbox_harness(sandbox, options={"pending_transactions": True})

    async def open_it() -> None:
        async with harness.open_connector(verify=False):
            pass

    with pytest.raises(ConfigurationError, match="needs a Blockscout instance"):
        asyncio.run(open_it())
    store = sandbox_harness(sandbox).new_store()
    report = sync(sandbox_harness(sandbox), store)
    assert next(s for s in report.streams if s.stream == "pending").pages == 0
    assert not any(e.get("action") == "pendingtxlist" for e in sandbox.log)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("hash", "0x12", "not a 0x transaction hash"),
        ("from", "me", "not a 0x address"),
        ("to", 5, "not a 0x address"),
        ("value", "-1", "value"),
        ("gasPrice", "lots", "gasPrice"),
    ],
)
def test_a_malformed_pending_row_is_a_typed_error(field: str, value: Any, problem: str) -> None:
    row = EvmChain().send("x", EXCHANGE, ADDRESS_A, value=1)
    good = EvmChain(pending=[row]).pending_rows(ADDRESS_A)[0]
    assert check_pending_row(good) == good
    with pytest.raises(InvalidRecordError, match=problem):
        check_pending_row({**good, field: value})

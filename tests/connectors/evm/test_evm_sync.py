"""End to end against the Etherscan sandbox: one transaction per hash with every leg, balances that
reconcile, streams synced apart, any page cap, incremental syncs, other chains and Blockscout."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from txsync.connectors.evm import EvmWallet
from txsync.connectors.evm.sandbox import (
    ADDRESS_A,
    ADDRESS_B,
    EVM_PAID_API_KEY,
    ChainTx,
    EtherscanSandbox,
    EvmChain,
    TokenTransfer,
    sandbox_credential,
    sandbox_harness,
)
from txsync.connectors.evm.sandbox._scenario import MULTI, NFT, SPAM, USDC, WETH, tx_hash
from txsync.models import LegRole, TransactionKind, TransactionStatus, net_deltas
from txsync.reconcile import reconcile
from txsync.testing.harness import ContractHarness

ACCOUNT = "acc_contract"
SMALL = {"filler_blocks": 3}


def small_sandbox(**kw: Any) -> EtherscanSandbox:
    return EtherscanSandbox(chain=EvmChain.scenario(**SMALL), **kw)


def sync(harness: ContractHarness, store: Any = None, **kw: Any) -> Any:
    store = store or harness.new_store()
    harness.connect(store)
    report = asyncio.run(harness.engine(store).sync(harness.connection_id, **kw))
    assert report.ok, report.errors
    return store, report


def net(tx: Any) -> dict[str, Decimal]:
    return net_deltas(tx.legs)


def by_hash(store: Any) -> dict[str, Any]:
    return {
        tx.external_ids.get("tx_hash") or tx.external_ids["withdrawal_index"]: tx
        for tx in store.transactions(account_id=ACCOUNT)
    }


def legs_picture(store: Any) -> dict[str, Counter[tuple[str, Decimal, str, str | None]]]:
    return {
        tx.id: Counter((leg.asset, leg.amount, leg.role.value, leg.wallet) for leg in tx.legs)
        for tx in store.transactions(account_id=ACCOUNT)
    }


def wallet(address: str, chain: int = 1) -> str:
    return f"eip155:{chain}:{address}"


def usdc(amount: str) -> tuple[str, Decimal]:
    return f"eip155:1/erc20:{USDC.contract}", Decimal(amount)


@pytest.fixture(scope="module")
def synced() -> tuple[Any, EtherscanSandbox, ContractHarness]:
    sandbox = EtherscanSandbox()
    harness = sandbox_harness(sandbox)
    store, _ = sync(harness)
    return store, sandbox, harness


def test_one_transaction_per_hash_and_every_hash_once(synced: Any) -> None:
    store, sandbox, _ = synced
    chain: EvmChain = sandbox.chain
    own = {ADDRESS_A, ADDRESS_B}
    involved = {
        tx.hash
        for tx in chain.txs
        if own & {tx.src, tx.dst}
        or any(own & {t.src, t.dst} for t in tx.transfers if not tx.failed)
        or any(own & {c.src, c.dst} for c in tx.internals if not tx.undone(c) or c.value)
    }
    txs = by_hash(store)
    assert set(txs) == involved | {str(w.index) for w in chain.withdrawals}
    for tx in txs.values():
        assert tx.status is TransactionStatus.CONFIRMED


def test_legs_from_every_list_add_up(synced: Any) -> None:
    store, _, _ = synced
    txs = by_hash(store)
    swap = txs[tx_hash("swap")]
    assert swap.parts == 2
    assert Counter((leg.asset, leg.amount) for leg in swap.legs) == Counter(
        [
            ("ETH", Decimal("-0.003575")),
            usdc("-300"),
            (f"eip155:1/erc20:{WETH.contract}", Decimal("0.098765432109876543")),
        ]
    )
    mint = txs[tx_hash("nft-mint")]
    assert {(leg.asset, leg.amount, leg.role) for leg in mint.legs} == {
        ("ETH", Decimal("-0.00194"), LegRole.FEE),
        ("ETH", Decimal("-0.05"), LegRole.PRINCIPAL),
        (f"eip155:1/erc721:{NFT.contract}/42", Decimal(1), LegRole.PRINCIPAL),
    }
    refund = txs[tx_hash("vault-deposit-refund")]
    assert net(refund)["ETH"] == Decimal("-0.2") + Decimal("0.05") - Decimal("0.120456") * Decimal("0.02")
    payroll = txs[tx_hash("payroll")]
    assert [leg.amount for leg in payroll.legs] == [Decimal(5), Decimal(5)], (
        "two identical transfers stay two"
    )
    items = txs[tx_hash("items-in")]
    assert [(leg.asset, leg.amount) for leg in items.legs] == [
        (f"eip155:1/erc1155:{MULTI.contract}/7", Decimal(3))
    ]


def test_fee_only_when_we_sent_it_and_reverted_is_fee_only(synced: Any) -> None:
    store, _, _ = synced
    txs = by_hash(store)
    deposit = txs[tx_hash("deposit-a")]
    assert [leg.role for leg in deposit.legs] == [LegRole.PRINCIPAL], "a deposit carries no fee of ours"
    usdc_in = txs[tx_hash("usdc-in")]
    assert all(leg.role != LegRole.FEE for leg in usdc_in.legs)
    reverted = txs[tx_hash("reverted-swap")]
    assert reverted.kind is TransactionKind.FEE and "reverted" in reverted.flags
    # the fee, and a zero leg from the internal list's part (its reverted refund moved nothing)
    assert [(leg.amount, leg.role) for leg in reverted.legs if leg.amount] == [
        (Decimal("-0.00091356"), LegRole.FEE)
    ]
    assert net(reverted) == {"ETH": Decimal("-0.00091356")} and "reverted_trace" in reverted.flags
    cancel = txs[tx_hash("cancel")]
    assert cancel.kind is TransactionKind.FEE and [leg.role for leg in cancel.legs] == [LegRole.FEE]


def test_transfers_between_own_addresses_are_internal(synced: Any) -> None:
    store, _, _ = synced
    txs = by_hash(store)
    eth = txs[tx_hash("b-to-a")]
    assert eth.kind is TransactionKind.TRANSFER and "internal_transfer" in eth.flags
    assert net(eth) == {"ETH": Decimal("-0.00042")}, "only B's fee leaves the wallet"
    assert {leg.wallet for leg in eth.legs} == {wallet(ADDRESS_A), wallet(ADDRESS_B)}
    token = txs[tx_hash("b-usdc-to-a-2")]
    assert "internal_transfer" in token.flags
    assert net(token) == {"ETH": Decimal("-0.00102")}


def test_spam_and_odd_tokens_are_kept_and_flagged(synced: Any) -> None:
    store, _, _ = synced
    txs = by_hash(store)
    spam = txs[tx_hash("spam-airdrop")]
    assert spam.kind is TransactionKind.AIRDROP and "spam_suspect" in spam.flags
    assert spam.legs[0].amount == Decimal(1_000_000)
    assert spam.meta["tokens"][f"eip155:1/erc20:{SPAM.contract}"]["symbol"] == "ETHBonus"
    odd = txs[tx_hash("odd-token")]
    assert "unknown_decimals" in odd.flags and odd.legs[0].amount == Decimal(123_456_789)
    poison = txs[tx_hash("poisoning")]
    assert {"zero_value", "spam_suspect"} <= poison.flags and net(poison) == {}


def test_spam_is_judged_per_transfer_and_a_call_by_someone_else_is_not_spam(synced: Any) -> None:
    store, _, _ = synced
    txs = by_hash(store)
    spam_asset = f"eip155:1/erc20:{SPAM.contract}"
    swap = txs[tx_hash("swap-with-spam")]
    assert swap.kind is TransactionKind.TRADE and "spam_suspect" not in swap.flags
    assert f"spam_asset:{spam_asset}" in swap.flags
    assert net(swap)[f"eip155:1/erc20:{WETH.contract}"] == Decimal("0.016")
    assert net(swap)[spam_asset] == Decimal(777)
    airdrop = txs[tx_hash("spam-airdrop")]
    assert f"spam_asset:{spam_asset}" in airdrop.flags
    multisig = txs[tx_hash("multisig-exec")]
    assert multisig.flags == {"incoming_call"} and multisig.kind is TransactionKind.OTHER
    assert multisig.description is not None and "execTransaction" in multisig.description
    assert net(multisig) == {}, "another owner paid the gas"


def test_internal_transfers_inside_a_reverted_call_move_nothing(synced: Any) -> None:
    store, sandbox, _ = synced
    tx = by_hash(store)[tx_hash("partial-revert")]
    chain_tx = next(t for t in sandbox.chain.txs if t.label == "partial-revert")
    assert net(tx) == {"ETH": (Decimal(10**18 // 50) - chain_tx.fee) / 10**18}
    assert "reverted_trace" in tx.flags


def test_beacon_withdrawals(synced: Any) -> None:
    store, _, _ = synced
    txs = by_hash(store)
    rewards = [txs[str(i)] for i in range(40_000_000, 40_000_003)]
    assert all(tx.kind is TransactionKind.REWARD and tx.legs[0].role is LegRole.REWARD for tx in rewards)
    assert rewards[0].legs[0].amount == Decimal("0.018734221")
    exit_ = txs["40000003"]
    assert exit_.kind is TransactionKind.TRANSFER and "validator_exit" in exit_.flags


def test_balances_reconcile_with_what_the_chain_reports(synced: Any) -> None:
    """The balance computed from the normalized transactions equals the balance the sandbox chain
    reports (``balancemulti`` and ``tokenbalance``), per asset and per address. NFT holdings are not
    reported by the API (a declared coverage gap) and are checked against the chain directly."""
    store, sandbox, harness = synced

    async def reported() -> Any:
        async with harness.open_connector() as connector:
            return await connector.balances()

    balances = asyncio.run(reported())
    checks = reconcile(store.balances(ACCOUNT), balances)
    fungible = [c for c in checks if "/erc721:" not in c.asset and "/erc1155:" not in c.asset]
    assert fungible and all(c.ok for c in fungible), [c for c in fungible if not c.ok]
    assert {c.asset for c in fungible} >= {"ETH", usdc("0")[0]}
    per_wallet = store.wallet_balances(ACCOUNT)
    for balance in balances:
        assert per_wallet[(balance.asset, balance.wallet)] == balance.amount
    eth_a = next(b for b in balances if b.asset == "ETH" and b.wallet == wallet(ADDRESS_A))
    assert eth_a.amount == Decimal(sandbox.chain.balance(ADDRESS_A)) / 10**18
    nfts = {c.asset: c.computed for c in checks if "/erc721:" in c.asset or "/erc1155:" in c.asset}
    assert nfts == {f"eip155:1/erc721:{NFT.contract}/42": 1, next(a for a in nfts if "erc1155" in a): 3}


def test_streams_synced_in_separate_runs_add_up_to_the_same_ledger(synced: Any) -> None:
    store, _, _ = synced
    sandbox = EtherscanSandbox()
    harness = sandbox_harness(sandbox)
    apart = harness.new_store()
    names = ["beacon_withdrawals", "erc1155", "erc721", "erc20", "internal", "normal"]
    for name in names:
        sync(harness, apart, streams=[name])
    assert legs_picture(apart) == legs_picture(store)
    assert apart.balances(ACCOUNT) == store.balances(ACCOUNT)


@pytest.mark.parametrize(
    ("cap", "page_size", "key"),
    [(7, 10_000, None), (None, 10_000, EVM_PAID_API_KEY), (3, 4, None)],
    ids=["server-cap-below-offset", "one-page-paid", "tiny-pages"],
)
def test_the_ledger_does_not_depend_on_the_page_cap(
    synced: Any, cap: int | None, page_size: int, key: str | None
) -> None:
    store, _, _ = synced
    sandbox = EtherscanSandbox(record_cap=cap)
    credential = sandbox_credential(key=key) if key else None
    other, _ = sync(sandbox_harness(sandbox, options={"page_size": page_size}, credential=credential))
    assert legs_picture(other) == legs_picture(store)


def test_incremental_sync_reads_only_what_is_new() -> None:
    sandbox = small_sandbox()
    harness = sandbox_harness(sandbox)
    store, _ = sync(harness)
    before = sandbox.requests
    _, report = sync(harness, store)
    assert report.total("new") == 0 and report.total("updated") == 0
    # verify + one empty answer per list and address (the beacon list too)
    assert sandbox.requests - before == 1 + 6 * 2
    head = sandbox.chain.head + 5
    sandbox.chain.txs.append(ChainTx("late-deposit", head, 0, ADDRESS_B, ADDRESS_A, value=10**17))
    sandbox.chain.txs.append(
        ChainTx(
            "late-usdc",
            head,
            1,
            ADDRESS_A,
            USDC.contract,
            gas_used=50_000,
            function="transfer(address,uint256)",
            transfers=[TokenTransfer(USDC, ADDRESS_A, "0x" + "cd" * 20, 2_000_000)],
        )
    )
    _, report = sync(harness, store)
    counts = {s.stream: (s.new, s.updated) for s in report.streams}
    assert counts["normal"] == (2, 0)
    assert counts["erc20"] == (0, 1), "the token leg joins the transaction the normal list created"
    assert report.total("unchanged") == 0
    txs = by_hash(store)
    assert net(txs[tx_hash("late-usdc")]) == {usdc("0")[0]: Decimal(-2), "ETH": Decimal("-0.001")}


def test_since_latest_resumes_from_the_newest_transaction() -> None:
    sandbox = small_sandbox()
    harness = sandbox_harness(sandbox)
    store, _ = sync(harness)
    _, report = sync(harness, store, mode="since_latest")
    assert report.total("new") == 0 and report.total("updated") == 0
    assert any(entry.get("action") == "getblocknobytime" for entry in sandbox.log)


def test_same_code_path_on_polygon() -> None:
    sandbox = EtherscanSandbox(chain=EvmChain.scenario(**SMALL), chain_id=137)
    store, report = sync(sandbox_harness(sandbox, options={"chain_id": 137}))
    beacon = next(s for s in report.streams if s.stream == "beacon_withdrawals")
    assert beacon.requests == 0, "beacon withdrawals exist on Ethereum only"
    assets = {leg.asset for tx in store.transactions(account_id=ACCOUNT) for leg in tx.legs}
    assert "POL" in assets and "ETH" not in assets
    assert f"eip155:137/erc20:{USDC.contract}" in assets
    assert all(entry["chainid"] == "137" for entry in sandbox.log)


def test_blockscout_instance_without_key() -> None:
    sandbox = EtherscanSandbox(
        chain=EvmChain.scenario(**SMALL), flavor="blockscout", host="eth.blockscout.com"
    )
    harness = sandbox_harness(
        sandbox,
        options={"base_url": "https://eth.blockscout.com/api"},
        credential=sandbox_credential(key=None),
    )
    store, _ = sync(harness)
    assert all("chainid" not in entry and "apikey" not in entry for entry in sandbox.log)
    etherscan, _ = sync(sandbox_harness(small_sandbox(), options={"beacon_withdrawals": False}))
    assert legs_picture(store) == legs_picture(etherscan)


def test_connector_is_what_the_entry_point_names() -> None:
    assert EvmWallet.info.id == "evm"

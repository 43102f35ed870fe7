"""End to end: one owner with a Binance account, a Bitcoin wallet and an Ethereum wallet (the three
connectors' sandboxes, sharing transfers: see ``story.py``), synced by the engine from cassettes in
``cassettes/owner/`` (``TXSYNC_RECORD=1`` records them from the sandboxes).

Withdrawals and deposits link by hash and by heuristic with the right fees; a wrong link undone by the
user stays undone through re-syncs and a full re-link; a deleted deposit and a missing early buy are
both explained; every account lists its coverage gaps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.owner.story import Story, build

from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import KEY, NOW, SECRET, BinanceSandbox
from txsync.connectors.bitcoin import BitcoinWallet
from txsync.connectors.bitcoin.sandbox import BIP84_ZPUB, EsploraSandbox
from txsync.connectors.evm import EvmWallet
from txsync.connectors.evm.sandbox import ADDRESS_A, EVM_API_KEY, EtherscanSandbox
from txsync.engine import Engine, InMemoryCredentials, SyncMode
from txsync.models import Credential, LegRole
from txsync.owner import ExplanationKind, LinkMethod
from txsync.owner.hook import OwnerSyncHook
from txsync.owner.ledger import OwnerLedger
from txsync.registry import Registry
from txsync.store import SqliteStore
from txsync.testing import check_cassettes_clean
from txsync.testing.cassettes import RecordSource, cassette_vcr, offline_transport, record_source

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "owner"
OWNER = "alice"
CREDENTIALS = {
    "binance": Credential(connector_id="binance", secrets={"api_key": KEY, "api_secret": SECRET}),
    "bitcoin": Credential(connector_id="bitcoin", public={"xpub_or_address": BIP84_ZPUB}),
    "evm": Credential(connector_id="evm", public={"addresses": ADDRESS_A}, secrets={"api_key": EVM_API_KEY}),
}
OPTIONS: dict[str, dict[str, Any]] = {
    "binance": {"origin": "2024-01-01", "trades_page_size": 50, "rate_limit": "simulated"},
    "bitcoin": {"requests_per_second": 0, "gap_limit": 5},
    "evm": {"chain_id": 1, "page_size": 50, "calls_per_second": 1000, "token_balances": False},
}
SECRETS = [v for c in CREDENTIALS.values() for v in c.secret_values()]


def _recording() -> bool:
    return record_source() is RecordSource.SANDBOX


class Owner:
    """The owner's store, engine and cassettes."""

    def __init__(self, story: Story, path: Path) -> None:
        self.story = story
        self.store = SqliteStore(path)
        registry = Registry(entry_points=[])
        for cls in (Binance, BitcoinWallet, EvmWallet):
            registry.register(cls)
        sandboxes = {
            "binance": lambda: BinanceSandbox(account=story.binance, enforce_limits=False).transport(),
            "bitcoin": lambda: EsploraSandbox(wallet=story.wallet).transport(),
            "evm": lambda: EtherscanSandbox(chain=story.evm).transport(),
        }

        def transport(connection: Any) -> httpx.AsyncBaseTransport:
            return sandboxes[connection.connector_id]() if _recording() else offline_transport()

        self.engine = Engine(
            self.store,
            registry=registry,
            credentials=InMemoryCredentials(),
            transport_for=transport,
            clock=lambda: NOW,
            hooks=[OwnerSyncHook(refresh_balances=True)],
        )
        self.vcr = cassette_vcr(CASSETTES, secrets=SECRETS)
        for name in CREDENTIALS:
            self.store.add_account(OWNER, name, account_id=f"acc-{name}", now=NOW)
        self.connections = {
            name: self.engine.connect(
                OWNER,
                CREDENTIALS[name],
                account_id=f"acc-{name}",
                connection_id=f"con-{name}",
                options=OPTIONS[name],
                verify=False,
            )
            for name in CREDENTIALS
        }
        self.ledger = OwnerLedger(self.store)

    async def sync(self, name: str, mode: SyncMode = SyncMode.INCREMENTAL) -> Any:
        with self.vcr.use_cassette(f"{name}.yaml"):
            report = await self.engine.sync(self.connections[name].id, mode)
        assert report.ok, (report.errors, [s.errors for s in report.streams])
        assert not [w for w in report.warnings if "failed" in w or "not refreshed" in w], report.warnings
        return report

    def tx(self, account: str, **external: str) -> str:
        """The id of the account's transaction whose external ids include ``external``."""
        found = [
            t.id
            for t in self.store.transactions(account_id=f"acc-{account}", include_deleted=True)
            if all(t.external_ids.get(k) == v for k, v in external.items())
        ]
        assert len(found) == 1, (account, external, found)
        return found[0]

    def by_amount(self, account: str, asset: str, amount: str) -> str:
        found = [
            t.id
            for t in self.store.transactions(account_id=f"acc-{account}")
            if any(
                leg.asset == asset and leg.amount == Decimal(amount) and leg.role == LegRole.PRINCIPAL
                for leg in t.legs
            )
        ]
        assert len(found) == 1, (account, asset, amount, found)
        return found[0]


@pytest.fixture(scope="module")
def story() -> Story:
    if _recording():
        CASSETTES.mkdir(parents=True, exist_ok=True)
        for name in CREDENTIALS:
            (CASSETTES / f"{name}.yaml").unlink(missing_ok=True)
    return build()


async def test_one_owner_three_accounts(story: Story, tmp_path: Path) -> None:
    owner = Owner(story, tmp_path / "owner.sqlite3")
    for name in ("binance", "bitcoin", "evm"):
        await owner.sync(name)
    ledger = owner.ledger
    links = {(x.withdrawal, x.deposit): x for x in ledger.transfers(OWNER)}
    h = story.hashes

    # -- by hash, with the declared fees -------------------------------------------------------------
    btc_out = links[(owner.tx("binance", tx_hash=h["btc_out"]), owner.tx("bitcoin", txid=h["btc_out"]))]
    assert (btc_out.method, btc_out.matched_on, btc_out.fee, btc_out.fee_leg) == (
        LinkMethod.HASH,
        "tx_hash",
        Decimal("0.0002"),
        Decimal(0),
    )
    btc_in = links[(owner.tx("bitcoin", txid=h["btc_in"]), owner.tx("binance", tx_hash=h["btc_in"]))]
    assert (btc_in.method, btc_in.fee, btc_in.received) == (
        LinkMethod.HASH,
        Decimal("0.00003"),
        Decimal("0.2"),
    )
    eth_in = links[(owner.tx("evm", tx_hash=h["eth_in"]), owner.tx("binance", tx_hash=h["eth_in"]))]
    gas = Decimal(21_000 * 30) / Decimal(10**9)
    assert (eth_in.method, eth_in.fee, eth_in.declared_fee) == (LinkMethod.HASH, gas, gas)

    # -- by heuristic: one assignment, not first come; the difference is an explicit fee leg --------
    w1 = owner.by_amount("binance", "BTC", "-0.3")
    w2 = owner.by_amount("binance", "BTC", "-0.25")
    d1 = owner.tx("bitcoin", txid=h["d1"])
    d2 = owner.tx("bitcoin", txid=h["d2"])
    assert links[(w1, d2)].method == links[(w2, d1)].method == LinkMethod.HEURISTIC
    assert (links[(w1, d2)].fee, links[(w2, d1)].fee) == (Decimal("0.001"), Decimal(0))
    eth_out = links[(owner.by_amount("binance", "ETH", "-2"), owner.tx("evm", tx_hash=h["eth_out_received"]))]
    assert (eth_out.method, eth_out.fee, eth_out.fee_leg) == (
        LinkMethod.HEURISTIC,
        Decimal("0.005"),
        Decimal("0.005"),
    )
    legs = ledger.transfer_legs(eth_out)
    assert [(leg.amount, leg.role) for leg in legs if leg.amount] == [
        (Decimal("-1.995"), LegRole.PRINCIPAL),
        (Decimal("-0.005"), LegRole.FEE),
    ]

    # -- the wrong link, undone by the user, stays undone ---------------------------------------------
    paid = owner.tx("evm", tx_hash=h["wrong_out"])
    credited = owner.by_amount("binance", "ETH", "0.79")
    assert links[(paid, credited)].method == LinkMethod.HEURISTIC
    assert len(links) == 7
    ledger.unlink_transactions(credited, paid)
    for name in ("binance", "bitcoin", "evm"):
        await owner.sync(name)  # incremental re-syncs: the hook re-links what they wrote
    await owner.sync("evm", SyncMode.FULL)
    ledger.link(OWNER, full=True)
    now = {(x.withdrawal, x.deposit) for x in ledger.transfers(OWNER)}
    assert (paid, credited) not in now and now == set(links) - {(paid, credited)}

    # -- balances explained: a deleted deposit, a missing early buy ------------------------------------
    gone = owner.tx("binance", tx_hash=story.deleted_deposit["txId"])
    owner.store.delete_transaction(gone, reason="looked like a duplicate")
    rows = ledger.balances(owner_id=OWNER)
    coin = story.deleted_deposit["coin"]
    row = next(r for r in rows if r.account_id == "acc-binance" and r.asset == coin)
    assert row.difference == -Decimal(story.deleted_deposit["amount"])
    assert row.explanations[0].kind == ExplanationKind.DELETED and row.explanations[0].accounts_for_difference
    assert row.explanations[0].transactions == (gone,)
    sol = next(r for r in rows if r.account_id == "acc-binance" and r.asset == "SOL")
    assert (sol.computed, sol.reported, sol.difference) == (Decimal(-10), Decimal(15), Decimal(-25))
    missing = next(e for e in sol.explanations if e.kind == ExplanationKind.MISSING_ACQUISITION)
    assert missing.amount == Decimal(-10) and missing.at == datetime(2024, 4, 10, 9, tzinfo=UTC)
    assert "launchpad" in {e.gap_id for e in sol.explanations if e.kind == ExplanationKind.COVERAGE_GAP}
    # the wallets reconcile exactly, and their gaps are listed all the same
    for account in ("acc-bitcoin", "acc-evm"):
        assert all(r.status == "ok" for r in rows if r.account_id == account), account
    assert {g.gap_id for g in ledger.gaps("acc-bitcoin")} == {"off_chain"}
    assert {"nft_balances", "rebasing_tokens"} <= {g.gap_id for g in ledger.gaps("acc-evm")}
    assert {"launchpad", "card", "mining"} <= {g.gap_id for g in ledger.account_status("acc-binance").gaps}
    owner.store.close()


def test_the_cassettes_hold_no_secret() -> None:
    assert check_cassettes_clean(CASSETTES, SECRETS) == 3

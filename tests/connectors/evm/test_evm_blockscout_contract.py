"""The EVM connector meets the connector contract through a Blockscout instance, whose mempool list
makes the ``pending`` stream run: cassettes recorded from the sandbox's Blockscout flavor with two
transactions waiting in the mempool.

Record with ``TXSYNC_RECORD=1 pytest tests/connectors/evm/test_evm_blockscout_contract.py`` (writes
``cassettes/evm_blockscout/*.yaml``); replayed offline otherwise.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx

from txsync.connectors.evm import EvmWallet
from txsync.connectors.evm.sandbox import ADDRESS_A, ADDRESS_B, EtherscanSandbox, EvmChain
from txsync.connectors.evm.sandbox._scenario import address
from txsync.models import Credential
from txsync.testing import ConnectorContract

CASSETTES = Path(__file__).resolve().parents[3] / "cassettes" / "evm_blockscout"
HOST = "eth.blockscout.com"


def blockscout_sandbox() -> EtherscanSandbox:
    """The scenario (small) on a Blockscout instance, with an incoming and an outgoing transaction
    waiting in the mempool."""
    chain = EvmChain.scenario(filler_blocks=3)
    chain.send("mempool-in", address("exchange-hot-wallet"), ADDRESS_A, value=10**17)
    chain.send("mempool-out", ADDRESS_B, address("friend"), index=1, value=3 * 10**16)
    return EtherscanSandbox(chain=chain, flavor="blockscout", host=HOST)


class TestEvmBlockscoutContract(ConnectorContract):
    """Two addresses on Ethereum through a Blockscout instance (no key), pending transactions included."""

    connector_class = EvmWallet
    credential = Credential(connector_id="evm", public={"addresses": f"{ADDRESS_A}, {ADDRESS_B}"})
    options = {
        "chain_id": 1,
        "base_url": f"https://{HOST}/api",
        "page_size": 20,
        "calls_per_second": 1000,
        "beacon_withdrawals": True,
    }
    cassette_dir = CASSETTES

    def recording_transport(self) -> httpx.AsyncBaseTransport | None:
        return blockscout_sandbox().transport()

    def now(self) -> datetime:
        return blockscout_sandbox().now

    def sandbox_records(self) -> dict[str, int]:
        """Rows of each list over both addresses (a row in both lists once), plus the mempool."""
        sandbox = blockscout_sandbox()
        chain = sandbox.chain
        actions = {"normal": "txlist", "internal": "txlistinternal", "erc20": "tokentx", "erc721": "tokennfttx",
                   "erc1155": "token1155tx", "beacon_withdrawals": "txsBeaconWithdrawal"}  # fmt: skip
        counts = {}
        for stream, action in actions.items():
            seen: Counter[str] = Counter()
            for who in (ADDRESS_A, ADDRESS_B):
                seen |= Counter(json.dumps(row, sort_keys=True) for row in chain.rows(action, who, "blockscout"))
            counts[stream] = sum(seen.values())
        counts["pending"] = len(chain.pending)
        return counts

"""The EVM connector meets the connector contract, on cassettes recorded from the Etherscan sandbox.

Record with ``TXSYNC_RECORD=1 pytest tests/connectors/evm/test_evm_contract.py`` (writes
``cassettes/evm/*.yaml``); replayed offline otherwise.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx

from txsync.connectors.evm import EvmWallet
from txsync.connectors.evm.sandbox import ADDRESS_A, ADDRESS_B, EVM_API_KEY, EtherscanSandbox
from txsync.models import Credential
from txsync.testing import ConnectorContract

CASSETTES = Path(__file__).resolve().parents[3] / "cassettes" / "evm"


class TestEvmContract(ConnectorContract):
    """Two addresses on Ethereum through Etherscan v2, pages of 20 rows (several pages for the normal list)."""

    connector_class = EvmWallet
    credential = Credential(
        connector_id="evm",
        public={"addresses": f"{ADDRESS_A}, {ADDRESS_B}"},
        secrets={"api_key": EVM_API_KEY},
    )
    options = {"chain_id": 1, "page_size": 20, "calls_per_second": 1000}
    cassette_dir = CASSETTES

    def recording_transport(self) -> httpx.AsyncBaseTransport | None:
        return EtherscanSandbox().transport()

    def now(self) -> datetime:
        return EtherscanSandbox().now

    def sandbox_records(self) -> dict[str, int]:
        """Rows of each list over both addresses: a row in both lists (a move between the two) once,
        identical rows of one list (a batch paying the same twice) each."""
        import json
        from collections import Counter

        chain = EtherscanSandbox().chain
        actions = {"normal": "txlist", "internal": "txlistinternal", "erc20": "tokentx", "erc721": "tokennfttx",
                   "erc1155": "token1155tx", "beacon_withdrawals": "txsBeaconWithdrawal"}
        counts = {}
        for stream, action in actions.items():
            seen: Counter[str] = Counter()
            for who in (ADDRESS_A, ADDRESS_B):
                mine = Counter(json.dumps(row, sort_keys=True) for row in chain.rows(action, who))
                seen |= mine  # the most times one list holds a row
            counts[stream] = sum(seen.values())
        return counts

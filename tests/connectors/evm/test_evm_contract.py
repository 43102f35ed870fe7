"""The EVM connector meets the connector contract, on cassettes recorded from the Etherscan sandbox.

Record with ``TXSYNC_RECORD=1 pytest tests/connectors/evm/test_evm_contract.py`` (writes
``cassettes/evm/*.yaml``); replayed offline otherwise.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from txsync.connectors.evm import EvmWallet
from txsync.models import Credential
from txsync.testing import ConnectorContract, record_source
from txsync.testing.cassettes import RecordSource
from txsync.testing.sandboxes.evm import ADDRESS_A, ADDRESS_B, EVM_API_KEY, EtherscanSandbox

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

    @pytest.mark.skipif(record_source() is not RecordSource.REPLAY, reason="recording run")
    def test_replay_needs_neither_the_sandbox_nor_the_network(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With the sandbox and every socket unreachable, the cassettes still replay."""

        def unreachable(*_args: object, **_kw: object) -> None:
            raise AssertionError("the replay reached the sandbox or the network")

        monkeypatch.setattr(EtherscanSandbox, "handle", unreachable)
        monkeypatch.setattr(socket.socket, "connect", unreachable)

        async def scenario() -> None:
            with self.cassette("full_sync") as harness:
                run = await harness.check_full_sync()
                await harness.check_normalization(run)

        asyncio.run(scenario())

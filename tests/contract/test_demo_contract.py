"""The contract kit's self-test: the Demo Exchange against its cassettes in ``cassettes/demo/``.

Recorded from :class:`~txsync.connectors.demo.sandbox.DemoSandbox` with ``TXSYNC_RECORD=1``; replayed
(without any sandbox, through a transport that refuses every request) otherwise.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from txsync.connectors.demo import DemoExchange
from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox
from txsync.models import Credential
from txsync.testing import ConnectorContract, record_source
from txsync.testing.cassettes import RecordSource

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "demo"


class TestDemoContract(ConnectorContract):
    """The Demo Exchange meets the connector contract."""

    connector_class = DemoExchange
    credential = Credential(connector_id="demo", secrets={"api_key": DEMO_KEY, "api_secret": DEMO_SECRET})
    options = {}
    cassette_dir = CASSETTES

    def recording_transport(self) -> httpx.AsyncBaseTransport | None:
        return DemoSandbox().transport()

    def now(self) -> datetime:
        return DemoSandbox().clock()

    def sandbox_records(self) -> dict[str, int]:
        account = DemoSandbox().account
        return {"trades": len(account.trades), "deposits": len(account.deposits)}

    @pytest.mark.skipif(record_source() is not RecordSource.REPLAY, reason="recording run")
    def test_replay_needs_neither_the_sandbox_nor_the_network(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With the sandbox and every socket made unreachable, the cassettes still replay; a request
        that is not in a cassette fails instead of going anywhere."""

        def unreachable(*_args: object, **_kw: object) -> None:
            raise AssertionError("the replay reached the sandbox or the network")

        monkeypatch.setattr(DemoSandbox, "handle", unreachable)
        monkeypatch.setattr(socket.socket, "connect", unreachable)

        async def scenario() -> None:
            with self.cassette("full_sync") as harness:
                run = await harness.check_full_sync()
                await harness.check_normalization(run)
            with (
                self.cassette("future_cursor") as harness,  # holds nothing but /v1/key
                pytest.raises(AssertionError, match="CannotOverwriteExistingCassetteException"),
            ):
                await harness.check_full_sync()

        asyncio.run(scenario())

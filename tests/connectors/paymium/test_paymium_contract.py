"""The Paymium connector meets the connector contract, on cassettes in ``cassettes/paymium/``.

Recorded from :class:`~txsync.testing.sandboxes.paymium.PaymiumSandbox` with ``TXSYNC_RECORD=1``
(or from the live API with ``TXSYNC_RECORD=live`` and ``TXSYNC_LIVE_PAYMIUM_API_KEY`` /
``TXSYNC_LIVE_PAYMIUM_API_SECRET``); replayed offline otherwise.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from txsync.connectors.paymium import Paymium
from txsync.models import Credential
from txsync.testing import ConnectorContract, record_source
from txsync.testing.cassettes import RecordSource
from txsync.testing.sandboxes.paymium import KEY, NOW, SECRET, PaymiumSandbox

CASSETTES = Path(__file__).resolve().parents[3] / "cassettes" / "paymium"


class TestPaymiumContract(ConnectorContract):
    """Paymium against its cassettes."""

    connector_class = Paymium
    credential = Credential(connector_id="paymium", secrets={"api_key": KEY, "api_secret": SECRET})
    options = {}
    cassette_dir = CASSETTES

    def recording_transport(self) -> httpx.AsyncBaseTransport | None:
        return PaymiumSandbox().transport()

    def now(self) -> datetime:
        return NOW

    @pytest.mark.skipif(record_source() is not RecordSource.REPLAY, reason="recording run")
    def test_replay_needs_neither_the_sandbox_nor_the_network(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With the sandbox and every socket unreachable, the full sync still replays."""

        def unreachable(*_args: object, **_kw: object) -> None:
            raise AssertionError("the replay reached the sandbox or the network")

        monkeypatch.setattr(PaymiumSandbox, "handle", unreachable)
        monkeypatch.setattr(socket.socket, "connect", unreachable)

        async def scenario() -> None:
            with self.cassette("full_sync") as harness:
                run = await harness.check_full_sync()
                await harness.check_normalization(run)

        asyncio.run(scenario())

"""The Bitcoin connector meets the connector contract, on cassettes in ``cassettes/bitcoin/``.

Recorded from :class:`~txsync.testing.sandboxes.bitcoin.EsploraSandbox` (the BIP84 test wallet on a
Blockstream-style instance that throttles every 9th request with a 429 without Retry-After) with
``TXSYNC_RECORD=1``; replayed offline otherwise.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from txsync.connector import Cursor
from txsync.connectors.bitcoin import BitcoinWallet
from txsync.connectors.bitcoin._stream import cursor_progress
from txsync.models import Credential, net_deltas
from txsync.reconcile import reconcile
from txsync.testing import ConnectorContract, record_source
from txsync.testing.cassettes import RecordSource
from txsync.testing.sandboxes.bitcoin import BIP84_ZPUB, EsploraSandbox

CASSETTES = Path(__file__).resolve().parents[3] / "cassettes" / "bitcoin"


class TestBitcoinContract(ConnectorContract):
    """The Bitcoin wallet connector meets the connector contract."""

    connector_class = BitcoinWallet
    credential = Credential(connector_id="bitcoin", public={"xpub_or_address": BIP84_ZPUB})
    # no client-side limiter (the sandbox throttles instead); a gap of 5 keeps the cassettes small
    options = {"requests_per_second": 0, "gap_limit": 5}
    cassette_dir = CASSETTES

    def recording_transport(self) -> httpx.AsyncBaseTransport | None:
        return EsploraSandbox(throttle_every=9).transport()

    def now(self) -> datetime:
        return EsploraSandbox().now()

    def compare_cursors(self, stream: str, before: Cursor, after: Cursor) -> int | None:
        a, b = cursor_progress(before), cursor_progress(after)
        return None if a == b else (1 if b > a else -1)

    @pytest.mark.skipif(record_source() is not RecordSource.REPLAY, reason="recording run")
    def test_replay_needs_neither_the_sandbox_nor_the_network(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With the sandbox and every socket unreachable the cassette still replays, and the balance
        computed from its normalized transactions equals the balance the recorded stats report."""

        def unreachable(*_args: object, **_kw: object) -> None:
            raise AssertionError("the replay reached the sandbox or the network")

        monkeypatch.setattr(EsploraSandbox, "handle", unreachable)
        monkeypatch.setattr(socket.socket, "connect", unreachable)

        async def scenario() -> None:
            with self.cassette("full_sync") as harness:
                run = await harness.check_full_sync()
                computed: dict[str, object] = {}
                for page in run.pages:
                    for tx in page.transactions:
                        computed[tx.key] = tx  # the last description of each key wins, as in the ledger
                totals = net_deltas(leg for tx in computed.values() for leg in tx.legs)  # type: ignore[attr-defined]
                async with harness.open_connector(verify=False) as connector:
                    reported = await connector.balances()
                checks = reconcile(totals, reported)
                assert checks and all(check.ok for check in checks), checks
                assert totals == run.store.balances(harness.account_id, include_pending=True)

        asyncio.run(scenario())

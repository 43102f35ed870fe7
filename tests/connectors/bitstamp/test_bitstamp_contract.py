"""Bitstamp meets the connector contract, replayed from ``cassettes/bitstamp/``.

Recorded from :class:`~txsync.connectors.bitstamp.sandbox.BitstampSandbox` with ``TXSYNC_RECORD=1``.
The server's response signature is dropped from the cassettes (it covers the request's nonce, which
is scrubbed, and the body, which is stored pretty-printed), so the contract runs with
``verify_response_signature="if_present"``; the strict check is tested against the sandbox itself.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx

from txsync.connectors.bitstamp import Bitstamp
from txsync.connectors.bitstamp.sandbox import NOW, SANDBOX_KEY, SANDBOX_SECRET, BitstampSandbox
from txsync.models import Credential
from txsync.testing import ConnectorContract

CASSETTES = Path(__file__).resolve().parents[3] / "cassettes" / "bitstamp"


class TestBitstampContract(ConnectorContract):
    """The Bitstamp connector against its sandbox recordings."""

    connector_class = Bitstamp
    credential = Credential(
        connector_id="bitstamp", secrets={"api_key": SANDBOX_KEY, "api_secret": SANDBOX_SECRET}
    )
    options = {"verify_response_signature": "if_present"}
    cassette_dir = CASSETTES
    drop_response_headers = ("X-Server-Auth-Signature",)

    def recording_transport(self) -> httpx.AsyncBaseTransport | None:
        return BitstampSandbox().transport()

    def now(self) -> datetime:
        return NOW

    def sandbox_records(self) -> dict[str, int]:
        """The user transactions, and the crypto-transactions stored with the movements they match."""
        account = BitstampSandbox().account
        crypto = len(account.crypto_deposits) + len(account.crypto_withdrawals)
        return {"user_transactions": len(account.transactions) + crypto}

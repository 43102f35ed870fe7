"""The Bitcoin connector meets the connector contract, on cassettes in ``cassettes/bitcoin/``.

Recorded from :class:`~txsync.connectors.bitcoin.sandbox.EsploraSandbox` (the BIP84 test wallet on a
Blockstream-style instance that throttles every 9th request with a 429 without Retry-After) with
``TXSYNC_RECORD=1``; replayed offline otherwise.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx

from txsync.connector import Cursor
from txsync.connectors.bitcoin import BitcoinWallet
from txsync.connectors.bitcoin._stream import cursor_progress
from txsync.connectors.bitcoin.sandbox import BIP84_ZPUB, EsploraSandbox
from txsync.models import Credential
from txsync.testing import ConnectorContract

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

    # An Esplora instance's balance counts the mempool, as the ledger's pending transactions.
    balances_include_pending = True

    def sandbox_records(self) -> dict[str, int]:
        """Every transaction (confirmed or in the mempool) touching one of the wallet's addresses."""
        wallet = EsploraSandbox().wallet
        own = set(wallet.own)
        touching = {
            txid for txid, tx in wallet.chain.txs.items()
            if any((v.get("prevout") or {}).get("scriptpubkey_address") in own for v in tx["vin"])
            or any(o.get("scriptpubkey_address") in own for o in tx["vout"])
        }
        return {"transactions": len(touching)}

    def compare_cursors(self, stream: str, before: Cursor, after: Cursor) -> int | None:
        a, b = cursor_progress(before), cursor_progress(after)
        return None if a == b else (1 if b > a else -1)

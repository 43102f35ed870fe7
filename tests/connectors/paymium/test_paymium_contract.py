"""The Paymium connector meets the connector contract, on cassettes in ``cassettes/paymium/``.

Recorded from :class:`~txsync.connectors.paymium.sandbox.PaymiumSandbox` with ``TXSYNC_RECORD=1``
(or from the live API with ``TXSYNC_RECORD=live`` and ``TXSYNC_LIVE_PAYMIUM_API_KEY`` /
``TXSYNC_LIVE_PAYMIUM_API_SECRET``); replayed offline otherwise.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx

from txsync.connectors.paymium import Paymium
from txsync.connectors.paymium.sandbox import KEY, NOW, SECRET, PaymiumSandbox
from txsync.models import Credential
from txsync.testing import ConnectorContract

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

    # The API no longer lists deposits (nor admin credits): the balances cannot add up from it alone.
    balance_gaps = {"BTC": "deposits", "EUR": "deposits"}

    def sandbox_records(self) -> dict[str, int]:
        """One record per account operation of the orders each endpoint lists (see the sandbox)."""
        from txsync.connectors.paymium.sandbox import _server

        sandbox = PaymiumSandbox()
        trading = [o for o in sandbox._visible() if o.type not in _server._NOT_TRADING]
        transfers = sandbox._visible(*_server._TRANSFER_TYPES)
        return {
            "orders": sum(len(o.operations) for o in trading),
            "withdrawals": sum(len(o.operations) for o in transfers),
        }

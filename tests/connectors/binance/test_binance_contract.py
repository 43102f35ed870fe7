"""The Binance connector against the connector contract, on cassettes in ``cassettes/binance/``.

Recorded from the sandbox's small scenario (five months, a dozen pairs among ~300 listed) with
``TXSYNC_RECORD=1``; replayed offline otherwise. ``trades_page_size=8`` makes the busier pairs
page across several ``myTrades`` pages; ``rate_limit="simulated"`` keeps Binance's weight
accounting without waiting in real time (there is no server to protect in a replay).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx

from txsync.connectors.binance import Binance
from txsync.connectors.binance.sandbox import KEY, NOW, SECRET, BinanceSandbox
from txsync.models import Credential
from txsync.testing import ConnectorContract

CASSETTES = Path(__file__).resolve().parents[3] / "cassettes" / "binance"
OPTIONS = {"origin": "2024-01-01", "trades_page_size": 8, "rate_limit": "simulated"}


class TestBinanceContract(ConnectorContract):
    """Binance meets the connector contract."""

    connector_class = Binance
    credential = Credential(connector_id="binance", secrets={"api_key": KEY, "api_secret": SECRET})
    options = OPTIONS
    cassette_dir = CASSETTES
    independent_resumes = 2

    def recording_transport(self) -> httpx.AsyncBaseTransport | None:
        return BinanceSandbox.small(enforce_limits=False).transport()

    def now(self) -> datetime:
        return NOW

    def sandbox_records(self) -> dict[str, int]:
        account = BinanceSandbox.small().account
        lists = {
            "convert": "converts",
            "liquidity_swaps": "swaps",
            "spot_rebates": "rebates",
            "option_bills": "option_bills",
            "sub_account_transfers": "sub_transfers",
            "isolated_margin_interest": "isolated_interest",
        }
        counts = {
            stream: len(getattr(account, lists.get(stream, stream)))
            for stream in ("deposits", "withdrawals", "fiat_orders", "fiat_payments", "convert", "dust",
                           "dividends", "earn_flexible", "earn_locked", "liquidity_swaps", "futures_income",
                           "margin_interest", "coin_futures_income", "pay", "p2p", "eth_staking",
                           "spot_rebates", "loans", "auto_invest", "option_bills", "universal_transfers",
                           "sub_account_transfers", "isolated_margin_interest")
        }
        counts["trades"] = sum(len(rows) for rows in account.trades.values())
        counts["margin_trades"] = sum(len(rows) for rows in account.margin_trades.values())
        counts["isolated_margin_trades"] = sum(len(rows) for rows in account.isolated_trades.values())
        return counts

"""A local emulation of the Binance API (spot, SAPI and USD-M futures hosts) for the connector's
tests, cassettes and benchmark: :class:`BinanceSandbox` serves a seeded scenario account
(:class:`ScenarioAccount`) through an ``httpx.MockTransport``."""

from ._market import Listing, Market, generate_listing
from ._scenario import NOW, Scenario, ScenarioAccount
from ._server import KEY, READ_ONLY, SECRET, TRADING_KEY, TRADING_SECRET, BinanceSandbox, KeySpec
from ._statement import STATEMENT_USER_ID, StatementRow, statement_csv, statement_rows

__all__ = [
    "KEY",
    "NOW",
    "READ_ONLY",
    "SECRET",
    "STATEMENT_USER_ID",
    "TRADING_KEY",
    "TRADING_SECRET",
    "BinanceSandbox",
    "KeySpec",
    "Listing",
    "Market",
    "Scenario",
    "ScenarioAccount",
    "StatementRow",
    "generate_listing",
    "statement_csv",
    "statement_rows",
]

"""CoinTracking's CSV export (the Trade List, and the CSV import template), a FILE connector.

Entry point: ``cointracking_csv = "txsync.connectors.cointracking_csv:CoinTrackingCsv"``.
"""

from txsync.connectors.cointracking_csv._types import TYPES, meaning
from txsync.connectors.cointracking_csv.connector import CoinTrackingCsv, cointracking_layout

__all__ = ["TYPES", "CoinTrackingCsv", "cointracking_layout", "meaning"]

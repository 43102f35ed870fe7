"""Binance account statement importer (the "Generate all statements" CSV), a FILE connector.

Entry point: ``binance_statement = "txsync.connectors.binance_statement:BinanceStatement"``.
"""

from txsync.connectors.binance_statement._operations import OPERATIONS, Group, Operation, lookup
from txsync.connectors.binance_statement._parse import StatementFormatError, parse_amount, parse_time
from txsync.connectors.binance_statement.connector import BinanceStatement, StatementStream, load_plan

__all__ = [
    "OPERATIONS",
    "BinanceStatement",
    "Group",
    "Operation",
    "StatementFormatError",
    "StatementStream",
    "load_plan",
    "lookup",
    "parse_amount",
    "parse_time",
]

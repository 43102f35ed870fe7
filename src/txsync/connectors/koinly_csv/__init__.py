"""Koinly's Universal CSV template, a FILE connector.

Entry point: ``koinly_csv = "txsync.connectors.koinly_csv:KoinlyUniversal"``.
"""

from txsync.connectors.koinly_csv._labels import LABELS, meaning
from txsync.connectors.koinly_csv.connector import COLUMNS, KoinlyUniversal

__all__ = ["COLUMNS", "LABELS", "KoinlyUniversal", "meaning"]

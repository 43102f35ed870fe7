"""The connector contract every built-in and third-party connector implements."""

from txsync.connector.base import Connector, Cursor, Page, RawRecord, Stream
from txsync.connector.context import ConnectorContext, LimiterRegistry, NotedGap, RequestStats
from txsync.connector.info import API_VERSION, ConnectorInfo, CoverageGap, CredentialField, StreamInfo

__all__ = [
    "API_VERSION",
    "Connector",
    "ConnectorContext",
    "ConnectorInfo",
    "CoverageGap",
    "CredentialField",
    "Cursor",
    "LimiterRegistry",
    "NotedGap",
    "Page",
    "RawRecord",
    "RequestStats",
    "Stream",
    "StreamInfo",
]

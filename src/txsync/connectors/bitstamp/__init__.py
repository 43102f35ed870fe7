"""Bitstamp (API v2): read-only history of one account, with blockchain txids where they can be
matched. Published as the ``bitstamp`` entry point (``txsync.connectors.bitstamp:Bitstamp``)."""

from txsync.connectors.bitstamp._auth import (
    BitstampAuth,
    ResponseSignatureError,
    ResponseSignatureMode,
    response_signature,
    string_to_sign,
)
from txsync.connectors.bitstamp._errors import bitstamp_error
from txsync.connectors.bitstamp.connector import BITSTAMP_BASE_URL, Bitstamp, parse_balances

__all__ = [
    "BITSTAMP_BASE_URL",
    "Bitstamp",
    "BitstampAuth",
    "ResponseSignatureError",
    "ResponseSignatureMode",
    "bitstamp_error",
    "parse_balances",
    "response_signature",
    "string_to_sign",
]

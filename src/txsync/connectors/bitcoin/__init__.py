"""The Bitcoin wallet connector (id ``bitcoin``): one address or an account's extended public key
(xpub / ypub / zpub, taproot with ``script_type="p2tr"``), read from an Esplora instance.

See ``docs/connectors/bitcoin.md``. Published under the ``txsync.connectors`` entry point
``bitcoin = "txsync.connectors.bitcoin:BitcoinWallet"``.
"""

from ._esplora import AddressStats, EsploraNotFoundError, IncompleteHistoryError, TxStats
from ._keys import SCRIPT_TYPES, WalletKeys
from ._normalize import Movement, classify, sats_to_btc
from ._stream import TransactionsStream
from .connector import DEFAULT_BASE_URLS, BitcoinWallet

__all__ = [
    "DEFAULT_BASE_URLS",
    "SCRIPT_TYPES",
    "AddressStats",
    "BitcoinWallet",
    "EsploraNotFoundError",
    "IncompleteHistoryError",
    "Movement",
    "TransactionsStream",
    "TxStats",
    "WalletKeys",
    "classify",
    "sats_to_btc",
]

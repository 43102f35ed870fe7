"""An Esplora emulation serving the BIP84 test mnemonic's wallet (see :mod:`._wallet`), with the
paging quirks of Blockstream's, mempool.space's and electrum-backed instances and 429s without
``Retry-After`` (see :mod:`._server`). The Bitcoin connector's cassettes are recorded from it."""

from ._chain import Chain, Outpoint
from ._server import FLAVORS, EsploraSandbox
from ._wallet import BIP84_ZPUB, ScenarioWallet, external_address, own_address

__all__ = [
    "BIP84_ZPUB",
    "FLAVORS",
    "Chain",
    "EsploraSandbox",
    "Outpoint",
    "ScenarioWallet",
    "external_address",
    "own_address",
]

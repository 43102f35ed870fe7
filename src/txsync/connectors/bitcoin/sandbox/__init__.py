"""An Esplora emulation serving the BIP84 test mnemonic's wallet (see :mod:`._scenario`), with the
paging quirks of Blockstream's, mempool.space's and electrum-backed instances and 429s without
``Retry-After`` (see :mod:`._server`). The Bitcoin connector's cassettes are recorded from it."""

from ._chain import Chain, Outpoint
from ._scenario import BIP84_ZPUB, ScenarioWallet, external_address, own_address
from ._server import FLAVORS, EsploraSandbox

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

"""EVM wallets (Ethereum, BNB Smart Chain, Polygon, Arbitrum, OP, Base and any Etherscan-v2 chain, or
a Blockscout instance) read through an Etherscan-compatible explorer API.

The connector is :class:`EvmWallet` (id ``evm``); see ``docs/connectors/evm.md``.
"""

from txsync.connectors.evm._chains import KNOWN_CHAINS, ChainInfo
from txsync.connectors.evm.connector import EvmWallet

__all__ = ["KNOWN_CHAINS", "ChainInfo", "EvmWallet"]

"""The external ids the transfer linker reads: one table, so every connector can follow it.

A connector puts these names in ``NormalizedTransaction.external_ids`` (see docs/reconciliation.md):

========================  =====================================================================
name                      meaning
========================  =====================================================================
``tx_hash``, ``txid``     the on-chain transaction hash (hex, ``0x`` or not, any case)
``output_index``,         which output (UTXO chains) or log (EVM token transfers) of that
``vout``, ``log_index``   transaction the movement is, where the source says
``internal_transfer_id``  an exchange's own id of an off-chain transfer between two of its
                          accounts (Binance ``transferType`` 1); add the flag ``internal_transfer``
``network``               the network the exchange moved the asset on (Binance: ``BTC``, ``ETH``,
                          ``BSC``...)
``chain_id``              an EVM chain id (the EVM connector): read as the network of that chain
``address``               the counterparty address: where a withdrawal went, where a deposit
                          was received
========================  =====================================================================

Reading an exchange's own notation (Binance writes ``"Internal transfer 123456789"`` in ``txId``) is
its connector's work: the linker reads only these keys.
A wallet connector's network is implied by its id (:data:`CONNECTOR_NETWORKS`); legs of EVM wallets
carry the receiving address as their ``wallet`` (CAIP-10 ``eip155:<chain>:<address>``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = [
    "ADDRESS_KEYS",
    "CHAIN_NETWORKS",
    "CONNECTOR_NETWORKS",
    "HASH_KEYS",
    "INTERNAL_FLAG",
    "INTERNAL_ID_KEYS",
    "NETWORK_KEYS",
    "OUTPUT_INDEX_KEYS",
    "address_of",
    "chain_hash",
    "internal_id",
    "network_of",
    "output_index",
]

#: On-chain transaction hash, first found wins.
HASH_KEYS: tuple[str, ...] = ("tx_hash", "txid")
#: Output / log index inside the transaction.
OUTPUT_INDEX_KEYS: tuple[str, ...] = ("output_index", "vout", "log_index")
#: An exchange's id of an off-chain (internal) transfer.
INTERNAL_ID_KEYS: tuple[str, ...] = ("internal_transfer_id",)
#: The flag a connector sets on an internal (off-chain) transfer.
INTERNAL_FLAG = "internal_transfer"
#: The network the asset moved on.
NETWORK_KEYS: tuple[str, ...] = ("network",)
#: The counterparty address.
ADDRESS_KEYS: tuple[str, ...] = ("address",)

#: EVM chain ids as exchanges name their networks (Binance's names).
CHAIN_NETWORKS: Mapping[str, str] = {
    "1": "ETH",
    "10": "OPTIMISM",
    "56": "BSC",
    "137": "MATIC",
    "8453": "BASE",
    "42161": "ARBITRUM",
    "43114": "AVAXC",
}
#: Wallet connectors whose transactions are all on one network.
CONNECTOR_NETWORKS: Mapping[str, str] = {"bitcoin": "BTC"}
#: Spellings of one network (upper case) -> the name used above.
_NETWORK_ALIASES: Mapping[str, str] = {
    "POLYGON": "MATIC",
    "ARB": "ARBITRUM",
    "ARBITRUMONE": "ARBITRUM",
    "OP": "OPTIMISM",
    "AVAX-C": "AVAXC",
    "AVAXCCHAIN": "AVAXC",
    "BEP20": "BSC",
    "ERC20": "ETH",
    "BITCOIN": "BTC",
    "SEGWITBTC": "BTC",
}

_HEX = re.compile(r"^(?:0x)?([0-9a-fA-F]{16,128})$")
_CAIP10 = re.compile(r"^eip155:[0-9]+:(0x[0-9a-fA-F]{40})$")


def _first(external: Mapping[str, str], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = external.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def chain_hash(external: Mapping[str, str]) -> str | None:
    """The on-chain hash, lower-case hex without ``0x``; ``None`` if absent or not a hash."""
    value = _first(external, HASH_KEYS)
    if value is None:
        return None
    match = _HEX.match(value)
    return match.group(1).lower() if match else None


def output_index(external: Mapping[str, str]) -> str | None:
    """The output or log index, as a decimal string."""
    value = _first(external, OUTPUT_INDEX_KEYS)
    if value is None:
        return None
    return str(int(value)) if value.isdigit() else value


def internal_id(external: Mapping[str, str]) -> str | None:
    """An exchange's internal transfer id (``internal_transfer_id``, which its connector sets)."""
    return _first(external, INTERNAL_ID_KEYS)


def _network(name: str) -> str:
    upper = re.sub(r"[\s_]+", "", name.strip().upper())
    return _NETWORK_ALIASES.get(upper, upper)


def network_of(external: Mapping[str, str], connector_id: str) -> str | None:
    """The network a movement happened on, in one vocabulary (``None`` if unknown)."""
    value = _first(external, NETWORK_KEYS)
    if value is not None:
        return _network(value)
    chain = external.get("chain_id")
    if isinstance(chain, str) and chain.strip() in CHAIN_NETWORKS:
        return CHAIN_NETWORKS[chain.strip()]
    return CONNECTOR_NETWORKS.get(connector_id)


def _address(value: str) -> str:
    text = value.strip()
    caip = _CAIP10.match(text)
    if caip:
        text = caip.group(1)
    if text.lower().startswith(("0x", "bc1", "tb1", "ltc1")):
        return text.lower()  # hex and bech32 addresses are case-insensitive
    return text


def address_of(external: Mapping[str, str], wallets: Iterable[str | None] = ()) -> frozenset[str]:
    """The counterparty address(es) of a movement: ``address``, else the CAIP-10 wallets of its legs."""
    value = _first(external, ADDRESS_KEYS)
    if value is not None:
        return frozenset({_address(value)})
    found = {_address(w) for w in wallets if isinstance(w, str) and _CAIP10.match(w.strip())}
    return frozenset(found)

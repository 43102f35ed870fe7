"""Known EVM chains: native asset symbol and decimals, and which of them are OP-stack rollups."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KNOWN_CHAINS", "OP_STACK_CHAINS", "ChainInfo", "chain_info"]


@dataclass(frozen=True, slots=True)
class ChainInfo:
    """One EVM chain as the connector needs it."""

    chain_id: int
    name: str
    native_symbol: str
    native_decimals: int = 18


#: Chains whose native asset the connector knows. Any other Etherscan-v2 (or Blockscout) chain id
#: works too when the connection gives ``native_symbol`` (and ``native_decimals`` if not 18).
KNOWN_CHAINS: dict[int, ChainInfo] = {
    c.chain_id: c
    for c in (
        ChainInfo(1, "Ethereum", "ETH"),
        ChainInfo(10, "OP Mainnet", "ETH"),
        ChainInfo(56, "BNB Smart Chain", "BNB"),
        ChainInfo(100, "Gnosis", "XDAI"),
        ChainInfo(130, "Unichain", "ETH"),
        ChainInfo(137, "Polygon PoS", "POL"),
        ChainInfo(146, "Sonic", "S"),
        ChainInfo(204, "opBNB", "BNB"),
        ChainInfo(324, "zkSync Era", "ETH"),
        ChainInfo(480, "World Chain", "ETH"),
        ChainInfo(5000, "Mantle", "MNT"),
        ChainInfo(8453, "Base", "ETH"),
        ChainInfo(42161, "Arbitrum One", "ETH"),
        ChainInfo(42170, "Arbitrum Nova", "ETH"),
        ChainInfo(43114, "Avalanche C-Chain", "AVAX"),
        ChainInfo(59144, "Linea", "ETH"),
        ChainInfo(81457, "Blast", "ETH"),
        ChainInfo(534352, "Scroll", "ETH"),
    )
}

#: OP-stack rollups: a sender also pays an L1 data fee, which explorers list only sometimes.
OP_STACK_CHAINS: frozenset[int] = frozenset({10, 130, 204, 480, 8453, 81457})


def chain_info(
    chain_id: int, native_symbol: str | None = None, native_decimals: int | None = None
) -> ChainInfo | None:
    """The chain ``chain_id`` with the connection's overrides applied; ``None`` when unknown and no
    ``native_symbol`` is given."""
    known = KNOWN_CHAINS.get(chain_id)
    if known is None and native_symbol is None:
        return None
    return ChainInfo(
        chain_id,
        known.name if known is not None else f"chain {chain_id}",
        native_symbol if native_symbol is not None else known.native_symbol,  # type: ignore[union-attr]
        native_decimals if native_decimals is not None else (known.native_decimals if known else 18),
    )

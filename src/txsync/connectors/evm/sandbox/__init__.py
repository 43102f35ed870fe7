"""The EVM sandbox: an Etherscan API v2 emulation (Blockscout-compatible too) serving a scenario wallet.

* :class:`EtherscanSandbox` - the HTTP emulation (``transport()``), its test keys
  :data:`EVM_API_KEY` (free tier) and :data:`EVM_PAID_API_KEY`;
* :class:`EvmChain` - the chain it serves; :meth:`EvmChain.scenario` is the wallet of
  :data:`ADDRESS_A` and :data:`ADDRESS_B`, and its balances are what the chain reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from txsync.models import Credential

from ._scenario import ADDRESS_A, ADDRESS_B, ChainTx, EvmChain, Token, TokenTransfer, Withdrawal
from ._server import (
    ETHERSCAN_HOST,
    EVM_API_KEY,
    EVM_PAID_API_KEY,
    FREE_UNSUPPORTED_CHAINS,
    EtherscanSandbox,
)

if TYPE_CHECKING:
    from txsync.http import RetryPolicy
    from txsync.testing.harness import ContractHarness

#: Connection options of the sandbox tests: Ethereum, pages of 10 rows, no local rate limiter.
SANDBOX_OPTIONS: dict[str, Any] = {"chain_id": 1, "page_size": 10, "calls_per_second": 0}

__all__ = [
    "ADDRESS_A",
    "ADDRESS_B",
    "ETHERSCAN_HOST",
    "EVM_API_KEY",
    "EVM_PAID_API_KEY",
    "FREE_UNSUPPORTED_CHAINS",
    "SANDBOX_OPTIONS",
    "ChainTx",
    "EtherscanSandbox",
    "EvmChain",
    "Token",
    "TokenTransfer",
    "Withdrawal",
    "sandbox_credential",
    "sandbox_harness",
]


def sandbox_credential(addresses: str | None = None, key: str | None = EVM_API_KEY) -> Credential:
    """A credential for the sandbox wallet (both addresses, the free-tier key unless told otherwise)."""
    return Credential(
        connector_id="evm",
        public={"addresses": addresses if addresses is not None else f"{ADDRESS_A},{ADDRESS_B}"},
        secrets={"api_key": key} if key is not None else {},
    )


def sandbox_harness(
    sandbox: EtherscanSandbox,
    *,
    options: Mapping[str, Any] | None = None,
    credential: Credential | None = None,
    retry: RetryPolicy | None = None,
) -> ContractHarness:
    """A :class:`~txsync.testing.ContractHarness` for the EVM connector talking to ``sandbox``, on its
    clock, with retries that never sleep (unless ``retry`` says otherwise). Default options: chain 1,
    pages of 10 rows, no local rate limiter."""
    from txsync.connectors.evm import EvmWallet
    from txsync.testing.harness import NO_SLEEP_RETRY, ContractHarness

    return ContractHarness(
        EvmWallet,
        credential or sandbox_credential(),
        options={**SANDBOX_OPTIONS, **(options or {})},
        transport=sandbox.transport,
        clock=lambda: sandbox.now,
        retry=retry or NO_SLEEP_RETRY,
    )

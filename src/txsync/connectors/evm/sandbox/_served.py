"""The Etherscan-compatible explorer sandbox served over HTTP (``txsync sandbox serve evm``)."""

from __future__ import annotations

from typing import Any

from txsync.sandboxes import SandboxAccount, ServedSandbox

from ._scenario import ADDRESS_A, ADDRESS_B
from ._server import EVM_API_KEY, EVM_PAID_API_KEY, EtherscanSandbox

__all__ = ["served"]


def served() -> ServedSandbox:
    """The scenario wallet on Ethereum, with the free (3/s) and paid (10/s) test keys."""
    sandbox = EtherscanSandbox(host="")  # any host: served on 127.0.0.1

    def stats() -> dict[str, Any]:
        return {"requests_metered": sandbox.requests}

    addresses = f"{ADDRESS_A},{ADDRESS_B}"
    return ServedSandbox(
        name="evm", connector="evm", handle=sandbox.handle,
        accounts=[
            SandboxAccount("free key", {"addresses": addresses, "api_key": EVM_API_KEY}),
            SandboxAccount("paid key", {"addresses": addresses, "api_key": EVM_PAID_API_KEY}),
        ],
        options=lambda url: {"base_url": f"{url}/v2/api", "explorer": "etherscan", "chain_id": 1},
        stats=stats, note="per-key calls per second and per day, for all clients together",
    )

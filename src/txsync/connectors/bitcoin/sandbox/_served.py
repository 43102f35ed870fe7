"""The Esplora sandbox served over HTTP (``txsync sandbox serve bitcoin``)."""

from __future__ import annotations

from typing import Any

from txsync.sandboxes import SandboxAccount, ServedSandbox

from ._scenario import BIP84_ZPUB
from ._server import EsploraSandbox

__all__ = ["served"]


def served() -> ServedSandbox:
    """The BIP84 test mnemonic's wallet on a Blockstream-flavoured Esplora."""
    sandbox = EsploraSandbox()

    def stats() -> dict[str, Any]:
        return {"requests_metered": sandbox.requests}

    return ServedSandbox(
        name="bitcoin", connector="bitcoin", handle=sandbox.handle,
        accounts=[SandboxAccount("BIP84 test wallet", {"xpub_or_address": BIP84_ZPUB})],
        stats=stats, note="no API key: wallets are public keys",
    )

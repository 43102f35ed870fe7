"""The Bitstamp sandbox served over HTTP (``txsync sandbox serve bitstamp``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from txsync.sandboxes import SandboxAccount, ServedSandbox

from ._server import SANDBOX_KEY, SANDBOX_SECRET, BitstampSandbox

__all__ = ["served"]


def served() -> ServedSandbox:
    """Bitstamp's account on the real clock (requests are signed with the current time)."""
    sandbox = BitstampSandbox(clock=lambda: datetime.now(UTC))

    def stats() -> dict[str, Any]:
        return {"requests_metered": sandbox.requests}

    return ServedSandbox(
        name="bitstamp", connector="bitstamp", handle=sandbox.handle,
        accounts=[SandboxAccount("account", {"api_key": SANDBOX_KEY, "api_secret": SANDBOX_SECRET})],
        stats=stats,
        note=f"{sandbox.rate_limit} requests per {sandbox.rate_window} s for all clients together",
    )

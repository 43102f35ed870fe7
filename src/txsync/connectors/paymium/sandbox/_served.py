"""The Paymium sandbox served over HTTP (``txsync sandbox serve paymium``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from txsync.sandboxes import SandboxAccount, ServedSandbox

from ._server import KEY, SECRET, PaymiumSandbox

__all__ = ["served"]


def served() -> ServedSandbox:
    """Paymium's account on the real clock (nonces and the daily limit follow it)."""
    sandbox = PaymiumSandbox(clock=lambda: datetime.now(UTC), host=None)

    def stats() -> dict[str, Any]:
        return {"requests_metered": sandbox.requests}

    return ServedSandbox(
        name="paymium", connector="paymium", handle=sandbox.handle,
        accounts=[SandboxAccount("account", {"api_key": KEY, "api_secret": SECRET})],
        stats=stats, note=f"{sandbox.daily_limit} requests a day for all clients together",
    )

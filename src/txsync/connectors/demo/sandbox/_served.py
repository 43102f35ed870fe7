"""The Demo Exchange sandbox served over HTTP (``txsync sandbox serve demo``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from txsync.sandboxes import SandboxAccount, ServedSandbox

from ._server import DEMO_KEY, DEMO_SECRET, DemoSandbox

__all__ = ["served"]


def served() -> ServedSandbox:
    """The Demo Exchange's account, metered per minute for every client together, on the real clock."""
    sandbox = DemoSandbox(clock=lambda: datetime.now(UTC))

    def stats() -> dict[str, Any]:
        return {"requests_metered": sandbox.requests, "used_weight_this_minute": sandbox.used_weight,
                "weight_limit": sandbox.weight_limit}

    return ServedSandbox(
        name="demo", connector="demo", handle=sandbox.handle,
        accounts=[SandboxAccount("account", {"api_key": DEMO_KEY, "api_secret": DEMO_SECRET})],
        stats=stats, note=f"weight limit {sandbox.weight_limit} per minute for all clients together",
    )

"""What serving a sandbox needs: its request handler, the test credentials it knows, the connection
options that point a connector at it, and its counters (:class:`ServedSandbox`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["SandboxAccount", "ServedSandbox"]


@dataclass(frozen=True)
class SandboxAccount:
    """One account a served sandbox knows: a label and the credential fields that open it (the
    sandbox's own published test keys or public addresses, never a real secret)."""

    label: str
    fields: Mapping[str, str]


@dataclass
class ServedSandbox:
    """A sandbox ready to be served over HTTP.

    ``handle`` answers one request (the same function the sandbox's ``httpx.MockTransport`` calls);
    ``connector`` is the id of the connector it emulates; ``accounts`` are the test accounts it
    knows; ``options(base_url)`` gives the connection options that point that connector at
    ``base_url``; ``stats()`` returns the sandbox's counters (requests, weight, 429s...) as JSON-ready
    values; ``note`` is shown when it starts (its clock, its limits).
    """

    name: str
    connector: str
    handle: Callable[[httpx.Request], httpx.Response]
    accounts: list[SandboxAccount]
    options: Callable[[str], dict[str, Any]] = field(default=lambda url: {"base_url": url})
    stats: Callable[[], dict[str, Any]] = field(default=dict)
    note: str = ""

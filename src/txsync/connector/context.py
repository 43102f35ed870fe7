"""What the engine hands a connector: identity, credential, transport, limiter and report hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from txsync.models import Credential

__all__ = ["ConnectorContext", "LimiterRegistry", "NotedGap", "RequestStats"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RequestStats:
    """Counters the HTTP layer updates; the engine reads them per stream for the report."""

    requests: int = 0
    weight: int = 0
    retries: int = 0
    rate_limited: int = 0
    by_status: dict[int, int] = field(default_factory=dict)

    def snapshot(self) -> RequestStats:
        """A copy, to diff against later."""
        return RequestStats(self.requests, self.weight, self.retries, self.rate_limited, dict(self.by_status))


class LimiterRegistry:
    """Rate limiters shared by key ("binance:ip:203.0.113.7", "etherscan:key:<hash>").

    The engine keeps one registry across syncs so connections behind the same IP or API key share
    one budget. A host running several processes can pass a registry whose factories build limiters
    backed by shared state (Redis...).
    """

    def __init__(self) -> None:
        self._limiters: dict[str, Any] = {}

    def get(self, key: str, factory: Callable[[], Any]) -> Any:
        """The limiter for ``key``, created by ``factory`` on first use."""
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = factory()
        return limiter


@dataclass(frozen=True)
class NotedGap:
    """A declared coverage gap that applies to this account, noted during a sync."""

    gap_id: str
    detail: str = ""
    stream: str | None = None


@dataclass
class ConnectorContext:
    """Everything a connector instance may use. Built by the engine (or a test) per sync.

    ``transport`` replaces the network (VCR cassettes, ``httpx.MockTransport``); ``limiters`` lets a
    host share rate-limit state between connections of the same IP or key; ``options`` is the
    connection's non-secret configuration (base URL, history origin, chain id...).
    """

    connection_id: str
    account_id: str
    credential: Credential
    options: Mapping[str, Any] = field(default_factory=dict)
    transport: httpx.AsyncBaseTransport | None = None
    stats: RequestStats = field(default_factory=RequestStats)
    clock: Callable[[], datetime] = _utcnow
    limiters: LimiterRegistry = field(default_factory=LimiterRegistry)
    #: The host's retry policy (a ``txsync.http.RetryPolicy``) for the connector's HTTP clients;
    #: ``None`` = the HTTP layer's default.
    retry: Any = None
    gaps: list[NotedGap] = field(default_factory=list)

    def note_gap(self, gap_id: str, detail: str = "", *, stream: str | None = None) -> None:
        """Record that a declared coverage gap applies to this account (shown in the sync report)."""
        noted = NotedGap(gap_id, detail, stream)
        if noted not in self.gaps:
            self.gaps.append(noted)

    def __repr__(self) -> str:
        return f"ConnectorContext(connection_id={self.connection_id!r}, account_id={self.account_id!r})"

"""A local emulation of Bitstamp's private API v2 (see :class:`BitstampSandbox`) serving a
deterministic multi-year account (:class:`BitstampAccount`). The Bitstamp cassettes under
``cassettes/bitstamp/`` are recorded from it."""

from ._scenario import (
    CURRENCIES,
    NOW,
    PAIRS,
    BitstampAccount,
    format_datetime,
)
from ._server import (
    ALL_PERMISSIONS,
    BITSTAMP_HOST,
    SANDBOX_KEY,
    SANDBOX_SECRET,
    BitstampSandbox,
    SandboxKey,
)

__all__ = [
    "ALL_PERMISSIONS",
    "BITSTAMP_HOST",
    "CURRENCIES",
    "NOW",
    "PAIRS",
    "SANDBOX_KEY",
    "SANDBOX_SECRET",
    "BitstampAccount",
    "BitstampSandbox",
    "SandboxKey",
    "format_datetime",
]

"""The Demo Exchange sandbox, where it was first published: it now lives in
:mod:`txsync.connectors.demo.sandbox` (the layout every connector follows); this module re-exports it."""

from txsync.connectors.demo.sandbox import (
    DEMO_BASE_URL,
    DEMO_HOST,
    DEMO_KEY,
    DEMO_SECRET,
    MAX_SPAN_MS,
    NOW,
    WEIGHT_LIMIT,
    DemoAccount,
    DemoSandbox,
)

__all__ = [
    "DEMO_BASE_URL",
    "DEMO_HOST",
    "DEMO_KEY",
    "DEMO_SECRET",
    "MAX_SPAN_MS",
    "NOW",
    "WEIGHT_LIMIT",
    "DemoAccount",
    "DemoSandbox",
]

"""The Demo Exchange connector, where it was first published: it now lives in
:mod:`txsync.connectors.demo` (the layout every connector follows); this module re-exports it."""

from txsync.connectors.demo.connector import DEMO_BASE_URL, DemoExchange, DepositsStream, TradesStream

__all__ = ["DEMO_BASE_URL", "DemoExchange", "DepositsStream", "TradesStream"]

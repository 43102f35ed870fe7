"""The Demo Exchange connector (id ``demo``): a complete, small connector built only on the public SDK,
laid out as every built-in connector is (``connector.py``, and its sandbox in ``sandbox/``).

It is not published through the ``txsync.connectors`` entry points: it talks to an API that only
its sandbox (:mod:`txsync.connectors.demo.sandbox`) serves. The engine's tests, the contract kit's
self-test and ``txsync demo --source demo`` register it by hand.
"""

from txsync.connectors.demo.connector import DEMO_BASE_URL, DemoExchange, DepositsStream, TradesStream

__all__ = ["DEMO_BASE_URL", "DemoExchange", "DepositsStream", "TradesStream"]

"""The Paymium sandbox: a local emulation of Paymium's API v1 serving a deterministic five-year
account, for the Paymium connector's tests and cassettes (see :mod:`.sandbox`)."""

from txsync.testing.sandboxes.paymium._account import Operation, Order, PaymiumAccount, price_at
from txsync.testing.sandboxes.paymium.sandbox import HOST, KEY, NOW, SECRET, PaymiumSandbox, Token

__all__ = [
    "HOST",
    "KEY",
    "NOW",
    "SECRET",
    "Operation",
    "Order",
    "PaymiumAccount",
    "PaymiumSandbox",
    "Token",
    "price_at",
]

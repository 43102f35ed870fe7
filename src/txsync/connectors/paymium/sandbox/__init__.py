"""The Paymium sandbox: a local emulation of Paymium's API v1 serving a deterministic five-year
account, for the Paymium connector's tests and cassettes (see :mod:`._server`)."""

from ._scenario import Operation, Order, PaymiumAccount, price_at
from ._server import HOST, KEY, NOW, SECRET, PaymiumSandbox, Token

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

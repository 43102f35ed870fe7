"""Paymium (https://paymium.com): trading orders and withdrawals from their account operations,
balances from ``/user``; deposits and exchange credits are declared coverage gaps.

Published as the ``paymium`` entry point of the ``txsync.connectors`` group.
"""

from txsync.connectors.paymium._auth import NonceSource, PaymiumAuth, shared_nonces
from txsync.connectors.paymium._errors import PaymiumNonceError
from txsync.connectors.paymium._limits import PaymiumRateLimiter
from txsync.connectors.paymium.connector import BASE_URL, Paymium

__all__ = [
    "BASE_URL",
    "NonceSource",
    "Paymium",
    "PaymiumAuth",
    "PaymiumNonceError",
    "PaymiumRateLimiter",
    "shared_nonces",
]

"""Value types: credentials, raw and normalized transactions, legs, balances, enums.

Amounts are exact :class:`~decimal.Decimal` (floats are refused), timestamps aware UTC.
"""

from txsync.models.balance import Balance
from txsync.models.base import TxsyncModel
from txsync.models.credential import Credential, Permissions
from txsync.models.enums import ConnectorKind, LegRole, Origin, TransactionKind, TransactionStatus
from txsync.models.transaction import (
    Leg,
    NormalizedTransaction,
    RawTransaction,
    SourceRef,
    net_deltas,
    transaction_id,
)
from txsync.models.values import Amount, UtcDateTime, to_amount, to_utc

__all__ = [
    "Amount",
    "Balance",
    "ConnectorKind",
    "Credential",
    "Leg",
    "LegRole",
    "NormalizedTransaction",
    "Origin",
    "Permissions",
    "RawTransaction",
    "SourceRef",
    "TransactionKind",
    "TransactionStatus",
    "TxsyncModel",
    "UtcDateTime",
    "net_deltas",
    "to_amount",
    "to_utc",
    "transaction_id",
]

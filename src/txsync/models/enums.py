"""Enumerations used across the models."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ConnectorKind", "LegRole", "Origin", "TransactionKind", "TransactionStatus"]


class TransactionKind(StrEnum):
    """What happened, from the account holder's point of view."""

    TRADE = "trade"
    CONVERT = "convert"
    DUST_CONVERSION = "dust_conversion"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    FIAT_DEPOSIT = "fiat_deposit"
    FIAT_WITHDRAWAL = "fiat_withdrawal"
    TRANSFER = "transfer"  # between the user's own accounts or wallets
    REWARD = "reward"  # staking, savings, earn
    INTEREST = "interest"
    AIRDROP = "airdrop"
    DISTRIBUTION = "distribution"
    MINING = "mining"
    REFERRAL = "referral"
    FEE = "fee"  # a fee alone (self-transfer, failed tx, margin interest paid)
    REALIZED_PNL = "realized_pnl"
    FUNDING_FEE = "funding_fee"
    LIQUIDITY = "liquidity"
    OTHER = "other"


class TransactionStatus(StrEnum):
    """Settlement status. Only confirmed transactions count towards balances."""

    CONFIRMED = "confirmed"
    PENDING = "pending"
    FAILED = "failed"


class LegRole(StrEnum):
    """Why a leg moved value."""

    PRINCIPAL = "principal"
    FEE = "fee"
    REWARD = "reward"
    INTEREST = "interest"
    REBATE = "rebate"
    PNL = "pnl"
    FUNDING = "funding"
    OTHER = "other"


class ConnectorKind(StrEnum):
    """Where a connector's data comes from."""

    EXCHANGE = "exchange"
    WALLET = "wallet"
    FILE = "file"


class Origin(StrEnum):
    """Which kind of source described a transaction; file and API records of one event are merged."""

    API = "api"
    FILE = "file"
    MANUAL = "manual"

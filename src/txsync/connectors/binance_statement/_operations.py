"""What each Operation of the Binance account statement means: its event group, kind and leg role.

Names are matched case-insensitively with runs of blanks collapsed ("Small assets exchange BNB" and
"Small Assets Exchange BNB" are one operation). Sources: the reference file, Binance's statement
exports as open-source importers read them (see the connector's documentation for the list).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from txsync.models import LegRole, TransactionKind

__all__ = ["OPERATIONS", "Group", "Operation", "lookup", "wallet_of"]


class Group(StrEnum):
    """How rows of one instant form events."""

    TRADE = "trade"  # every trade row of (time, account): Buy/Sell/Fee/Transaction ...
    DUST = "dust"  # "Small assets exchange BNB" rows of (time, account)
    MULTI = "multi"  # rows of one operation at (time, account), all coins together (convert, swap...)
    TRANSFER = "transfer"  # rows of (time, coin) across accounts: a move between the user's wallets
    SINGLE = "single"  # rows of (time, account, operation, coin): deposits, rewards, fees, PnL...


@dataclass(frozen=True, slots=True)
class Operation:
    """One statement Operation. ``negative_kind`` applies when the event's change is negative."""

    name: str
    group: Group
    kind: TransactionKind
    role: LegRole = LegRole.PRINCIPAL
    negative_kind: TransactionKind | None = None
    #: Deposits and withdrawals: the statement's time (credit/debit) may differ from the API's
    #: record time, so such events ask the merge for a wider match window.
    wide_match: bool = False
    category: str | None = None
    known: bool = True


_K = TransactionKind
_R = LegRole
_G = Group


def _ops(group: Group, kind: TransactionKind, names: tuple[str, ...], role: LegRole = _R.PRINCIPAL,
         **extra: object) -> list[Operation]:
    return [Operation(name, group, kind, role, **extra) for name in names]  # type: ignore[arg-type]


_TABLE: list[Operation] = [
    # Spot and margin trades (legacy names, then the 2022+ "Transaction ..." names).
    *_ops(_G.TRADE, _K.TRADE, ("Buy", "Sell", "Transaction Related", "Transaction Buy", "Transaction Spend",
                                "Transaction Revenue", "Transaction Sold")),
    *_ops(_G.TRADE, _K.TRADE, ("Fee", "Transaction Fee"), _R.FEE),
    # Dust.
    *_ops(_G.DUST, _K.DUST_CONVERSION, ("Small assets exchange BNB",)),
    # Conversions and swaps of one instant (all coins of the operation together).
    *_ops(_G.MULTI, _K.CONVERT, (
        "Binance Convert", "Large OTC trading", "ETH 2.0 Staking", "Stablecoins Auto-Conversion",
        "Asset Conversion Transfer", "Futures Convert", "Leverage Token Redemption",
        "Token Swap - Redenomination/Rebranding", "Auto-Invest Transaction", "Auto Invest Transaction",
        "Liquid Swap Sell", "Swap Farming Transaction", "Buy Crypto", "Buy Crypto With Card",
    )),
    *_ops(_G.MULTI, _K.LIQUIDITY, ("Liquid Swap add", "Liquid Swap remove", "Liquid Swap Add/Sell",
                                    "Liquidity Farming Remove")),
    *_ops(_G.MULTI, _K.FEE, ("BNB Fee Deduction",), _R.FEE),
    # Moves between the user's own wallets (and into / out of earn products).
    *_ops(_G.TRANSFER, _K.TRANSFER, (
        "Transfer Between Main and Funding Wallet", "Main and Funding Account Transfer",
        "Transfer Funds to Funding Wallet", "Transfer Funds to Spot",
        "Transfer Between Spot Account and UM Futures Account",
        "Transfer Between Spot Account and CM Futures Account",
        "Transfer Between Main Account/Futures and Margin Account", "transfer_in", "transfer_out",
        "Isolated Margin Transfer", "Sub-account Transfer", "Internal Transfer",
        "Savings purchase", "Savings Principal redemption", "POS savings purchase", "POS savings redemption",
        "Staking Purchase", "Staking Redemption", "Simple Earn Flexible Subscription",
        "Simple Earn Flexible Redemption", "Simple Earn Locked Subscription", "Simple Earn Locked Redemption",
        "Launchpool Subscription/Redemption", "Launchpad Subscribe",
    )),
    # Deposits and withdrawals.
    Operation("Deposit", _G.SINGLE, _K.DEPOSIT, wide_match=True),
    Operation("Withdraw", _G.SINGLE, _K.WITHDRAWAL, wide_match=True),
    Operation("Fiat Deposit", _G.SINGLE, _K.FIAT_DEPOSIT, wide_match=True),
    Operation("Fiat Withdraw", _G.SINGLE, _K.FIAT_WITHDRAWAL, wide_match=True),
    Operation("Fiat Withdrawal", _G.SINGLE, _K.FIAT_WITHDRAWAL, wide_match=True),
    Operation("Send", _G.SINGLE, _K.WITHDRAWAL, negative_kind=_K.WITHDRAWAL, category="binance_pay"),
    Operation("P2P Trading", _G.SINGLE, _K.DEPOSIT, negative_kind=_K.WITHDRAWAL, category="p2p"),
    Operation("Binance Card Spending", _G.SINGLE, _K.DEPOSIT, negative_kind=_K.WITHDRAWAL, category="card"),
    # Referral and commission income.
    *_ops(_G.SINGLE, _K.REFERRAL, (
        "Commission History", "Commission Fee Shared With You", "Referral Kickback", "Referrer rebates",
        "Referral Commission",
    ), _R.REWARD),
    *_ops(_G.SINGLE, _K.REFERRAL, ("Commission Rebate", "Referee rebates"), _R.REBATE),
    # Rewards, interest, airdrops, distributions, mining.
    *_ops(_G.SINGLE, _K.REWARD, (
        "POS savings interest", "Staking Rewards", "ETH 2.0 Staking Rewards", "Liquid Swap rewards",
        "Simple Earn Locked Rewards", "DOT Slot Auction Rewards", "Launchpool Interest",
        "Launchpool Earnings Withdrawal", "BNB Vault Rewards", "Swap Farming Rewards",
        "Campaign Related Reward", "Mission Reward Distribution", "Cashback Voucher",
        "Cash Voucher distribution", "Card Cashback", "Binance Card Cashback",
    ), _R.REWARD),
    *_ops(_G.SINGLE, _K.INTEREST, (
        "Simple Earn Flexible Interest", "Savings Interest", "Savings distribution",
    ), _R.INTEREST),
    *_ops(_G.SINGLE, _K.AIRDROP, (
        "Airdrop Assets", "Launchpool Airdrop", "HODLer Airdrops Distribution", "Megadrop Rewards",
        "Simple Earn Flexible Airdrop", "Crypto Box",
    ), _R.REWARD),
    *_ops(_G.SINGLE, _K.DISTRIBUTION, ("Distribution", "Token Swap - Distribution",
                                        "Launchpad Token Distribution")),
    *_ops(_G.SINGLE, _K.MINING, ("Super BNB Mining", "Pool Distribution"), _R.REWARD),
    # Futures (USD-M and COIN-M).
    *_ops(_G.SINGLE, _K.REALIZED_PNL, ("Realized Profit and Loss", "Realize profit and loss"), _R.PNL),
    Operation("Funding Fee", _G.SINGLE, _K.FUNDING_FEE, _R.FUNDING),
    Operation("Insurance Fund Compensation", _G.SINGLE, _K.FEE, _R.FEE),
    Operation("Insurance Fund Refund", _G.SINGLE, _K.FEE, _R.REBATE),
    # Margin loans and adjustments: no dedicated kind; kept as OTHER with a category (not unknown).
    *_ops(_G.SINGLE, _K.OTHER, ("Margin Loan", "Isolated Margin Loan"), category="loan"),
    *_ops(_G.SINGLE, _K.OTHER, ("Margin Repayment", "Isolated Margin Repayment",
                                 "Cross Margin Liquidation - Repayment"), category="loan_repayment"),
    *_ops(_G.SINGLE, _K.OTHER, ("Asset Recovery", "Leveraged Coin Consolidation"), category="adjustment"),
]

_SPACES = re.compile(r"\s+")


def _canonical(name: str) -> str:
    return _SPACES.sub(" ", name.strip()).casefold()


#: Every known operation by canonical (case-folded, blank-collapsed) name.
OPERATIONS: dict[str, Operation] = {_canonical(op.name): op for op in _TABLE}

#: A futures account's "Fee" row is a trading commission of the futures wallet, not a spot trade leg.
_FUTURES_FEE = Operation("Fee", Group.SINGLE, TransactionKind.FEE, LegRole.FEE)


def _is_futures(account: str) -> bool:
    text = account.casefold()
    return "futures" in text or "usd-m" in text or "coin-m" in text


@functools.lru_cache(maxsize=4096)
def lookup(operation: str, account: str) -> Operation:
    """The meaning of ``operation`` in ``account``; an unknown one is kept as OTHER (``known`` False)."""
    key = _canonical(operation)
    if key == "fee" and _is_futures(account):
        return _FUTURES_FEE
    found = OPERATIONS.get(key)
    if found is not None:
        return found
    return Operation(_SPACES.sub(" ", operation.strip()), Group.SINGLE, TransactionKind.OTHER, known=False)


@functools.lru_cache(maxsize=1024)
def wallet_of(account: str) -> str:
    """The leg ``wallet`` for a statement Account: "Spot" -> "spot", "USDT-Futures" -> "usdt_futures"."""
    return re.sub(r"[^0-9a-z]+", "_", account.casefold()).strip("_") or "spot"

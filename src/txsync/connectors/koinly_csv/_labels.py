"""Koinly's labels (tags) and what they make of a row.

Koinly's documentation lists tags for deposits (airdrop, fork, mining, reward, income, lending /
loan interest, salary, cashback, fee refund, realized gain / P&L, loan, margin loan, liquidity in,
remove from pool), for withdrawals (gift, donation, lost, cost, tax, margin fee, loan fee, interest
payment, loan / margin repayment, realized loss, liquidity out, add to pool) and for trades (swap,
liquidity in / out). Names are matched case-insensitively with blanks collapsed; older spellings
(``staking``, ``other income``, ``loan interest``, ``realized p&l``, ``sent to pool``...) are known too.
A label not in the table keeps the row's natural kind and is flagged, never dropped.
"""

from __future__ import annotations

from txsync.imports.records import Meaning, label_key
from txsync.models import LegRole, TransactionKind

__all__ = ["LABELS", "meaning"]

_K = TransactionKind
_R = LegRole

LABELS: dict[str, Meaning] = {
    # income on deposits
    "airdrop": Meaning(_K.AIRDROP, in_role=_R.REWARD, category="income"),
    "fork": Meaning(_K.DISTRIBUTION, category="fork"),
    "mining": Meaning(_K.MINING, in_role=_R.REWARD, category="income"),
    "reward": Meaning(_K.REWARD, in_role=_R.REWARD, category="income"),
    "staking": Meaning(_K.REWARD, in_role=_R.REWARD, category="income"),
    "income": Meaning(_K.DEPOSIT, category="income"),
    "other income": Meaning(_K.DEPOSIT, category="income"),
    "salary": Meaning(_K.DEPOSIT, category="income"),
    "lending interest": Meaning(_K.INTEREST, in_role=_R.INTEREST, category="income"),
    "loan interest": Meaning(_K.INTEREST, in_role=_R.INTEREST, category="income"),
    "cashback": Meaning(_K.REWARD, in_role=_R.REBATE, category="cashback"),
    "fee refund": Meaning(_K.REWARD, in_role=_R.REBATE, category="fee_refund"),
    "realized gain": Meaning(_K.REALIZED_PNL, in_role=_R.PNL, out_role=_R.PNL),
    "realized pnl": Meaning(_K.REALIZED_PNL, in_role=_R.PNL, out_role=_R.PNL),
    "realized p&l": Meaning(_K.REALIZED_PNL, in_role=_R.PNL, out_role=_R.PNL),
    "realized loss": Meaning(_K.REALIZED_PNL, in_role=_R.PNL, out_role=_R.PNL),
    "loan": Meaning(_K.DEPOSIT, category="loan"),
    "margin loan": Meaning(_K.DEPOSIT, category="loan"),
    "remove from pool": Meaning(_K.TRANSFER, category="pool"),
    "received from pool": Meaning(_K.TRANSFER, category="pool"),
    # withdrawals
    "gift": Meaning(_K.WITHDRAWAL, category="gift"),
    "donation": Meaning(_K.WITHDRAWAL, category="donation"),
    "lost": Meaning(_K.WITHDRAWAL, category="lost"),
    "stolen": Meaning(_K.WITHDRAWAL, category="lost"),
    "cost": Meaning(_K.WITHDRAWAL, category="cost"),
    "tax": Meaning(_K.WITHDRAWAL, category="tax"),
    "margin fee": Meaning(_K.FEE, out_role=_R.FEE, category="margin"),
    "loan fee": Meaning(_K.FEE, out_role=_R.FEE, category="loan"),
    "interest payment": Meaning(_K.FEE, out_role=_R.INTEREST, category="loan"),
    "loan repayment": Meaning(_K.WITHDRAWAL, category="loan"),
    "margin repayment": Meaning(_K.WITHDRAWAL, category="loan"),
    "add to pool": Meaning(_K.TRANSFER, category="pool"),
    "sent to pool": Meaning(_K.TRANSFER, category="pool"),
    # trades
    "swap": Meaning(_K.CONVERT),
    "liquidity in": Meaning(_K.LIQUIDITY),
    "liquidity out": Meaning(_K.LIQUIDITY),
    # kept as the natural kind, noted
    "ignored": Meaning(None, category="ignored"),
}


def meaning(label: str) -> Meaning | None:
    """What ``label`` means, or ``None`` if Koinly's table does not have it."""
    return LABELS.get(label_key(label))

"""CoinTracking's transaction types and what they make of a row.

The types of CoinTracking's trade table (English names, and the German ones its German interface
exports). A type not in the table keeps the row's natural kind (deposit, withdrawal, trade) and is
flagged, never dropped.
"""

from __future__ import annotations

from txsync.imports.records import Meaning, label_key
from txsync.models import LegRole, TransactionKind

__all__ = ["TYPES", "meaning"]

_K = TransactionKind
_R = LegRole

_INCOME = Meaning(_K.DEPOSIT, category="income")
_REWARD = Meaning(_K.REWARD, in_role=_R.REWARD, category="income")
_INTEREST = Meaning(_K.INTEREST, in_role=_R.INTEREST, category="income")
_PNL = Meaning(_K.REALIZED_PNL, in_role=_R.PNL, out_role=_R.PNL)
_FEE = Meaning(_K.FEE, out_role=_R.FEE)
_LIQUIDITY = Meaning(_K.LIQUIDITY)

_NAMES: dict[Meaning, tuple[str, ...]] = {
    Meaning(_K.TRADE): ("Trade", "Margin Trade", "Derivatives / Futures Trade", "Derivate / Futures Trade"),
    Meaning(None): ("Deposit", "Einzahlung", "Withdrawal", "Auszahlung"),
    _INCOME: ("Income", "Einnahme", "Other Income", "Sonstige Einnahme", "Income (non taxable)",
              "Einnahme (steuerfrei)"),
    Meaning(_K.DEPOSIT, category="gift"): ("Gift/Tip", "Gift / Tip", "Geschenk"),
    Meaning(_K.MINING, in_role=_R.REWARD, category="income"): ("Mining", "Mining (commercial)",
                                                                "Mining (kommerziell)"),
    _REWARD: ("Reward / Bonus", "Reward/Bonus", "Belohnung / Bonus", "Staking", "Masternode", "Minting",
              "LP Rewards", "Bounty"),
    Meaning(_K.AIRDROP, in_role=_R.REWARD, category="income"): ("Airdrop", "Airdrop (non taxable)",
                                                                 "Airdrop (steuerfrei)"),
    Meaning(_K.DISTRIBUTION, category="income"): ("Dividends Income", "Dividenden Einnahme"),
    _INTEREST: ("Lending Income", "Lending Einnahme", "Interest Income", "Zinsen"),
    _PNL: ("Derivatives / Futures Profit", "Derivate / Futures Gewinn", "Margin Profit", "Margin Gewinn",
           "Derivatives / Futures Loss", "Derivate / Futures Verlust", "Margin Loss", "Margin Verlust"),
    Meaning(_K.WITHDRAWAL, category="spend"): ("Spend", "Ausgabe"),
    Meaning(_K.WITHDRAWAL, category="donation"): ("Donation", "Spende"),
    Meaning(_K.WITHDRAWAL, category="gift"): ("Gift", "Schenkung"),
    Meaning(_K.WITHDRAWAL, category="lost"): ("Stolen", "Gestohlen", "Lost", "Verlust"),
    Meaning(_K.WITHDRAWAL, category="expense"): ("Other Expense", "Sonstige Ausgabe", "Expense (non taxable)",
                                                 "Ausgabe (steuerfrei)"),
    _FEE: ("Other Fee", "Sonstige Gebühr", "Margin Fee", "Margin Gebühr", "Borrowing Fee", "Borrowing Gebühr",
           "Settlement Fee", "Settlement Gebühr"),
    Meaning(_K.DEPOSIT, category="loan"): ("Receive Loan", "Kredit erhalten"),
    Meaning(_K.WITHDRAWAL, category="loan"): ("Repay Loan", "Kredit zurückzahlen"),
    Meaning(_K.TRANSFER, category="collateral"): ("Send Collateral", "Return Collateral"),
    _LIQUIDITY: ("Provide Liquidity", "Remove Liquidity", "Receive LP Token", "Return LP Token"),
    Meaning(_K.CONVERT): ("Swap (non taxable)", "Tausch (steuerfrei)"),
}

#: Every known type (normalized name) -> its meaning.
TYPES: dict[str, Meaning] = {label_key(name): m for m, names in _NAMES.items() for name in names}


def meaning(type_name: str) -> Meaning | None:
    """What a CoinTracking type means, or ``None`` if txsync's table does not have it."""
    return TYPES.get(label_key(type_name))

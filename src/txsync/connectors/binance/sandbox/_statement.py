"""The scenario account as Binance's "Generate all statements" CSV: one row per balance change,
``User_ID,UTC_Time,Account,Operation,Coin,Change,Remark``, UTC to the second, ``Change`` signed.

It covers every event that moved a balance, including what the API cannot return (the trades of the
delisted ``BCC*`` pairs), and nothing that did not (pending, failed or cancelled records). Each
event's rows add up, per coin, to exactly what the Binance connector's normalization of the API
record nets to, so the statement importer's events merge with the API's transactions.

Choices where Binance's naming is not documented: trades before 2022 use the legacy
``Buy``/``Sell``/``Fee`` names, later ones ``Transaction Buy/Spend/Sold/Revenue/Fee``; deposits are
stamped at ``completeTime`` (when credited); margin interest is a ``Margin Repayment`` row; the
futures ``STRATEGY_BONUS`` income a ``Campaign Related Reward``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ._scenario import ScenarioAccount

__all__ = ["STATEMENT_USER_ID", "StatementRow", "statement_csv", "statement_rows"]

#: The ``User_ID`` column of the scenario account's statement.
STATEMENT_USER_ID = "38419576"
_HEADER = ("User_ID", "UTC_Time", "Account", "Operation", "Coin", "Change", "Remark")
_NEW_NAMES = datetime(2022, 1, 1, tzinfo=UTC)
_DIVIDENDS = (
    ("bnb vault", "BNB Vault Rewards"),
    ("launchpool", "Launchpool Interest"),
    ("eth 2.0 staking", "ETH 2.0 Staking Rewards"),
    ("airdrop", "Airdrop Assets"),
)
_INCOME = {
    "REALIZED_PNL": "Realized Profit and Loss",
    "FUNDING_FEE": "Funding Fee",
    "COMMISSION": "Fee",
    "STRATEGY_BONUS": "Campaign Related Reward",
}
_BUY_NAMES = {True: ("Buy", "Buy", "Fee"), False: ("Transaction Buy", "Transaction Spend", "Transaction Fee")}
_SELL_NAMES = {
    True: ("Sell", "Sell", "Fee"),
    False: ("Transaction Sold", "Transaction Revenue", "Transaction Fee"),
}
_DUST = "Small assets exchange BNB"
_FUTURES = "USDT-Futures"
_MARGIN = "Cross Margin"
_ISOLATED = "Isolated Margin"
_COIN_FUTURES = "COIN-M Futures"
_OPTIONS = "Options"
_LOANS = {
    "borrowIn": "Crypto Loans Borrow",
    "repayAmount": "Crypto Loans Repayment",
    "collateralSpent": "Crypto Loans Collateral",
    "collateralReturn": "Crypto Loans Collateral Return",
}


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One statement row (``at`` is already truncated to the second)."""

    at: datetime
    account: str
    operation: str
    coin: str
    change: Decimal
    remark: str = ""


def _at_ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) // 1000, tz=UTC)


def _at_text(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def _trade_rows(row: dict[str, Any], base: str, quote: str, account: str) -> Iterator[StatementRow]:
    at = _at_ms(row["time"])
    qty, quote_qty, fee = _d(row["qty"]), _d(row["quoteQty"]), _d(row["commission"])
    buy = bool(row["isBuyer"])
    legacy = at < _NEW_NAMES
    if buy:
        names = _BUY_NAMES[legacy]
        yield StatementRow(at, account, names[0], base, qty)
        yield StatementRow(at, account, names[1], quote, -quote_qty)
    else:
        names = _SELL_NAMES[legacy]
        yield StatementRow(at, account, names[0], base, -qty)
        yield StatementRow(at, account, names[1], quote, quote_qty)
    if fee:
        yield StatementRow(at, account, names[2], str(row["commissionAsset"]), -fee)


def _pair(acc: ScenarioAccount, symbol: str) -> tuple[str, str]:
    market = acc.listing.markets.get(symbol)
    if market is not None:
        return market.base, market.quote
    return acc.listing.vanished[symbol]


def _events(acc: ScenarioAccount) -> Iterator[StatementRow]:
    for symbol in sorted(acc.trades):
        base, quote = _pair(acc, symbol)
        for row in acc.trades[symbol]:
            yield from _trade_rows(row, base, quote, "Spot")
    for symbol in sorted(acc.isolated_trades):
        base, quote = _pair(acc, symbol)
        for row in acc.isolated_trades[symbol]:
            yield from _trade_rows(row, base, quote, _ISOLATED)
    for row in acc.isolated_interest:
        at = _at_ms(row["interestAccuredTime"])
        yield StatementRow(at, _ISOLATED, "Isolated Margin Repayment", row["asset"], -_d(row["interest"]))
    for symbol in sorted(acc.margin_trades):
        base, quote = _pair(acc, symbol)
        for row in acc.margin_trades[symbol]:
            yield from _trade_rows(row, base, quote, _MARGIN)
    for row in acc.deposits:
        if row["status"] in (1, 6):  # 6: credited, only withdrawals are locked
            wallet = "Funding" if row.get("walletType") == 1 else "Spot"
            yield StatementRow(_at_ms(row["completeTime"]), wallet, "Deposit", row["coin"], _d(row["amount"]))
    for row in acc.withdrawals:
        if row["status"] == 6:
            total = _d(row["amount"]) + _d(row["transactionFee"])
            at = _at_text(row["applyTime"])
            yield StatementRow(at, "Spot", "Withdraw", row["coin"], -total, "Withdraw fee is included")
    for row in acc.fiat_orders:
        if row["status"] == "Successful":
            amount, fee = _d(row["amount"]), _d(row["totalFee"])
            deposit = row["transactionType"] == "0"
            yield StatementRow(
                _at_ms(row["createTime"]),
                "Spot",
                "Fiat Deposit" if deposit else "Fiat Withdraw",
                row["fiatCurrency"],
                amount - fee if deposit else -amount - fee,
            )
    for row in acc.fiat_payments:
        at = _at_ms(row["createTime"])
        if row["paymentMethod"] == "Cash Balance":
            yield StatementRow(at, "Spot", "Buy Crypto", row["fiatCurrency"], -_d(row["sourceAmount"]))
        yield StatementRow(at, "Spot", "Buy Crypto", row["cryptoCurrency"], _d(row["obtainAmount"]))
    for row in acc.converts:
        if row["orderStatus"] == "SUCCESS":
            at = _at_ms(row["createTime"])
            yield StatementRow(at, "Spot", "Binance Convert", row["fromAsset"], -_d(row["fromAmount"]))
            yield StatementRow(at, "Spot", "Binance Convert", row["toAsset"], _d(row["toAmount"]))
    for row in acc.dust:
        at = _at_ms(row["operateTime"])
        for detail in row["userAssetDribbletDetails"]:
            yield StatementRow(at, "Spot", _DUST, detail["fromAsset"], -_d(detail["amount"]))
            yield StatementRow(at, "Spot", _DUST, "BNB", _d(detail["transferedAmount"]))
    for row in acc.dividends:
        info = str(row["enInfo"]).lower()
        operation = next((name for text, name in _DIVIDENDS if text in info), "Distribution")
        yield StatementRow(_at_ms(row["divTime"]), "Spot", operation, row["asset"], _d(row["amount"]))
    for row in acc.earn_flexible:
        yield StatementRow(
            _at_ms(row["time"]), "Spot", "Simple Earn Flexible Interest", row["asset"], _d(row["rewards"])
        )
    for row in acc.earn_locked:
        yield StatementRow(
            _at_ms(row["time"]), "Spot", "Simple Earn Locked Rewards", row["asset"], _d(row["amount"])
        )
    for row in acc.swaps:
        if row["status"] == 1:
            at = _at_ms(row["swapTime"])
            spent = _d(row["quoteQty"]) + _d(row["fee"])
            yield StatementRow(at, "Spot", "Liquid Swap Sell", row["quoteAsset"], -spent)
            yield StatementRow(at, "Spot", "Liquid Swap Sell", row["baseAsset"], _d(row["baseQty"]))
    for row in acc.futures_income:
        at, amount, asset = _at_ms(row["time"]), _d(row["income"]), row["asset"]
        if row["incomeType"] == "TRANSFER":
            name = "Transfer Between Spot Account and UM Futures Account"
            yield StatementRow(at, "Spot", name, asset, -amount)
            yield StatementRow(at, _FUTURES, name, asset, amount)
        else:
            yield StatementRow(at, _FUTURES, _INCOME[row["incomeType"]], asset, amount)
    for row in acc.margin_interest:
        at = _at_ms(row["interestAccuredTime"])
        yield StatementRow(at, _MARGIN, "Margin Repayment", row["asset"], -_d(row["interest"]))
    yield from _category_rows(acc)


def _category_rows(acc: ScenarioAccount) -> Iterator[StatementRow]:
    """The categories read since issue 18 (operation names as the reference file spells them where
    it lists them; the crypto-loan names are not in it and are guessed)."""
    for row in acc.coin_futures_income:
        at, amount, asset = _at_ms(row["time"]), _d(row["income"]), row["asset"]
        if row["incomeType"] == "TRANSFER":
            name = "Transfer Between Spot Account and CM Futures Account"
            yield StatementRow(at, "Spot", name, asset, -amount)
            yield StatementRow(at, _COIN_FUTURES, name, asset, amount)
        else:
            yield StatementRow(at, _COIN_FUTURES, _INCOME[row["incomeType"]], asset, amount)
    for row in acc.option_bills:
        at, amount = _at_ms(row["createDate"]), _d(row["amount"])
        if row["type"] == "TRANSFER":  # the generic wallet-move names of the reference file
            yield StatementRow(
                at, "Spot", "transfer_out" if amount > 0 else "transfer_in", row["asset"], -amount
            )
            yield StatementRow(
                at, _OPTIONS, "transfer_in" if amount > 0 else "transfer_out", row["asset"], amount
            )
        else:
            name = "Options Fee" if row["type"] == "FEE" else "Options Premium"
            yield StatementRow(at, _OPTIONS, name, row["asset"], amount)
    for row in acc.pay:
        yield StatementRow(
            _at_ms(row["transactionTime"]), "Funding", "Send", row["currency"], _d(row["amount"])
        )
    for row in acc.p2p:
        if row["orderStatus"] == "COMPLETED":
            sign = 1 if row["tradeType"] == "BUY" else -1
            change = sign * _d(row["amount"]) - _d(row["commission"])
            yield StatementRow(_at_ms(row["createTime"]), "Funding", "P2P Trading", row["asset"], change)
    for row in acc.eth_staking:
        at = _at_ms(row["time"])
        if row["product"] in ("staking", "redemption"):
            yield StatementRow(at, "Spot", "ETH 2.0 Staking", row["asset"], -_d(row["amount"]))
            yield StatementRow(
                at, "Spot", "ETH 2.0 Staking", row["distributeAsset"], _d(row["distributeAmount"])
            )
        elif row["product"] == "rewards":
            yield StatementRow(at, "Spot", "ETH 2.0 Staking Rewards", row["asset"], _d(row["amount"]))
    for row in acc.rebates:
        name = "Commission Rebate" if row["type"] == 1 else "Referral Kickback"
        yield StatementRow(_at_ms(row["updateTime"]), "Spot", name, row["asset"], _d(row["amount"]))
    for row in acc.loans:
        sign = 1 if row["type"] in ("borrowIn", "collateralReturn") else -1
        name = _LOANS[row["type"]]
        yield StatementRow(_at_ms(row["timestamp"]), "Spot", name, row["asset"], sign * _d(row["amount"]))
    wallets = {"MAIN": "Spot", "FUNDING": "Funding", "MARGIN": _MARGIN}
    names = {
        "FUNDING": "Transfer Between Main and Funding Wallet",
        "MARGIN": "Transfer Between Main Account/Futures and Margin Account",
    }
    for row in acc.universal_transfers:
        source, _, target = row["type"].partition("_")
        if row["status"] == "CONFIRMED" and "ISOLATEDMARGIN" in (source, target):
            at, amount = _at_ms(row["timestamp"]), _d(row["amount"])
            sign = 1 if target == "ISOLATEDMARGIN" else -1
            yield StatementRow(at, _MARGIN, "Isolated Margin Transfer", row["asset"], -sign * amount)
            yield StatementRow(at, _ISOLATED, "Isolated Margin Transfer", row["asset"], sign * amount)
            continue
        if row["status"] == "CONFIRMED" and {source, target} <= set(wallets):  # futures, options: above
            at, amount = _at_ms(row["timestamp"]), _d(row["amount"])
            name = names[target if source == "MAIN" else source]
            yield StatementRow(at, wallets[source], name, row["asset"], -amount)
            yield StatementRow(at, wallets[target], name, row["asset"], amount)
    for row in acc.sub_transfers:
        if row["status"] == "SUCCESS":
            sign = 1 if row["type"] == 1 else -1
            yield StatementRow(
                _at_ms(row["time"]), "Spot", "Sub-account Transfer", row["asset"], sign * _d(row["qty"])
            )
    for row in acc.auto_invest:
        if row["transactionStatus"] == "SUCCESS":
            at = _at_ms(row["transactionDateTime"])
            spent = _d(row["sourceAssetAmount"]) + _d(row["transactionFee"])
            yield StatementRow(at, "Spot", "Auto-Invest Transaction", row["sourceAsset"], -spent)
            yield StatementRow(
                at, "Spot", "Auto-Invest Transaction", row["targetAsset"], _d(row["targetAssetAmount"])
            )


def statement_rows(account: ScenarioAccount) -> list[StatementRow]:
    """Every balance change of ``account``, in time order (a stable order inside one second)."""
    return sorted(_events(account), key=lambda r: r.at)


def statement_csv(account: ScenarioAccount, *, user_id: str = STATEMENT_USER_ID) -> str:
    """``account`` as the CSV Binance's "Generate all statements" produces (every field quoted,
    ``\\n`` line ends, no BOM); the same account always gives the same text."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(_HEADER)
    for row in statement_rows(account):
        writer.writerow(
            (
                user_id,
                row.at.strftime("%Y-%m-%d %H:%M:%S"),
                row.account,
                row.operation,
                row.coin,
                f"{row.change:f}",
                row.remark,
            )
        )
    return out.getvalue()

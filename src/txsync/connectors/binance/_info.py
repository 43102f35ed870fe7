"""The Binance connector's static description: credential schema, streams, coverage gaps."""

from __future__ import annotations

from txsync.connector import ConnectorInfo, CoverageGap, CredentialField, StreamInfo
from txsync.models import ConnectorKind

__all__ = ["GAPS", "INFO", "STATEMENT_REMEDY"]

#: What the user does about almost every gap: the account statement file covers everything.
STATEMENT_REMEDY = (
    "Import Binance's account statement file (Wallet > Transaction History > Generate all statements, "
    "CSV) into the same account: its rows fill what the API cannot return."
)

GAPS: tuple[CoverageGap, ...] = (
    CoverageGap(
        id="dust_beyond_100",
        title="Dust conversions beyond the last 100",
        description=(
            "/sapi/v1/asset/dribblet returns only the last 100 dust conversions, none before 2020-12-01."
        ),
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="futures_beyond_3_months",
        title="USD-M futures history older than 3 months",
        description="/fapi/v1/income keeps only the last 3 months.",
        remedy=STATEMENT_REMEDY + " Export the futures transaction history regularly to keep it.",
    ),
    CoverageGap(
        id="delisted_pairs",
        title="Trades in delisted pairs",
        description=(
            "A pair removed from the exchange answers -1121 (invalid symbol): its trades cannot be read."
        ),
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="unreconciled_assets",
        title="Balances the API history does not explain",
        description=(
            "After every stream, the reported balance of some assets differs from what the API history "
            "adds up to: movements the API does not list (wallet transfers, earn subscriptions, the "
            "gaps below) or trades in pairs that were not queried."
        ),
        remedy=STATEMENT_REMEDY
        + " If you traded an asset you no longer hold and that never left Binance, set the connection "
        "option pair_discovery='thorough' (slower) or name the pairs in extra_pairs.",
    ),
    CoverageGap(
        id="launchpad",
        title="Launchpad subscriptions",
        description=(
            "Launchpad commitments and token allocations have no history endpoint (Launchpool "
            "rewards are synced, as asset dividends)."
        ),
        remedy=STATEMENT_REMEDY,
        always=True,
    ),
    CoverageGap(
        id="eth2_staking",
        title="ETH 2.0 staking this key cannot read",
        description=(
            "ETH staking history (stakes, redemptions, BETH and WBETH rewards) is synced; noted when "
            "the key is refused it. The original 2020-2023 BETH staking subscriptions before the "
            "history endpoints may only be in the statement."
        ),
        remedy=STATEMENT_REMEDY,
        assets=("ETH", "BETH", "WBETH"),
    ),
    CoverageGap(
        id="pos_savings",
        title="Locked staking (POS) and savings before Simple Earn",
        description=(
            "Rewards of the retired Savings/Locked Staking products, before the Simple Earn history "
            "(option earn_origin), have no history endpoint any more."
        ),
        remedy=STATEMENT_REMEDY,
        always=True,
    ),
    CoverageGap(
        id="card",
        title="Binance Card spending and cashback",
        description="Binance Card payments have no API.",
        remedy=STATEMENT_REMEDY,
        always=True,
    ),
    CoverageGap(
        id="p2p",
        title="P2P trading this key cannot read",
        description="P2P (C2C) orders are synced from June 2020 on; noted when the key is refused them.",
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="coin_m_futures",
        title="COIN-M futures this key cannot read",
        description="COIN-M futures income (/dapi/v1/income) is synced; noted when the key is refused it.",
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="loans",
        title="Crypto loans this key cannot read",
        description="Crypto loan flows (/sapi/v1/loan/income) are synced; noted when the key is refused.",
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="mining",
        title="Pool mining without the mining account names",
        description=(
            "Binance Pool earnings (/sapi/v1/mining/payment/list) are served only for a mining "
            "account name and algorithm the key cannot list: noted when the connection's "
            "mining_accounts option names none. Extra bonuses (/sapi/v1/mining/payment/other) are "
            "not synced."
        ),
        remedy="Set the connection option mining_accounts to your Binance Pool account names "
        '(["name"] or ["name/algo"], algo sha256 by default). ' + STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="vanilla_options",
        title="European options this key cannot read",
        description="Options funding flows (/eapi/v1/bill) are synced; noted when the key is refused them.",
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="pay_beyond_18_months",
        title="Binance Pay older than 18 months",
        description="/sapi/v1/pay/transactions serves the last 18 months only.",
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="rebates_beyond_1_year",
        title="Spot commission rebates older than a year",
        description="/sapi/v1/rebate/taxQuery serves the last year only.",
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="auto_invest",
        title="Auto-invest this key cannot read",
        description="Auto-invest purchases are synced; noted when the key is refused them.",
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="wallet_transfers",
        title="Universal transfers this key cannot read",
        description=(
            "Universal transfers between the account's own wallets (/sapi/v1/asset/transfer) are "
            "synced; noted when the key is refused them. They move value between wallets only: the "
            "per-asset balances stay right without them, the per-wallet ones do not."
        ),
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="transfers_beyond_6_months",
        title="Universal transfers older than 6 months",
        description=(
            "/sapi/v1/asset/transfer serves the last 6 months only: older moves between the account's "
            "wallets are missing (per-wallet balances of that time; every asset's total is unaffected)."
        ),
        remedy=STATEMENT_REMEDY,
    ),
    CoverageGap(
        id="sub_account_transfers",
        title="Sub-account transfers this key cannot read",
        description=(
            "Transfers between a sub-account and its master or other sub-accounts are synced with a "
            "sub-account's key (/sapi/v1/sub-account/transfer/subUserHistory); noted when the key "
            "is not a sub-account's. A master account's transfers to its sub-accounts are read "
            "through each sub-account's own connection."
        ),
        remedy="Add each sub-account as its own Binance connection (a read-only key of the "
        "sub-account): its transfers are then synced and linked to the master's side. " + STATEMENT_REMEDY,
    ),
)

INFO = ConnectorInfo(
    id="binance",
    display_name="Binance",
    kind=ConnectorKind.EXCHANGE,
    credential_fields=(
        CredentialField(name="api_key", label="API key", secret=True),
        CredentialField(name="api_secret", label="Secret key", secret=True),
    ),
    streams=(
        StreamInfo(name="deposits", description="Crypto deposits (/sapi/v1/capital/deposit/hisrec)"),
        StreamInfo(name="withdrawals", description="Crypto withdrawals (/sapi/v1/capital/withdraw/history)"),
        StreamInfo(name="fiat_orders", description="Fiat deposits and withdrawals (/sapi/v1/fiat/orders)"),
        StreamInfo(
            name="fiat_payments", description="Crypto bought or sold with fiat (/sapi/v1/fiat/payments)"
        ),
        StreamInfo(name="convert", description="Convert trades (/sapi/v1/convert/tradeFlow)"),
        StreamInfo(name="dust", description="Small-balance conversions to BNB (/sapi/v1/asset/dribblet)"),
        StreamInfo(
            name="dividends", description="Staking, airdrops and distributions (/sapi/v1/asset/assetDividend)"
        ),
        StreamInfo(name="earn_flexible", description="Simple Earn flexible rewards"),
        StreamInfo(name="earn_locked", description="Simple Earn locked rewards"),
        StreamInfo(name="liquidity_swaps", description="Liquid Swap trades (/sapi/v1/bswap/swap)"),
        StreamInfo(
            name="futures_income", description="USD-M futures income (/fapi/v1/income), last 3 months"
        ),
        StreamInfo(name="coin_futures_income", description="COIN-M futures income (/dapi/v1/income)"),
        StreamInfo(name="pay", description="Binance Pay transactions (/sapi/v1/pay/transactions), 18 months"),
        StreamInfo(name="p2p", description="P2P orders (/sapi/v1/c2c/orderMatch/listUserOrderHistory)"),
        StreamInfo(name="eth_staking", description="ETH staking, redemptions, BETH/WBETH rewards"),
        StreamInfo(name="spot_rebates", description="Spot commission rebates (/sapi/v1/rebate/taxQuery)"),
        StreamInfo(name="loans", description="Crypto loan flows (/sapi/v1/loan/income)"),
        StreamInfo(name="auto_invest", description="Auto-invest purchases"),
        StreamInfo(name="option_bills", description="European options funding flows (/eapi/v1/bill)"),
        StreamInfo(
            name="universal_transfers",
            description="Transfers between the account's wallets (/sapi/v1/asset/transfer), 6 months",
        ),
        StreamInfo(name="mining", description="Binance Pool earnings of the mining_accounts option"),
        StreamInfo(
            name="sub_account_transfers",
            description="Transfers to/from the master and other sub-accounts (a sub-account's key)",
        ),
        StreamInfo(
            name="margin_interest", description="Cross margin interest (when the account uses margin)"
        ),
        StreamInfo(
            name="isolated_margin_interest",
            description="Isolated margin interest, per isolated pair (/sapi/v1/margin/interestHistory)",
        ),
        StreamInfo(
            name="isolated_margin_trades",
            description="Isolated margin trades, per isolated pair (/sapi/v1/margin/myTrades)",
        ),
        StreamInfo(
            name="trades", description="Spot trades (/api/v3/myTrades), pairs discovered from the rest"
        ),
        StreamInfo(name="margin_trades", description="Cross margin trades (when the account uses margin)"),
    ),
    coverage_gaps=GAPS,
    reports_permissions=True,
    minimal_permissions=(
        "Enable Reading only: no Spot & Margin trading, no withdrawals, no internal or universal "
        "transfers, no futures/options/portfolio-margin trading; restrict the key to your server's IP."
    ),
)

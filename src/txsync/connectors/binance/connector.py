"""The Binance connector: a read-only key's complete history, within Binance's rate limits."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from txsync.connector import Connector, ConnectorContext, Stream
from txsync.errors import AuthError, BadRequestError, BadResponseError, PermissionDeniedError
from txsync.fields import Fields, clean_label
from txsync.models import Balance, Permissions
from txsync.models.values import exact

from ._api import BinanceApi
from ._categories import OPTIONS_WALLET
from ._category_streams import (
    AutoInvestStream,
    CoinFuturesIncomeStream,
    EthStakingStream,
    LoansStream,
    OptionBillsStream,
    P2PStream,
    PayStream,
    SpotRebatesStream,
)
from ._discovery import KNOWN_DELISTED, AssetTally, Symbol
from ._errors import MarginUnavailableError
from ._info import INFO
from ._isolated import IsolatedMarginInterestStream, IsolatedMarginTradesStream, isolated_side
from ._mining import MiningStream
from ._options import Options
from ._streams import (
    ConvertStream,
    DepositsStream,
    DividendsStream,
    DustStream,
    EarnFlexibleStream,
    EarnLockedStream,
    FiatOrdersStream,
    FiatPaymentsStream,
    FuturesIncomeStream,
    LiquiditySwapsStream,
    MarginInterestStream,
    WithdrawalsStream,
)
from ._trades import MarginTradesStream, TradesStream
from ._transfer_streams import SubAccountTransfersStream, UniversalTransfersStream
from ._transfers import isolated_wallet

__all__ = ["Binance"]

#: exchangeInfo lists only SPOT/MARGIN/LEVERAGED symbols unless asked for the trading groups too.
EXCHANGE_PERMISSIONS = ["SPOT", "MARGIN", "LEVERAGED", *(f"TRD_GRP_{n:03d}" for n in range(2, 26))]
#: Key rights that allow trading of any kind.
TRADING_FLAGS = (
    "enableSpotAndMarginTrading",
    "enableMargin",
    "enableFutures",
    "enableVanillaOptions",
    "enablePortfolioMarginTrading",
    "enableFixApiTrade",
)
_ZERO = Decimal(0)
MARGIN_ACCOUNT = "/sapi/v1/margin/account"
ISOLATED_ACCOUNT = "/sapi/v1/margin/isolated/account"
OPTIONS_ACCOUNT = "/eapi/v1/account"


def _any_right(required: Sequence[bool | None], optional: Sequence[bool | None] = ()) -> bool | None:
    """Whether a key holds a right that any of these flags grants: ``True`` if one says so, ``None``
    (unknown) if a required flag is missing, ``False`` only when every required flag says no."""
    if any(value is True for value in (*required, *optional)):
        return True
    if any(value is None for value in required):
        return None
    return False


def _amount(row: Mapping[str, Any], *names: str) -> Decimal:
    """The sum of a balance row's amount fields (absent ones count 0; a non-number is a bad response)."""
    fields = Fields(row, stream="balances", record=_asset_of(row))
    with exact():
        return sum((fields.amount(name, _ZERO) for name in names), _ZERO)


def _asset_of(row: Any) -> str:
    """A balance row's asset (a typed error when it is not an asset symbol)."""
    return Fields(row, stream="balances").asset("asset")


def _details(body: Mapping[str, Any]) -> dict[str, Any]:
    """The key's flags and settings for the report: booleans and numbers as they are, texts cleaned
    (an answer's strings reach the report's JSON: no control or lone surrogate character)."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if not isinstance(key, str) or clean_label(key, 80) != key:
            continue
        if isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**63):
            out[key] = value
        elif isinstance(value, str):
            out[key] = clean_label(value, 200) or ""
    return out


class Binance(Connector):
    """Binance (binance.com): spot trades, deposits and withdrawals, fiat, convert, dust, dividends,
    Simple Earn, Liquid Swap, USD-M futures income and cross margin, from a read-only key.

    Options: see :class:`txsync.connectors.binance._options.Options`. Pair discovery, limits and
    coverage gaps are described in ``docs/connectors/binance.md``.
    """

    info = INFO

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.options = Options.parse(context.options)
        self.api = BinanceApi(context, self.options)
        self.tally = AssetTally()
        #: Spot pairs with trades, once the trades stream has run (read by the margin stream).
        self.traded_pairs: set[str] = set()
        self._residual: dict[str, Decimal] | None = None
        self._markets: dict[str, Symbol] | None = None
        self._margin: bool | None = self.options.margin
        self._margin_account: dict[str, Any] | None = None
        self._isolated: list[Mapping[str, Any]] | None = None

    # -- key and balances -------------------------------------------------------------------------------

    async def verify(self) -> Permissions:
        """The key's own rights from ``/sapi/v1/account/apiRestrictions``, read fail-closed.

        Only a JSON ``true``/``false`` counts as an answer. A right whose flag is missing or not a
        boolean (an API change, a proxy rewriting the body) is unknown (``None``), which the engine's
        read-only policy refuses as if the key held it: withdrawals (``enableWithdrawals``),
        transfers (``enableInternalTransfer``, ``permitsUniversalTransfer``) and trading (the
        ``enableSpotAndMarginTrading`` flag every answer has; the other trading flags count when
        present). Reading needs ``enableReading: true``.
        """
        path = "/sapi/v1/account/apiRestrictions"
        body = await self.api.signed(path)
        if not isinstance(body, dict):
            raise BadResponseError("apiRestrictions: expected an object", endpoint=path)

        def flag(name: str) -> bool | None:
            value = body.get(name)
            return value if isinstance(value, bool) else None

        return Permissions(
            reported=True,
            can_read=flag("enableReading") is True,
            can_trade=_any_right([flag(TRADING_FLAGS[0])], [flag(name) for name in TRADING_FLAGS[1:]]),
            can_withdraw=flag("enableWithdrawals"),
            can_transfer=_any_right([flag("enableInternalTransfer"), flag("permitsUniversalTransfer")]),
            ip_restricted=flag("ipRestrict"),
            details=_details(body),
        )

    async def _spot(self) -> list[Balance]:
        body = await self.api.signed("/api/v3/account", {"omitZeroBalances": "true"})
        rows = body.get("balances") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise BadResponseError("account: expected balances[]", endpoint="/api/v3/account")
        result = []
        for row in rows:
            free, locked = _amount(row, "free"), _amount(row, "locked")
            if free + locked:
                result.append(
                    Balance(asset=_asset_of(row), amount=free + locked, locked=locked, wallet="spot")
                )
        return result

    async def _funding(self) -> list[Balance]:
        body = await self.api.signed("/sapi/v1/asset/get-funding-asset", method="POST")
        if not isinstance(body, list):
            raise BadResponseError("funding: expected a list", endpoint="/sapi/v1/asset/get-funding-asset")
        result = []
        for row in body:
            amount = _amount(row, "free", "locked", "freeze", "withdrawing")
            if amount:
                locked = _amount(row, "locked", "freeze", "withdrawing")
                result.append(Balance(asset=_asset_of(row), amount=amount, locked=locked, wallet="funding"))
        return result

    async def _margin_balances(self) -> list[Balance]:
        if not await self.margin_enabled() or self._margin_account is None:
            return []
        result = []
        for row in self._margin_rows():
            net = _amount(row, "netAsset")
            if net:
                result.append(Balance(asset=_asset_of(row), amount=net, wallet="margin"))
        return result

    async def _isolated_balances(self) -> list[Balance]:
        """Each isolated pair's two assets (``netAsset``), in the pair's own wallet."""
        result = []
        for row in await self.isolated_accounts():
            fields = Fields(row, stream="isolated_account")
            symbol = fields.asset("symbol")
            for name in ("baseAsset", "quoteAsset"):
                side = isolated_side(fields.named(symbol), name)
                net = _amount(side.data, "netAsset")
                if net:
                    result.append(
                        Balance(asset=side.asset("asset"), amount=net, wallet=isolated_wallet(symbol))
                    )
        return result

    async def _futures(self) -> list[Balance]:
        try:
            body = await self.api.signed("/fapi/v2/balance")
        except (AuthError, PermissionDeniedError):
            return []  # a key that cannot read futures: no futures wallet to report
        if not isinstance(body, list):
            raise BadResponseError("futures balance: expected a list", endpoint="/fapi/v2/balance")
        result = []
        for row in body:
            amount = _amount(row, "balance")
            if amount:
                result.append(Balance(asset=_asset_of(row), amount=amount, wallet="futures:usdm"))
        return result

    async def _coin_futures(self) -> list[Balance]:
        try:
            body = await self.api.signed("/dapi/v1/balance")
        except (AuthError, PermissionDeniedError):
            return []  # a key that cannot read COIN-M futures: no such wallet to report
        if not isinstance(body, list):
            raise BadResponseError("COIN-M balance: expected a list", endpoint="/dapi/v1/balance")
        result = []
        for row in body:
            amount = _amount(row, "balance")
            if amount:
                result.append(Balance(asset=_asset_of(row), amount=amount, wallet="futures:coinm"))
        return result

    async def _options(self) -> list[Balance]:
        """The options wallet (``/eapi/v1/account``, weight 3): ``marginBalance`` per asset (the
        account balance ``option_bills`` moves; ``equity`` adds open positions' unrealized PnL)."""
        try:
            body = await self.api.signed(OPTIONS_ACCOUNT)
        except (AuthError, PermissionDeniedError, BadRequestError):
            return []  # a key (or an account) without options: no options wallet to report
        rows = body.get("asset") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise BadResponseError("options account: expected asset[]", endpoint=OPTIONS_ACCOUNT)
        result = []
        for row in rows:
            amount = _amount(row, "marginBalance")
            if amount:
                result.append(Balance(asset=_asset_of(row), amount=amount, wallet=OPTIONS_WALLET))
        return result

    async def balances(self) -> Sequence[Balance]:
        """Spot, funding, cross margin (net), each isolated margin pair (net), USD-M and COIN-M
        futures and options wallets."""
        spot, funding = await self._spot(), await self._funding()
        return [
            *spot,
            *funding,
            *await self._margin_balances(),
            *await self._isolated_balances(),
            *await self._futures(),
            *await self._coin_futures(),
            *await self._options(),
        ]

    async def residual_balances(self) -> dict[str, Decimal]:
        """Per asset, the wallets pair discovery reconciles against (all but futures); read once
        per connector instance (one sync)."""
        if self._residual is None:
            totals: dict[str, Decimal] = {}
            wallets = [
                *await self._spot(),
                *await self._funding(),
                *await self._margin_balances(),
                *await self._isolated_balances(),
            ]
            for balance in wallets:
                totals[balance.asset] = totals.get(balance.asset, _ZERO) + balance.amount
            self._residual = totals
        return dict(self._residual)

    # -- shared state of the streams ----------------------------------------------------------------------

    async def margin_enabled(self) -> bool:
        """Whether to read margin history: the ``margin`` option, or (``auto``) whether a cross
        margin account exists (``/sapi/v1/margin/account``, weight 10; -3003 when it never did)."""
        if self._margin is None:
            try:
                body = await self.api.signed("/sapi/v1/margin/account")
            except MarginUnavailableError:
                self._margin = False
            else:
                self._margin = True
                self._margin_account = body if isinstance(body, dict) else {}
        elif self._margin and self._margin_account is None:
            try:
                body = await self.api.signed("/sapi/v1/margin/account")
            except MarginUnavailableError:
                body = {}
            self._margin_account = body if isinstance(body, dict) else {}
        return self._margin

    def _margin_rows(self) -> list[Mapping[str, Any]]:
        """The margin account's ``userAssets`` rows (a typed error when they are not a list of
        objects)."""
        account = Fields(self._margin_account or {}, stream="margin_account", record=MARGIN_ACCOUNT)
        return [row.data for row in account.objects("userAssets", optional=True)]

    async def isolated_accounts(self) -> list[Mapping[str, Any]]:
        """The account's isolated margin pairs, as ``/sapi/v1/margin/isolated/account`` (IP 10)
        lists them (``assets[]``: ``symbol``, ``baseAsset`` and ``quoteAsset`` holdings), read once
        per sync; none when the ``margin`` option is off or the account has no margin account."""
        if self._isolated is None:
            self._isolated = []
            if self.options.margin is not False:
                try:
                    body = await self.api.signed(ISOLATED_ACCOUNT)
                except (MarginUnavailableError, AuthError, PermissionDeniedError):
                    body = {}
                fields = Fields(body if isinstance(body, dict) else {}, stream="isolated_account")
                for row in fields.objects("assets", optional=True):
                    row.asset("symbol")  # checked: a pair without a symbol is a bad response
                    self._isolated.append(row.data)
        return list(self._isolated)

    async def isolated_pairs(self) -> set[str]:
        """The symbols of the account's isolated margin pairs."""
        return {str(row["symbol"]) for row in await self.isolated_accounts()}

    async def margin_assets(self) -> set[str]:
        """Assets the margin account holds or owes now."""
        await self.margin_enabled()
        assets = set()
        for row in self._margin_rows():
            if any(_amount(row, name) for name in ("free", "locked", "borrowed", "interest", "netAsset")):
                assets.add(_asset_of(row))
        return assets

    async def markets(self, known: Mapping[str, str] | None = None) -> dict[str, Symbol]:
        """Every symbol exchangeInfo lists (whatever its status), plus known delisted pairs, the
        ``extra_pairs`` option and ``known`` pairs (``{symbol: "BASE/QUOTE"}``, traded before), with
        status ``DELISTED`` when exchangeInfo lacks them."""
        if self._markets is None:
            permissions = json.dumps(EXCHANGE_PERMISSIONS, separators=(",", ":"))
            body = await self.api.public(
                "/api/v3/exchangeInfo", {"permissions": permissions, "showPermissionSets": "false"}
            )
            rows = body.get("symbols") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise BadResponseError("exchangeInfo: expected symbols[]", endpoint="/api/v3/exchangeInfo")
            markets: dict[str, Symbol] = {}
            for row in rows:
                fields = Fields(row, stream="exchangeInfo")
                fields = fields.named(fields.asset("symbol"))
                sym = Symbol(
                    symbol=fields.asset("symbol"),
                    base=fields.asset("baseAsset"),
                    quote=fields.asset("quoteAsset"),
                    status=fields.text("status", max_length=40, default="TRADING"),
                    margin=fields.raw("isMarginTradingAllowed") is True,
                )
                markets[sym.symbol] = sym
            for base, quote in (*KNOWN_DELISTED, *self.options.extra_pairs):
                markets.setdefault(f"{base}{quote}", Symbol(f"{base}{quote}", base, quote, "DELISTED"))
            self._markets = markets
        for name, split in (known or {}).items():
            base, _, quote = str(split).partition("/")
            if name not in self._markets and base and quote:
                self._markets[name] = Symbol(name, base, quote, "DELISTED")
        return self._markets

    # -- streams --------------------------------------------------------------------------------------------

    def streams(self) -> Sequence[Stream]:
        """Every stream, trades after all the streams its pair discovery learns from."""
        return [
            DepositsStream(self),
            WithdrawalsStream(self),
            FiatOrdersStream(self),
            FiatPaymentsStream(self),
            ConvertStream(self),
            DustStream(self),
            DividendsStream(self),
            EarnFlexibleStream(self),
            EarnLockedStream(self),
            LiquiditySwapsStream(self),
            FuturesIncomeStream(self),
            CoinFuturesIncomeStream(self),
            PayStream(self),
            P2PStream(self),
            EthStakingStream(self),
            SpotRebatesStream(self),
            LoansStream(self),
            AutoInvestStream(self),
            OptionBillsStream(self),
            UniversalTransfersStream(self),
            SubAccountTransfersStream(self),
            MiningStream(self),
            MarginInterestStream(self),
            IsolatedMarginInterestStream(self),
            IsolatedMarginTradesStream(self),
            MarginTradesStream(self),
            TradesStream(self),
        ]

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self.api.aclose()

"""The synthetic world every price-source sandbox serves: one deterministic price for any asset, any minute.

The sandboxes of the built-in price sources (Binance klines, CoinGecko, the ECB) emulate their APIs over
this one market, so their answers agree with each other (Binance's ``BTCEUR`` and CoinGecko's
``bitcoin`` in ``eur`` are the same market, give or take each source's own sampling) and tests can
compute what a source should have answered.

Every asset has a USD price path: a seeded daily random walk from an anchor price (stablecoins and
currencies hover around their anchor instead), interpolated linearly within the day, plus a
deterministic jitter per minute. Arithmetic is decimal throughout; prices carry 12 significant digits.
Nothing here is real market data.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal

__all__ = ["DEFAULT_MARKET", "SANDBOX_NOW", "MarketAsset", "ReferenceMarket"]

#: The sandboxes' default "now" (that of the Binance connector's sandbox account).
SANDBOX_NOW = datetime(2024, 6, 1, tzinfo=UTC)

_CTX = Context(prec=28, rounding=ROUND_HALF_EVEN)
_ORIGIN = date(2013, 1, 1)
_DIGITS = 12
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class MarketAsset:
    """One asset of the synthetic market: its USD price on ``_ORIGIN`` and how it moves."""

    asset_id: str
    anchor_usd: Decimal
    #: Largest daily move (a fraction: 0.05 = 5 %); 0 for assets pegged to their anchor.
    volatility: Decimal = Decimal("0.04")
    #: Largest deviation from the anchor of a pegged asset (stablecoins, currencies).
    wobble: Decimal = Decimal(0)
    #: First day the asset has a price (it "launched").
    since: date = _ORIGIN


def _coin(coin_id: str, usd: str, vol: str = "0.04", since: date = _ORIGIN) -> MarketAsset:
    return MarketAsset(f"coin:{coin_id}", Decimal(usd), Decimal(vol), since=since)


def _stable(coin_id: str, wobble: str = "0.004", since: date = _ORIGIN) -> MarketAsset:
    return MarketAsset(f"coin:{coin_id}", Decimal(1), Decimal(0), Decimal(wobble), since)


def _money(code: str, usd: str, wobble: str) -> MarketAsset:
    return MarketAsset(f"fiat:{code}", Decimal(usd), Decimal(0), Decimal(wobble))


#: The assets of the default market (anchors are synthetic, roughly of the right order of magnitude).
_ASSETS: tuple[MarketAsset, ...] = (
    _money("USD", "1", "0"),
    _money("EUR", "1.12", "0.06"),
    _money("GBP", "1.30", "0.07"),
    _money("CHF", "1.05", "0.05"),
    _money("JPY", "0.0085", "0.08"),
    _money("TRY", "0.12", "0.3"),
    _money("BRL", "0.25", "0.15"),
    _money("AUD", "0.70", "0.06"),
    _money("PLN", "0.26", "0.06"),
    _money("SEK", "0.10", "0.06"),
    _stable("tether", "0.006"),
    _stable("usd-coin", "0.003", date(2018, 9, 26)),
    _stable("binance-usd", "0.003", date(2019, 9, 10)),
    _stable("dai", "0.005", date(2019, 11, 18)),
    _stable("first-digital-usd", "0.003", date(2023, 6, 1)),
    _stable("true-usd", "0.004", date(2018, 3, 1)),
    _coin("bitcoin", "900", "0.035"),
    _coin("ethereum", "8", "0.045", date(2015, 8, 7)),
    _coin("binancecoin", "1.2", "0.04", date(2017, 7, 25)),
    _coin("bitcoin-cash", "400", "0.05", date(2017, 8, 1)),
    _coin("bitcoin-cash-sv", "90", "0.05", date(2018, 11, 15)),
    _coin("zcoin", "5", "0.05", date(2016, 10, 6)),
    _coin("ripple", "0.2", "0.05"),
    _coin("litecoin", "20", "0.045"),
    _coin("cardano", "0.05", "0.05", date(2017, 10, 1)),
    _coin("polkadot", "4", "0.05", date(2017, 8, 1)),
    _coin("solana", "1", "0.06", date(2017, 8, 1)),
    _coin("dogecoin", "0.002", "0.06"),
    _coin("tron", "0.02", "0.05", date(2017, 9, 1)),
    _coin("vechain", "0.01", "0.05", date(2017, 8, 1)),
    _coin("iota", "0.5", "0.05", date(2017, 6, 1)),
    _coin("algorand", "0.5", "0.05", date(2017, 8, 1)),
    _coin("shiba-inu", "0.000001", "0.07", date(2017, 8, 1)),
    _coin("fantom", "0.05", "0.06", date(2017, 8, 1)),
    _coin("monero", "30", "0.045"),
    _coin("0x", "0.3", "0.05", date(2017, 8, 15)),
    _coin("compound-governance-token", "50", "0.05", date(2017, 8, 1)),
    _coin("pancakeswap-token", "2", "0.05", date(2017, 8, 1)),
    _coin("lido-dao", "1", "0.05", date(2017, 8, 1)),
    _coin("sui", "1", "0.06", date(2017, 8, 1)),
    _coin("ethereum-classic", "5", "0.045"),
    _coin("internet-computer", "10", "0.05", date(2017, 8, 1)),
    _coin("aave", "40", "0.05", date(2017, 8, 1)),
    _coin("kusama", "20", "0.05", date(2017, 8, 1)),
    _coin("curve-dao-token", "1", "0.05", date(2017, 8, 1)),
    _coin("render-token", "0.5", "0.06", date(2017, 8, 1)),
    _coin("pepe", "0.0000005", "0.08", date(2017, 8, 1)),
    _coin("aptos", "5", "0.05", date(2017, 8, 1)),
    _coin("maker", "300", "0.045", date(2017, 8, 1)),
    _coin("the-graph", "0.2", "0.05", date(2017, 8, 1)),
    _coin("optimism", "1", "0.05", date(2017, 8, 1)),
    _coin("icon", "1", "0.05", date(2017, 8, 1)),
    _coin("enjincoin", "0.1", "0.05", date(2017, 8, 1)),
    _coin("injective-protocol", "2", "0.06", date(2017, 8, 1)),
    _coin("stellar", "0.05", "0.045"),
    _coin("nano", "1", "0.05", date(2017, 8, 1)),
    _coin("uniswap", "5", "0.05", date(2017, 8, 1)),
    _coin("chainlink", "0.3", "0.05", date(2017, 8, 1)),
    _coin("arbitrum", "1", "0.05", date(2017, 8, 1)),
    _coin("polygon-ecosystem-token", "0.5", "0.05", date(2017, 8, 1)),
    _coin("matic-network", "0.01", "0.06", date(2017, 8, 1)),
    _coin("wrapped-bitcoin", "900", "0.035", date(2019, 1, 30)),
    _coin("weth", "8", "0.045", date(2017, 12, 1)),
)

#: Coin ids of assets whose paths follow another's (wrapped coins track what they wrap).
_TRACKS = {"coin:wrapped-bitcoin": "coin:bitcoin", "coin:weth": "coin:ethereum"}


def _unit(seed: str) -> Decimal:
    """A deterministic number in [-1, 1) from ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    value = int.from_bytes(digest[:8], "big")
    return _CTX.subtract(_CTX.divide(Decimal(value), Decimal(2**63)), Decimal(1))


class ReferenceMarket:
    """USD prices of every asset of the synthetic market (see the module notes)."""

    def __init__(self, assets: tuple[MarketAsset, ...] = _ASSETS, *, seed: str = "txsync-market") -> None:
        self.assets = {asset.asset_id: asset for asset in assets}
        self.seed = seed
        self._paths: dict[str, list[Decimal]] = {}

    def knows(self, asset_id: str) -> bool:
        """Whether the market has a price path for ``asset_id``."""
        return asset_id in self.assets or asset_id in _TRACKS

    def since(self, asset_id: str) -> date | None:
        """The first day ``asset_id`` has a price, ``None`` if the market does not know it."""
        asset = self.assets.get(asset_id)
        return asset.since if asset is not None else None

    def _anchor(self, asset: MarketAsset, day: int) -> Decimal:
        if asset.volatility == 0:
            deviation = _CTX.multiply(asset.wobble, _unit(f"{self.seed}:{asset.asset_id}:{day}"))
            return _CTX.multiply(asset.anchor_usd, _CTX.add(Decimal(1), deviation))
        path = self._paths.setdefault(asset.asset_id, [asset.anchor_usd])
        while len(path) <= day:
            step = _CTX.multiply(asset.volatility, _unit(f"{self.seed}:{asset.asset_id}:{len(path)}"))
            # a slight upward drift keeps the paths from dying out over a decade
            step = _CTX.add(step, Decimal("0.0012"))
            path.append(_CTX.multiply(path[-1], _CTX.add(Decimal(1), step)))
        return path[day]

    def usd(self, asset_id: str, at: datetime) -> Decimal | None:
        """One ``asset_id`` in USD at ``at`` (a minute's price), ``None`` before its launch or if unknown."""
        asset_id = _TRACKS.get(asset_id, asset_id)
        asset = self.assets.get(asset_id)
        if asset is None:
            return None
        moment = at.astimezone(UTC)
        if moment.date() < asset.since:
            return None
        day = (moment.date() - _ORIGIN).days
        if day < 0:
            return None
        start = self._anchor(asset, day)
        end = self._anchor(asset, day + 1)
        seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
        fraction = _CTX.divide(Decimal(seconds), Decimal(86400))
        price = _CTX.add(start, _CTX.multiply(_CTX.subtract(end, start), fraction))
        if asset.volatility:
            minute = (moment - _EPOCH) // timedelta(minutes=1)
            jitter = _CTX.multiply(Decimal("0.0005"), _unit(f"{self.seed}:{asset_id}:m{minute}"))
            price = _CTX.multiply(price, _CTX.add(Decimal(1), jitter))
        return Context(prec=_DIGITS, rounding=ROUND_HALF_EVEN).plus(price)

    def price(self, asset_id: str, quote_id: str, at: datetime) -> Decimal | None:
        """One ``asset_id`` in ``quote_id`` at ``at`` (12 significant digits), ``None`` if either has none."""
        asset = self.usd(asset_id, at)
        quote = self.usd(quote_id, at)
        if asset is None or quote is None or quote == 0:
            return None
        return Context(prec=_DIGITS, rounding=ROUND_HALF_EVEN).divide(asset, quote)

    def minute_prices(self, asset_id: str, quote_id: str, start: datetime) -> tuple[Decimal, ...] | None:
        """The prices at the start of each second-quarter of the minute from ``start`` (open, two
        intermediate, close), for a candle's open/high/low/close."""
        moments = [start + timedelta(seconds=s) for s in (0, 20, 40, 59)]
        prices = [self.price(asset_id, quote_id, m) for m in moments]
        if any(p is None for p in prices):
            return None
        return tuple(p for p in prices if p is not None)


@functools.cache
def _default() -> ReferenceMarket:
    return ReferenceMarket()


#: The market every built-in sandbox serves by default.
DEFAULT_MARKET = _default()

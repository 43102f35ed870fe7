"""Asset identity: what a connector's ticker or token contract *is*, as price sources know it.

A leg's ``asset`` is whatever its connector calls it: ``"BTC"`` on Binance, ``"BCC"`` on Binance in
2018 (Bitcoin Cash), ``"eip155:1/erc20:0xa0b8..."`` in an EVM wallet. Valuation first turns it into a
**txsync asset id**, a source-neutral name every price source translates to its own symbol:

* ``coin:<id>`` - a coin, named by its CoinGecko API id (``coin:bitcoin``, ``coin:bitcoin-cash``);
* ``fiat:<ISO 4217 code>`` - money (``fiat:EUR``);
* ``eip155:<chain>/erc20:<address>`` - an ERC-20 token not in a mapping, by chain and contract (CAIP-19);
* ``eip155:<chain>/erc721:...`` / ``erc1155`` - NFTs, which have no market price.

The translation is a **maintained mapping per connector** (``txsync/valuation/mappings/<connector>.toml``,
which may extend ``common.toml``). A ticker no mapping knows is *unknown*: reported, never guessed.
ISO 4217 currency codes are money for every connector. Hosts add or replace mappings with
:meth:`AssetResolver.register` (for a third-party connector, or to correct one).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from txsync.errors import ConfigurationError

__all__ = [
    "FIAT_CODES",
    "AssetMapping",
    "AssetResolution",
    "AssetResolver",
    "coin",
    "fiat",
    "fiat_code",
    "is_fiat",
    "is_nft",
    "is_token",
    "parse_caip19",
]

#: ISO 4217 codes of currencies in circulation that exchanges and banks quote. A leg in one of these is
#: money, whatever the connector.
FIAT_CODES: frozenset[str] = frozenset(
    {
        "AED",
        "ARS",
        "AUD",
        "BDT",
        "BGN",
        "BHD",
        "BRL",
        "CAD",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CZK",
        "DKK",
        "EGP",
        "EUR",
        "GBP",
        "GEL",
        "GHS",
        "HKD",
        "HRK",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "ISK",
        "JPY",
        "KES",
        "KRW",
        "KWD",
        "KZT",
        "LKR",
        "MAD",
        "MXN",
        "MYR",
        "NGN",
        "NOK",
        "NZD",
        "PEN",
        "PHP",
        "PKR",
        "PLN",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "SAR",
        "SEK",
        "SGD",
        "THB",
        "TRY",
        "TWD",
        "UAH",
        "USD",
        "VND",
        "ZAR",
    }
)

_COIN_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_CAIP19 = re.compile(
    r"^eip155:(?P<chain>[0-9]{1,12})/(?P<namespace>erc20|erc721|erc1155):(?P<ref>0x[0-9a-f]{40})(/.+)?$"
)


def coin(coin_id: str) -> str:
    """The asset id of a coin (``coin("bitcoin")`` -> ``"coin:bitcoin"``)."""
    if not _COIN_ID.match(coin_id):
        raise ConfigurationError(f"not a coin id: {coin_id!r} (lower-case letters, digits, '-', '_', '.')")
    return f"coin:{coin_id}"


def fiat(code: str) -> str:
    """The asset id of a currency (``fiat("eur")`` -> ``"fiat:EUR"``)."""
    upper = code.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", upper):
        raise ConfigurationError(f"not an ISO 4217 currency code: {code!r}")
    return f"fiat:{upper}"


def is_fiat(asset_id: str) -> bool:
    """Whether ``asset_id`` is money (``fiat:...``)."""
    return asset_id.startswith("fiat:")


def fiat_code(asset_id: str) -> str:
    """``"fiat:EUR"`` -> ``"EUR"``."""
    if not is_fiat(asset_id):
        raise ConfigurationError(f"{asset_id!r} is not a currency")
    return asset_id[5:]


def parse_caip19(asset_id: str) -> tuple[int, str, str] | None:
    """``(chain id, namespace, contract address)`` of an EVM CAIP-19 asset id, or ``None``."""
    match = _CAIP19.match(asset_id)
    if match is None:
        return None
    return int(match["chain"]), match["namespace"], match["ref"]


def is_token(asset_id: str) -> bool:
    """Whether ``asset_id`` is an ERC-20 token named by chain and contract."""
    parsed = parse_caip19(asset_id)
    return parsed is not None and parsed[1] == "erc20"


def is_nft(asset_id: str) -> bool:
    """Whether ``asset_id`` is an NFT (ERC-721 / ERC-1155)."""
    parsed = parse_caip19(asset_id)
    return parsed is not None and parsed[1] in ("erc721", "erc1155")


@dataclass(frozen=True, slots=True)
class _Meaning:
    """What a ticker means during ``[start, end)`` (``None`` = unbounded)."""

    asset_id: str
    start: date | None = None
    end: date | None = None

    def covers(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day < self.end)


@dataclass(frozen=True)
class AssetMapping:
    """One connector's tickers (and token contracts) -> txsync asset ids.

    ``coins`` maps a ticker to its meanings (usually one, unbounded); ``tokens`` maps CAIP-19 token ids
    to coin asset ids; ``keep_caip19`` keeps any other EVM CAIP-19 id as the asset id (an exact identity,
    so not a guess).
    """

    connector_id: str
    coins: Mapping[str, tuple[_Meaning, ...]] = field(default_factory=dict)
    tokens: Mapping[str, str] = field(default_factory=dict)
    keep_caip19: bool = False

    @classmethod
    def from_dict(
        cls, connector_id: str, data: Mapping[str, Any], *, bases: Iterable[AssetMapping] = ()
    ) -> AssetMapping:
        """Build a mapping from its TOML document (``bases`` are what it ``extends``, applied first)."""
        coins: dict[str, tuple[_Meaning, ...]] = {}
        tokens: dict[str, str] = {}
        keep = False
        for base in bases:
            coins.update(base.coins)
            tokens.update(base.tokens)
            keep = keep or base.keep_caip19
        where = f"asset mapping {connector_id!r}"
        for ticker, value in dict(data.get("coins", {})).items():
            coins[str(ticker)] = _meanings(where, str(ticker), value)
        for token, value in dict(data.get("tokens", {})).items():
            parsed = parse_caip19(str(token).lower())
            if parsed is None or parsed[1] != "erc20":
                raise ConfigurationError(f"{where}: {token!r} is not an ERC-20 CAIP-19 id")
            tokens[str(token).lower()] = _coin_value(where, str(token), value)
        keep = keep or bool(data.get("keep_caip19", False))
        return cls(connector_id=connector_id, coins=coins, tokens=tokens, keep_caip19=keep)


def _coin_value(where: str, ticker: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{where}: {ticker!r} must map to a coin id string")
    try:
        return coin(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {ticker!r}: {exc}") from None


def _day(where: str, value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigurationError(f"{where}: {value!r} is not a day (YYYY-MM-DD)")


def _meanings(where: str, ticker: str, value: Any) -> tuple[_Meaning, ...]:
    if isinstance(value, str):
        return (_Meaning(_coin_value(where, ticker, value)),)
    if not isinstance(value, list) or not value:
        raise ConfigurationError(
            f"{where}: {ticker!r} must map to a coin id or a list of {{id, from, until}}"
        )
    found = []
    for item in value:
        if not isinstance(item, Mapping) or "id" not in item:
            raise ConfigurationError(f"{where}: {ticker!r}: every entry needs an 'id'")
        unknown = set(item) - {"id", "from", "until"}
        if unknown:
            raise ConfigurationError(f"{where}: {ticker!r}: unknown keys {sorted(unknown)}")
        meaning = _Meaning(
            _coin_value(where, ticker, item["id"]),
            _day(where, item.get("from")),
            _day(where, item.get("until")),
        )
        if meaning.start is not None and meaning.end is not None and meaning.start >= meaning.end:
            raise ConfigurationError(f"{where}: {ticker!r}: 'from' must be before 'until'")
        found.append(meaning)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class AssetResolution:
    """A leg's asset as valuation sees it: its asset id, or why it has none."""

    connector_id: str
    ticker: str
    asset_id: str | None
    reason: str | None = None

    @property
    def known(self) -> bool:
        """Whether the asset resolved to an asset id."""
        return self.asset_id is not None


def _load_builtin(name: str, seen: tuple[str, ...] = ()) -> AssetMapping:
    if name in seen:
        raise ConfigurationError(f"asset mappings extend each other in a loop: {' -> '.join((*seen, name))}")
    text = resources.files("txsync.valuation.mappings").joinpath(f"{name}.toml").read_text("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"asset mapping {name!r} is not valid TOML: {exc}") from None
    bases = [_load_builtin(str(base), (*seen, name)) for base in data.get("extends", [])]
    return AssetMapping.from_dict(name, data, bases=bases)


#: Connectors whose mapping ships with txsync (``mappings/<id>.toml``).
BUILTIN_MAPPINGS: tuple[str, ...] = (
    "binance",
    "binance_statement",
    "bitcoin",
    "bitstamp",
    "demo",
    "evm",
    "paymium",
)


class AssetResolver:
    """Resolves ``(connector id, ticker, time)`` to a txsync asset id, or says why it cannot.

    Built-in connectors' mappings are loaded on first use. ISO 4217 codes resolve to ``fiat:`` ids for
    every connector; any other ticker needs the connector's mapping.
    """

    def __init__(self, mappings: Iterable[AssetMapping] = (), *, builtin: bool = True) -> None:
        self._mappings: dict[str, AssetMapping] = {}
        self._builtin = builtin
        for mapping in mappings:
            self.register(mapping)

    def register(self, mapping: AssetMapping) -> None:
        """Use ``mapping`` for its connector (replacing a built-in one)."""
        self._mappings[mapping.connector_id] = mapping

    def register_toml(self, connector_id: str, text: str) -> AssetMapping:
        """Parse a mapping in the built-in files' format (``extends`` may name built-in mappings)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"asset mapping {connector_id!r} is not valid TOML: {exc}") from None
        bases = [self.mapping(str(base)) or _load_builtin(str(base)) for base in data.get("extends", [])]
        mapping = AssetMapping.from_dict(connector_id, data, bases=bases)
        self.register(mapping)
        return mapping

    def mapping(self, connector_id: str) -> AssetMapping | None:
        """The mapping used for ``connector_id``, if any."""
        found = self._mappings.get(connector_id)
        if found is None and self._builtin and connector_id in BUILTIN_MAPPINGS:
            found = self._mappings[connector_id] = _load_builtin(connector_id)
        return found

    def resolve(self, connector_id: str, ticker: str, at: datetime | None = None) -> AssetResolution:
        """What ``ticker`` of ``connector_id`` is at ``at`` (meanings that changed over time need it)."""
        if ticker in FIAT_CODES:
            return AssetResolution(connector_id, ticker, f"fiat:{ticker}")
        mapping = self.mapping(connector_id)
        if mapping is None:
            return AssetResolution(
                connector_id,
                ticker,
                None,
                f"connector {connector_id!r} has no asset mapping: register one "
                "(txsync.valuation.AssetResolver.register) to value its assets",
            )
        lowered = ticker.lower()
        if lowered in mapping.tokens:
            return AssetResolution(connector_id, ticker, mapping.tokens[lowered])
        meanings = mapping.coins.get(ticker)
        if meanings is not None:
            day = (at or datetime.now(UTC)).astimezone(UTC).date()
            for meaning in meanings:
                if meaning.covers(day):
                    return AssetResolution(connector_id, ticker, meaning.asset_id)
            spans = ", ".join(
                f"{m.asset_id} from {m.start or 'the start'} until {m.end or 'now'}" for m in meanings
            )
            return AssetResolution(
                connector_id,
                ticker,
                None,
                f"{ticker!r} of {connector_id!r} has no known meaning on {day} (mapped: {spans})",
            )
        if mapping.keep_caip19 and parse_caip19(lowered) is not None:
            return AssetResolution(connector_id, ticker, lowered)
        return AssetResolution(
            connector_id,
            ticker,
            None,
            f"unknown asset {ticker!r} of connector {connector_id!r}: add it to the asset mapping "
            "(see docs/valuation.md, 'Asset identity')",
        )

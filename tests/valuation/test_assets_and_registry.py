"""Asset identity (per-connector mappings, never guessed) and the price-source plugin registry."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from helpers.price_cassettes import PRICES, SECRETS
from txsync.errors import ConfigurationError, PluginError
from txsync.plugins import PluginStatus
from txsync.testing.cassettes import find_cassette_leaks
from txsync.valuation import (
    PRICE_SOURCE_GROUP,
    AssetResolver,
    Granularity,
    PriceSourceInfo,
    PriceSourceRegistry,
    SourceKind,
    build_policy,
    default_price_source_registry,
)
from txsync.valuation.assets import BUILTIN_MAPPINGS
from txsync.valuation.sources.binance import BinanceKlines

IN_2018 = datetime(2018, 5, 1, tzinfo=UTC)
IN_2020 = datetime(2020, 5, 1, tzinfo=UTC)


def test_binance_bcc_is_bitcoin_cash_then_nothing_and_never_bitconnect_elsewhere() -> None:
    assets = AssetResolver()
    assert assets.resolve("binance", "BCC", IN_2018).asset_id == "coin:bitcoin-cash"
    assert assets.resolve("binance_statement", "BCC", IN_2018).asset_id == "coin:bitcoin-cash"
    later = assets.resolve("binance", "BCC", IN_2020)
    assert later.asset_id is None and "no known meaning on 2020-05-01" in (later.reason or "")
    elsewhere = assets.resolve("bitstamp", "BCC", IN_2018)
    assert elsewhere.asset_id is None and "unknown asset 'BCC'" in (elsewhere.reason or "")


def test_evm_tokens_by_chain_and_contract() -> None:
    assets = AssetResolver()
    usdc = "eip155:1/erc20:0xA0b86991c6218b36c1d19d4a2e9eb0ce3606eB48"
    assert assets.resolve("evm", usdc, IN_2020).asset_id == "coin:usd-coin"  # contract case does not matter
    other = "eip155:137/erc20:0x00000000000000000000000000000000000000ff"
    assert assets.resolve("evm", other, IN_2020).asset_id == other  # kept as its exact identity
    assert assets.resolve("evm", "ETH", IN_2020).asset_id == "coin:ethereum"
    assert assets.resolve("evm", "POL", IN_2020).asset_id == "coin:polygon-ecosystem-token"
    assert assets.resolve("binance", other, IN_2020).asset_id is None  # only the EVM mapping keeps them


def test_wallets_money_and_unknown_connectors() -> None:
    assets = AssetResolver()
    assert assets.resolve("bitcoin", "BTC", IN_2020).asset_id == "coin:bitcoin"
    assert assets.resolve("bitcoin", "ETH", IN_2020).asset_id is None
    assert assets.resolve("some-plugin", "EUR", IN_2020).asset_id == "fiat:EUR"  # money is money everywhere
    unknown = assets.resolve("some-plugin", "BTC", IN_2020)
    assert unknown.asset_id is None and "has no asset mapping" in (unknown.reason or "")


def test_every_builtin_mapping_loads_and_hosts_add_their_own() -> None:
    assets = AssetResolver()
    for connector in BUILTIN_MAPPINGS:
        assert assets.mapping(connector) is not None
    assets.register_toml("kraken", 'extends = ["common"]\n[coins]\nXXBT = "bitcoin"\n')
    assert assets.resolve("kraken", "XXBT", IN_2020).asset_id == "coin:bitcoin"
    assert assets.resolve("kraken", "ETH", IN_2020).asset_id == "coin:ethereum"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[coins]\nBTC = 5\n", "must map to a coin id"),
        ('[coins]\nBTC = "Bit Coin"\n', "not a coin id"),
        ('[coins]\nBCC = [{ id = "bitcoin-cash", when = "2018" }]\n', "unknown keys"),
        (
            '[coins]\nBCC = [{ id = "x", from = "2019-01-01", until = "2018-01-01" }]\n',
            "'from' must be before",
        ),
        ('[tokens]\n"BTC" = "bitcoin"\n', "not an ERC-20 CAIP-19 id"),
        ("[coins\n", "not valid TOML"),
    ],
)
def test_a_broken_mapping_is_a_configuration_error(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AssetResolver().register_toml("broken", text)


def test_the_builtin_sources_are_published_through_entry_points() -> None:
    registry = default_price_source_registry()
    assert set(registry.available()) >= {"binance", "coingecko", "ecb"}
    policy = build_policy(context={})
    assert [s.info.id for s in policy.market] == ["binance", "coingecko"] and [
        s.info.id for s in policy.fx
    ] == ["ecb"]
    with pytest.raises(ConfigurationError, match="is a fx source"):
        build_policy(market=["ecb"], fx=[])
    with pytest.raises(PluginError, match="unknown price source 'nope'"):
        build_policy(market=["nope"])


@pytest.fixture
def plugin_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("_txsync_price_plugin")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def test_a_broken_price_source_plugin_is_reported_and_never_fatal(plugin_module: types.ModuleType) -> None:
    class Good(BinanceKlines):
        info = BinanceKlines.info.model_copy(update={"id": "good"})

    class Newer(BinanceKlines):
        info = BinanceKlines.info.model_copy(update={"id": "newer", "api_version": 99})

    class NoInfo:
        pass

    plugin_module.__dict__.update(Good=Good, Newer=Newer, NoInfo=NoInfo)

    def ep(name: str, target: str) -> EntryPoint:
        return EntryPoint(name=name, value=f"{plugin_module.__name__}:{target}", group=PRICE_SOURCE_GROUP)

    registry = PriceSourceRegistry(
        [
            ep("good", "Good"),
            ep("newer", "Newer"),
            ep("noinfo", "NoInfo"),
            ep("missing", "Missing"),
            ep("other", "Good"),
        ]
    )
    entries = {e.id: e for e in registry.load_all()}
    assert entries["good"].status is PluginStatus.AVAILABLE and registry.get("good") is Good
    assert entries["newer"].status is PluginStatus.INCOMPATIBLE and "price source API version 99" in (
        entries["newer"].reason or ""
    )
    assert entries["noinfo"].status is PluginStatus.BROKEN and "PriceSourceInfo" in (
        entries["noinfo"].reason or ""
    )
    assert entries["missing"].status is PluginStatus.BROKEN and "cannot import" in (
        entries["missing"].reason or ""
    )
    assert entries["other"].status is PluginStatus.BROKEN and "entry point is named 'other'" in (
        entries["other"].reason or ""
    )
    with pytest.raises(PluginError, match="price source 'newer'"):
        registry.get("newer")


def test_a_host_registers_its_own_source() -> None:
    class Mine(BinanceKlines):
        info: Any = PriceSourceInfo(
            id="mine", display_name="Mine", kind=SourceKind.MARKET, granularities=(Granularity.HOUR,)
        )

    registry = PriceSourceRegistry([])
    registry.register(Mine)
    assert build_policy(market=["mine"], fx=[], registry=registry, context={}).market[0].info.id == "mine"


def test_no_price_cassette_holds_a_key() -> None:
    assert find_cassette_leaks(PRICES, SECRETS, scrub_headers=("x-cg-demo-api-key", "x-cg-pro-api-key")) == []

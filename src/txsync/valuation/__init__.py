"""Valuation: every movement valued in the owner's currency, from the best evidence, with provenance.

* Rules (:mod:`~txsync.valuation.rules`): the user's override, then an imported value, then a trade's
  own fiat leg, then the market price of the leg the policy prices best; every other leg at its own
  time; spam, NFTs and assets no source prices are unpriceable with the reason, never 0; what has no
  price yet is pending and retried by the next pass.
* Prices: :class:`PriceSource` plugins (entry-point group ``txsync.price_sources``) ordered by a
  :class:`PricePolicy`; the built-in sources are Binance klines, CoinGecko and the ECB's euro reference
  rates (:mod:`txsync.valuation.sources`). A :class:`PriceCache` is consulted before any request.
* Identity (:mod:`~txsync.valuation.assets`): a connector's ticker or token contract maps to a txsync
  asset id through a maintained mapping per connector; unknown assets are reported.
* :class:`Valuator`: transactions in, :class:`TransactionValuation` s and a :class:`ValuationReport`
  out; :class:`ValuationStore` keeps them between passes.
* Stored ledgers (:mod:`~txsync.valuation.ledger`): :func:`value_owner` is a pass over an owner's
  ledger kept in the SQL store (price cache and valuations tables), :class:`ValuationSyncHook` runs one
  after every sync.

Details: ``docs/valuation.md``.
"""

from txsync.valuation.assets import (
    FIAT_CODES,
    AssetMapping,
    AssetResolution,
    AssetResolver,
    coin,
    fiat,
    is_fiat,
)
from txsync.valuation.cache import CachedPrice, InMemoryPriceCache, PriceCache, PriceKey
from txsync.valuation.ledger import (
    DEFAULT_BASE_CURRENCY,
    BalanceValue,
    ValuationSyncHook,
    base_currency_of,
    default_policy,
    value_balances,
    value_owner,
    values_in,
)
from txsync.valuation.policy import PricePolicy, ResolvedPrice, ResolvedStatus
from txsync.valuation.prices import AnswerStatus, Granularity, PriceAnswer, PricePoint, PriceRequest
from txsync.valuation.registry import (
    PRICE_SOURCE_GROUP,
    PriceSourceRegistry,
    build_policy,
    default_price_source_registry,
)
from txsync.valuation.results import (
    LegValuation,
    PriceEvidence,
    TransactionValuation,
    ValuationMethod,
    ValuationStatus,
)
from txsync.valuation.rules import RuleContext, value_transaction
from txsync.valuation.source import (
    PRICE_SOURCE_API_VERSION,
    CandleSource,
    PriceSource,
    PriceSourceContext,
    PriceSourceInfo,
    Refusal,
    Route,
    SourceKind,
)
from txsync.valuation.store import InMemoryValuationStore, ValuationStore
from txsync.valuation.valuator import ValuationReport, ValuationRun, Valuator

__all__ = [
    "DEFAULT_BASE_CURRENCY",
    "FIAT_CODES",
    "PRICE_SOURCE_API_VERSION",
    "PRICE_SOURCE_GROUP",
    "AnswerStatus",
    "AssetMapping",
    "AssetResolution",
    "AssetResolver",
    "BalanceValue",
    "CachedPrice",
    "CandleSource",
    "Granularity",
    "InMemoryPriceCache",
    "InMemoryValuationStore",
    "LegValuation",
    "PriceAnswer",
    "PriceCache",
    "PriceEvidence",
    "PriceKey",
    "PricePoint",
    "PricePolicy",
    "PriceRequest",
    "PriceSource",
    "PriceSourceContext",
    "PriceSourceInfo",
    "PriceSourceRegistry",
    "Refusal",
    "ResolvedPrice",
    "ResolvedStatus",
    "Route",
    "RuleContext",
    "SourceKind",
    "TransactionValuation",
    "ValuationMethod",
    "ValuationReport",
    "ValuationRun",
    "ValuationStatus",
    "ValuationStore",
    "ValuationSyncHook",
    "Valuator",
    "base_currency_of",
    "build_policy",
    "coin",
    "default_policy",
    "default_price_source_registry",
    "fiat",
    "is_fiat",
    "value_balances",
    "value_owner",
    "value_transaction",
    "values_in",
]

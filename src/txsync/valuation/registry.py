"""Discovery of price-source plugins: the ``txsync.price_sources`` entry-point group.

A price source is published like a connector, e.g. in a plugin's ``pyproject.toml``::

    [project.entry-points."txsync.price_sources"]
    cryptocompare = "txsync_cryptocompare:CryptoCompare"

The entry point's name is the source id (``info.id``); its value a class with an ``info``
(:class:`~txsync.valuation.PriceSourceInfo`) built as ``SourceClass(context)``. The registry is the
connectors' machinery (:class:`txsync.plugins.PluginRegistry`): lazy, a broken or incompatible plugin
reported and never fatal to the others, an id claimed twice refused. :func:`build_policy` turns a
configured order of source ids into a :class:`~txsync.valuation.PricePolicy`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from txsync.errors import ConfigurationError, TxsyncError
from txsync.plugins import PluginRegistry, PluginStatus, Refused, check_plugin_info
from txsync.valuation.policy import PricePolicy
from txsync.valuation.source import PRICE_SOURCE_API_VERSION, PriceSource, PriceSourceContext, PriceSourceInfo

__all__ = [
    "DEFAULT_FX_ORDER",
    "DEFAULT_MARKET_ORDER",
    "PRICE_SOURCE_GROUP",
    "PriceSourceRegistry",
    "build_policy",
    "default_price_source_registry",
]

#: The entry-point group price-source plugins are published under.
PRICE_SOURCE_GROUP = "txsync.price_sources"

#: The default order of market sources: exchange minute candles first, the aggregator after.
DEFAULT_MARKET_ORDER: tuple[str, ...] = ("binance", "coingecko")
#: The default FX sources.
DEFAULT_FX_ORDER: tuple[str, ...] = ("ecb",)


def _check_price_source(obj: object, *, expected_id: str | None) -> type[Any]:
    if not isinstance(obj, type):
        raise Refused(
            PluginStatus.BROKEN,
            f"target is not a class but {type(obj).__name__} (expected a price source class)",
        )
    where = f"{obj.__module__}.{obj.__qualname__}"
    info = getattr(obj, "info", None)
    if not isinstance(info, PriceSourceInfo):
        raise Refused(PluginStatus.BROKEN, f"{where} has no 'info' (a txsync PriceSourceInfo)")
    try:  # an info built with ``model_construct`` or mutated past its validators
        PriceSourceInfo(**info.model_dump(warnings=False))
    except TxsyncError as exc:
        raise Refused(PluginStatus.BROKEN, f"{where}.info is invalid: {exc}") from exc
    check_plugin_info(
        "price source",
        where,
        info,
        expected_id=expected_id,
        api_version=PRICE_SOURCE_API_VERSION,
        actual_version=info.api_version,
    )
    missing = [
        name for name in ("prices", "granularity_for", "aclose") if not callable(getattr(obj, name, None))
    ]
    if missing:
        raise Refused(
            PluginStatus.BROKEN, f"{where} lacks {', '.join(missing)} (see txsync.valuation.PriceSource)"
        )
    if inspect.isabstract(obj):
        abstract = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise Refused(PluginStatus.BROKEN, f"{where} does not implement: {abstract}")
    return obj


class PriceSourceRegistry(PluginRegistry[Any]):
    """The price-source plugins of one process (see the module notes)."""

    group: ClassVar[str] = PRICE_SOURCE_GROUP
    kind: ClassVar[str] = "price source"

    def _check(self, obj: object, *, expected_id: str | None) -> type[Any]:
        return _check_price_source(obj, expected_id=expected_id)

    def _id_of(self, cls: type[Any]) -> str:
        info: PriceSourceInfo = cls.info
        return info.id


@functools.cache
def default_price_source_registry() -> PriceSourceRegistry:
    """The process-wide registry of installed price sources (``cache_clear()`` to rediscover)."""
    return PriceSourceRegistry()


def build_policy(
    *,
    market: Sequence[str] = DEFAULT_MARKET_ORDER,
    fx: Sequence[str] = DEFAULT_FX_ORDER,
    registry: PriceSourceRegistry | None = None,
    context: Callable[[str], PriceSourceContext] | Mapping[str, PriceSourceContext] | None = None,
    max_hops: int = 2,
) -> PricePolicy:
    """A :class:`PricePolicy` of the sources named in ``market`` and ``fx``, in that order.

    ``context`` gives each source its context (options, keys, transport, shared limiters), by id; the
    default is an empty context (the network, no key). An unknown or broken source id is a
    :class:`~txsync.errors.PluginError`; a market source in ``fx`` (or the reverse) a
    :class:`~txsync.errors.ConfigurationError`.
    """
    registry = registry or default_price_source_registry()
    built: dict[str, PriceSource] = {}

    def make(source_id: str, kind: str) -> PriceSource:
        if source_id in built:
            return built[source_id]
        cls = registry.get(source_id)
        info: PriceSourceInfo = cls.info
        if info.kind.value != kind:
            raise ConfigurationError(
                f"price source {source_id!r} is a {info.kind.value} source, not a {kind} one"
            )
        if context is None:
            ctx = PriceSourceContext()
        elif isinstance(context, Mapping):
            ctx = context.get(source_id) or PriceSourceContext()
        else:
            ctx = context(source_id)
        source: PriceSource = cls(ctx)
        built[source_id] = source
        return source

    return PricePolicy(
        [make(name, "market") for name in market], [make(name, "fx") for name in fx], max_hops=max_hops
    )

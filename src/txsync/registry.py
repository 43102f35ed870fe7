"""Discovery and loading of connector plugins.

Connectors, built-in and third-party alike, are published through the ``txsync.connectors``
entry-point group. Each entry point's *name* is the connector id and its *value* points at a
:class:`~txsync.connector.Connector` subclass, e.g. in a plugin's ``pyproject.toml``::

    [project.entry-points."txsync.connectors"]
    example = "txsync_example_plugin:ExampleConnector"

The :class:`Registry` is lazy: listing plugins reads only installed distributions' metadata, and a
connector module is imported the first time :meth:`Registry.get` asks for it (or on
:meth:`Registry.load_all`). Loading checks that the target is a concrete ``Connector`` subclass with a
valid :class:`~txsync.connector.ConnectorInfo` whose ``id`` is the entry point's name and whose
``api_version`` is :data:`~txsync.connector.API_VERSION`. A plugin that fails any check is recorded as
:attr:`PluginStatus.BROKEN` or :attr:`PluginStatus.INCOMPATIBLE` with a one-line reason; it never
prevents the other plugins from loading. Two distributions claiming the same id are both refused (and
never imported), so that neither silently shadows the other.

The machinery is :class:`txsync.plugins.PluginRegistry`, shared with the price-source registry
(:mod:`txsync.valuation.registry`).
"""

from __future__ import annotations

import functools
import inspect
from typing import ClassVar

from txsync.connector import API_VERSION, Connector, ConnectorInfo
from txsync.errors import TxsyncError
from txsync.plugins import PluginEntry, PluginRegistry, PluginStatus, Refused

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginEntry",
    "PluginStatus",
    "Registry",
    "default_registry",
]

#: The entry-point group connector plugins are published under.
ENTRY_POINT_GROUP = "txsync.connectors"

# Kept under its historical name for code that caught it.
_Refused = Refused


def _check_connector(obj: object, *, expected_id: str | None) -> type[Connector]:
    """Return ``obj`` as a usable connector class, or raise :class:`Refused` saying why not."""
    if not isinstance(obj, type):
        raise Refused(
            PluginStatus.BROKEN,
            f"target is not a class but {type(obj).__name__} (expected a Connector subclass)",
        )
    if not issubclass(obj, Connector):
        raise Refused(
            PluginStatus.BROKEN, f"{obj.__module__}.{obj.__qualname__} is not a subclass of txsync Connector"
        )
    where = f"{obj.__module__}.{obj.__qualname__}"
    info = getattr(obj, "info", None)
    if info is None:
        raise Refused(PluginStatus.BROKEN, f"{where} has no 'info' (a ConnectorInfo)")
    if not isinstance(info, ConnectorInfo):
        raise Refused(
            PluginStatus.BROKEN, f"{where}.info is a {type(info).__name__}, not a txsync ConnectorInfo"
        )
    if info.api_version != API_VERSION:
        newer = info.api_version > API_VERSION
        raise Refused(
            PluginStatus.INCOMPATIBLE,
            f"written for connector API version {info.api_version}, but this txsync implements "
            f"version {API_VERSION}; "
            + ("upgrade txsync" if newer else "install a release of the plugin for this API version"),
        )
    try:  # catches an info built with ``model_construct`` or mutated past its validators
        ConnectorInfo(**info.model_dump(warnings=False))
    except TxsyncError as exc:
        raise Refused(PluginStatus.BROKEN, f"{where}.info is invalid: {exc}") from exc
    if expected_id is not None and info.id != expected_id:
        raise Refused(
            PluginStatus.BROKEN,
            f"{where}.info.id is {info.id!r} but its entry point is named {expected_id!r}; they must match",
        )
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise Refused(PluginStatus.BROKEN, f"{where} does not implement: {missing}")
    return obj


class Registry(PluginRegistry[Connector]):
    """The connector plugins of one process, discovered lazily through entry points.

    ``Registry()`` reads the ``txsync.connectors`` group of the installed distributions' metadata;
    ``Registry(entry_points=[...])`` uses exactly the given entry points instead (their group is not
    checked), for tests and for hosts that choose their plugins. Either way nothing is imported until
    :meth:`get` or :meth:`load_all`. Safe to use from several threads.
    """

    group: ClassVar[str] = ENTRY_POINT_GROUP
    kind: ClassVar[str] = "connector"

    def _check(self, obj: object, *, expected_id: str | None) -> type[Connector]:
        return _check_connector(obj, expected_id=expected_id)

    def _id_of(self, cls: type[Connector]) -> str:
        return cls.info.id

    def get(self, connector_id: str) -> type[Connector]:
        """The connector class for ``connector_id``, importing its plugin on first use.

        Raises :class:`~txsync.errors.PluginError` with the reason if the id is unknown, claimed by
        several distributions, broken or incompatible. The original exception, if any, is chained.
        """
        return super().get(connector_id)

    def register(self, connector: type[Connector], *, replace: bool = False) -> type[Connector]:
        """Register a connector class directly (no entry point); return it, so it works as a decorator.

        The class gets the same checks as a plugin (concrete ``Connector`` subclass, valid info, same
        API version); its id is ``connector.info.id``. Raises :class:`~txsync.errors.PluginError` if a
        check fails, or if another connector already holds the id, unless ``replace`` is true.
        Registering the class an entry point already names, or the same class again, is a no-op.
        """
        return super().register(connector, replace=replace)


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry of installed plugins, built on first call and then reused.

    Call ``default_registry.cache_clear()`` to rediscover after installing plugins at run time.
    """
    return Registry()

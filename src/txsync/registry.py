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
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import EntryPoint
from importlib.metadata import entry_points as _installed_entry_points

from txsync.connector import API_VERSION, Connector, ConnectorInfo
from txsync.connector.info import _ID as _CONNECTOR_ID
from txsync.errors import PluginError, TxsyncError

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginEntry",
    "PluginStatus",
    "Registry",
    "default_registry",
]

_log = logging.getLogger(__name__)

#: The entry-point group connector plugins are published under.
ENTRY_POINT_GROUP = "txsync.connectors"

#: Longest exception message kept in a reason; plugin messages can be arbitrarily long.
_MAX_MESSAGE = 500


class PluginStatus(StrEnum):
    """Where a plugin stands: not imported yet, usable, or refused (and why, in its entry's reason)."""

    #: Known from metadata only; its module has not been imported yet.
    NOT_LOADED = "not_loaded"
    #: Imported and checked: :meth:`Registry.get` returns its connector class.
    AVAILABLE = "available"
    #: Cannot be used: import failed, wrong target, invalid info, id mismatch or conflict.
    BROKEN = "broken"
    #: Written for another connector API version than the one this txsync implements.
    INCOMPATIBLE = "incompatible"


@dataclass(frozen=True, slots=True)
class PluginEntry:
    """A snapshot of what the registry knows about one connector plugin.

    ``distribution`` and ``version`` name the installed distribution that declared the entry point
    (``None`` for a class a host passed to :meth:`Registry.register`, or an entry point built by hand).
    ``target`` is the entry point's value (``"module:attribute"``). ``reason`` is a one-line
    explanation when the status is broken or incompatible, ``None`` otherwise. ``connector`` is the
    connector class once the plugin is available.
    """

    id: str
    distribution: str | None
    version: str | None
    target: str
    status: PluginStatus
    reason: str | None = None
    connector: type[Connector] | None = None

    @property
    def loaded(self) -> bool:
        """Whether the plugin has been imported (or an import attempted)."""
        return self.status is not PluginStatus.NOT_LOADED

    @property
    def origin(self) -> str:
        """Where the plugin comes from, for messages: ``"dist 1.0"``, or the target if unknown."""
        if self.distribution is None:
            return self.target
        return f"{self.distribution} {self.version}" if self.version else self.distribution


@dataclass(eq=False)
class _Slot:
    """Mutable bookkeeping behind one :class:`PluginEntry` (the entry point and the load error)."""

    entry: PluginEntry
    entry_point: EntryPoint | None = None
    error: BaseException | None = None


class _Refused(Exception):
    """Internal: a connector class failed a check; carries the status and the reason."""

    def __init__(self, status: PluginStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _describe(exc: BaseException) -> str:
    """``"Type: message"`` on one line, without a traceback, for an entry's reason."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    try:
        message = " ".join(str(exc).split())
    except Exception:  # an exception whose __str__ itself fails
        message = "<unprintable message>"
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return f"{name}: {message}" if message else name


def _dist_of(entry_point: EntryPoint) -> tuple[str | None, str | None]:
    """Name and version of the distribution that declared ``entry_point``, from metadata only."""
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return None, None
    try:
        name = dist.metadata["Name"]
        version = dist.version
    except Exception:  # a distribution with unreadable metadata: still list the plugin
        return None, None
    return (str(name) if name else None), (str(version) if version else None)


def _check_connector(obj: object, *, expected_id: str | None) -> type[Connector]:
    """Return ``obj`` as a usable connector class, or raise :class:`_Refused` saying why not."""
    if not isinstance(obj, type):
        raise _Refused(
            PluginStatus.BROKEN,
            f"target is not a class but {type(obj).__name__} (expected a Connector subclass)",
        )
    if not issubclass(obj, Connector):
        raise _Refused(
            PluginStatus.BROKEN, f"{obj.__module__}.{obj.__qualname__} is not a subclass of txsync Connector"
        )
    where = f"{obj.__module__}.{obj.__qualname__}"
    info = getattr(obj, "info", None)
    if info is None:
        raise _Refused(PluginStatus.BROKEN, f"{where} has no 'info' (a ConnectorInfo)")
    if not isinstance(info, ConnectorInfo):
        raise _Refused(
            PluginStatus.BROKEN, f"{where}.info is a {type(info).__name__}, not a txsync ConnectorInfo"
        )
    if info.api_version != API_VERSION:
        newer = info.api_version > API_VERSION
        raise _Refused(
            PluginStatus.INCOMPATIBLE,
            f"written for connector API version {info.api_version}, but this txsync implements "
            f"version {API_VERSION}; "
            + ("upgrade txsync" if newer else "install a release of the plugin for this API version"),
        )
    try:  # catches an info built with ``model_construct`` or mutated past its validators
        ConnectorInfo(**info.model_dump(warnings=False))
    except TxsyncError as exc:
        raise _Refused(PluginStatus.BROKEN, f"{where}.info is invalid: {exc}") from exc
    if expected_id is not None and info.id != expected_id:
        raise _Refused(
            PluginStatus.BROKEN,
            f"{where}.info.id is {info.id!r} but its entry point is named {expected_id!r}; they must match",
        )
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise _Refused(PluginStatus.BROKEN, f"{where} does not implement: {missing}")
    return obj


class Registry:
    """The connector plugins of one process, discovered lazily through entry points.

    ``Registry()`` reads the ``txsync.connectors`` group of the installed distributions' metadata;
    ``Registry(entry_points=[...])`` uses exactly the given entry points instead (their group is not
    checked), for tests and for hosts that choose their plugins. Either way nothing is imported until
    :meth:`get` or :meth:`load_all`. Safe to use from several threads.
    """

    def __init__(self, entry_points: Iterable[EntryPoint] | None = None) -> None:
        if entry_points is None:
            entry_points = _installed_entry_points(group=ENTRY_POINT_GROUP)
        self._lock = threading.RLock()
        self._slots: dict[str, list[_Slot]] = {}
        seen: set[tuple[str, str, str | None, str | None]] = set()
        for ep in entry_points:
            distribution, version = _dist_of(ep)
            key = (ep.name, ep.value, distribution, version)
            if key in seen:  # the same declaration listed twice: one plugin
                continue
            seen.add(key)
            entry = PluginEntry(ep.name, distribution, version, ep.value, PluginStatus.NOT_LOADED)
            if not _CONNECTOR_ID.match(ep.name):
                entry = dataclasses.replace(
                    entry,
                    status=PluginStatus.BROKEN,
                    reason=f"entry point name {ep.name!r} is not a valid connector id "
                    "(lower-case letters, digits, '_', '-' or '.')",
                )
            self._slots.setdefault(ep.name, []).append(_Slot(entry, ep))
        for connector_id, slots in self._slots.items():
            if len(slots) > 1:
                self._mark_conflict(connector_id, slots)

    # -- queries ---------------------------------------------------------------------------------

    def entries(self) -> list[PluginEntry]:
        """Every known plugin, sorted by id then distribution, without importing anything.

        An id claimed by several distributions appears once per distribution, each broken.
        """
        with self._lock:
            found = [slot.entry for slots in self._slots.values() for slot in slots]
        return sorted(found, key=lambda e: (e.id, e.distribution or "", e.target))

    def get(self, connector_id: str) -> type[Connector]:
        """The connector class for ``connector_id``, importing its plugin on first use.

        Raises :class:`~txsync.errors.PluginError` with the reason if the id is unknown, claimed by
        several distributions, broken or incompatible. The original exception, if any, is chained.
        """
        with self._lock:
            slots = self._slots.get(connector_id)
            if not slots:
                known = ", ".join(sorted(self._slots)) or "none"
                raise PluginError(f"unknown connector {connector_id!r} (installed connectors: {known})")
            slot = slots[0]
            if slot.entry.status is PluginStatus.NOT_LOADED:
                self._load(slot)
            entry = slot.entry
        if entry.status is PluginStatus.AVAILABLE and entry.connector is not None:
            return entry.connector
        raise PluginError(
            f"connector {connector_id!r} ({entry.origin}) is {entry.status.value}: {entry.reason}"
        ) from slot.error

    def load_all(self) -> list[PluginEntry]:
        """Import every plugin not yet loaded; return :meth:`entries`. Never raises for a bad plugin."""
        with self._lock:
            for slots in self._slots.values():
                for slot in slots:
                    if slot.entry.status is PluginStatus.NOT_LOADED:
                        self._load(slot)
        return self.entries()

    def available(self) -> dict[str, type[Connector]]:
        """Every usable connector by id (loads all plugins first, see :meth:`load_all`)."""
        return {
            e.id: e.connector
            for e in self.load_all()
            if e.status is PluginStatus.AVAILABLE and e.connector is not None
        }

    def __contains__(self, connector_id: object) -> bool:
        """Whether a plugin (in any state) is known under ``connector_id``; imports nothing."""
        with self._lock:
            return connector_id in self._slots

    def __repr__(self) -> str:
        with self._lock:
            counts: dict[str, int] = {}
            for slots in self._slots.values():
                for slot in slots:
                    counts[slot.entry.status.value] = counts.get(slot.entry.status.value, 0) + 1
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "empty"
        return f"<Registry {detail}>"

    # -- registration ----------------------------------------------------------------------------

    def register(self, connector: type[Connector], *, replace: bool = False) -> type[Connector]:
        """Register a connector class directly (no entry point); return it, so it works as a decorator.

        The class gets the same checks as a plugin (concrete ``Connector`` subclass, valid info, same
        API version); its id is ``connector.info.id``. Raises :class:`~txsync.errors.PluginError` if a
        check fails, or if another connector already holds the id, unless ``replace`` is true.
        Registering the class an entry point already names, or the same class again, is a no-op.
        """
        try:
            cls = _check_connector(connector, expected_id=None)
        except _Refused as exc:
            raise PluginError(f"cannot register {connector!r}: {exc.reason}") from exc.__cause__
        except Exception as exc:
            raise PluginError(f"cannot register {connector!r}: {_describe(exc)}") from exc
        connector_id = cls.info.id
        target = f"{cls.__module__}:{cls.__qualname__}"
        with self._lock:
            existing = self._slots.get(connector_id, [])
            if len(existing) == 1 and not replace:
                slot = existing[0]
                if slot.entry.connector is cls:
                    return cls
                if slot.entry.status is PluginStatus.NOT_LOADED and slot.entry.target == target:
                    slot.entry = dataclasses.replace(slot.entry, status=PluginStatus.AVAILABLE, connector=cls)
                    return cls
            if existing and not replace:
                holders = "; ".join(s.entry.origin for s in existing)
                raise PluginError(
                    f"cannot register {target}: connector id {connector_id!r} is already provided by "
                    f"{holders} (pass replace=True to override it)"
                )
            if existing:
                _log.info("connector %r: %s replaced by %s", connector_id, existing[0].entry.origin, target)
            entry = PluginEntry(connector_id, None, None, target, PluginStatus.AVAILABLE, connector=cls)
            self._slots[connector_id] = [_Slot(entry)]
        return cls

    # -- internals -------------------------------------------------------------------------------

    def _mark_conflict(self, connector_id: str, slots: list[_Slot]) -> None:
        """Refuse every claimant of an id declared more than once; none of them is imported."""
        claimants = ", ".join(f"{s.entry.origin} ({s.entry.target})" for s in slots)
        reason = (
            f"connector id {connector_id!r} is declared by more than one plugin: {claimants}; "
            "uninstall all but one"
        )
        for slot in slots:
            slot.entry = dataclasses.replace(slot.entry, status=PluginStatus.BROKEN, reason=reason)
        _log.warning("connector plugin conflict: %s", reason)

    def _load(self, slot: _Slot) -> None:
        """Import and check one plugin, recording the outcome in ``slot`` (never raises for it)."""
        ep = slot.entry_point
        assert ep is not None  # only entry-point slots start NOT_LOADED
        try:
            obj = ep.load()
        except (Exception, SystemExit) as exc:  # a plugin's import must not take the host down
            slot.error = exc
            status, reason = PluginStatus.BROKEN, f"cannot import {ep.value!r}: {_describe(exc)}"
        else:
            try:
                cls = _check_connector(obj, expected_id=ep.name)
            except _Refused as refused:
                slot.error = refused.__cause__
                status, reason = refused.status, refused.reason
            except Exception as exc:  # a hostile class (a metaclass raising on attribute access)
                slot.error = exc
                status, reason = PluginStatus.BROKEN, f"cannot inspect {ep.value!r}: {_describe(exc)}"
            else:
                slot.entry = dataclasses.replace(slot.entry, status=PluginStatus.AVAILABLE, connector=cls)
                _log.debug("loaded connector %r from %s", ep.name, slot.entry.origin)
                return
        slot.entry = dataclasses.replace(slot.entry, status=status, reason=reason)
        _log.warning(
            "connector plugin %r (%s) is %s: %s",
            ep.name,
            slot.entry.origin,
            status.value,
            reason,
            exc_info=slot.error if _log.isEnabledFor(logging.DEBUG) else None,
        )


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry of installed plugins, built on first call and then reused.

    Call ``default_registry.cache_clear()`` to rediscover after installing plugins at run time.
    """
    return Registry()

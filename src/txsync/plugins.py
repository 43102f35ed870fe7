"""Entry-point plugin discovery, shared by every kind of txsync plugin.

Connectors (:mod:`txsync.registry`, group ``txsync.connectors``) and price sources
(:mod:`txsync.valuation.registry`, group ``txsync.price_sources``) are published the same way: an
entry point whose *name* is the plugin id and whose *value* points at a class. :class:`PluginRegistry`
holds the machinery they share; a subclass says what a valid plugin class is (:meth:`_check`) and how
to read its id (:meth:`_id_of`):

* lazy: listing plugins reads only installed distributions' metadata, and a plugin module is imported
  the first time :meth:`PluginRegistry.get` asks for it (or on :meth:`PluginRegistry.load_all`);
* a plugin that fails a check is recorded as :attr:`PluginStatus.BROKEN` or
  :attr:`PluginStatus.INCOMPATIBLE` with a one-line reason and never prevents the others from loading;
* two distributions claiming the same id are both refused (and never imported), so that neither
  silently shadows the other;
* a host may :meth:`PluginRegistry.register` a class directly; it gets the same checks.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import EntryPoint
from importlib.metadata import entry_points as _installed_entry_points
from typing import Any, ClassVar, Generic, TypeVar

from txsync.errors import PluginError

__all__ = ["PluginEntry", "PluginRegistry", "PluginStatus", "Refused", "describe_exception"]

_log = logging.getLogger("txsync.registry")

#: Longest exception message kept in a reason; plugin messages can be arbitrarily long.
_MAX_MESSAGE = 500

#: Plugin ids: lower-case letters, digits, ``_``, ``-`` and ``.``, starting with a letter.
PLUGIN_ID = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")

T = TypeVar("T")


class PluginStatus(StrEnum):
    """Where a plugin stands: not imported yet, usable, or refused (and why, in its entry's reason)."""

    #: Known from metadata only; its module has not been imported yet.
    NOT_LOADED = "not_loaded"
    #: Imported and checked: ``get`` returns its class.
    AVAILABLE = "available"
    #: Cannot be used: import failed, wrong target, invalid info, id mismatch or conflict.
    BROKEN = "broken"
    #: Written for another plugin API version than the one this txsync implements.
    INCOMPATIBLE = "incompatible"


@dataclass(frozen=True, slots=True)
class PluginEntry:
    """A snapshot of what a registry knows about one plugin.

    ``distribution`` and ``version`` name the installed distribution that declared the entry point
    (``None`` for a class a host passed to ``register``, or an entry point built by hand).
    ``target`` is the entry point's value (``"module:attribute"``). ``reason`` is a one-line
    explanation when the status is broken or incompatible, ``None`` otherwise. ``plugin`` is the
    plugin class once it is available.
    """

    id: str
    distribution: str | None
    version: str | None
    target: str
    status: PluginStatus
    reason: str | None = None
    plugin: Any = None

    @property
    def connector(self) -> Any:
        """The plugin class (the name connector registries have always used)."""
        return self.plugin

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


class Refused(Exception):
    """Raised by a registry's check: a plugin class is unusable; carries the status and the reason."""

    def __init__(self, status: PluginStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def describe_exception(exc: BaseException) -> str:
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


class PluginRegistry(Generic[T]):
    """The plugins of one kind in one process, discovered lazily through entry points.

    ``Registry()`` reads :attr:`group` from the installed distributions' metadata;
    ``Registry(entry_points=[...])`` uses exactly the given entry points instead (their group is not
    checked), for tests and for hosts that choose their plugins. Either way nothing is imported until
    :meth:`get` or :meth:`load_all`. Safe to use from several threads.

    Subclasses set :attr:`group` and :attr:`kind` (the noun used in messages) and implement
    :meth:`_check` and :meth:`_id_of`.
    """

    #: The entry-point group this registry reads.
    group: ClassVar[str]
    #: What a plugin of this registry is called in messages ("connector", "price source").
    kind: ClassVar[str]

    def __init__(self, entry_points: Iterable[EntryPoint] | None = None) -> None:
        if entry_points is None:
            entry_points = _installed_entry_points(group=self.group)
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
            if not PLUGIN_ID.match(ep.name):
                entry = dataclasses.replace(
                    entry,
                    status=PluginStatus.BROKEN,
                    reason=f"entry point name {ep.name!r} is not a valid {self.kind} id "
                    "(lower-case letters, digits, '_', '-' or '.')",
                )
            self._slots.setdefault(ep.name, []).append(_Slot(entry, ep))
        for plugin_id, slots in self._slots.items():
            if len(slots) > 1:
                self._mark_conflict(plugin_id, slots)

    # -- hooks -------------------------------------------------------------------------------------

    def _check(self, obj: object, *, expected_id: str | None) -> type[T]:
        """Return ``obj`` as a usable plugin class, or raise :class:`Refused` saying why not."""
        raise NotImplementedError

    def _id_of(self, cls: type[T]) -> str:
        """The id a checked plugin class declares."""
        raise NotImplementedError

    # -- queries -----------------------------------------------------------------------------------

    def entries(self) -> list[PluginEntry]:
        """Every known plugin, sorted by id then distribution, without importing anything.

        An id claimed by several distributions appears once per distribution, each broken.
        """
        with self._lock:
            found = [slot.entry for slots in self._slots.values() for slot in slots]
        return sorted(found, key=lambda e: (e.id, e.distribution or "", e.target))

    def get(self, plugin_id: str) -> type[T]:
        """The plugin class for ``plugin_id``, importing its module on first use.

        Raises :class:`~txsync.errors.PluginError` with the reason if the id is unknown, claimed by
        several distributions, broken or incompatible. The original exception, if any, is chained.
        """
        with self._lock:
            slots = self._slots.get(plugin_id)
            if not slots:
                known = ", ".join(sorted(self._slots)) or "none"
                raise PluginError(f"unknown {self.kind} {plugin_id!r} (installed {self.kind}s: {known})")
            slot = slots[0]
            if slot.entry.status is PluginStatus.NOT_LOADED:
                self._load(slot)
            entry = slot.entry
        if entry.status is PluginStatus.AVAILABLE and entry.plugin is not None:
            found: type[T] = entry.plugin
            return found
        raise PluginError(
            f"{self.kind} {plugin_id!r} ({entry.origin}) is {entry.status.value}: {entry.reason}"
        ) from slot.error

    def load_all(self) -> list[PluginEntry]:
        """Import every plugin not yet loaded; return :meth:`entries`. Never raises for a bad plugin."""
        with self._lock:
            for slots in self._slots.values():
                for slot in slots:
                    if slot.entry.status is PluginStatus.NOT_LOADED:
                        self._load(slot)
        return self.entries()

    def available(self) -> dict[str, type[T]]:
        """Every usable plugin class by id (loads all plugins first, see :meth:`load_all`)."""
        return {
            e.id: e.plugin
            for e in self.load_all()
            if e.status is PluginStatus.AVAILABLE and e.plugin is not None
        }

    def __contains__(self, plugin_id: object) -> bool:
        """Whether a plugin (in any state) is known under ``plugin_id``; imports nothing."""
        with self._lock:
            return plugin_id in self._slots

    def __repr__(self) -> str:
        with self._lock:
            counts: dict[str, int] = {}
            for slots in self._slots.values():
                for slot in slots:
                    counts[slot.entry.status.value] = counts.get(slot.entry.status.value, 0) + 1
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "empty"
        return f"<{type(self).__name__} {detail}>"

    # -- registration ------------------------------------------------------------------------------

    def register(self, plugin: type[T], *, replace: bool = False) -> type[T]:
        """Register a plugin class directly (no entry point); return it, so it works as a decorator.

        The class gets the same checks as an entry point's. Raises :class:`~txsync.errors.PluginError`
        if a check fails, or if another plugin already holds the id, unless ``replace`` is true.
        Registering the class an entry point already names, or the same class again, is a no-op.
        """
        try:
            cls = self._check(plugin, expected_id=None)
        except Refused as exc:
            raise PluginError(f"cannot register {plugin!r}: {exc.reason}") from exc.__cause__
        except Exception as exc:
            raise PluginError(f"cannot register {plugin!r}: {describe_exception(exc)}") from exc
        plugin_id = self._id_of(cls)
        target = f"{cls.__module__}:{cls.__qualname__}"
        with self._lock:
            existing = self._slots.get(plugin_id, [])
            if len(existing) == 1 and not replace:
                slot = existing[0]
                if slot.entry.plugin is cls:
                    return cls
                if slot.entry.status is PluginStatus.NOT_LOADED and slot.entry.target == target:
                    slot.entry = dataclasses.replace(slot.entry, status=PluginStatus.AVAILABLE, plugin=cls)
                    return cls
            if existing and not replace:
                holders = "; ".join(s.entry.origin for s in existing)
                raise PluginError(
                    f"cannot register {target}: {self.kind} id {plugin_id!r} is already provided by "
                    f"{holders} (pass replace=True to override it)"
                )
            if existing:
                _log.info("%s %r: %s replaced by %s", self.kind, plugin_id, existing[0].entry.origin, target)
            entry = PluginEntry(plugin_id, None, None, target, PluginStatus.AVAILABLE, plugin=cls)
            self._slots[plugin_id] = [_Slot(entry)]
        return cls

    # -- internals ---------------------------------------------------------------------------------

    def _mark_conflict(self, plugin_id: str, slots: list[_Slot]) -> None:
        """Refuse every claimant of an id declared more than once; none of them is imported."""
        claimants = ", ".join(f"{s.entry.origin} ({s.entry.target})" for s in slots)
        reason = (
            f"{self.kind} id {plugin_id!r} is declared by more than one plugin: {claimants}; "
            "uninstall all but one"
        )
        for slot in slots:
            slot.entry = dataclasses.replace(slot.entry, status=PluginStatus.BROKEN, reason=reason)
        _log.warning("%s plugin conflict: %s", self.kind, reason)

    def _load(self, slot: _Slot) -> None:
        """Import and check one plugin, recording the outcome in ``slot`` (never raises for it)."""
        ep = slot.entry_point
        assert ep is not None  # only entry-point slots start NOT_LOADED
        try:
            obj = ep.load()
        except (Exception, SystemExit) as exc:  # a plugin's import must not take the host down
            slot.error = exc
            status, reason = PluginStatus.BROKEN, f"cannot import {ep.value!r}: {describe_exception(exc)}"
        else:
            try:
                cls = self._check(obj, expected_id=ep.name)
            except Refused as refused:
                slot.error = refused.__cause__
                status, reason = refused.status, refused.reason
            except Exception as exc:  # a hostile class (a metaclass raising on attribute access)
                slot.error = exc
                status = PluginStatus.BROKEN
                reason = f"cannot inspect {ep.value!r}: {describe_exception(exc)}"
            else:
                slot.entry = dataclasses.replace(slot.entry, status=PluginStatus.AVAILABLE, plugin=cls)
                _log.debug("loaded %s %r from %s", self.kind, ep.name, slot.entry.origin)
                return
        slot.entry = dataclasses.replace(slot.entry, status=status, reason=reason)
        _log.warning(
            "%s plugin %r (%s) is %s: %s",
            self.kind,
            ep.name,
            slot.entry.origin,
            status.value,
            reason,
            exc_info=slot.error if _log.isEnabledFor(logging.DEBUG) else None,
        )


def check_plugin_info(
    kind: str, where: str, info: object, *, expected_id: str | None, api_version: int, actual_version: int
) -> None:
    """The checks every plugin kind shares once its ``info`` is read: API version and id match."""
    if actual_version != api_version:
        newer = actual_version > api_version
        raise Refused(
            PluginStatus.INCOMPATIBLE,
            f"written for {kind} API version {actual_version}, but this txsync implements "
            f"version {api_version}; "
            + ("upgrade txsync" if newer else "install a release of the plugin for this API version"),
        )
    info_id = getattr(info, "id", None)
    if expected_id is not None and info_id != expected_id:
        raise Refused(
            PluginStatus.BROKEN,
            f"{where}.info.id is {info_id!r} but its entry point is named {expected_id!r}; they must match",
        )

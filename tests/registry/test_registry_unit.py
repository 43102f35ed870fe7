"""Registry edge cases, driven by explicit ``importlib.metadata.EntryPoint`` objects."""

from __future__ import annotations

import itertools
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import EntryPoint, PathDistribution
from pathlib import Path
from typing import Any

import pytest

from txsync.connector import API_VERSION, Connector, ConnectorInfo, Stream, StreamInfo
from txsync.errors import PluginError
from txsync.models import Balance, ConnectorKind, Permissions
from txsync.registry import ENTRY_POINT_GROUP, PluginEntry, PluginStatus, Registry, default_registry

MakeModule = Callable[..., str]


def _info(connector_id: str, **kw: Any) -> ConnectorInfo:
    return ConnectorInfo(
        id=connector_id, display_name=connector_id.title(), kind=ConnectorKind.EXCHANGE,
        streams=(StreamInfo(name="trades"),), **kw,
    )  # fmt: skip


class _Minimal(Connector):
    """Implements the abstract methods; subclasses only set ``info``."""

    async def verify(self) -> Permissions:
        return Permissions(reported=False)

    async def balances(self) -> Sequence[Balance]:
        return ()

    def streams(self) -> Sequence[Stream]:
        return ()


class Good(_Minimal):
    info = _info("good")


class Other(_Minimal):
    info = _info("other")


class NoInfo(_Minimal):
    pass


class DictInfo(_Minimal):
    info = {"id": "dictinfo"}  # type: ignore[assignment]


class InvalidInfo(_Minimal):
    # bypasses validation: an id that ConnectorInfo would refuse
    info = _info("x").model_copy(update={"id": "Not An Id"})


class Abstract(Connector):
    info = _info("abstract")


class NotAConnector:
    info = _info("plain")


class Older(_Minimal):
    info = _info("older", api_version=API_VERSION - 1)


class Newer(_Minimal):
    info = _info("newer", api_version=API_VERSION + 1)


def _not_a_class() -> None:
    """An entry point must name a class, not a function."""


@pytest.fixture
def make_module(monkeypatch: pytest.MonkeyPatch) -> MakeModule:
    """Install a throw-away module holding ``attrs`` in ``sys.modules``; return its name."""
    counter = itertools.count()

    def make(**attrs: object) -> str:
        name = f"_txsync_registry_test_{next(counter)}"
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)
        return name

    return make


@pytest.fixture
def source_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on ``sys.path`` for modules written by a test; forgotten afterwards."""
    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in set(sys.modules) - before:
        if getattr(sys.modules[name], "__file__", "") and str(tmp_path) in str(sys.modules[name].__file__):
            del sys.modules[name]


@pytest.fixture
def import_counter(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """A module (``_txsync_import_counter``) that modules written by tests bump when executed."""
    counter = types.ModuleType("_txsync_import_counter")
    counter.count = 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_txsync_import_counter", counter)
    return counter  # type: ignore[return-value]


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def registry_of(make_module: MakeModule, **targets: object) -> Registry:
    """A registry with one entry point per keyword: ``id=object`` (each object in its own module)."""
    return Registry([ep(cid, f"{make_module(target=obj)}:target") for cid, obj in targets.items()])


def entry(registry: Registry, connector_id: str) -> PluginEntry:
    (found,) = [e for e in registry.entries() if e.id == connector_id]
    return found


def refused(registry: Registry, connector_id: str, status: PluginStatus = PluginStatus.BROKEN) -> str:
    """Assert ``get`` refuses the id with ``status``; return the one-line reason."""
    with pytest.raises(PluginError) as raised:
        registry.get(connector_id)
    found = entry(registry, connector_id)
    assert found.status is status
    assert found.reason is not None
    assert found.reason in str(raised.value)
    assert "\n" not in found.reason
    assert "Traceback" not in found.reason
    assert found.connector is None
    return found.reason


# -- loading ---------------------------------------------------------------------------------------


def test_valid_connector_loads(make_module: MakeModule) -> None:
    registry = registry_of(make_module, good=Good)
    assert entry(registry, "good").status is PluginStatus.NOT_LOADED
    assert registry.get("good") is Good
    loaded = entry(registry, "good")
    assert loaded.status is PluginStatus.AVAILABLE
    assert loaded.loaded
    assert loaded.connector is Good
    assert loaded.distribution is None  # a hand-built entry point has no distribution
    assert loaded.version is None


def test_listing_never_imports() -> None:
    registry = Registry([ep("ghost", "txsync_no_such_module_anywhere:Ghost")])
    assert entry(registry, "ghost").status is PluginStatus.NOT_LOADED
    assert "ghost" in registry
    assert "txsync_no_such_module_anywhere" not in sys.modules


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (_not_a_class, "target is not a class but function"),
        (Good(context=None), "target is not a class but Good"),  # type: ignore[arg-type]
        (42, "target is not a class but int"),
    ],
    ids=["function", "instance", "int"],
)
def test_not_a_class_is_broken(make_module: MakeModule, target: object, expected: str) -> None:
    registry = registry_of(make_module, thing=target)
    assert expected in refused(registry, "thing")


def test_module_instead_of_class_is_broken(make_module: MakeModule) -> None:
    registry = Registry([ep("mod", make_module(Good=Good))])
    assert "not a class but module" in refused(registry, "mod")


def test_not_a_connector_subclass_is_broken(make_module: MakeModule) -> None:
    registry = registry_of(make_module, plain=NotAConnector)
    assert "NotAConnector is not a subclass of txsync Connector" in refused(registry, "plain")


def test_missing_info_is_broken(make_module: MakeModule) -> None:
    assert "NoInfo has no 'info'" in refused(registry_of(make_module, noinfo=NoInfo), "noinfo")


def test_info_of_the_wrong_type_is_broken(make_module: MakeModule) -> None:
    reason = refused(registry_of(make_module, dictinfo=DictInfo), "dictinfo")
    assert "DictInfo.info is a dict, not a txsync ConnectorInfo" in reason


def test_invalid_info_is_broken(make_module: MakeModule) -> None:
    reason = refused(registry_of(make_module, x=InvalidInfo), "x")
    assert "InvalidInfo.info is invalid" in reason
    assert "connector id must be lower-case" in reason


def test_id_mismatch_is_broken(make_module: MakeModule) -> None:
    reason = refused(registry_of(make_module, notgood=Good), "notgood")
    assert "info.id is 'good' but its entry point is named 'notgood'" in reason


def test_abstract_connector_is_broken(make_module: MakeModule) -> None:
    reason = refused(registry_of(make_module, abstract=Abstract), "abstract")
    assert "does not implement: balances, streams, verify" in reason


def test_invalid_entry_point_name_is_broken_without_import() -> None:
    registry = Registry([ep("Not Valid", "txsync_no_such_module_anywhere:X")])
    found = entry(registry, "Not Valid")
    assert found.status is PluginStatus.BROKEN
    assert found.reason is not None
    assert "not a valid connector id" in found.reason
    with pytest.raises(PluginError, match="not a valid connector id"):
        registry.get("Not Valid")


@pytest.mark.parametrize(
    ("connector", "declared"), [(Older, API_VERSION - 1), (Newer, API_VERSION + 1)], ids=["older", "newer"]
)
def test_other_api_version_is_incompatible(make_module: MakeModule, connector: type, declared: int) -> None:
    connector_id = connector.info.id  # type: ignore[attr-defined]
    registry = registry_of(make_module, **{connector_id: connector})
    reason = refused(registry, connector_id, PluginStatus.INCOMPATIBLE)
    assert f"API version {declared}" in reason
    assert f"implements version {API_VERSION}" in reason
    assert ("upgrade txsync" in reason) is (declared > API_VERSION)


def test_missing_module_is_broken() -> None:
    registry = Registry([ep("gone", "txsync_no_such_module_anywhere:Gone")])
    reason = refused(registry, "gone")
    assert "cannot import 'txsync_no_such_module_anywhere:Gone'" in reason
    assert "ModuleNotFoundError: No module named 'txsync_no_such_module_anywhere'" in reason


def test_missing_attribute_is_broken(make_module: MakeModule) -> None:
    registry = Registry([ep("good", f"{make_module(Good=Good)}:Nope")])
    assert "AttributeError" in refused(registry, "good")


def test_raising_at_import_is_broken_with_a_one_line_reason(
    source_dir: Path, import_counter: types.SimpleNamespace
) -> None:
    (source_dir / "txsync_test_raising.py").write_text(
        "import _txsync_import_counter\n"
        "_txsync_import_counter.count += 1\n"
        "raise ValueError('first line\\nsecond line')\n"
    )
    registry = Registry([ep("raising", "txsync_test_raising:Connector")])
    with pytest.raises(PluginError) as raised:
        registry.get("raising")
    assert isinstance(raised.value.__cause__, ValueError)  # the original error stays reachable
    reason = refused(registry, "raising")  # a second get: same reason, no second import
    assert reason == "cannot import 'txsync_test_raising:Connector': ValueError: first line second line"
    assert import_counter.count == 1
    registry.load_all()
    assert import_counter.count == 1


def test_txsync_errors_are_named_with_their_module(source_dir: Path) -> None:
    (source_dir / "txsync_test_bad_info.py").write_text(
        "from txsync.connector import ConnectorInfo\n"
        "info = ConnectorInfo(id='Bad Id', display_name='x', kind='exchange', streams=())\n"
    )
    reason = refused(Registry([ep("bad", "txsync_test_bad_info:X")]), "bad")
    assert "txsync.errors.ModelError: invalid ConnectorInfo" in reason


def test_long_messages_are_truncated(source_dir: Path) -> None:
    (source_dir / "txsync_test_long.py").write_text("raise RuntimeError('x' * 10_000)\n")
    reason = refused(Registry([ep("long", "txsync_test_long:X")]), "long")
    assert len(reason) < 700
    assert reason.endswith("...")


def test_system_exit_at_import_does_not_escape(source_dir: Path, make_module: MakeModule) -> None:
    (source_dir / "txsync_test_exiting.py").write_text("import sys\nsys.exit(3)\n")
    registry = Registry([ep("exiting", "txsync_test_exiting:X"), ep("good", f"{make_module(G=Good)}:G")])
    entries = {e.id: e for e in registry.load_all()}
    assert entries["exiting"].status is PluginStatus.BROKEN
    assert entries["exiting"].reason is not None
    assert "SystemExit: 3" in entries["exiting"].reason
    assert entries["good"].status is PluginStatus.AVAILABLE


def test_one_bad_plugin_never_stops_the_others(make_module: MakeModule) -> None:
    registry = Registry(
        [
            ep("gone", "txsync_no_such_module_anywhere:Gone"),
            ep("good", f"{make_module(G=Good)}:G"),
            ep("plain", f"{make_module(P=NotAConnector)}:P"),
            ep("newer", f"{make_module(N=Newer)}:N"),
            ep("other", f"{make_module(O=Other)}:O"),
        ]
    )
    with pytest.raises(PluginError):
        registry.get("gone")
    statuses = {e.id: e.status for e in registry.load_all()}
    assert statuses == {
        "gone": PluginStatus.BROKEN,
        "good": PluginStatus.AVAILABLE,
        "newer": PluginStatus.INCOMPATIBLE,
        "other": PluginStatus.AVAILABLE,
        "plain": PluginStatus.BROKEN,
    }
    assert registry.available() == {"good": Good, "other": Other}
    assert [e.id for e in registry.entries()] == ["gone", "good", "newer", "other", "plain"]
    assert repr(registry) == "<Registry 2 available, 2 broken, 1 incompatible>"


def test_unknown_id(make_module: MakeModule) -> None:
    with pytest.raises(PluginError, match=r"unknown connector 'nope' \(installed connectors: good\)"):
        registry_of(make_module, good=Good).get("nope")
    with pytest.raises(PluginError, match=r"installed connectors: none"):
        Registry([]).get("nope")


def test_concurrent_gets_load_once(source_dir: Path, import_counter: types.SimpleNamespace) -> None:
    (source_dir / "txsync_test_slow.py").write_text(
        "import time, _txsync_import_counter\n"
        "from txsync.connector import Connector, ConnectorInfo, StreamInfo\n"
        "from txsync.models import Permissions\n"
        "_txsync_import_counter.count += 1\n"
        "time.sleep(0.05)\n"
        "class Slow(Connector):\n"
        "    info = ConnectorInfo(id='slow', display_name='Slow', kind='exchange',"
        " streams=(StreamInfo(name='a'),))\n"
        "    async def verify(self): return Permissions(reported=False)\n"
        "    async def balances(self): return ()\n"
        "    def streams(self): return ()\n"
    )
    registry = Registry([ep("slow", "txsync_test_slow:Slow")])
    results: list[type[Connector]] = []
    threads = [threading.Thread(target=lambda: results.append(registry.get("slow"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert len(set(results)) == 1
    assert import_counter.count == 1


# -- distributions and duplicates ------------------------------------------------------------------


def _distribution(root: Path, name: str, version: str, entry_points: str) -> PathDistribution:
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry_points}\n")
    return PathDistribution(info)


def test_distribution_name_and_version_come_from_metadata(tmp_path: Path) -> None:
    dist = _distribution(tmp_path, "acme-connectors", "3.1.4", "acme = txsync_no_such_module_anywhere:Acme")
    registry = Registry(dist.entry_points)
    found = entry(registry, "acme")
    assert (found.distribution, found.version, found.status) == ("acme-connectors", "3.1.4", "not_loaded")
    assert found.origin == "acme-connectors 3.1.4"


def test_duplicate_ids_from_two_distributions_are_reported(tmp_path: Path, make_module: MakeModule) -> None:
    first = _distribution(tmp_path, "first", "1.0", f"dup = {make_module(G=Good)}:G")
    second = _distribution(tmp_path, "second", "2.0", "dup = txsync_no_such_module_anywhere:Dup")
    third = _distribution(tmp_path, "third", "0.1", f"good = {make_module(G=Good)}:G")
    registry = Registry([*first.entry_points, *second.entry_points, *third.entry_points])

    claims = [e for e in registry.entries() if e.id == "dup"]
    assert [(e.distribution, e.status) for e in claims] == [
        ("first", PluginStatus.BROKEN),
        ("second", PluginStatus.BROKEN),
    ]
    for claim in claims:
        assert claim.reason is not None
        assert "'dup' is declared by more than one plugin" in claim.reason
        assert "first 1.0" in claim.reason
        assert "second 2.0" in claim.reason
    with pytest.raises(PluginError, match="more than one plugin"):
        registry.get("dup")
    assert registry.get("good") is Good  # the conflict is contained


def test_the_same_declaration_listed_twice_is_one_plugin(make_module: MakeModule) -> None:
    point = ep("good", f"{make_module(G=Good)}:G")
    registry = Registry([point, point])
    assert len(registry.entries()) == 1
    assert registry.get("good") is Good


# -- register --------------------------------------------------------------------------------------


def test_register_a_class() -> None:
    registry = Registry([])
    assert registry.register(Good) is Good
    assert registry.register(Good) is Good  # the same class again: no-op
    assert registry.get("good") is Good
    found = entry(registry, "good")
    assert found.status is PluginStatus.AVAILABLE
    assert found.distribution is None
    assert found.target == f"{__name__}:Good"
    assert registry.available() == {"good": Good}


def test_register_works_as_a_decorator() -> None:
    registry = Registry([])

    @registry.register
    class Decorated(_Minimal):
        info = _info("decorated")

    assert registry.get("decorated") is Decorated


def test_duplicate_registration_is_reported() -> None:
    registry = Registry([])
    registry.register(Good)

    class Impostor(_Minimal):
        info = _info("good")

    with pytest.raises(PluginError, match=r"connector id 'good' is already provided by .*:Good"):
        registry.register(Impostor)
    assert registry.get("good") is Good
    registry.register(Impostor, replace=True)
    assert registry.get("good") is Impostor


def test_register_over_an_entry_point_is_reported() -> None:
    registry = Registry([ep("good", "txsync_no_such_module_anywhere:Good")])
    with pytest.raises(PluginError, match="already provided by txsync_no_such_module_anywhere:Good"):
        registry.register(Good)


def test_register_the_class_an_entry_point_names() -> None:
    registry = Registry([ep("good", f"{__name__}:Good")])
    registry.register(Good)
    found = entry(registry, "good")
    assert (found.status, found.connector) == (PluginStatus.AVAILABLE, Good)


@pytest.mark.parametrize(
    ("connector", "expected"),
    [
        (NotAConnector, "not a subclass of txsync Connector"),
        (Abstract, "does not implement"),
        (NoInfo, "has no 'info'"),
        (Newer, f"API version {API_VERSION + 1}"),
        (_not_a_class, "not a class"),
    ],
    ids=["plain", "abstract", "no-info", "newer", "function"],
)
def test_register_refuses_what_get_would_refuse(connector: Any, expected: str) -> None:
    registry = Registry([])
    with pytest.raises(PluginError, match="cannot register") as raised:
        registry.register(connector)
    assert expected in str(raised.value)
    assert registry.entries() == []


# -- default registry ------------------------------------------------------------------------------


def test_default_registry_is_cached() -> None:
    default_registry.cache_clear()
    try:
        assert default_registry() is default_registry()
        assert isinstance(default_registry(), Registry)
    finally:
        default_registry.cache_clear()

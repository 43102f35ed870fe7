"""The registry against REAL installed distributions (``tests/plugins``), found through their metadata."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from txsync.connector import API_VERSION, Connector, ConnectorContext, ConnectorInfo, Stream, StreamInfo
from txsync.errors import PluginError
from txsync.models import Balance, ConnectorKind, Credential, Permissions
from txsync.registry import ENTRY_POINT_GROUP, PluginEntry, PluginStatus, Registry, default_registry

OURS = {"example", "broken", "incompatible"}
OUR_DISTRIBUTIONS = {"txsync-example-plugin", "txsync-broken-plugin", "txsync-incompatible-plugin"}


def by_id(entries: list[PluginEntry]) -> dict[str, PluginEntry]:
    """Our test plugins' entries by id (connectors installed by anything else are ignored)."""
    found = {e.id: e for e in entries if e.id in OURS and e.distribution in OUR_DISTRIBUTIONS}
    assert set(found) >= OURS
    return found


def test_the_installed_distributions_declare_their_entry_points(with_plugins: Path) -> None:
    declared = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert declared["example"].value == "txsync_example_plugin:ExampleConnector"
    assert declared["example"].dist is not None
    assert Path(str(declared["example"].dist.locate_file(""))).resolve() == with_plugins.resolve()


def test_listing_reads_metadata_only(with_plugins: Path) -> None:
    registry = Registry()
    entries = by_id(registry.entries())

    example = entries["example"]
    assert example.distribution == "txsync-example-plugin"
    assert example.version == "1.2.3"
    assert example.target == "txsync_example_plugin:ExampleConnector"
    assert entries["broken"].distribution == "txsync-broken-plugin"
    assert entries["broken"].version == "0.0.1"
    assert entries["incompatible"].distribution == "txsync-incompatible-plugin"
    assert entries["incompatible"].version == "2.0.0"
    for entry in (entries[i] for i in OURS):
        assert entry.status is PluginStatus.NOT_LOADED
        assert not entry.loaded
        assert entry.reason is None
        assert entry.connector is None
    assert "example" in registry
    for module in ("txsync_example_plugin", "txsync_broken_plugin", "txsync_incompatible_plugin"):
        assert module not in sys.modules


def test_example_is_imported_on_first_get_only(with_plugins: Path) -> None:
    registry = Registry()
    registry.entries()
    assert "txsync_example_plugin" not in sys.modules

    cls = registry.get("example")

    module = sys.modules["txsync_example_plugin"]
    assert cls is module.ExampleConnector
    assert issubclass(cls, Connector)
    assert cls.info.id == "example"
    assert registry.get("example") is cls
    entry = by_id(registry.entries())["example"]
    assert entry.status is PluginStatus.AVAILABLE
    assert entry.connector is cls
    assert entry.reason is None
    # getting one plugin imports no other
    assert "txsync_broken_plugin" not in sys.modules
    assert "txsync_incompatible_plugin" not in sys.modules
    assert by_id(registry.entries())["broken"].status is PluginStatus.NOT_LOADED


async def test_example_connector_instantiates_and_runs(with_plugins: Path) -> None:
    cls = Registry().get("example")
    context = ConnectorContext(
        connection_id="conn-1", account_id="acct-1", credential=Credential(connector_id="example")
    )
    async with cls(context) as connector:
        assert (await connector.verify()).reported is False
        assert list(await connector.balances()) == []
        streams = list(connector.streams())
        assert [s.name for s in streams] == [s.name for s in cls.info.streams] == ["nothing"]
        assert [page async for page in streams[0].pages(None)] == []
        assert list(streams[0].normalize([])) == []
        assert "example" in repr(connector)


def test_broken_plugin_is_reported_and_never_stops_the_others(with_plugins: Path) -> None:
    registry = Registry()

    with pytest.raises(PluginError, match="broken plugin: cannot initialise") as raised:
        registry.get("broken")  # first, so the others load after a failure
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert "txsync-broken-plugin 0.0.1" in str(raised.value)

    assert registry.get("example").info.id == "example"
    entries = by_id(registry.load_all())
    broken = entries["broken"]
    assert broken.status is PluginStatus.BROKEN
    assert broken.reason is not None
    assert "RuntimeError: broken plugin: cannot initialise" in broken.reason
    assert "txsync_broken_plugin:BrokenConnector" in broken.reason
    assert "Traceback" not in broken.reason
    assert "\n" not in broken.reason
    assert broken.connector is None
    assert entries["example"].status is PluginStatus.AVAILABLE
    assert entries["incompatible"].status is PluginStatus.INCOMPATIBLE

    available = registry.available()
    assert available["example"] is registry.get("example")
    assert "broken" not in available
    assert "incompatible" not in available


def test_incompatible_plugin_names_both_versions(with_plugins: Path) -> None:
    registry = Registry()
    with pytest.raises(PluginError, match="incompatible") as raised:
        registry.get("incompatible")
    entry = by_id(registry.entries())["incompatible"]
    assert entry.status is PluginStatus.INCOMPATIBLE
    assert entry.reason is not None
    assert f"API version {API_VERSION + 1}" in entry.reason
    assert f"implements version {API_VERSION}" in entry.reason
    assert entry.reason in str(raised.value)
    assert entry.connector is None


def test_unknown_id_raises_plugin_error(with_plugins: Path) -> None:
    with pytest.raises(PluginError, match=r"unknown connector 'nope'.*example"):
        Registry().get("nope")


def test_two_distributions_claiming_one_id_are_both_refused(
    with_duplicate_plugins: object,
) -> None:
    registry = Registry()
    claims = [e for e in registry.entries() if e.id == "example"]

    assert sorted((e.distribution, e.version) for e in claims) == [
        ("txsync-duplicate-plugin", "0.5.0"),
        ("txsync-example-plugin", "1.2.3"),
    ]
    for claim in claims:
        assert claim.status is PluginStatus.BROKEN
        assert claim.reason is not None
        assert "txsync-example-plugin 1.2.3" in claim.reason
        assert "txsync-duplicate-plugin 0.5.0" in claim.reason
    with pytest.raises(PluginError, match="more than one plugin"):
        registry.get("example")
    registry.load_all()
    # neither claimant is ever imported, so neither can shadow the other
    assert "txsync_example_plugin" not in sys.modules
    assert "txsync_duplicate_plugin" not in sys.modules
    # the conflict does not affect the other plugins
    assert by_id(registry.entries())["incompatible"].status is PluginStatus.INCOMPATIBLE


class _Shadow(Connector):
    """A host's connector trying to take the id of the installed example plugin."""

    info = ConnectorInfo(
        id="example", display_name="Shadow", kind=ConnectorKind.FILE, streams=(StreamInfo(name="rows"),)
    )

    async def verify(self) -> Permissions:
        return Permissions(reported=False)

    async def balances(self) -> Sequence[Balance]:
        return ()

    def streams(self) -> Sequence[Stream]:
        return ()


def test_registering_an_installed_id_is_reported(with_plugins: Path) -> None:
    registry = Registry()
    with pytest.raises(PluginError, match=r"'example' is already provided by txsync-example-plugin 1\.2\.3"):
        registry.register(_Shadow)
    assert "txsync_example_plugin" not in sys.modules  # refusing did not need the plugin's code

    registry.register(_Shadow, replace=True)
    assert registry.get("example") is _Shadow
    assert [e.distribution for e in registry.entries() if e.id == "example"] == [None]


def test_registering_the_installed_class_itself_keeps_its_distribution(with_plugins: Path) -> None:
    registry = Registry()
    import txsync_example_plugin  # the host imported the plugin itself

    assert registry.register(txsync_example_plugin.ExampleConnector) is txsync_example_plugin.ExampleConnector
    entry = by_id(registry.entries())["example"]
    assert entry.status is PluginStatus.AVAILABLE
    assert entry.distribution == "txsync-example-plugin"
    assert registry.get("example") is txsync_example_plugin.ExampleConnector


def test_default_registry_is_cached_and_discovers_installed_plugins(with_plugins: Path) -> None:
    default_registry.cache_clear()
    try:
        registry = default_registry()
        assert default_registry() is registry
        assert by_id(registry.entries())["example"].status is PluginStatus.NOT_LOADED
        assert registry.get("example").info.id == "example"
    finally:
        default_registry.cache_clear()

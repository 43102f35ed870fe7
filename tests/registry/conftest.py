"""Fixtures of the registry tests: the plugin distributions of ``tests/plugins`` installed for real.

The distributions are built (hatchling) and installed by pip into temporary directories once per
session, offline (``--no-index``; ``--no-build-isolation`` uses the hatchling already installed). A
test that wants them puts a directory on ``sys.path`` through a function-scoped fixture, so the
plugins are visible to ``importlib.metadata`` only inside that test and every test starts with none
of their modules imported.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"

#: Top-level modules of the test plugin distributions.
PLUGIN_MODULES = (
    "txsync_example_plugin",
    "txsync_broken_plugin",
    "txsync_incompatible_plugin",
    "txsync_duplicate_plugin",
)


@dataclass(frozen=True)
class InstalledPlugins:
    """Where the test plugin distributions were installed."""

    #: example, broken and incompatible plugins.
    main: Path
    #: the second distribution claiming the id ``example``, kept apart.
    duplicate: Path


def _pip_install(target: Path, *projects: str) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "pip",
        "--isolated",  # ignore PIP_* variables and user pip configuration
        "--disable-pip-version-check",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--no-cache-dir",
        "--quiet",
        "--target",
        str(target),
        *(str(PLUGINS / project) for project in projects),
    ]
    # a fixed command: this interpreter's pip and the fixture projects of this repository
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # noqa: S603


def _purge_plugin_modules() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in PLUGIN_MODULES:
            del sys.modules[name]


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> InstalledPlugins:
    """Build and install the test plugins once per session (two pip runs in parallel)."""
    root = tmp_path_factory.mktemp("txsync-plugins")
    installed = InstalledPlugins(main=root / "main", duplicate=root / "duplicate")
    runs = [
        _pip_install(
            installed.main, "txsync-example-plugin", "txsync-broken-plugin", "txsync-incompatible-plugin"
        ),
        _pip_install(installed.duplicate, "txsync-duplicate-plugin"),
    ]
    for run in runs:
        output, _ = run.communicate(timeout=300)
        if run.returncode != 0:
            pytest.fail(f"installing the test plugins failed ({run.args!r}):\n{output}", pytrace=False)
    return installed


def _activate(monkeypatch: pytest.MonkeyPatch, *directories: Path) -> None:
    """Make the distributions installed in ``directories`` importable and visible to metadata."""
    for directory in directories:
        monkeypatch.syspath_prepend(str(directory))  # also invalidates the import/metadata caches
    importlib.invalidate_caches()


@pytest.fixture
def with_plugins(installed_plugins: InstalledPlugins, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example, broken and incompatible plugins installed and on ``sys.path`` for this test."""
    _purge_plugin_modules()
    _activate(monkeypatch, installed_plugins.main)
    yield installed_plugins.main
    monkeypatch.undo()
    _purge_plugin_modules()
    importlib.invalidate_caches()


@pytest.fixture
def with_duplicate_plugins(
    installed_plugins: InstalledPlugins, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InstalledPlugins]:
    """All test plugins, including the second distribution claiming ``example``, for this test."""
    _purge_plugin_modules()
    _activate(monkeypatch, installed_plugins.main, installed_plugins.duplicate)
    yield installed_plugins
    monkeypatch.undo()
    _purge_plugin_modules()
    importlib.invalidate_caches()

"""Every built-in connector follows one layout: ``txsync/connectors/<name>/`` holds the connector and,
in ``sandbox/``, the local emulation its cassettes are recorded from (``_server.py``, ``_scenario.py``),
and importing a connector never imports a sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

import txsync.connectors

CONNECTORS = Path(txsync.connectors.__file__).parent
#: Connectors that talk to an API, so have a sandbox. File importers read files: no sandbox (the Binance
#: statement's test files are rendered from the Binance sandbox's account; the generic templates' tests
#: write theirs).
WITH_SANDBOX = ("binance", "bitcoin", "bitstamp", "demo", "evm", "paymium")
FILES = ("binance_statement", "cointracking_csv", "koinly_csv", "txsync_template")
ALL = (*WITH_SANDBOX, *FILES)


def test_the_built_in_packages_are_the_ones_listed() -> None:
    found = {p.name for p in CONNECTORS.iterdir() if (p / "__init__.py").is_file()}
    assert found == set(ALL)


@pytest.mark.parametrize("name", WITH_SANDBOX)
def test_each_sandbox_has_the_same_modules(name: str) -> None:
    sandbox = CONNECTORS / name / "sandbox"
    assert (CONNECTORS / name / "connector.py").is_file()
    for module in ("__init__.py", "_server.py", "_scenario.py"):
        assert (sandbox / module).is_file(), f"{name}: sandbox/{module} is missing"
    public = [p.name for p in sandbox.glob("*.py") if not p.name.startswith("_")]
    assert public == [], f"{name}: sandbox modules other than __init__ are private: {public}"


@pytest.mark.parametrize("name", WITH_SANDBOX)
def test_each_sandbox_exports_a_sandbox_class_and_its_clock(name: str) -> None:
    sandbox = import_module(f"txsync.connectors.{name}.sandbox")
    exported = set(sandbox.__all__)
    assert any(n.endswith("Sandbox") for n in exported), exported
    assert "NOW" in exported or name in ("bitcoin", "evm"), exported  # chains: time from the chain
    for export in exported:
        assert getattr(sandbox, export) is not None


def test_importing_a_connector_never_imports_its_sandbox() -> None:
    code = (
        "import importlib, json, sys\n"
        f"names = {list(ALL)!r}\n"
        "leaks = {}\n"
        "for name in names:\n"
        "    importlib.import_module(f'txsync.connectors.{name}')\n"
        "    leaks[name] = sorted(m for m in sys.modules if '.sandbox' in m or m.startswith('txsync.testing'))\n"
        "print(json.dumps(leaks))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603 - our own interpreter
    leaks = json.loads(run.stdout)
    assert leaks == {name: [] for name in ALL}


def test_the_demo_is_still_importable_from_txsync_testing() -> None:
    from txsync.connectors.demo import DemoExchange
    from txsync.connectors.demo.sandbox import DEMO_KEY, DemoSandbox
    from txsync.testing import demo_connector, demo_sandbox

    assert demo_connector.DemoExchange is DemoExchange
    assert demo_sandbox.DemoSandbox is DemoSandbox
    assert demo_sandbox.DEMO_KEY == DEMO_KEY
    assert set(demo_sandbox.__all__) == set(import_module("txsync.connectors.demo.sandbox").__all__)


def test_the_demo_connector_is_not_published_as_an_entry_point() -> None:
    from importlib.metadata import entry_points

    published = {ep.name for ep in entry_points(group="txsync.connectors") if ep.value.startswith("txsync.")}
    assert "demo" not in published
    assert published == set(ALL) - {"demo"}

"""The connector-author kit comes with its own extra, ``txsync[testing]``: importing the kit without
it says which extra to install, and what needs no extra still imports."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import requires

import pytest
from packaging.requirements import Requirement

from txsync.testing._extra import INSTALL_HINT, KIT_MODULES, missing_extra

#: Runs ``statement`` in a fresh interpreter where ``blocked`` cannot be imported (a ``None`` entry in
#: ``sys.modules`` makes ``import`` raise ``ModuleNotFoundError``, as for a package not installed).
PROBE = """
import json, sys
for name in {blocked!r}:
    sys.modules[name] = None
try:
    {statement}
except ImportError as exc:
    print(json.dumps({{"type": type(exc).__name__, "message": str(exc), "name": exc.name}}))
else:
    print(json.dumps(None))
"""


def probe(statement: str, blocked: tuple[str, ...]) -> dict[str, str] | None:
    code = PROBE.format(blocked=blocked, statement=statement)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603 - our own interpreter
    result: dict[str, str] | None = json.loads(run.stdout)
    return result


@pytest.mark.parametrize(
    ("statement", "blocked", "missing"),
    [
        ("from txsync.testing import ConnectorContract", ("vcr",), "vcr"),
        ("from txsync.testing import ConnectorContract", ("pytest",), "pytest"),
        ("from txsync.testing import cassette_vcr", ("yaml",), "yaml"),
        ("import txsync.testing.cassettes", ("vcr", "yaml"), "vcr"),
        ("import txsync.testing.contract", ("pytest", "vcr", "yaml"), "pytest"),
    ],
)
def test_the_kit_without_its_extra_names_the_extra(statement: str, blocked: tuple[str, ...], missing: str) -> None:
    error = probe(statement, blocked)
    assert error is not None, f"{statement} imported without {blocked}"
    assert error["type"] == "ModuleNotFoundError"
    assert "pip install 'txsync[testing]'" in error["message"]
    assert repr(missing) in error["message"]
    assert error["name"] == missing


def test_what_needs_no_extra_imports_without_it() -> None:
    statement = (
        "import txsync.testing; from txsync.testing import ContractHarness, check_page_order; "
        "from txsync.testing.demo_connector import DemoExchange; "
        "from txsync.testing.demo_sandbox import DemoSandbox; import txsync.connectors.demo.sandbox"
    )
    assert probe(statement, ("pytest", "vcr", "yaml")) is None


def test_an_unrelated_missing_module_is_not_disguised() -> None:
    original = ModuleNotFoundError("No module named 'somethingelse'", name="somethingelse")
    assert missing_extra(original, "x") is original
    nested = missing_extra(ModuleNotFoundError("No module named 'vcr.matchers'", name="vcr.matchers"), "kit")
    assert INSTALL_HINT in str(nested)
    assert nested.name == "vcr.matchers"


def test_the_extras_declare_what_the_kit_imports() -> None:
    declared = [Requirement(r) for r in requires("txsync") or []]
    testing = {r.name.lower() for r in declared if r.marker and r.marker.evaluate({"extra": "testing"})}
    assert {"pytest", "vcrpy", "pyyaml"} <= testing
    # The project's own tools are not forced on connector authors.
    assert not testing & {"ruff", "mypy", "hypothesis", "moto", "respx", "hatchling", "boto3"}
    # Every module the kit guards is brought by the extra (module name -> distribution).
    assert {"pytest": "pytest", "_pytest": "pytest", "vcr": "vcrpy", "yaml": "pyyaml"}.keys() == KIT_MODULES
    # The project's own ``test`` extra includes the kit's (hatchling expands ``txsync[testing]``).
    test = {str(r).split(";")[0] for r in declared if r.marker and r.marker.evaluate({"extra": "test"})}
    kit = {str(r).split(";")[0] for r in declared if r.marker and r.marker.evaluate({"extra": "testing"})}
    assert kit <= test

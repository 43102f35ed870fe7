"""The command line under test: run it in-process (``run``), with the Demo Exchange connector wired to
its sandbox instead of the network (``demo_network``)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from txsync.cli import main
from txsync.cli._context import CliContext
from txsync.connectors.demo import DemoExchange
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.registry import Registry
from txsync.testing.harness import NO_SLEEP_RETRY


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run(*argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty txsync home: the default store and master key would go there."""
    folder = tmp_path / "home"
    monkeypatch.setenv("TXSYNC_HOME", str(folder))
    for name in list(__import__("os").environ):
        if name.startswith(("TXSYNC_SECRET_", "TXSYNC_FIELD_")):
            monkeypatch.delenv(name)
    return folder


def wire_demo(monkeypatch: pytest.MonkeyPatch, sandbox: DemoSandbox) -> DemoSandbox:
    """``txsync connect demo ...`` and its syncs talk to ``sandbox`` (no network, retries without
    sleeping); the default registry holds the Demo Exchange too."""
    registry = Registry()
    registry.register(DemoExchange)
    monkeypatch.setattr("txsync.registry.default_registry", lambda: registry)
    original = CliContext.engine

    def engine(self: CliContext, store: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("registry", registry)
        kwargs.setdefault("transport_for", lambda _c: sandbox.transport())
        kwargs.setdefault("clock", sandbox.clock)
        kwargs.setdefault("retry", NO_SLEEP_RETRY)
        return original(self, store, **kwargs)

    monkeypatch.setattr(CliContext, "engine", engine)
    return sandbox


@pytest.fixture
def demo_network(monkeypatch: pytest.MonkeyPatch) -> DemoSandbox:
    """The Demo Exchange sandbox wired in (see :func:`wire_demo`)."""
    return wire_demo(monkeypatch, DemoSandbox())

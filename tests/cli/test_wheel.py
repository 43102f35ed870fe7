"""The wheel works: built from this tree, installed alone into a fresh virtual environment (its
runtime dependencies from the package index, no test extra), ``txsync demo`` runs from an empty
directory. It takes a minute or so (creating the environment, installing the dependencies): the
``wheel`` marker lets a developer leave it out locally (``-m "not wheel"``); CI runs it."""

# ruff: noqa: S603 - the test runs pip and the installed console script

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.wheel


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_the_installed_wheel_runs_the_demo_from_an_empty_directory(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist),
                  str(ROOT)], timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("txsync-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "txsync/cli/demo.py" in names and "txsync/connectors/binance/sandbox/_scenario.py" in names
    assert not any(n.startswith(("tests/", "cassettes/")) for n in names)

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    assert made.returncode == 0, made.stderr
    python, txsync = venv / "bin" / "python", venv / "bin" / "txsync"
    installed = _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                     timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    # the demo needs no test-only dependency
    assert _run([str(python), "-c", "import vcr"]).returncode != 0

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TXSYNC_", "PYTHON", "VIRTUAL_ENV"))}
    env["TXSYNC_HOME"] = str(tmp_path / "home")
    done = _run([str(txsync), "demo"], cwd=empty, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Transactions by kind (1417 in all)" in done.stdout and "MISMATCH" not in done.stdout
    # no cassette in a wheel: the demo's prices come from the price sandboxes it ships (the same answers)
    assert "Valuation in EUR (prices: the built-in price sandboxes, offline)" in done.stdout
    assert "1417 transactions: 1416 valued, 0 pending, 1 unpriceable, 0 overridden" in done.stdout
    again = _run([str(txsync), "--json", "ledger", "--limit", "1"], cwd=empty, env=env, timeout=120)
    assert again.returncode == 0 and '"legs"' in again.stdout
    assert list(empty.iterdir()) == []  # nothing written where it ran

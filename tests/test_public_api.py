"""Everything ``txsync`` exports resolves, and importing it loads nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import txsync


def test_every_export_resolves() -> None:
    for name in txsync.__all__:
        assert getattr(txsync, name) is not None, name


def test_import_is_lazy() -> None:
    code = "import sys, txsync; print('sqlalchemy' in sys.modules, 'httpx' in sys.modules)"
    run = [sys.executable, "-c", code]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout  # noqa: S603 - our own interpreter
    assert out.split() == ["False", "False"]


def test_all_matches_the_export_table() -> None:
    assert sorted(txsync.__all__) == sorted(txsync._EXPORTS)

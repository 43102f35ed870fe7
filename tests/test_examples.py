"""The examples keep working."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


async def test_host_app_example(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("host_app", EXAMPLES / "host_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["host_app"] = module
    spec.loader.exec_module(module)
    result = await module.run(tmp_path / "host.sqlite3")
    assert result["first_sync_new"] == 262
    assert result["full_resync_new"] == 0
    assert result["visible"] == 261
    assert result["label_kept"] == "first buy"
    assert result["differences"] == {asset: -amount for asset, amount in result["deleted_legs"].items()}
    assert result["explained"] == {asset: ["deleted"] for asset in result["deleted_legs"]}
    assert result["gaps"] == ["Staking rewards"]
    assert result["pages_seen"] > 0
    assert result["ledger_pages"] == [100, 100]

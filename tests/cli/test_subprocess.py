"""The console script in real processes: exit codes, a reader that goes away (``| head``), Ctrl-C."""

# ruff: noqa: S603 - the tests run the txsync console script of this environment

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TXSYNC = str(Path(sys.executable).parent / "txsync")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TXSYNC_")}
    env["TXSYNC_HOME"] = str(home)
    return env


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    done = subprocess.run([TXSYNC, "demo", "--source", "demo"], env=_env(home), capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    return home


def test_exit_codes(tmp_path: Path, demo_home: Path) -> None:
    def code(*argv: str, home: Path = demo_home) -> tuple[int, str]:
        done = subprocess.run([TXSYNC, *argv], env=_env(home), capture_output=True, text=True, check=False,
                              timeout=120)
        return done.returncode, done.stderr

    assert code("--version") == (0, "")
    assert code("ledger", "--limit", "1")[0] == 0
    assert code("ledger", "--bogus")[0] == 2
    empty = tmp_path / "empty"
    returncode, stderr = code("ledger", home=empty)
    assert returncode == 2 and "no txsync store at" in stderr and "Traceback" not in stderr
    assert not empty.exists()
    returncode, stderr = code("sync", "con_nope")
    assert returncode == 2 and "no connection 'con_nope'" in stderr


@pytest.mark.parametrize("argv", [["ledger"], ["ledger", "--csv"], ["ledger", "--json"], ["export", "--owner",
                                  "demo-user", "--format", "koinly"]])
def test_a_reader_that_goes_away_ends_it_quietly(demo_home: Path, argv: list[str]) -> None:
    process = subprocess.Popen([TXSYNC, *argv], env=_env(demo_home), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # `| head -1`
    stderr = process.stderr.read().decode()
    returncode = process.wait(timeout=120)
    assert first
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "Exception ignored" not in stderr, stderr
    assert returncode in (0, 141)  # 0 when everything fit in the pipe before it closed


def test_ctrl_c_during_a_demo_then_a_full_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    process = subprocess.Popen([TXSYNC, "demo"], env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (home / "txsync.sqlite3").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode in (0, 130), stderr  # 0 if it finished before the signal came
    assert b"Traceback" not in stderr
    done = subprocess.run([TXSYNC, "demo"], env=_env(home), capture_output=True, text=True, check=False,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Transactions by kind (1417 in all)" in done.stdout and "MISMATCH" not in done.stdout

"""The built-in sandboxes served over real HTTP: ``txsync sandbox serve`` in a subprocess synced from two
processes that share its meter; the served Binance exchange's real limits (429, then a 418 ban) and its
accounts behind one IP; every built-in sandbox answers over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from txsync.cli import main
from txsync.connectors.binance.sandbox import Scenario, ScenarioAccount
from txsync.connectors.binance.sandbox._served import BinanceExchange, account_key
from txsync.errors import ConfigurationError
from txsync.sandboxes import SANDBOXES, STATS_PATH, SandboxServer, served_sandbox

TESTS = Path(__file__).resolve().parents[1]
TXSYNC = str(Path(sys.executable).parent / "txsync")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(TESTS)}


def test_serve_in_a_subprocess_meters_two_syncing_processes_together(tmp_path: Path) -> None:
    argv = [TXSYNC, "--json", "sandbox", "serve", "demo", "--port", "0"]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())  # noqa: S603
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        served = json.loads(first)
        assert served["base_url"].startswith("http://127.0.0.1:")
        assert served["options"] == {"base_url": served["base_url"]}
        assert served["accounts"][0]["credential"]["api_key"]
        clients = [
            subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "helpers.sandbox_client", first, str(tmp_path / f"db{n}.sqlite3")],
                stdout=subprocess.PIPE, text=True, env=_env(),
            )
            for n in (1, 2)
        ]
        results = []
        for client in clients:
            out, _ = client.communicate(timeout=120)
            assert client.returncode == 0
            results.append(json.loads(out))
        assert all(r["ok"] and r["new"] > 0 and not r["errors"] for r in results)
        assert results[0]["new"] == results[1]["new"]  # the same account, twice
        stats = httpx.get(served["stats_url"]).json()
        # One server counted both processes: their streams' requests plus each sync's key check.
        assert stats["requests"] == stats["requests_metered"] == sum(r["requests"] + 1 for r in results)
        assert stats["by_status"] == {"200": stats["requests"]}
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_served_binance_answers_429_then_bans_with_its_real_limits() -> None:
    exchange = BinanceExchange([ScenarioAccount.generate(Scenario.small())], window=60.0, wall=lambda: 1_800_000_000.0)
    served = served_sandbox("binance", accounts=1)
    served.handle = exchange.handle
    served.stats = exchange.stats
    with SandboxServer(served) as server, httpx.Client(base_url=server.base_url) as client:
        statuses = [client.get("/api/v3/exchangeInfo").status_code for _ in range(300)]
        assert set(statuses) == {200}  # 300 x 20 = the 6000 weight of the minute
        full = client.get("/api/v3/exchangeInfo")
        assert full.status_code == 429
        assert full.headers["X-MBX-USED-WEIGHT-1M"] == "6000"
        assert full.headers["Retry-After"] == "60"  # to the next minute
        answers = [client.get("/api/v3/time").status_code for _ in range(4)]
        assert answers == [429, 429, 418, 418]  # a client sending on after 429s gets the IP banned
        banned = client.get("/api/v3/time")
        assert banned.status_code == 418 and int(banned.headers["Retry-After"]) == 120
        stats = client.get(STATS_PATH).json()
    assert stats["rejected_429"] == 4 and stats["banned_418"] == 3
    assert stats["peak_window_weight"]["spot"] == 6000 and stats["limits"]["spot"] == 6000


def test_served_binance_meters_the_ip_for_all_accounts_and_the_uid_per_account() -> None:
    clock = [1_800_000_000.0]
    accounts = [ScenarioAccount.generate(Scenario.small()) for _ in range(3)]
    exchange = BinanceExchange(accounts, wall=lambda: clock[0])
    for index in range(3):
        key, _secret = account_key(index)
        answer = exchange.handle(httpx.Request("GET", "http://127.0.0.1/api/v3/exchangeInfo",
                                               headers={"X-MBX-APIKEY": key}))
        assert answer.headers["X-MBX-USED-WEIGHT-1M"] == str(20 * (index + 1))  # one IP budget
    # The UID budget is each account's: 180000 for one does not touch another's.
    one, two = account_key(1)[0], account_key(2)[0]
    assert exchange._meter("sapi_uid", f"sapi_uid:{one}", 180000) is None
    assert exchange._meter("sapi_uid", f"sapi_uid:{one}", 1) is not None  # 429
    assert exchange._meter("sapi_uid", f"sapi_uid:{two}", 180000) is None
    clock[0] += 60  # the next window
    assert exchange._meter("sapi_uid", f"sapi_uid:{one}", 1) is None
    assert exchange.stats()["rejected_429"] == 1 and exchange.stats()["banned_418"] == 0


@pytest.mark.parametrize("name", sorted(SANDBOXES))
def test_every_built_in_sandbox_answers_over_http(name: str) -> None:
    served = served_sandbox(name)
    assert served.accounts and served.connector
    with SandboxServer(served) as server, httpx.Client() as client:
        options: dict[str, Any] = served.options(server.base_url)
        assert options["base_url"].startswith(server.base_url)
        # An unsigned request reaches the emulation and gets its own answer (never a server crash).
        answer = client.get(options["base_url"] + "/nope")
        assert answer.status_code in (400, 401, 403, 404)
        assert client.get(server.base_url + STATS_PATH).json()["requests"] == 1


def test_unknown_sandboxes_and_parameters_are_configuration_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigurationError, match="no built-in sandbox"):
        served_sandbox("kraken")
    with pytest.raises(ConfigurationError, match="demo"):
        served_sandbox("demo", accounts=3)
    assert main(["sandbox", "serve", "kraken"]) == 2
    assert "no built-in sandbox 'kraken'" in capsys.readouterr().err
    assert main(["sandbox", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in SANDBOXES)


def test_served_binance_options_point_every_binance_host_at_the_server() -> None:
    from dataclasses import fields

    from txsync.connectors.binance._options import Options

    served = served_sandbox("binance", accounts=1)
    url = "http://127.0.0.1:1234"
    parsed = Options.parse(served.options(url))
    hosts = {f.name: getattr(parsed, f.name) for f in fields(parsed) if f.name.endswith("base_url")}
    assert len(hosts) >= 4  # spot/SAPI, USD-M futures, COIN-M futures, options
    assert set(hosts.values()) == {url}, hosts  # none left on binance.com

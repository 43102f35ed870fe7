"""The sandbox itself behaves like Binance: signatures, clock, windows, page sizes, listings."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from txsync.connectors.binance.sandbox import KEY, NOW, SECRET, BinanceSandbox, Scenario, ScenarioAccount

STAMP = int(NOW.timestamp() * 1000)


def call(
    sandbox: BinanceSandbox, path: str, params: dict[str, Any], *, secret: str = SECRET, sign: bool = True
) -> tuple[int, Any, httpx.Headers]:
    query = urlencode({**params, "timestamp": params.get("timestamp", STAMP)}) if sign else urlencode(params)
    if sign:
        query += "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    request = httpx.Request("GET", f"https://api.binance.com{path}?{query}", headers={"X-MBX-APIKEY": KEY})
    response = sandbox.handle(request)
    return response.status_code, json.loads(response.content), response.headers


def test_signatures_and_timestamps_are_checked(sandbox: BinanceSandbox) -> None:
    assert call(sandbox, "/sapi/v1/account/apiRestrictions", {})[0] == 200
    status, body, _ = call(sandbox, "/sapi/v1/account/apiRestrictions", {}, secret="wrong-secret-value")
    assert (status, body["code"]) == (400, -1022)
    status, body, _ = call(sandbox, "/sapi/v1/account/apiRestrictions", {"timestamp": STAMP - 6000})
    assert body["code"] == -1021
    status, body, _ = call(sandbox, "/sapi/v1/account/apiRestrictions", {"timestamp": STAMP + 1500})
    assert body["code"] == -1021
    assert call(sandbox, "/sapi/v1/account/apiRestrictions", {"recvWindow": 60001})[1]["code"] == -1131
    assert (
        call(sandbox, "/sapi/v1/account/apiRestrictions", {"timestamp": STAMP - 6000, "recvWindow": 10000})[0]
        == 200
    )


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/sapi/v1/capital/deposit/hisrec", {"startTime": 0, "endTime": 90 * 86_400_000}, -1127),
        ("/sapi/v1/capital/withdraw/history", {"startTime": 0, "endTime": 90 * 86_400_000}, -1127),
        ("/sapi/v1/convert/tradeFlow", {"startTime": 0}, -1102),
        ("/sapi/v1/convert/tradeFlow", {"startTime": 0, "endTime": 31 * 86_400_000}, -1127),
        ("/sapi/v1/asset/assetDividend", {"startTime": 0, "endTime": 181 * 86_400_000}, -1127),
        ("/sapi/v1/asset/assetDividend", {"startTime": 0, "endTime": 1, "limit": 501}, -1130),
        ("/api/v3/myTrades", {"symbol": "BTCUSDT", "limit": 1001}, -1130),
        ("/api/v3/myTrades", {"symbol": "BTCUSDT", "startTime": 0, "endTime": 86_400_001}, -1127),
        ("/api/v3/myTrades", {"symbol": "BCCBTC"}, -1121),
        ("/sapi/v1/simple-earn/flexible/history/rewardsRecord", {"startTime": 0, "endTime": 1}, -1102),
        ("/sapi/v1/fiat/orders", {"transactionType": 0, "rows": 501}, -1130),
    ],
)
def test_windows_page_sizes_and_symbols_are_enforced(
    sandbox: BinanceSandbox, path: str, params: dict[str, Any], code: int
) -> None:
    status, body, headers = call(sandbox, path, params)
    assert status == 400 and body["code"] == code
    assert any(h.startswith("x-") and "weight" in h for h in headers)  # usage headers on errors too


def test_exchange_info_lists_trading_groups_only_when_asked(sandbox: BinanceSandbox) -> None:
    plain = call(sandbox, "/api/v3/exchangeInfo", {}, sign=False)[1]["symbols"]
    groups = call(
        sandbox,
        "/api/v3/exchangeInfo",
        {"permissions": json.dumps(["SPOT", "TRD_GRP_004", "TRD_GRP_005"])},
        sign=False,
    )[1]["symbols"]
    names = {s["symbol"] for s in plain}
    assert "PEPEUSDT" not in names and "PEPEUSDT" in {s["symbol"] for s in groups}
    assert len(groups) > len(plain)
    assert "BCCBTC" not in {s["symbol"] for s in groups}  # vanished
    assert any(s["status"] == "BREAK" for s in groups)


def test_the_scenario_is_deterministic_and_rich() -> None:
    one, two = ScenarioAccount.generate(Scenario.small()), ScenarioAccount.generate(Scenario.small())
    assert one.trades == two.trades and one.spot == two.spot and one.deposits == two.deposits
    main = ScenarioAccount.generate()
    assert len(main.listing.markets) > 2000 and len(main.traded_symbols) >= 45
    years = {row["time"] // (365 * 86_400_000) for rows in main.trades.values() for row in rows}
    assert len(years) >= 5
    for stream in (
        "deposits",
        "withdrawals",
        "fiat_orders",
        "fiat_payments",
        "converts",
        "dust",
        "dividends",
        "earn_flexible",
        "earn_locked",
        "swaps",
        "futures_income",
        "margin_interest",
    ):
        assert getattr(main, stream), stream
    assert any(d["status"] == 0 for d in main.deposits)  # a pending deposit
    times = [(row["time"], sym) for sym, rows in main.trades.items() for row in rows]
    assert len(times) > len(set(times))  # same-millisecond fills
    assert any(s.endswith("EUR") for s in main.traded_symbols)  # fiat trades
    assert all(v > 0 for v in main.spot.values())

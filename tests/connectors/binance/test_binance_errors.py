"""Bad paths: wrong key, bans, 429s, malformed and truncated bodies, duplicate pages, error codes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from connectors.binance.binance_rig import credential, make_rig
from txsync.connectors.binance._errors import (
    ClockSkewError,
    InvalidSymbolError,
    MarginUnavailableError,
    binance_error_mapper,
)
from txsync.connectors.binance.sandbox import BinanceSandbox
from txsync.engine import SyncMode
from txsync.errors import AuthError, BadRequestError, RateLimitedError, TransientError


def _response(status: int, body: Any, **headers: str) -> tuple[httpx.Response, Any]:
    return httpx.Response(status, json=body, headers=headers), body


@pytest.mark.parametrize("code", [-2015, -2014, -2008, -1022])
def test_key_errors_disable(code: int) -> None:
    error = binance_error_mapper(
        *_response(401, {"code": code, "msg": "Invalid API-key, IP, or permissions"})
    )
    assert isinstance(error, AuthError) and error.disables_connection
    assert str(code) in str(error)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, -1021, ClockSkewError),
        (400, -1121, InvalidSymbolError),
        (400, -3003, MarginUnavailableError),
        (400, -1003, RateLimitedError),
        (200, -1100, BadRequestError),
    ],
)
def test_codes(status: int, code: int, kind: type[Exception]) -> None:
    error = binance_error_mapper(*_response(status, {"code": code, "msg": "x"}))
    assert isinstance(error, kind)


def test_status_only_answers_fall_back_or_are_transient() -> None:
    assert binance_error_mapper(*_response(200, {"code": "000000", "message": "success", "data": []})) is None
    assert binance_error_mapper(*_response(429, {"code": -1003, "msg": "x"})) is None  # status decides
    assert binance_error_mapper(*_response(418, {"code": -1003, "msg": "x"})) is None
    assert isinstance(
        binance_error_mapper(httpx.Response(403, text="<html>WAF</html>"), None), TransientError
    )


def test_wrong_key_disables_the_connection_with_the_reason(sandbox: BinanceSandbox) -> None:
    rig = make_rig(
        sandbox.transport, cred=credential("not-a-real-binance-key-123456", "and-not-its-secret-7890")
    )
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert not report.ok
    connection = rig.store.get_connection(rig.connection.id)
    assert connection.state == "disabled"
    assert "-2015" in (connection.state_reason or "")
    assert "not-a-real-binance-key" not in (connection.state_reason or "")
    assert sandbox.log.count("/sapi/v1/account/apiRestrictions") == 1  # no retry storm


def test_wrong_secret_is_an_invalid_signature(sandbox: BinanceSandbox) -> None:
    from txsync.connectors.binance.sandbox import KEY

    rig = make_rig(sandbox.transport, cred=credential(KEY, "a-wrong-secret-for-the-right-key"))
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert rig.store.get_connection(rig.connection.id).state == "disabled"
    assert any("-1022" in e for e in report.errors)


def test_418_stops_the_sync_with_the_ban_end(sandbox: BinanceSandbox) -> None:
    sandbox.faults = {5: "418"}
    rig = make_rig(sandbox.transport)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert not report.ok
    assert report.banned_until is not None
    assert (report.banned_until - rig.engine.clock()).total_seconds() == pytest.approx(7200, abs=1)
    assert len(sandbox.log) == 5  # nothing sent after the ban
    assert rig.store.get_connection(rig.connection.id).state == "active"


def test_429_with_retry_after_zero_backs_off_and_succeeds(sandbox: BinanceSandbox) -> None:
    sandbox.faults = {4: "429-0", 5: "429-0"}
    rig = make_rig(sandbox.transport)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors
    assert sum(s.rate_limited for s in report.streams) == 2
    assert sandbox.log[3] == sandbox.log[4] == sandbox.log[5]  # the same request, retried


@pytest.mark.parametrize("fault", ["malformed", "truncated", "500"])
def test_broken_bodies_are_retried(sandbox: BinanceSandbox, fault: str) -> None:
    sandbox.faults = {6: fault}
    rig = make_rig(sandbox.transport)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors
    assert sum(s.retries for s in report.streams) == 1


def test_malformed_body_twice_fails_only_that_stream(sandbox: BinanceSandbox) -> None:
    sandbox.faults = {3: "malformed", 4: "malformed"}  # the first deposits window, twice
    rig = make_rig(sandbox.transport)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    by_name = {s.stream: s for s in report.streams}
    assert by_name["deposits"].errors and "MalformedBodyError" in by_name["deposits"].errors[0]
    assert by_name["withdrawals"].completed and by_name["trades"].completed


def test_duplicate_page_is_a_stream_error_not_a_silent_loss(small_account: Any) -> None:
    """The server answers the second deposits window with the first window's page again: the
    rows lie outside the range asked for, so the stream stops with an error (its cursor stays at
    the end of the first window) instead of storing a repeat and skipping the window's real rows.
    The next sync reads the window again."""
    sandbox = BinanceSandbox(account=small_account, enforce_limits=False)
    calls = {"n": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/sapi/v1/capital/deposit/hisrec":
            calls["n"] += 1
            if calls["n"] == 2:
                sandbox.faults[sandbox.requests + 1] = "duplicate"
        return sandbox.handle(request)

    rig = make_rig(lambda: httpx.MockTransport(handle))
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    deposits = next(s for s in report.streams if s.stream == "deposits")
    assert deposits.errors and "outside the time range" in deposits.errors[0]
    assert next(s for s in report.streams if s.stream == "trades").completed
    again = asyncio.run(rig.engine.sync(rig.connection.id))
    deposits = next(s for s in again.streams if s.stream == "deposits")
    assert deposits.completed and not deposits.errors
    ids = [d["id"] for d in small_account.deposits]
    stored = {
        source.source_id
        for tx in rig.store.transactions(account_id=rig.connection.account_id)
        for source in tx.sources
        if source.stream == "deposits"
    }
    assert stored == set(ids)


def test_duplicate_trades_page_is_a_loop_error(small_account: Any) -> None:
    """``myTrades`` answering the same full page for the next ``fromId``: a loop, not a hang."""
    sandbox = BinanceSandbox(account=small_account, enforce_limits=False)
    busiest = max(small_account.trades, key=lambda s: len(small_account.trades[s]))

    first_page: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        response = sandbox.handle(request)
        if request.url.path == "/api/v3/myTrades" and params.get("symbol") == busiest:
            if params.get("fromId") == "0":
                first_page.append(response.content)
            elif first_page:  # pairs are paged concurrently: the pair's own first page, again
                return httpx.Response(200, content=first_page[0], headers=response.headers)
        return response

    rig = make_rig(lambda: httpx.MockTransport(handle))
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    trades = next(s for s in report.streams if s.stream == "trades")
    assert trades.errors and "PaginationLoopError" in trades.errors[0]

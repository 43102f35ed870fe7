"""Signing, the server clock offset, -1021 re-sync, recvWindow, and the key's permissions."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connectors.binance.binance_rig import credential, make_rig
from txsync.connector import ConnectorContext
from txsync.connectors.binance import Binance
from txsync.connectors.binance._api import BinanceAuth
from txsync.connectors.binance.sandbox import NOW, TRADING_KEY, TRADING_SECRET, BinanceSandbox
from txsync.engine import SyncMode
from txsync.errors import ConfigurationError

DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PARAMS = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_documented_signature_vector() -> None:
    auth = BinanceAuth(DOC_KEY, DOC_SECRET, key_header="X-MBX-APIKEY")
    assert auth.signature(DOC_PARAMS.encode()) == DOC_SIGNATURE
    request = httpx.Request("POST", "https://api.binance.com/api/v3/order?" + DOC_PARAMS)
    auth.sign(request)
    assert request.headers["X-MBX-APIKEY"] == DOC_KEY
    assert request.url.query.decode() == DOC_PARAMS + "&signature=" + DOC_SIGNATURE


def test_public_endpoints_are_not_signed() -> None:
    auth = BinanceAuth(DOC_KEY, DOC_SECRET, key_header="X-MBX-APIKEY")
    request = httpx.Request("GET", "https://api.binance.com/api/v3/exchangeInfo")
    auth.sign(request)
    assert "X-MBX-APIKEY" not in request.headers
    assert request.url.query == b""


def test_secrets_stay_out_of_reprs() -> None:
    auth = BinanceAuth(DOC_KEY, DOC_SECRET, key_header="X-MBX-APIKEY")
    assert DOC_SECRET not in repr(auth) and DOC_KEY not in repr(auth)


def _context(transport: httpx.AsyncBaseTransport, **options: object) -> ConnectorContext:
    return ConnectorContext(
        connection_id="c",
        account_id="a",
        credential=credential(),
        options={"rate_limit": "off", **options},
        transport=transport,
        clock=lambda: NOW,
    )


def test_clock_offset_and_recv_window_are_sent(sandbox: BinanceSandbox) -> None:
    sandbox.skew_ms = 7_000  # the server runs 7 s ahead of us: without the offset, -1021
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return sandbox.handle(request)

    async def scenario() -> None:
        async with Binance(_context(httpx.MockTransport(handle), recv_window=15000)) as connector:
            permissions = await connector.verify()
            assert permissions.can_read and not permissions.can_trade
            assert connector.api.auth.offset_ms == 7_000

    asyncio.run(scenario())
    assert [r.url.path for r in seen] == ["/api/v3/time", "/sapi/v1/account/apiRestrictions"]
    assert seen[1].url.params["recvWindow"] == "15000"


def test_minus_1021_resyncs_the_clock_and_retries_once(sandbox: BinanceSandbox) -> None:
    sandbox.faults = {3: "skew"}  # the server clock jumps 10 s ahead before the 3rd request

    async def scenario() -> int:
        async with Binance(_context(sandbox.transport())) as connector:
            await connector.verify()
            await connector.balances()
            return connector.api.resyncs

    assert asyncio.run(scenario()) == 1
    assert sandbox.log[:5] == [
        "/api/v3/time",
        "/sapi/v1/account/apiRestrictions",
        "/api/v3/account",  # answered -1021
        "/api/v3/time",
        "/api/v3/account",
    ]


def test_recv_window_is_validated() -> None:
    with pytest.raises(ConfigurationError):
        Binance(_context(httpx.MockTransport(lambda r: httpx.Response(200)), recv_window=70000))


def test_a_trading_key_is_refused_by_the_engine(sandbox: BinanceSandbox) -> None:
    rig = make_rig(sandbox.transport, cred=credential(TRADING_KEY, TRADING_SECRET))
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert not report.ok
    assert report.permissions is not None and report.permissions.can_trade
    state = rig.store.get_connection(rig.connection.id)
    assert state.state == "disabled" and "can trade" in (state.state_reason or "")
    assert sandbox.log == ["/api/v3/time", "/sapi/v1/account/apiRestrictions"]


@pytest.mark.parametrize(
    ("flag", "right"),
    [
        ("enableWithdrawals", "can_withdraw"),
        ("enableInternalTransfer", "can_transfer"),
        ("permitsUniversalTransfer", "can_transfer"),
        ("enableMargin", "can_trade"),
        ("enableFutures", "can_trade"),
        ("enableVanillaOptions", "can_trade"),
        ("enablePortfolioMarginTrading", "can_trade"),
        ("enableFixApiTrade", "can_trade"),
    ],
)
def test_permissions_from_api_restrictions(sandbox: BinanceSandbox, flag: str, right: str) -> None:
    from txsync.connectors.binance.sandbox import KEY

    sandbox.keys[KEY].restrictions = dict(sandbox.keys[KEY].restrictions, **{flag: True})

    async def scenario() -> object:
        async with Binance(_context(sandbox.transport())) as connector:
            return await connector.verify()

    permissions = asyncio.run(scenario())
    assert getattr(permissions, right) is True
    assert permissions.ip_restricted is True

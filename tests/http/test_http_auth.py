"""Signers: Binance's documented HMAC vector, timestamps, secrecy."""

from __future__ import annotations

import copy
import pickle

import httpx
import pytest

from txsync.errors import ConfigurationError
from txsync.http import HmacQueryAuth, SigningAuth

# Binance's documented example (see shared/reference/binance.md).
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
TOTAL_PARAMS = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
PARAMS = {
    "symbol": "LTCBTC",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "1",
    "price": "0.1",
    "recvWindow": "5000",
}


def binance_auth(**kw: object) -> HmacQueryAuth:
    return HmacQueryAuth(KEY, SECRET, key_header="X-MBX-APIKEY", clock=lambda: 1499827319559, **kw)  # type: ignore[arg-type]


def signed(auth: httpx.Auth, request: httpx.Request) -> httpx.Request:
    flow = auth.sync_auth_flow(request)
    return next(flow)


def test_documented_vector_in_the_query_string() -> None:
    request = signed(
        binance_auth(), httpx.Request("GET", "https://api.binance.com/api/v3/order", params=PARAMS)
    )
    assert request.url.query.decode() == f"{TOTAL_PARAMS}&signature={SIGNATURE}"
    assert request.headers["X-MBX-APIKEY"] == KEY


def test_documented_vector_in_the_body() -> None:
    request = httpx.Request(
        "POST",
        "https://api.binance.com/api/v3/order",
        content=TOTAL_PARAMS.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    request = signed(binance_auth(), request)
    # The body already carries a timestamp: none is added; the signature covers query + body.
    assert request.url.query.decode() == f"signature={SIGNATURE}"
    assert request.content == TOTAL_PARAMS.encode()


def test_offset_and_custom_names() -> None:
    auth = HmacQueryAuth(
        "key",
        "secret",
        key_header="X-API-KEY",
        signature_param="sig",
        timestamp_param="ts",
        clock=lambda: 1_000,
        offset_ms=-250,
    )
    request = signed(auth, httpx.Request("GET", "https://example.com/x", params={"a": "1"}))
    assert request.url.params["ts"] == "750"
    assert request.url.params["sig"] == auth.signature(b"a=1&ts=750")
    assert request.headers["X-API-KEY"] == "key"
    auth.offset_ms = 250  # a connector re-synchronised with the server's clock
    request = signed(auth, httpx.Request("GET", "https://example.com/x"))
    assert request.url.query == f"ts=1250&sig={auth.signature(b'ts=1250')}".encode()


def test_without_timestamp() -> None:
    auth = HmacQueryAuth("key", "secret", key_header="X-K", timestamp_param=None)
    request = signed(auth, httpx.Request("GET", "https://example.com/x", params={"a": "1"}))
    assert request.url.query == f"a=1&signature={auth.signature(b'a=1')}".encode()


def test_empty_credentials_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        HmacQueryAuth("", SECRET, key_header="X-K")


def test_secrets_never_show() -> None:
    auth = binance_auth()
    assert KEY not in repr(auth)
    assert SECRET not in repr(auth)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(auth)
    with pytest.raises(TypeError):
        copy.deepcopy(auth)
    assert set(auth.secret_values) == {KEY, SECRET}


async def test_a_custom_signer_runs_on_every_send() -> None:
    class CountingAuth(SigningAuth):
        def __init__(self) -> None:
            self.count = 0

        def sign(self, request: httpx.Request) -> None:
            self.count += 1
            request.headers["X-Sign"] = f"{self.count}:{request.content.decode()}"

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["X-Sign"])
        return httpx.Response(200, json={})

    auth = CountingAuth()
    assert repr(auth) == "CountingAuth(<secrets hidden>)"
    async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(handler)) as client:
        await client.post("https://example.com/a", content=b"x=1")
        await client.post("https://example.com/a", content=b"x=2")
    assert seen == ["1:x=1", "2:x=2"]

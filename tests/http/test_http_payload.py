"""``signing_payload`` / ``with_form_fields``: what a signer signs, read and changed without httpx
internals; proven end to end by a Kraken-style signer (a nonce in the form body, the signature over it)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Iterator
from itertools import count
from urllib.parse import parse_qsl

import httpx
import pytest

from txsync.errors import ConfigurationError
from txsync.http import (
    FORM_CONTENT_TYPE,
    HttpClient,
    RetryPolicy,
    SigningAuth,
    signing_payload,
    with_form_fields,
)

URL = "https://api.example.test/0/private/Ledgers"


def test_a_get_request_signs_its_query_as_sent_and_no_body() -> None:
    request = httpx.Request("GET", "https://api.example.test/v1/trades", params={"symbol": "BTC EUR", "limit": 5})
    payload = signing_payload(request)
    assert payload.method == "GET"
    assert payload.host == "api.example.test"
    assert payload.path == "/v1/trades"
    assert payload.query == "symbol=BTC+EUR&limit=5"
    assert payload.target == "/v1/trades?symbol=BTC+EUR&limit=5"
    assert payload.body == b""
    assert payload.content_type == ""
    assert payload.query_params() == [("symbol", "BTC EUR"), ("limit", "5")]
    assert payload.form() == []
    assert payload.has_param("limit")
    assert not payload.has_param("timestamp")


def test_a_form_body_gives_its_exact_bytes_and_its_fields() -> None:
    request = httpx.Request("post", URL, data={"asset": "XBT", "note": "a&b=c é", "empty": ""})
    payload = signing_payload(request)
    assert payload.method == "POST"
    assert payload.body == request.content
    assert payload.body == b"asset=XBT&note=a%26b%3Dc+%C3%A9&empty="
    assert payload.is_form
    assert payload.form() == [("asset", "XBT"), ("note", "a&b=c é"), ("empty", "")]
    assert payload.has_param("empty")
    assert payload.target == "/0/private/Ledgers"


def test_a_streamed_body_not_yet_read_is_loaded() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"a=1"
        yield b"&b=2"

    request = httpx.Request("POST", URL, content=chunks(), headers={"Content-Type": FORM_CONTENT_TYPE})
    with pytest.raises(httpx.RequestNotRead):
        _ = request.content
    assert signing_payload(request).form() == [("a", "1"), ("b", "2")]


def test_an_async_only_stream_is_a_configuration_error() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a=1"

    request = httpx.Request("POST", URL, content=chunks())
    with pytest.raises(ConfigurationError, match="requires_request_body"):
        signing_payload(request)


def test_a_json_body_is_not_a_form() -> None:
    request = httpx.Request("POST", URL + "?nonce=1", json={"nonce": 2})
    payload = signing_payload(request)
    assert not payload.is_form
    assert payload.body == request.content
    assert payload.has_param("nonce")  # the query's; a JSON body's fields are not form fields
    with pytest.raises(ConfigurationError, match="not a form"):
        payload.form()
    with pytest.raises(ConfigurationError, match="not a form"):
        with_form_fields(request, {"nonce": 3})


def test_with_form_fields_appends_and_keeps_the_existing_bytes() -> None:
    request = httpx.Request(
        "POST", URL, data={"asset": "XBT", "ofs": 50}, headers={"X-Trace": "t1"}, extensions={"timeout": {}}
    )
    before = request.content
    signed = with_form_fields(request, [("nonce", 1616492376594), ("otp", "a b")])
    assert signed is not request
    assert request.content == before  # the original is untouched
    assert signed.content == before + b"&nonce=1616492376594&otp=a+b"
    assert signed.headers["Content-Length"] == str(len(signed.content))
    assert signed.headers["Content-Type"] == FORM_CONTENT_TYPE
    assert signed.headers["X-Trace"] == "t1"
    assert signed.extensions == request.extensions
    assert (signed.method, signed.url) == (request.method, request.url)
    assert signing_payload(signed).form()[-2:] == [("nonce", "1616492376594"), ("otp", "a b")]


def test_with_form_fields_creates_a_body_when_there_is_none() -> None:
    signed = with_form_fields(httpx.Request("POST", URL), {"nonce": "7"})
    assert signed.content == b"nonce=7"
    assert signed.headers["Content-Type"] == FORM_CONTENT_TYPE
    assert signed.headers["Content-Length"] == "7"


# -- a Kraken-style signer built only on the public helpers ------------------------------------------


def kraken_signature(secret_b64: str, path: str, nonce: str, body: bytes) -> str:
    """API-Sign: base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + POST data)))."""
    message = path.encode() + hashlib.sha256(nonce.encode() + body).digest()
    return base64.b64encode(hmac.new(base64.b64decode(secret_b64), message, hashlib.sha512).digest()).decode()


class KrakenStyleAuth(SigningAuth):
    def __init__(self, key: str, secret_b64: str, nonces: Iterator[int]) -> None:
        self.key, self.secret, self.nonces = key, secret_b64, nonces

    def sign(self, request: httpx.Request) -> httpx.Request:
        nonce = str(next(self.nonces))
        request = with_form_fields(request, {"nonce": nonce})
        payload = signing_payload(request)
        request.headers["API-Key"] = self.key
        request.headers["API-Sign"] = kraken_signature(self.secret, payload.path, nonce, payload.body)
        return request


#: The example of Kraken's REST authentication documentation.
SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="


def test_the_signature_function_matches_the_documented_vector() -> None:
    body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    assert kraken_signature(SECRET, "/0/private/AddOrder", "1616492376594", body) == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )


async def no_sleep(_seconds: float) -> None:
    return None


async def test_a_signer_adding_a_nonce_to_the_body_is_verified_by_the_server() -> None:
    seen: list[dict[str, str]] = []

    def server(request: httpx.Request) -> httpx.Response:
        body = request.read()
        fields = dict(parse_qsl(body.decode()))
        assert request.headers["Content-Length"] == str(len(body))
        expected = kraken_signature(SECRET, request.url.path, fields["nonce"], body)
        if not hmac.compare_digest(expected, request.headers["API-Sign"]):
            return httpx.Response(403, json={"error": ["EAPI:Invalid signature"]})
        seen.append(fields)
        if len(seen) == 1:  # the first answer is a transient failure: the retry is signed afresh
            return httpx.Response(503, json={"error": ["EService:Unavailable"]})
        return httpx.Response(200, json={"error": [], "result": {"count": 0}})

    client = HttpClient(
        "https://api.example.test",
        auth=KrakenStyleAuth("key-abcdef", SECRET, count(1616492376594)),
        transport=httpx.MockTransport(server),
        retry=RetryPolicy(attempts=3, sleep=no_sleep),
    )
    try:
        body = await client.request_json("POST", "/0/private/Ledgers", data={"asset": "XBT", "ofs": 0})
    finally:
        await client.aclose()
    assert body["result"] == {"count": 0}
    assert [f["nonce"] for f in seen] == ["1616492376594", "1616492376595"]
    assert all(f["asset"] == "XBT" and f["ofs"] == "0" for f in seen)

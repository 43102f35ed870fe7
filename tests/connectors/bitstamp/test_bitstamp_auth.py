"""Bitstamp API v2 signing (pinned for fixed inputs) and the server's response signature."""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable

import httpx
import pytest

from txsync.connectors.bitstamp import (
    BitstampAuth,
    ResponseSignatureError,
    response_signature,
    string_to_sign,
)
from txsync.errors import ConfigurationError

KEY = "test-key-abcdef"
SECRET = "test-secret-0123456789abcdef0123456789abcdef"
NONCE = "f93c979d-b00d-43a9-9b9c-2a8a1c4bfe8b"
TIMESTAMP = 1_700_000_000_000


def fixed_auth(**kw: object) -> BitstampAuth:
    return BitstampAuth(KEY, SECRET, clock=lambda: TIMESTAMP, nonce=lambda: NONCE, **kw)  # type: ignore[arg-type]


def signed(auth: BitstampAuth, request: httpx.Request) -> httpx.Request:
    flow = auth.sync_auth_flow(request)
    return next(flow)


def test_signature_with_a_body_is_pinned() -> None:
    request = httpx.Request(
        "POST",
        "https://www.bitstamp.net/api/v2/user_transactions/",
        data={"offset": 0, "limit": 1000, "sort": "asc"},
    )
    out = signed(fixed_auth(), request)
    assert out.headers["X-Auth"] == "BITSTAMP test-key-abcdef"
    assert out.headers["X-Auth-Nonce"] == NONCE
    assert out.headers["X-Auth-Timestamp"] == "1700000000000"
    assert out.headers["X-Auth-Version"] == "v2"
    assert out.headers["Content-Type"] == "application/x-www-form-urlencoded"
    # HMAC-SHA256(secret, "BITSTAMP test-key-abcdef" "POST" "www.bitstamp.net"
    #   "/api/v2/user_transactions/" "" "application/x-www-form-urlencoded" nonce timestamp "v2" body)
    assert (
        out.headers["X-Auth-Signature"] == "45b98197013b3f634632ad74fdccbd3d81c4d5a0e80c67152297b9be6996a81d"
    )


def test_signature_without_a_body_has_no_content_type() -> None:
    request = httpx.Request("POST", "https://www.bitstamp.net/api/v2/balance/")
    out = signed(fixed_auth(), request)
    assert "Content-Type" not in out.headers
    # no content type and no body in the message either
    assert (
        out.headers["X-Auth-Signature"] == "7e31b1fcb87e370cfe79be48395654307a0f4251b162a972c3d683b24fbc08ea"
    )


def test_string_to_sign_is_the_documented_concatenation() -> None:
    message = string_to_sign(
        KEY, "post", "www.bitstamp.net", "/api/v2/balance/", "", "", NONCE, str(TIMESTAMP), b""
    )
    assert message == (
        b"BITSTAMP test-key-abcdefPOSTwww.bitstamp.net/api/v2/balance/"
        b"f93c979d-b00d-43a9-9b9c-2a8a1c4bfe8b1700000000000v2"
    )
    with_query = string_to_sign(KEY, "POST", "h", "/p/", "?a=1", "ct", "n", "1", b"x=y")
    assert with_query == b"BITSTAMP test-key-abcdefPOSTh/p/?a=1ctn1v2x=y"


def test_every_request_gets_a_fresh_uuid4_nonce_and_a_millisecond_timestamp() -> None:
    auth = BitstampAuth(KEY, SECRET, clock=lambda: 1_712_345_678_901)
    nonces = set()
    for _ in range(5):
        out = signed(auth, httpx.Request("POST", "https://www.bitstamp.net/api/v2/balance/"))
        nonce = out.headers["X-Auth-Nonce"]
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", nonce)
        nonces.add(nonce)
        assert out.headers["X-Auth-Timestamp"] == "1712345678901"
    assert len(nonces) == 5


def _respond(
    auth: BitstampAuth, status: int = 200, sign: Callable[[httpx.Request, bytes], str | None] | None = None
) -> httpx.Response:
    body = b'[{"id": 1}]'

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        signature = (
            sign(request, body)
            if sign
            else response_signature(
                SECRET,
                request.headers["X-Auth-Nonce"],
                request.headers["X-Auth-Timestamp"],
                "application/json",
                body,
            )
        )
        if signature is not None:
            headers["X-Server-Auth-Signature"] = signature
        return httpx.Response(status, content=body, headers=headers)

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        return client.post("https://www.bitstamp.net/api/v2/user_transactions/", data={"limit": 1})


def test_a_correct_response_signature_passes() -> None:
    assert _respond(fixed_auth()).status_code == 200


def test_a_wrong_response_signature_is_a_typed_error() -> None:
    with pytest.raises(ResponseSignatureError, match="does not match"):
        _respond(fixed_auth(), sign=lambda _r, _b: "0" * 64)
    # signed for another nonce: a replayed answer
    with pytest.raises(ResponseSignatureError):
        _respond(
            fixed_auth(), sign=lambda r, b: response_signature(SECRET, "other", "1", "application/json", b)
        )


def test_a_missing_response_signature_depends_on_the_mode() -> None:
    with pytest.raises(ResponseSignatureError, match="no X-Server-Auth-Signature"):
        _respond(fixed_auth(), sign=lambda _r, _b: None)
    assert _respond(fixed_auth(verify_response="if_present"), sign=lambda _r, _b: None).status_code == 200
    with pytest.raises(ResponseSignatureError):
        _respond(fixed_auth(verify_response="if_present"), sign=lambda _r, _b: "0" * 64)
    assert _respond(fixed_auth(verify_response="off"), sign=lambda _r, _b: "0" * 64).status_code == 200


def test_error_answers_are_not_signature_checked() -> None:
    assert _respond(fixed_auth(), status=403, sign=lambda _r, _b: None).status_code == 403


def test_the_signer_never_shows_its_secrets() -> None:
    auth = fixed_auth()
    assert SECRET not in repr(auth) and KEY not in repr(auth)
    assert set(auth.secret_values) == {KEY, SECRET}
    with pytest.raises(TypeError):
        pickle.dumps(auth)
    with pytest.raises(ConfigurationError):
        BitstampAuth("", SECRET)
    with pytest.raises(ConfigurationError):
        BitstampAuth(KEY, SECRET, verify_response="sometimes")

"""Secrets never reach log lines, exception messages or reprs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx
import pytest

from txsync.errors import AuthError, TransientError
from txsync.http import HmacQueryAuth, HttpClient, RedactingFilter, RetryPolicy, redact

if TYPE_CHECKING:
    from conftest import FakeClock

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET https://api.binance.com/api/v3/myTrades?symbol=BNBBTC&timestamp=1499827319559&signature=c8db5682",
            "GET https://api.binance.com/api/v3/myTrades?symbol=BNBBTC&timestamp=***&signature=***",
        ),
        ("X-MBX-APIKEY: abcdef123", "X-MBX-APIKEY: ***"),
        (
            "{'x-mbx-apikey': 'abcdef', 'accept': 'application/json'}",
            "{'x-mbx-apikey': '***', 'accept': 'application/json'}",
        ),
        (
            '[("ACCESS-SIGN", "zz"), ("ACCESS-PASSPHRASE", "pp")]',
            '[("ACCESS-SIGN", "***"), ("ACCESS-PASSPHRASE", "***")]',
        ),
        ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer ***"),
        ("module=account&apikey=ETHERSCANKEY&page=2", "module=account&apikey=***&page=2"),
        ("nonce=1700000000000&pair=XBTEUR", "nonce=***&pair=XBTEUR"),
        ("price=0.1&quantity=1", "price=0.1&quantity=1"),
        ("status=401 code=-2015", "status=401 code=-2015"),
        ("Invalid signature, please check", "Invalid signature, please check"),
        (
            "Invalid API-key, IP, or permissions for action.",
            "Invalid API-key, IP, or permissions for action.",
        ),
        ("('Authorization', 'Basic dXNlcjpwYXNz')", "('Authorization', 'Basic ***')"),
        ('"apiKey": "kkk", "amount": "1.10"', '"apiKey": "***", "amount": "1.10"'),
    ],
)
def test_redact_patterns(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_known_secrets_also_url_encoded() -> None:
    secret = "ab/cd+ef=="
    text = "raw ab/cd+ef== quoted ab%2Fcd%2Bef%3D%3D plus ab%2Fcd%2Bef%3D%3D"
    assert redact(text, [secret, ""]) == "raw *** quoted *** plus ***"


def test_filter_redacts_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("txsync.test.redaction")
    filt = RedactingFilter(["s3cr3t-value"])
    logger.addFilter(filt)
    try:
        with caplog.at_level(logging.DEBUG, logger=logger.name):
            logger.debug("key=%s url=%s", "s3cr3t-value", "/x?signature=abc")
            try:
                raise ValueError("boom s3cr3t-value")
            except ValueError:
                logger.exception("failed")
            logger.debug("bad format %s %s", "only-one")
    finally:
        logger.removeFilter(filt)
    text = caplog.text
    assert "s3cr3t-value" not in text
    assert "signature=abc" not in text
    assert "key=*** url=/x?signature=***" in text
    assert "boom ***" in text
    assert repr(filt) == "RedactingFilter(<1 secrets>)"


async def test_no_secret_or_signature_in_logs_or_errors(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    signatures: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        signatures.append(request.url.params["signature"])
        if request.url.path == "/api/v3/account":
            return httpx.Response(200, json={"balances": []}, headers={"X-MBX-USED-WEIGHT-1M": "20"})
        if request.url.path == "/api/v3/broken":
            raise httpx.ConnectError(f"cannot connect to {request.url} with {request.headers}")
        # The exchange echoes the key in its message (some do).
        return httpx.Response(401, json={"code": -2015, "msg": f"Invalid API-key {API_KEY}"})

    auth = HmacQueryAuth(API_KEY, SECRET, key_header="X-MBX-APIKEY", clock=clock.ms)
    errors: list[Exception] = []
    with caplog.at_level(logging.DEBUG):
        async with HttpClient(
            "https://api.binance.com",
            auth=auth,
            transport=httpx.MockTransport(handler),
            retry=RetryPolicy(attempts=2, sleep=clock.sleep),
        ) as client:
            assert "api.binance.com" in repr(client)
            await client.get_json("/api/v3/account", params={"recvWindow": "5000"})
            for path, error_type in (("/api/v3/denied", AuthError), ("/api/v3/broken", TransientError)):
                with pytest.raises(error_type) as info:
                    await client.get_json(path, params={"symbol": "BNBBTC"})
                errors.append(info.value)
                logging.getLogger("txsync.http").error("request failed: %s", info.value, exc_info=info.value)

    assert len(signatures) == 4  # account, denied, broken twice
    lines = [record.getMessage() for record in caplog.records]
    lines += [record.exc_text or "" for record in caplog.records]
    lines += [str(vars(record)) for record in caplog.records]  # extras too (stamina's retry records)
    lines.append(caplog.text)
    lines += [str(error) for error in errors] + [repr(error) for error in errors]
    lines.append(repr(auth))
    forbidden = [API_KEY, SECRET, *signatures]
    for line in lines:
        for value in forbidden:
            assert value not in line

    debug = [r.getMessage() for r in caplog.records if r.name == "txsync.http" and r.levelno == logging.DEBUG]
    assert any(line.startswith("GET /api/v3/account -> 200 in ") for line in debug)
    assert not any("?" in line for line in debug)  # no query strings at all
    # httpx's own INFO line carries the signed URL: redacted by the filter we attach to it.
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert httpx_lines
    assert all("signature=***" in line and "timestamp=***" in line for line in httpx_lines)
    assert "Invalid API-key ***" in str(errors[0])
    assert any("Traceback" in (r.exc_text or "") for r in caplog.records)


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("X-MBX-APIKEY", True), ("X-Auth", True), ("X-Auth-Signature", True), ("OK-ACCESS-SIGN", True),
        ("Api-Nonce", True), ("recvWindow", True), ("access_token", True), ("Authorization", True),
        ("apikey", True), ("Cookie", True),
        ("pageToken", False), ("startTime", False), ("symbol", False), ("fromId", False), ("Accept", False),
    ],
)
def test_sensitive_names(name: str, sensitive: bool) -> None:
    from txsync.http.redact import is_sensitive_name

    assert is_sensitive_name(name) is sensitive

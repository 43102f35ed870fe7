"""HttpClient against httpx.MockTransport: JSON, limits, retries, error mapping, stats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from txsync.connector.context import RequestStats
from txsync.errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    BannedError,
    ConfigurationError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
    TxsyncError,
)
from txsync.http import (
    Bucket,
    HmacQueryAuth,
    HttpClient,
    MalformedBodyError,
    RetryPolicy,
    WeightedRateLimiter,
    install_log_redaction,
)

if TYPE_CHECKING:
    from conftest import FakeClock

BASE = "https://api.binance.com"
Reply = httpx.Response | Exception
Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler answering a fixed script of replies (the last one repeats)."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply


def make_client(
    clock: FakeClock,
    handler: Handler,
    *,
    limiter: WeightedRateLimiter | None = None,
    retry: RetryPolicy | None = None,
    **kw: Any,
) -> HttpClient:
    return HttpClient(
        BASE,
        transport=httpx.MockTransport(handler),
        limiter=limiter,
        retry=retry or RetryPolicy(attempts=4, sleep=clock.sleep, random=lambda: 0.5),
        clock=clock.utcnow,
        **kw,
    )


@pytest.fixture
def limiter(clock: FakeClock) -> WeightedRateLimiter:
    return WeightedRateLimiter(
        [
            Bucket("ip", 6000, 60, "X-MBX-USED-WEIGHT-1M"),
            Bucket("sapi_ip", 12000, 60, "X-SAPI-USED-IP-WEIGHT-1M"),
            Bucket("sapi_uid", 180000, 60, "X-SAPI-USED-UID-WEIGHT-1M"),
        ],
        clock=clock.time,
        sleep=clock.sleep,
    )


@pytest.fixture
def stats() -> RequestStats:
    return RequestStats()


def ok(body: str = "[]", **headers: str) -> httpx.Response:
    return httpx.Response(200, content=body.encode(), headers=headers)


def status(code: int, body: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(code, content=body.encode(), headers=headers)


async def test_json_numbers_are_exact(clock: FakeClock) -> None:
    body = '[{"symbol":"BNBBTC","id":28457,"price":"4.00000100","qty":12.00000000,"fee":1.10}]'
    async with make_client(clock, Script(ok(body))) as client:
        rows = await client.get_json("/api/v3/myTrades", params={"symbol": "BNBBTC"})
    assert rows == [
        {
            "symbol": "BNBBTC",
            "id": 28457,
            "price": "4.00000100",
            "qty": Decimal("12.00000000"),
            "fee": Decimal("1.10"),
        }
    ]
    assert str(rows[0]["fee"]) == "1.10"
    assert isinstance(rows[0]["id"], int)


async def test_weights_stats_and_usage_headers(
    clock: FakeClock, limiter: WeightedRateLimiter, stats: RequestStats
) -> None:
    script = Script(
        ok("{}"), ok("{}", **{"X-SAPI-USED-IP-WEIGHT-1M": "40", "X-SAPI-USED-UID-WEIGHT-1M": "9000"})
    )
    async with make_client(clock, script, limiter=limiter, stats=stats) as client:
        await client.get_json("/api/v3/account", weights={"ip": 20})
        await client.get_json("/sapi/v1/convert/tradeFlow", weights={"sapi_ip": 1, "sapi_uid": 3000})
    # The server's figures (other processes' use included) replace our lower local counts.
    assert limiter.usage() == {"ip": 20, "sapi_ip": 40, "sapi_uid": 9000}
    assert stats == RequestStats(requests=2, weight=3021, retries=0, rate_limited=0, by_status={200: 2})


async def test_429_retry_after_is_honoured(
    clock: FakeClock, limiter: WeightedRateLimiter, stats: RequestStats
) -> None:
    script = Script(
        status(429, '{"code":-1003,"msg":"Too many requests."}', **{"Retry-After": "17"}), ok('{"a":1}')
    )
    async with make_client(clock, script, limiter=limiter, stats=stats) as client:
        assert await client.get_json("/api/v3/myTrades", weights={"ip": 20}) == {"a": 1}
    assert clock.sleeps == [17.0]  # the retry waited what the server asked, and only that
    assert clock.now == pytest.approx(clock.start + 17)
    assert len(script.requests) == 2
    assert stats == RequestStats(requests=2, weight=40, retries=1, rate_limited=1, by_status={429: 1, 200: 1})


async def test_429_penalizes_the_shared_limiter(clock: FakeClock, limiter: WeightedRateLimiter) -> None:
    script = Script(status(429, **{"Retry-After": "30"}))
    client = make_client(clock, script, limiter=limiter, retry=RetryPolicy.never())
    with pytest.raises(RateLimitedError) as info:
        await client.get_json("/api/v3/myTrades", weights={"ip": 20})
    assert info.value.retry_after == 30.0
    assert info.value.status == 429
    # Every other request through the same limiter now holds back for the 30 s.
    assert limiter.blocked_for() == pytest.approx(30)
    await client.aclose()


async def test_429_with_retry_after_zero_uses_own_backoff(clock: FakeClock, stats: RequestStats) -> None:
    script = Script(status(429, **{"Retry-After": "0"}), status(429), ok())
    async with make_client(clock, script, stats=stats) as client:
        assert await client.get_json("/api/v3/myTrades") == []
    assert clock.sleeps == [1.0, 1.5]  # 0.5 * 2**(n-1) + jitter 0.5
    assert stats.rate_limited == 2
    assert stats.retries == 2


async def test_5xx_is_retried_then_succeeds(clock: FakeClock, stats: RequestStats) -> None:
    script = Script(status(502, "<html>Bad Gateway</html>"), status(503), ok('{"ok":true}'))
    async with make_client(clock, script, stats=stats) as client:
        assert await client.get_json("/api/v3/account") == {"ok": True}
    assert len(script.requests) == 3
    assert stats.by_status == {502: 1, 503: 1, 200: 1}


async def test_timeout_is_retried(clock: FakeClock, stats: RequestStats) -> None:
    script = Script(httpx.ReadTimeout("timed out"), httpx.ConnectError("connection reset"), ok())
    async with make_client(clock, script, stats=stats) as client:
        assert await client.get_json("/api/v3/account") == []
    assert len(script.requests) == 3
    assert stats.requests == 3
    assert stats.by_status == {200: 1}


async def test_retries_exhausted_raise_the_typed_error(clock: FakeClock) -> None:
    script = Script(status(503, '{"code":-1001,"msg":"Internal error; unable to process your request."}'))
    async with make_client(clock, script) as client:
        with pytest.raises(TransientError) as info:
            await client.get_json("/api/v3/account", params={"recvWindow": "5000"})
    assert len(script.requests) == 4
    error = info.value
    assert (error.endpoint, error.status, error.code) == ("/api/v3/account", 503, -1001)
    assert "recvWindow" not in str(error)
    assert "Internal error" in str(error)


async def test_timeouts_exhausted_raise_transient_error(clock: FakeClock) -> None:
    script = Script(httpx.ReadTimeout("timed out"))
    async with make_client(clock, script) as client:
        with pytest.raises(TransientError, match="timed out") as info:
            await client.get_json("/api/v3/account")
    assert info.value.endpoint == "/api/v3/account"
    assert len(script.requests) == 4


@pytest.mark.parametrize(
    ("code", "error_type"),
    [(401, AuthError), (403, PermissionDeniedError), (400, BadRequestError), (404, BadRequestError)],
)
async def test_client_errors_are_never_retried(
    clock: FakeClock, stats: RequestStats, code: int, error_type: type[TxsyncError]
) -> None:
    script = Script(status(code, '{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'))
    async with make_client(clock, script, stats=stats) as client:
        with pytest.raises(error_type) as info:
            await client.get_json("/sapi/v1/account/apiRestrictions")
    assert len(script.requests) == 1
    assert clock.sleeps == []
    assert stats.retries == 0
    assert info.value.code == -2015  # type: ignore[attr-defined]
    assert info.value.status == code  # type: ignore[attr-defined]


async def test_418_is_a_ban_with_its_end(clock: FakeClock, limiter: WeightedRateLimiter) -> None:
    script = Script(
        status(418, '{"code":-1003,"msg":"Way too many requests; IP banned."}', **{"Retry-After": "120"})
    )
    async with make_client(clock, script, limiter=limiter) as client:
        with pytest.raises(BannedError) as info:
            await client.get_json("/api/v3/myTrades", weights={"ip": 20})
    assert len(script.requests) == 1
    assert info.value.until == clock.utcnow() + timedelta(seconds=120)
    assert limiter.blocked_for() == pytest.approx(120)


async def test_truncated_json_is_retried_then_bad_response(clock: FakeClock) -> None:
    script = Script(ok('[{"id":1,"price":"4.0'))
    client = make_client(clock, script, retry=RetryPolicy(malformed_attempts=2, sleep=clock.sleep))
    with pytest.raises(MalformedBodyError) as info:
        await client.get_json("/api/v3/myTrades")
    assert isinstance(info.value, BadResponseError)
    assert len(script.requests) == 2
    assert info.value.status == 200
    assert "4.0" not in str(info.value)  # the payload is never echoed
    await client.aclose()


async def test_truncated_json_then_complete_body_succeeds(clock: FakeClock) -> None:
    script = Script(ok('{"a":'), ok('{"a":1}'))
    async with make_client(clock, script) as client:
        assert await client.get_json("/x") == {"a": 1}


async def test_empty_and_no_content_bodies(clock: FakeClock) -> None:
    async with make_client(clock, Script(httpx.Response(204))) as client:
        assert await client.request_json("DELETE", "/x") is None
    script = Script(ok(""))
    async with make_client(clock, script, retry=RetryPolicy(malformed_attempts=1)) as client:
        with pytest.raises(MalformedBodyError, match="empty body"):
            await client.get_json("/x")


async def test_error_mapper_takes_precedence(clock: FakeClock, stats: RequestStats) -> None:
    def binance_errors(response: httpx.Response, body: Any | None) -> TxsyncError | None:
        if isinstance(body, dict) and body.get("code") == -2015:
            return AuthError("Binance rejected the API key", code=-2015)
        if isinstance(body, dict) and body.get("code") == -1003:
            return RateLimitedError("Binance: too many requests", code=-1003)
        return None

    script = Script(status(400, '{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'))
    async with make_client(clock, script, error_mapper=binance_errors) as client:
        with pytest.raises(AuthError) as info:  # the default mapping would say BadRequestError
            await client.get_json("/api/v3/account", params={"timestamp": "1"})
    assert len(script.requests) == 1
    assert (info.value.endpoint, info.value.status, info.value.code) == ("/api/v3/account", 400, -2015)

    # Mapped rate limits are retried like 429s and get Retry-After from the headers.
    script = Script(
        status(400, '{"code":-1003,"msg":"Too much request weight used"}', **{"Retry-After": "5"}), ok()
    )
    async with make_client(clock, script, error_mapper=binance_errors, stats=stats) as client:
        assert await client.get_json("/api/v3/account") == []
    assert clock.sleeps == [5.0]
    assert stats.rate_limited == 1

    # When the mapper has nothing to say, the status decides.
    script = Script(status(400, '{"code":-1121,"msg":"Invalid symbol."}'))
    async with make_client(clock, script, error_mapper=binance_errors) as client:
        with pytest.raises(BadRequestError, match="Invalid symbol") as bad:
            await client.get_json("/api/v3/myTrades")
    assert bad.value.code == -1121


async def test_error_mapper_sees_errors_inside_200_responses(clock: FakeClock) -> None:
    def kraken_errors(response: httpx.Response, body: Any | None) -> TxsyncError | None:
        if isinstance(body, dict) and body.get("error"):
            return PermissionDeniedError(f"Kraken: {body['error'][0]}")
        return None

    script = Script(ok('{"error":["EGeneral:Permission denied"],"result":{}}'))
    async with make_client(clock, script, error_mapper=kraken_errors) as client:
        with pytest.raises(PermissionDeniedError) as info:
            await client.request_json("POST", "/0/private/Ledgers", data={"nonce": "1"})
    assert info.value.status == 200
    assert info.value.endpoint == "/0/private/Ledgers"


async def test_each_attempt_reacquires_and_resigns(clock: FakeClock, limiter: WeightedRateLimiter) -> None:
    auth = HmacQueryAuth("the-api-key", "the-secret", key_header="X-MBX-APIKEY", clock=clock.ms)
    script = Script(status(503), ok())
    async with make_client(clock, script, limiter=limiter, auth=auth) as client:
        await client.get_json("/api/v3/myTrades", params={"symbol": "BNBBTC"}, weights={"ip": 20})
    first, second = (r.url.params for r in script.requests)
    assert first["timestamp"] != second["timestamp"]  # signed afresh, after the backoff
    for request in script.requests:
        query = request.url.query.decode()
        payload = query.rsplit("&signature=", 1)[0].encode()
        assert request.url.params["signature"] == auth.signature(payload)
        assert request.headers["X-MBX-APIKEY"] == "the-api-key"
    assert limiter.usage()["ip"] == 40


async def test_unsupported_scheme_is_a_configuration_error(clock: FakeClock) -> None:
    client = HttpClient("ftp://example.com", retry=RetryPolicy(sleep=clock.sleep))
    with pytest.raises(ConfigurationError):
        await client.get_json("/x")
    await client.aclose()


async def test_closed_client_refuses_requests_and_forgets_secrets(clock: FakeClock) -> None:
    client = make_client(clock, Script(ok()), secrets=["closing-secret-value"])
    assert "closing-secret-value" in install_log_redaction().secrets()
    await client.aclose()
    await client.aclose()  # idempotent
    assert "closing-secret-value" not in install_log_redaction().secrets()
    with pytest.raises(ConfigurationError, match="closed"):
        await client.get_json("/x")


async def test_unknown_bucket_fails_fast(clock: FakeClock, limiter: WeightedRateLimiter) -> None:
    script = Script(ok())
    async with make_client(clock, script, limiter=limiter) as client:
        with pytest.raises(ConfigurationError, match="unknown rate-limit bucket"):
            await client.get_json("/x", weights={"uid": 1})
    assert script.requests == []

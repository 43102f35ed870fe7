"""Bounded work against misbehaving servers, on real sockets: an overall deadline per attempt cuts a
server trickling headers or body (which never trips httpx's per-read timeouts), and the size limit
is enforced while the body streams: endless, huge, announced-huge and compressed-bomb bodies are
refused without ever holding more than the limit in memory."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from helpers.hostile import Request, hostile, response_bytes, send
from txsync.errors import BadResponseError, RequestDeadlineError, ResponseTooLargeError
from txsync.http import (
    DEFAULT_LIMITS,
    HttpClient,
    HttpLimits,
    MalformedBodyError,
    RetryPolicy,
    current_limits,
    use_limits,
)

LIMIT = 1024 * 1024  # 1 MiB
TICK = 0.01


async def _no_sleep(_: float) -> None:
    return None


def client(base_url: str, *, deadline: float = 30.0, limit: int = LIMIT, attempts: int = 1) -> HttpClient:
    # httpx's own per-read timeout (5 s) never trips: the servers below send a byte every 10 ms.
    return HttpClient(
        base_url,
        timeout=httpx.Timeout(5.0),
        limits=HttpLimits(deadline=deadline, max_response_bytes=limit),
        retry=RetryPolicy(attempts=attempts, sleep=_no_sleep),
    )


async def slow_headers(_: Request, writer: asyncio.StreamWriter) -> None:
    await send(writer, b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while True:  # one byte of header value at a time, never the end of the headers
        await send(writer, b"a")
        await asyncio.sleep(TICK)


async def slow_body(_: Request, writer: asyncio.StreamWriter) -> None:
    await send(writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[")
    while True:
        await send(writer, b"1")
        await asyncio.sleep(TICK)


async def endless_chunked(_: Request, writer: asyncio.StreamWriter) -> None:
    await send(writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"[" + b"0," * 32767
    while True:
        await send(writer, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")


async def endless_until_close(_: Request, writer: asyncio.StreamWriter) -> None:
    await send(writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    while True:
        await send(writer, b" " * 65536)


async def announced_huge(_: Request, writer: asyncio.StreamWriter) -> None:
    await send(writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n")
    while True:
        await send(writer, b" " * 65536)


def _bomb(size: int, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = b" " * 1024 * 1024
    return b"".join(packer.compress(zeros) for _ in range(size // len(zeros))) + packer.flush()


GZIP_BOMB = _bomb(64 * 1024 * 1024, zlib.MAX_WBITS | 16)  # 64 MiB of spaces in ~64 KiB


def serving(status: int, body: bytes, **headers: str) -> Callable[[Request, asyncio.StreamWriter], Awaitable[None]]:
    async def handler(_: Request, writer: asyncio.StreamWriter) -> None:
        await send(writer, response_bytes(status, body, headers={"Content-Type": "application/json", **headers}))

    return handler


async def test_a_server_trickling_its_headers_is_cut_at_the_deadline() -> None:
    async with hostile(slow_headers) as server, client(server.base_url, deadline=0.3, attempts=2) as http:
        with pytest.raises(RequestDeadlineError) as caught:
            await http.get_json("/slow")
    assert caught.value.deadline == 0.3 and caught.value.endpoint == "/slow"
    assert caught.value.retryable  # like a timeout: retried within the policy, then raised
    assert http.stats.requests == 2 and len(server.requests) == 2


async def test_a_server_trickling_its_body_is_cut_at_the_deadline() -> None:
    async with hostile(slow_body) as server, client(server.base_url, deadline=0.3) as http:
        with pytest.raises(RequestDeadlineError):
            await http.get_json("/slow-body")


@pytest.mark.parametrize("handler", [endless_chunked, endless_until_close], ids=["chunked", "until-close"])
async def test_an_endless_body_is_refused_at_the_limit_with_flat_memory(
    handler: Callable[[Request, asyncio.StreamWriter], Awaitable[None]],
) -> None:
    async with hostile(handler) as server, client(server.base_url) as http:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError) as caught:
                await http.get_json("/endless")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert caught.value.limit == LIMIT and caught.value.endpoint == "/endless"
    assert not caught.value.retryable
    assert peak < 4 * LIMIT, f"peak {peak} bytes while refusing a body over {LIMIT}"


async def test_an_announced_huge_body_is_refused_before_reading_it() -> None:
    async with hostile(announced_huge) as server, client(server.base_url) as http:
        with pytest.raises(ResponseTooLargeError, match="announced as 10000000000 bytes"):
            await http.get_json("/huge")


async def test_a_compressed_bomb_never_inflates_past_the_limit() -> None:
    async with hostile(serving(200, GZIP_BOMB, **{"Content-Encoding": "gzip"})) as server, client(server.base_url) as http:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError, match="decompressed exceeds"):
                await http.get_json("/bomb")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(GZIP_BOMB) < LIMIT  # small on the wire: only inflating it is too large
    assert peak < 4 * LIMIT


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(b'{"ok": [1, 2.5]}', mtime=0)),
        ("deflate", zlib.compress(b'{"ok": [1, 2.5]}')),
        ("deflate", zlib.compress(b'{"ok": [1, 2.5]}')[2:-4]),  # raw deflate, no zlib header
        ("identity", b'{"ok": [1, 2.5]}'),
    ],
)
async def test_compressed_bodies_within_the_limit_are_decoded(encoding: str, body: bytes) -> None:
    async with hostile(serving(200, body, **{"Content-Encoding": encoding})) as server, client(server.base_url) as http:
        assert str(await http.get_json("/ok")) == "{'ok': [1, Decimal('2.5')]}"
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


async def test_a_body_exactly_at_the_limit_is_accepted() -> None:
    body = b"[" + b" " * (LIMIT - 2) + b"]"
    async with hostile(serving(200, gzip.compress(body), **{"Content-Encoding": "gzip"})) as server, client(server.base_url) as http:
        assert await http.get_json("/exact") == []


@pytest.mark.parametrize(
    ("encoding", "body", "error"),
    [
        ("br", b"\x1b\x00", BadResponseError),  # never asked for
        ("gzip, gzip", gzip.compress(gzip.compress(b"[]", mtime=0), mtime=0), BadResponseError),
        ("gzip", b"\x1f\x8b\x08\x00garbage-not-gzip", BadResponseError),
        ("gzip", gzip.compress(b"[1, 2, 3]", mtime=0)[:-12], MalformedBodyError),  # truncated: bad JSON
    ],
)
async def test_undecodable_bodies_are_typed_errors(encoding: str, body: bytes, error: type[Exception]) -> None:
    async with hostile(serving(200, body, **{"Content-Encoding": encoding})) as server, client(server.base_url) as http:
        with pytest.raises(error):
            await http.get_json("/odd")


async def test_error_bodies_are_bounded_too() -> None:
    huge = b'{"msg": "' + b"x" * (2 * LIMIT) + b'"}'
    async with hostile(serving(500, huge)) as server, client(server.base_url) as http:
        with pytest.raises(ResponseTooLargeError):
            await http.get_json("/boom")


async def test_a_mock_transport_body_is_measured_too() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=b"[" + b"0," * LIMIT + b"0]"))
    async with HttpClient("https://x.test", transport=transport, limits=HttpLimits(max_response_bytes=LIMIT)) as http:
        with pytest.raises(ResponseTooLargeError):
            await http.get_json("/big")


def test_limits_have_sane_defaults_and_validate() -> None:
    assert DEFAULT_LIMITS.deadline == 120.0 and DEFAULT_LIMITS.max_response_bytes == 32 * 1024 * 1024
    for bad in ({"deadline": 0}, {"deadline": float("inf")}, {"max_response_bytes": 0}, {"max_response_bytes": True}):
        with pytest.raises(ValueError, match="must be"):
            HttpLimits(**bad)  # type: ignore[arg-type]


async def test_use_limits_sets_the_default_of_clients_built_inside() -> None:
    mine = HttpLimits(deadline=5, max_response_bytes=10)
    explicit = HttpLimits(deadline=7)
    assert current_limits() is DEFAULT_LIMITS
    with use_limits(mine):
        inside: Any = HttpClient("https://x.test")
        chosen = HttpClient("https://x.test", limits=explicit)
        with use_limits(None):
            assert current_limits() is mine
    outside = HttpClient("https://x.test")
    assert (inside.limits, chosen.limits, outside.limits) == (mine, explicit, DEFAULT_LIMITS)
    for http in (inside, chosen, outside):
        await http.aclose()

"""Hostile servers for the secret tests: every built-in connector that holds a secret, pointed at a
server on 127.0.0.1 that echoes the key back in every way a server can.

``MODES`` are the echoes: in a JSON error body, in a 200 body (fields the connector reads as
details), in the status line's reason phrase, in response headers, in a redirect URL, in malformed
status and header lines (httpx quotes those in its error), and a connection closed without an
answer (httpx's error holds the request, its signed URL and key headers).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from helpers.hostile import Request, response_bytes, send
from txsync.connectors.binance import Binance
from txsync.connectors.bitstamp import Bitstamp
from txsync.connectors.evm import EvmWallet
from txsync.connectors.paymium import Paymium
from txsync.models import Credential
from txsync.registry import Registry
from txsync.testing.demo_connector import DemoExchange

KEY = "SNTLkey5c0f9d2e7a4b1c8d3e6f"
SECRET = "SNTLsecret9a8b7c6d5e4f3a2b1c0d"
ADDRESS = "0x" + "ab" * 20
CONNECTORS: dict[str, type[Any]] = {
    "binance": Binance,
    "bitstamp": Bitstamp,
    "paymium": Paymium,
    "evm": EvmWallet,
    "demo": DemoExchange,
}


def registry() -> Registry:
    reg = Registry(entry_points=[])
    for connector in CONNECTORS.values():
        reg.register(connector, replace=True)
    return reg


def credential(connector_id: str, key: str = KEY, secret: str = SECRET) -> Credential:
    if connector_id == "evm":
        return Credential(connector_id="evm", public={"addresses": ADDRESS}, secrets={"api_key": key})
    return Credential(connector_id=connector_id, secrets={"api_key": key, "api_secret": secret})


def options(connector_id: str, base_url: str) -> dict[str, Any]:
    if connector_id == "binance":
        return {"base_url": base_url, "futures_base_url": base_url, "rate_limit": "off"}
    if connector_id == "evm":
        return {"base_url": base_url + "/api", "chain_id": 1, "calls_per_second": 0}
    return {"base_url": base_url, "origin": "2023-01-01T00:00:00+00:00"} if connector_id == "demo" else {
        "base_url": base_url
    }


def echo(request: Request) -> str:
    """What a careless server says back: the whole request (key headers, signed query, body) and the
    key and secret themselves."""
    return f"{request.raw.decode('latin-1')} key={KEY} secret={SECRET}"


def one_line(request: Request) -> str:
    return " ".join(echo(request).split())


async def echo_401(request: Request, writer: asyncio.StreamWriter) -> None:
    text = echo(request)
    body = {"code": -2015, "msg": text, "message": text, "error": text, "status": "0", "result": text}
    await send(writer, response_bytes(401, body, reason="Unauthorized"))


async def echo_200(request: Request, writer: asyncio.StreamWriter) -> None:
    text = echo(request)
    body = {
        "status": "0", "message": "NOTOK", "result": f"Invalid API Key {text}", "msg": text, "code": text,
        "error": text, "enableReading": True, "canRead": True, "note": text, "apiKey": KEY,
    }
    await send(writer, response_bytes(200, body))


async def echo_text(request: Request, writer: asyncio.StreamWriter) -> None:
    await send(writer, response_bytes(200, echo(request)))


async def echo_reason(request: Request, writer: asyncio.StreamWriter) -> None:
    await send(writer, response_bytes(503, b"", reason=f"Unavailable for {one_line(request)[:300]}"))


async def echo_headers(request: Request, writer: asyncio.StreamWriter) -> None:
    headers = {
        "Retry-After": KEY, "X-Echo": one_line(request)[:500], "WWW-Authenticate": f"Bearer {KEY}",
        "Set-Cookie": f"session={SECRET}",
    }
    await send(writer, response_bytes(429, json.dumps({"msg": "slow down"}), headers=headers))


async def echo_redirect(request: Request, writer: asyncio.StreamWriter) -> None:
    location = f"https://evil.test/steal?apikey={KEY}&secret={SECRET}&was={request.target}"
    await send(writer, response_bytes(302, b"", headers={"Location": location}, reason="Found"))


async def bad_header(request: Request, writer: asyncio.StreamWriter) -> None:
    await send(writer, f"HTTP/1.1 200 OK\r\nbad header line {KEY} {SECRET}\r\n\r\n".encode())


async def bad_status(request: Request, writer: asyncio.StreamWriter) -> None:
    await send(writer, f"HTTP/1.1 2x0 {one_line(request)[:300]}\r\n\r\n".encode())


async def close_at_once(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.close()


Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]

MODES: dict[str, Handler] = {
    "echo-401": echo_401,
    "echo-200": echo_200,
    "echo-text": echo_text,
    "echo-reason": echo_reason,
    "echo-headers": echo_headers,
    "echo-redirect": echo_redirect,
    "bad-header": bad_header,
    "bad-status": bad_status,
    "closed": close_at_once,
}


@dataclass
class Seen:
    """Where the test looked: how many texts, exceptions and reports it searched."""

    texts: int = 0
    exceptions: int = 0
    reports: int = 0
    entry_points: set[str] = field(default_factory=set)

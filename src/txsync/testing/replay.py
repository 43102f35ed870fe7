"""Replaying a recorded cassette without vcrpy: an ``httpx`` transport answering from the file.

vcrpy matches each request against every recorded one (fine for a test's few dozen requests, slow for
a demo's thousands); :func:`cassette_transport` indexes the cassette once by method, URL (query sorted)
and body and answers in constant time, in recorded order for repeated requests (the last answer
repeats). A request the cassette does not hold raises
:class:`~txsync.testing.cassettes.NetworkDisabledError`: nothing ever reaches the network.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from txsync.testing.cassettes import NetworkDisabledError, ReadableYaml

__all__ = ["CassetteTransport", "cassette_transport", "load_cassette", "read_cassette_text"]

#: Headers describing the recorded body's encoding, not the body the cassette holds (decoded, and
#: JSON re-indented).
_DROPPED = {"content-length", "content-encoding", "transfer-encoding"}


def read_cassette_text(path: str | PathLike[str]) -> str:
    """The YAML text of a cassette file (decompressed when its name ends in ``.gz``)."""
    file = Path(path)
    if file.suffix == ".gz":
        return gzip.decompress(file.read_bytes()).decode("utf-8")
    return file.read_text(encoding="utf-8")


def load_cassette(path: str | PathLike[str]) -> Any:
    """A cassette document: txsync YAML, or the same as JSON when the name says ``.json`` (what a
    large cassette is kept as: it loads twenty times faster), either gzip-compressed (``.gz``)."""
    text = read_cassette_text(path)
    if ".json" in Path(path).suffixes:
        return json.loads(text)
    return ReadableYaml.deserialize(text)


def _key(method: str, uri: str, body: bytes) -> tuple[str, str, bytes]:
    parts = urlsplit(uri)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return method.upper(), urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")), body


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


class CassetteTransport(httpx.MockTransport):
    """An ``httpx.MockTransport`` answering from a cassette; ``misses`` counts the requests it did
    not hold (answered by the fallback, when there is one)."""

    misses: int = 0
    served: int = 0


def cassette_transport(
    path: str | PathLike[str], *, fallback: Callable[[httpx.Request], httpx.Response] | None = None
) -> CassetteTransport:
    """A transport answering from the cassette at ``path`` (see :func:`load_cassette`). A request it
    does not hold goes to ``fallback`` when given (counted in ``misses``), else raises
    :class:`~txsync.testing.cassettes.NetworkDisabledError`."""
    document = load_cassette(path)
    answers: dict[tuple[str, str, bytes], list[dict[str, Any]]] = defaultdict(list)
    for interaction in (document or {}).get("interactions", []):
        request, response = interaction["request"], interaction["response"]
        answers[_key(request["method"], request["uri"], _bytes(request.get("body")))].append(response)
    served: dict[tuple[str, str, bytes], int] = defaultdict(int)

    def answer(request: httpx.Request) -> httpx.Response:
        key = _key(request.method, str(request.url), request.content)
        recorded = answers.get(key)
        if not recorded and fallback is not None:
            transport.misses += 1
            return fallback(request)
        if not recorded:
            raise NetworkDisabledError(
                f"{request.method} {request.url.host}{request.url.path} is not in the cassette "
                f"{Path(path).name}"
            )
        index = min(served[key], len(recorded) - 1)
        served[key] += 1
        transport.served += 1
        response = recorded[index]
        headers = [
            (name, value)
            for name, values in (response.get("headers") or {}).items()
            if name.lower() not in _DROPPED
            for value in values
        ]
        body = response.get("body") or {}
        return httpx.Response(
            int(response["status"]["code"]), headers=headers, content=_bytes(body.get("string"))
        )

    transport = CassetteTransport(answer)
    return transport

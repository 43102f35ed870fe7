"""Bounding a response body while it streams: size limit and decompression in one place.

:func:`bound_response` runs as an httpx response hook, before anyone reads the body (httpx itself,
an auth flow that checks a response signature, the client): it refuses a ``Content-Length`` above the
limit, and replaces the body stream with one that inflates ``gzip``/``deflate`` itself and stops as
soon as the raw or the decoded bytes exceed the limit. httpx's own decoders inflate each network
chunk whole (one 64 KiB chunk of a gzip bomb becomes ~64 MiB in one call); here
``zlib.decompressobj().decompress(data, max_length)`` never produces more than fits.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import httpx

from txsync.errors import BadResponseError, ResponseTooLargeError

__all__ = ["ACCEPT_ENCODING", "bound_response"]

#: The encodings this module inflates (sent as ``Accept-Encoding``).
ACCEPT_ENCODING = "gzip, deflate"

_GZIP = ("gzip", "x-gzip")


class _Inflater:
    """A bounded decoder for one ``Content-Encoding`` (identity, gzip, deflate)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: zlib._Decompress | None = None
        self._raw_deflate = False
        if encoding in _GZIP:
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()

    def feed(self, data: bytes, room: int) -> bytes:
        """Decode ``data``; at most ``room + 1`` bytes come out (one more than fits: too large)."""
        if self._zlib is None:
            return data
        try:
            return self._zlib.decompress(data, room + 1)
        except zlib.error:
            if self.encoding == "deflate" and not self._raw_deflate:
                # Some servers send raw deflate without the zlib header (httpx accepts it too).
                self._raw_deflate = True
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.feed(data, room)
            raise

    def flush(self) -> bytes:
        """What the decoder still holds once all input was fed (all of it fitted, so little)."""
        return self._zlib.flush() if self._zlib is not None else b""


def _too_large(limit: int, endpoint: str, status: int, how: str) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"response body {how} the limit of {limit} bytes", limit=limit, endpoint=endpoint, status=status
    )


class _BoundedStream(httpx.AsyncByteStream):
    """The body of one response, decoded, cut at ``limit`` bytes raw or decoded."""

    def __init__(
        self, inner: httpx.AsyncByteStream, encoding: str, limit: int, endpoint: str, status: int
    ) -> None:
        self._inner = inner
        self._encoding = encoding
        self._limit = limit
        self._endpoint = endpoint
        self._status = status

    async def __aiter__(self) -> AsyncIterator[bytes]:
        limit = self._limit
        inflater = _Inflater(self._encoding)
        raw = size = 0
        try:
            async for chunk in self._inner:
                raw += len(chunk)
                if raw > limit:
                    raise _too_large(limit, self._endpoint, self._status, "exceeds")
                data = inflater.feed(chunk, limit - size)
                size += len(data)
                if size > limit:
                    raise _too_large(limit, self._endpoint, self._status, "decompressed exceeds")
                if data:
                    yield data
            data = inflater.flush()
            if size + len(data) > limit:
                raise _too_large(limit, self._endpoint, self._status, "decompressed exceeds")
            if data:
                yield data
        except zlib.error:
            raise BadResponseError(
                f"undecodable {self._encoding} response body", endpoint=self._endpoint, status=self._status
            ) from None

    async def aclose(self) -> None:
        await self._inner.aclose()


def _encoding(response: httpx.Response, endpoint: str) -> str:
    values = [
        part.strip().lower()
        for part in response.headers.get("Content-Encoding", "").split(",")
        if part.strip() and part.strip().lower() != "identity"
    ]
    if len(values) > 1 or (values and values[0] not in (*_GZIP, "deflate")):
        raise BadResponseError(
            f"unsupported Content-Encoding {', '.join(values)!r} (asked for {ACCEPT_ENCODING})",
            endpoint=endpoint,
            status=response.status_code,
        )
    return values[0] if values else "identity"


def bound_response(response: httpx.Response, limit: int) -> None:
    """Make ``response``'s body stream stop at ``limit`` bytes (raw and decoded), before it is read.

    A body already in memory (a mock transport, a replayed cassette) is only measured. A
    ``Content-Length`` above the limit is refused at once. For a compressed body the encoding
    headers are removed and the stream inflates itself, so httpx reads it as identity. Raises
    :class:`ResponseTooLargeError` (here or while the body streams) or :class:`BadResponseError`
    for an encoding it cannot decode.
    """
    endpoint = response.request.url.path or "/"
    status = response.status_code
    try:
        content = response.content
    except httpx.ResponseNotRead:
        pass
    else:
        if len(content) > limit:
            raise _too_large(limit, endpoint, status, "exceeds")
        return
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, endpoint, status, f"announced as {int(declared)} bytes exceeds")
    encoding = _encoding(response, endpoint)
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):  # pragma: no cover - a sync transport
        return
    if encoding != "identity":
        del response.headers["Content-Encoding"]
        response.headers.pop("Content-Length", None)
    response.stream = _BoundedStream(stream, encoding, limit, endpoint, status)

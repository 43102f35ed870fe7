"""What a signer signs, read from a request with httpx's public API only.

A signer (a :class:`~txsync.http.SigningAuth`) usually signs some of: the method, the host, the path,
the query string exactly as sent, the body bytes exactly as sent and the content type; some APIs
also need a field added to a form body before signing (a nonce in the POST data).
:func:`signing_payload` gives the first, :func:`with_form_fields` does the second::

    class AcmeAuth(SigningAuth):
        def sign(self, request: httpx.Request) -> httpx.Request:
            request = with_form_fields(request, {"nonce": str(self.nonces.next())})
            payload = signing_payload(request)
            message = payload.path.encode() + hashlib.sha256(payload.body).digest()
            request.headers["API-Sign"] = base64.b64encode(hmac.digest(self.key, message, "sha512")).decode()
            return request                        # SigningAuth sends the request sign() returns

Neither touches httpx's private attributes: the body is read through ``Request.read()`` (a no-op when
httpx has already loaded it, which it does for every :class:`~txsync.http.SigningAuth`), and a body
is changed by building a new ``httpx.Request``, whose ``Content-Length`` httpx then computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import httpx

from txsync.errors import ConfigurationError

__all__ = ["FORM_CONTENT_TYPE", "SigningPayload", "signing_payload", "with_form_fields"]

#: The media type of a form-encoded body.
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

Fields = Mapping[str, str | int] | Iterable[tuple[str, str | int]]


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _pairs(text: str) -> list[tuple[str, str]]:
    return parse_qsl(text, keep_blank_values=True)


@dataclass(frozen=True, slots=True)
class SigningPayload:
    """The parts of a request a signature covers, exactly as they will be sent.

    ``body`` is the body's bytes (``b""`` when there is none) and ``content_type`` the
    ``Content-Type`` header as set (``""`` when there is none).
    """

    method: str
    url: httpx.URL
    body: bytes
    content_type: str

    @property
    def host(self) -> str:
        """The host name (no port)."""
        return self.url.host

    @property
    def path(self) -> str:
        """The path, e.g. ``/api/v2/balance/``."""
        return self.url.path

    @property
    def query(self) -> str:
        """The query string as sent (percent-encoded, parameters in their order), without ``?``."""
        return self.url.query.decode("ascii")

    @property
    def target(self) -> str:
        """Path and query as on the request line: ``/path`` or ``/path?query``."""
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def is_form(self) -> bool:
        """Whether the body is form-encoded (``application/x-www-form-urlencoded``)."""
        return _media_type(self.content_type) == FORM_CONTENT_TYPE

    def query_params(self) -> list[tuple[str, str]]:
        """The query's parameters, decoded, in order (blank values kept)."""
        return _pairs(self.query)

    def form(self) -> list[tuple[str, str]]:
        """The form body's fields, decoded, in order (blank values kept); ``[]`` without a body.

        Raises :class:`~txsync.errors.ConfigurationError` for a body that is not form-encoded.
        """
        if not self.body:
            return []
        if not self.is_form:
            raise ConfigurationError(f"the request body is {self.content_type or 'untyped'}, not a form")
        return _pairs(self.body.decode("utf-8", "replace"))

    def has_param(self, name: str) -> bool:
        """Whether ``name`` is a query parameter or a field of a form body."""
        return any(key == name for key, _ in self.query_params()) or (
            self.is_form and any(key == name for key, _ in self.form())
        )


def _body(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:
        pass
    if not isinstance(request.stream, Iterable):  # an async-only stream: only the client can read it
        raise ConfigurationError(
            "the request body is a stream that is not loaded yet: sign from a SigningAuth "
            "(requires_request_body = True) so httpx reads it first"
        )
    return request.read()


def signing_payload(request: httpx.Request) -> SigningPayload:
    """What ``request`` will send: method, URL, body bytes and content type (the body is loaded if
    httpx has not done so yet)."""
    return SigningPayload(
        method=request.method.upper(),
        url=request.url,
        body=_body(request),
        content_type=request.headers.get("Content-Type", ""),
    )


def with_form_fields(request: httpx.Request, fields: Fields) -> httpx.Request:
    """A copy of ``request`` whose form body has ``fields`` appended after its own (a body is created
    when there is none), with ``Content-Type`` and ``Content-Length`` set to match.

    Return it from :meth:`~txsync.http.SigningAuth.sign` so it is the request sent. Raises
    :class:`~txsync.errors.ConfigurationError` if the body is not a form.
    """
    payload = signing_payload(request)
    payload.form()  # refuses a body that is not a form
    added = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    extra = urlencode([(name, str(value)) for name, value in added]).encode("ascii")
    body = b"&".join(part for part in (payload.body, extra) if part)  # the existing bytes unchanged
    headers = httpx.Headers(request.headers)
    headers.pop("Content-Length", None)
    headers["Content-Type"] = FORM_CONTENT_TYPE
    return httpx.Request(
        request.method, request.url, headers=headers, content=body, extensions=request.extensions
    )

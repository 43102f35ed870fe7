"""Bitstamp API v2 request signing and response-signature verification.

Every private call carries ``X-Auth: BITSTAMP <key>``, a fresh lower-case UUID4 ``X-Auth-Nonce``, the
``X-Auth-Timestamp`` in milliseconds, ``X-Auth-Version: v2`` and ``X-Auth-Signature``, the lower-case
hex HMAC-SHA256 (secret) of::

    "BITSTAMP " + key + method + host + path + query + content type + nonce + timestamp + "v2" + body

where the content type (``application/x-www-form-urlencoded``) and the body take part only when the
request has a body (the header is sent only then, too). The server signs its answer with
``X-Server-Auth-Signature`` = HMAC(secret, nonce + timestamp + response content type + body), which
:class:`BitstampAuth` checks on every successful answer.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Generator
from enum import StrEnum

import httpx

from txsync import jsonutil
from txsync.errors import BadResponseError, ConfigurationError
from txsync.http import FORM_CONTENT_TYPE, SigningAuth, epoch_ms, signing_payload

__all__ = [
    "FORM_CONTENT_TYPE",
    "BitstampAuth",
    "ResponseSignatureError",
    "ResponseSignatureMode",
    "response_signature",
    "string_to_sign",
]

AUTH_VERSION = "v2"
SERVER_SIGNATURE_HEADER = "X-Server-Auth-Signature"


class ResponseSignatureMode(StrEnum):
    """How strictly the server's ``X-Server-Auth-Signature`` is checked on successful answers."""

    #: A 2xx answer without the header, or with a wrong one, is refused (the default).
    STRICT = "strict"
    #: A wrong signature is refused; a missing header is accepted (replayed cassettes drop it).
    IF_PRESENT = "if_present"
    #: Not checked at all.
    OFF = "off"


class ResponseSignatureError(BadResponseError):
    """A successful answer whose ``X-Server-Auth-Signature`` is missing or does not match: it was not
    produced by Bitstamp for this request (a proxy rewrote it, or something sits in between). Not
    retried; the stream fails and the sync reports it."""


def string_to_sign(
    api_key: str,
    method: str,
    host: str,
    path: str,
    query: str,
    content_type: str,
    nonce: str,
    timestamp: str,
    body: bytes,
) -> bytes:
    """The exact bytes Bitstamp's v2 signature covers (``content_type`` and ``body`` empty when the
    request has no body; ``query`` is ``""`` or ``"?a=b"``)."""
    head = (
        f"BITSTAMP {api_key}{method.upper()}{host}{path}{query}{content_type}{nonce}{timestamp}{AUTH_VERSION}"
    )
    return head.encode() + body


def response_signature(secret: str, nonce: str, timestamp: str, content_type: str, body: bytes) -> str:
    """What ``X-Server-Auth-Signature`` must hold for an answer to a request with this nonce and
    timestamp."""
    message = f"{nonce}{timestamp}{content_type}".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _is_json(body: bytes) -> bool:
    try:
        jsonutil.loads(body)
    except BadResponseError:
        return False
    return True


def _new_nonce() -> str:
    return str(uuid.uuid4())


class BitstampAuth(SigningAuth):
    """Signs requests as Bitstamp API v2 requires and verifies the server's response signature.

    ``clock`` gives the Unix time in milliseconds and ``nonce`` a fresh lower-case UUID4 string; both
    are injectable so a test can pin the signature for fixed inputs.
    """

    requires_response_body = True

    def __init__(
        self,
        api_key: str,
        secret: str,
        *,
        clock: Callable[[], int] = epoch_ms,
        nonce: Callable[[], str] = _new_nonce,
        verify_response: ResponseSignatureMode | str = ResponseSignatureMode.STRICT,
    ) -> None:
        if not api_key or not secret:
            raise ConfigurationError("BitstampAuth needs a non-empty API key and secret")
        self._api_key = api_key
        self._secret = secret
        self._clock = clock
        self._nonce = nonce
        try:
            self.verify_response = ResponseSignatureMode(verify_response)
        except ValueError:
            raise ConfigurationError(
                f"verify_response_signature must be one of {[m.value for m in ResponseSignatureMode]}"
            ) from None

    @property
    def secret_values(self) -> tuple[str, ...]:
        """The API key and the secret (for log redaction)."""
        return (self._api_key, self._secret)

    def signature(self, message: bytes) -> str:
        """Lower-case hex HMAC-SHA256 of ``message`` with the secret."""
        return hmac.new(self._secret.encode(), message, hashlib.sha256).hexdigest()

    def sign(self, request: httpx.Request) -> None:
        """Add the five ``X-Auth*`` headers (and ``Content-Type`` only when there is a body)."""
        payload = signing_payload(request)
        nonce = self._nonce()
        timestamp = str(int(self._clock()))
        if payload.body:
            content_type = FORM_CONTENT_TYPE
            request.headers["Content-Type"] = content_type
        else:
            content_type = ""
            request.headers.pop("Content-Type", None)
        message = string_to_sign(
            self._api_key,
            payload.method,
            payload.host,
            payload.path,
            f"?{payload.query}" if payload.query else "",
            content_type,
            nonce,
            timestamp,
            payload.body,
        )
        request.headers["X-Auth"] = f"BITSTAMP {self._api_key}"
        request.headers["X-Auth-Signature"] = self.signature(message)
        request.headers["X-Auth-Nonce"] = nonce
        request.headers["X-Auth-Timestamp"] = timestamp
        request.headers["X-Auth-Version"] = AUTH_VERSION

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign, send, and check the server's signature on a successful answer."""
        self.sign(request)
        response = yield request
        if self.verify_response is ResponseSignatureMode.OFF or not response.is_success:
            return
        try:
            self.check_response(request, response)
        except ResponseSignatureError:
            if _is_json(response.content):
                raise
            # A body that is not JSON (a transfer cut short, a proxy's HTML page) is never used:
            # the HTTP layer reports it as malformed and retries, as for any exchange.

    def check_response(self, request: httpx.Request, response: httpx.Response) -> None:
        """Raise :class:`ResponseSignatureError` unless ``response`` carries the signature Bitstamp
        computes for ``request`` (a missing header passes in ``if_present`` mode)."""
        endpoint = request.url.path
        received = response.headers.get(SERVER_SIGNATURE_HEADER)
        if received is None:
            if self.verify_response is ResponseSignatureMode.STRICT:
                raise ResponseSignatureError(
                    "the answer carries no X-Server-Auth-Signature",
                    endpoint=endpoint,
                    status=response.status_code,
                )
            return
        expected = response_signature(
            self._secret,
            request.headers.get("X-Auth-Nonce", ""),
            request.headers.get("X-Auth-Timestamp", ""),
            response.headers.get("Content-Type", ""),
            response.content,
        )
        if not hmac.compare_digest(expected, received.strip().lower()):
            raise ResponseSignatureError(
                "the answer's X-Server-Auth-Signature does not match: it was not signed by Bitstamp "
                "for this request",
                endpoint=endpoint,
                status=response.status_code,
            )

    def __repr__(self) -> str:
        return f"BitstampAuth(verify_response={self.verify_response.value!r}, <secrets hidden>)"

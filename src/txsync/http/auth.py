"""Request signers: the :class:`SigningAuth` base and the generic :class:`HmacQueryAuth`.

Signers are :class:`httpx.Auth` subclasses, so httpx runs them on every send: each retry of a request
is signed again with a fresh timestamp. A signer never shows its secrets: not in its ``repr``, not
in a pickle (pickling is refused), and :attr:`SigningAuth.secret_values` lets the HTTP client
register them for log redaction.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from typing import NoReturn

import httpx

from txsync.errors import ConfigurationError
from txsync.http.payload import signing_payload

__all__ = ["HmacQueryAuth", "SigningAuth", "epoch_ms"]


def epoch_ms() -> int:
    """The current Unix time in whole milliseconds (the default clock of :class:`HmacQueryAuth`)."""
    return time.time_ns() // 1_000_000


class SigningAuth(httpx.Auth, ABC):
    """Base of txsync signers: implement :meth:`sign`.

    The request body is loaded before :meth:`sign` runs; :func:`~txsync.http.signing_payload` gives
    the exact query, body bytes and form fields to sign, and :func:`~txsync.http.with_form_fields`
    adds fields (a nonce) to a form body.
    """

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign ``request`` and send it (httpx calls this on every send, retries included)."""
        signed = self.sign(request)
        yield request if signed is None else signed

    @abstractmethod
    def sign(self, request: httpx.Request) -> httpx.Request | None:
        """Add the credential and signature to ``request`` (headers or query, in place), or return
        the request to send instead (one built by :func:`~txsync.http.with_form_fields`)."""

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Values to redact from logs (API key, secret, passphrase). Empty by default."""
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<secrets hidden>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds secrets and cannot be pickled")



class HmacQueryAuth(SigningAuth):
    """HMAC-SHA256 signing of the query string plus body, as Binance and many others use.

    On each request: the API key goes into ``key_header``; unless the query or a form body already
    has one, ``timestamp_param`` is appended to the query with ``clock() + offset_ms`` (Unix ms);
    then ``signature_param`` = lower-case hex HMAC-SHA256(secret, query + body) is appended last.
    Set ``timestamp_param=None`` for APIs that sign without a timestamp. ``offset_ms`` may be
    updated at any time (e.g. after comparing with the exchange's server time).
    """

    def __init__(
        self,
        api_key: str,
        secret: str,
        *,
        key_header: str,
        signature_param: str = "signature",
        timestamp_param: str | None = "timestamp",
        clock: Callable[[], int] = epoch_ms,
        offset_ms: int = 0,
    ) -> None:
        if not api_key or not secret:
            raise ConfigurationError("HmacQueryAuth needs a non-empty API key and secret")
        self._api_key = api_key
        self._secret = secret.encode()
        self._key_header = key_header
        self._signature_param = signature_param
        self._timestamp_param = timestamp_param
        self._clock = clock
        self.offset_ms = offset_ms

    @property
    def secret_values(self) -> tuple[str, ...]:
        """The API key and the secret."""
        return (self._api_key, self._secret.decode())

    def signature(self, payload: bytes) -> str:
        """Lower-case hex HMAC-SHA256 of ``payload`` with the secret."""
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def sign(self, request: httpx.Request) -> None:
        """Add the key header, the timestamp (if missing) and the signature to ``request``."""
        request.headers[self._key_header] = self._api_key
        payload = signing_payload(request)
        query = payload.query.encode("ascii")
        if self._timestamp_param and not payload.has_param(self._timestamp_param):
            stamp = f"{self._timestamp_param}={self._clock() + self.offset_ms}".encode()
            query = query + b"&" + stamp if query else stamp
        signature = self.signature(query + payload.body)
        query = (query + b"&" if query else b"") + f"{self._signature_param}={signature}".encode()
        request.url = request.url.copy_with(query=query)

    def __repr__(self) -> str:
        return (
            f"HmacQueryAuth(key_header={self._key_header!r}, signature_param={self._signature_param!r}, "
            f"timestamp_param={self._timestamp_param!r}, offset_ms={self.offset_ms})"
        )

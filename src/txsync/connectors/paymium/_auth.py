"""Paymium request signing: ``Api-Key``, a strictly increasing ``Api-Nonce``, ``Api-Signature``.

The signature is the lower-case hex HMAC-SHA256, keyed with the API secret, of the nonce followed by
the full URL (scheme, host, path and, when there is one, ``?`` and the query string) followed by the
request body. That is the documented form Paymium's own client signs (one widely used third-party
client leaves the ``?`` out; txsync sends the documented form).

Nonces come from :class:`NonceSource`: microseconds since the epoch, bumped by one whenever the clock
has not moved past the last nonce given for the same key. One process-wide source is shared by every
connection using a key (two connections of one account, concurrent tasks), and microsecond time keeps
nonces increasing across restarts as long as the wall clock does not go back.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable

import httpx

from txsync.errors import ConfigurationError
from txsync.http import SigningAuth, signing_payload

__all__ = ["NonceSource", "PaymiumAuth", "epoch_us", "shared_nonces"]


def epoch_us() -> int:
    """The current Unix time in whole microseconds."""
    return time.time_ns() // 1_000


class NonceSource:
    """Strictly increasing nonces per API key: ``max(clock(), last + 1)``, thread-safe.

    Keys are held as SHA-256 digests, never in clear. ``clock`` returns integer microseconds.
    """

    def __init__(self, clock: Callable[[], int] = epoch_us) -> None:
        self._clock = clock
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()

    def next(self, api_key: str) -> int:
        """The next nonce for ``api_key``: larger than every nonce given for it before."""
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        with self._lock:
            nonce = max(self._clock(), self._last.get(digest, 0) + 1)
            self._last[digest] = nonce
            return nonce

    def __repr__(self) -> str:
        return f"NonceSource(keys={len(self._last)})"


_SHARED = NonceSource()


def shared_nonces() -> NonceSource:
    """The process-wide nonce source every Paymium connection uses by default."""
    return _SHARED


class PaymiumAuth(SigningAuth):
    """Signs every request (retries included) with a fresh nonce, as Paymium's token auth requires."""

    def __init__(self, api_key: str, secret: str, *, nonces: NonceSource | None = None) -> None:
        if not api_key or not secret:
            raise ConfigurationError("Paymium needs a non-empty API token and secret")
        self._api_key = api_key
        self._secret = secret.encode()
        self._nonces = nonces if nonces is not None else _SHARED

    @property
    def secret_values(self) -> tuple[str, ...]:
        """The API token and its secret."""
        return (self._api_key, self._secret.decode())

    def signature(self, nonce: int | str, url: str, body: bytes = b"") -> str:
        """Lower-case hex HMAC-SHA256(secret, nonce + url + body)."""
        message = f"{nonce}{url}".encode() + body
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, request: httpx.Request) -> None:
        """Set ``Api-Key``, ``Api-Nonce`` and ``Api-Signature`` on ``request``."""
        nonce = self._nonces.next(self._api_key)
        request.headers["Api-Key"] = self._api_key
        request.headers["Api-Nonce"] = str(nonce)
        payload = signing_payload(request)
        request.headers["Api-Signature"] = self.signature(nonce, str(payload.url), payload.body)

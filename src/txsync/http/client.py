"""``HttpClient``: the one way connectors talk HTTP (limits, signing, retries, errors, exact JSON)."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, Self

import httpx

from txsync.connector.context import RequestStats
from txsync.errors import (
    BadResponseError,
    BannedError,
    ConfigurationError,
    ConnectorError,
    RateLimitedError,
    RequestDeadlineError,
    TransientError,
    TxsyncError,
)
from txsync.http._body import ACCEPT_ENCODING, bound_response
from txsync.http.auth import SigningAuth
from txsync.http.errormap import (
    ErrorMapper,
    MalformedBodyError,
    error_for_status,
    parse_retry_after,
)
from txsync.http.limits import HttpLimits, current_limits
from txsync.http.ratelimit import RateLimiter, settle
from txsync.http.redact import LOGGER_NAME, SecretSet, install_log_redaction, scrub_exception
from txsync.http.retry import RetryPolicy
from txsync.jsonutil import loads

__all__ = ["DEFAULT_TIMEOUT", "HttpClient"]

logger = logging.getLogger(LOGGER_NAME)

#: Default timeouts: 30 s overall per phase, 10 s to connect.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _user_agent() -> str:
    try:
        return f"txsync/{version('txsync')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "txsync"


_USER_AGENT = _user_agent()

_SSL_LOCK = threading.Lock()
_SSL_CONTEXT: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every client (loading the CA bundle costs ~75 ms per client).

    Built once, as httpx builds its default (certifi's bundle, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` when set); an ``SSLContext`` is safe to share between connections and threads.
    """
    global _SSL_CONTEXT
    with _SSL_LOCK:
        if _SSL_CONTEXT is None:
            _SSL_CONTEXT = httpx.create_ssl_context()
        return _SSL_CONTEXT


def _utcnow() -> datetime:
    return datetime.now(UTC)


class HttpClient:
    """An :class:`httpx.AsyncClient` wrapper that returns exact JSON or raises a typed error.

    Each call of :meth:`request_json` acquires its weights from ``limiter``, sends the request
    (``auth`` signs every attempt afresh), feeds the usage headers back to the limiter, maps failures
    onto :mod:`txsync.errors` (``error_mapper`` first, then the status), parses the body with
    :func:`txsync.jsonutil.loads` (non-integral numbers are ``Decimal``) and retries per ``retry``.
    ``stats`` is updated as it goes. ``transport`` replaces the network (cassettes, mocks).

    Each attempt is bounded by ``limits`` (:class:`~txsync.http.HttpLimits`; default: the limits in
    effect where the client is built, see :func:`~txsync.http.use_limits`): connect, send, headers
    and the whole body must complete within ``limits.deadline`` seconds
    (:class:`~txsync.errors.RequestDeadlineError`, retried like a timeout), and the body is streamed
    through ``limits.max_response_bytes``, decompression included
    (:class:`~txsync.errors.ResponseTooLargeError`, not retried). ``timeout`` is httpx's per-phase
    timeout (connect, each read), which the deadline does not replace.

    Errors name the endpoint path only; neither errors nor the DEBUG log lines (logger
    ``txsync.http``: method, path, status, elapsed time) include query strings, headers or bodies,
    and ``secrets`` (plus the signer's own :attr:`SigningAuth.secret_values`) are redacted from every
    log line and every error built while the client is open. Every error leaving :meth:`request_json`
    is scrubbed with them (its chained exceptions included; httpx requests and URLs it held are
    dropped, the locals of the frames below this client cleared).
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        stats: RequestStats | None = None,
        error_mapper: ErrorMapper | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] | SecretSet = (),
        clock: Callable[[], datetime] = _utcnow,
        limits: HttpLimits | None = None,
    ) -> None:
        self._limiter = limiter
        self._error_mapper = error_mapper
        self._retry = retry if retry is not None else RetryPolicy()
        self._clock = clock
        self.limits = limits if limits is not None else current_limits()
        self.stats = stats if stats is not None else RequestStats()
        self._secrets = SecretSet(
            (
                *(secrets.reveal() if isinstance(secrets, SecretSet) else secrets),
                *(auth.secret_values if isinstance(auth, SigningAuth) else ()),
            )
        )
        self._filter = install_log_redaction()
        self._filter.add_secrets(self._secrets)
        default_headers = {
            "User-Agent": _USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        default_headers.update(headers or {})
        self._client = httpx.AsyncClient(
            base_url=base_url,
            auth=auth,
            transport=transport,
            timeout=timeout,
            headers=default_headers,
            follow_redirects=False,
            event_hooks={"response": [self._bound_body]},
            verify=_ssl_context() if transport is None else True,
        )
        self._closed = False

    @property
    def limiter(self) -> RateLimiter | None:
        """The rate limiter requests acquire their weights from, if any."""
        return self._limiter

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy applied to every request."""
        return self._retry

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        weights: Mapping[str, int] | None = None,
        endpoint: str | None = None,
    ) -> Any:
        """Send a request and return its JSON body, retrying per the policy.

        ``weights`` is the request's cost per limiter bucket; ``endpoint`` names the request in
        errors and logs (default: ``path`` without any query string). Raises a
        :class:`~txsync.errors.ConnectorError` subclass on failure. A 204 returns ``None``.
        """
        if self._closed:
            raise ConfigurationError("this HttpClient is closed")
        method = method.upper()
        name = endpoint or path.split("?", 1)[0] or "/"
        cost = dict(weights or {})

        async def attempt(number: int) -> Any:
            if number > 1:
                self.stats.retries += 1
            return await self._attempt(method, path, name, cost, params, data, json, number)

        try:
            return await self._retry.call(attempt)
        except BaseException as exc:
            # The one exit of every error: redact it and its chain with this client's secrets, drop
            # the httpx objects it holds and the locals (requests, signed URLs) of the frames below.
            scrub_exception(exc, self._secrets, clear_frames=True)
            raise

    async def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        weights: Mapping[str, int] | None = None,
        endpoint: str | None = None,
    ) -> Any:
        """``request_json("GET", ...)``."""
        return await self.request_json("GET", path, params=params, weights=weights, endpoint=endpoint)

    async def _attempt(
        self,
        method: str,
        path: str,
        endpoint: str,
        weights: Mapping[str, int],
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        json: Any,
        number: int,
    ) -> Any:
        if self._limiter is not None:
            await self._limiter.acquire(weights)
        self.stats.requests += 1
        self.stats.weight += sum(weights.values())
        started = time.perf_counter()
        failure: TxsyncError | None = None
        try:
            response = await self._exchange(method, path, endpoint, params, data, json)
        except httpx.InvalidURL:
            failure = ConfigurationError(f"invalid URL for endpoint {endpoint}")
        except httpx.HTTPError as exc:
            failure = self._transport_error(exc, endpoint)
        except TimeoutError:
            failure = RequestDeadlineError(
                f"no complete response within the deadline of {self.limits.deadline:g} s",
                deadline=self.limits.deadline,
                endpoint=endpoint,
            )
        except BadResponseError as exc:  # too large, or an encoding we cannot decode
            exc.endpoint = endpoint
            failure = exc
        if failure is not None:
            elapsed = time.perf_counter() - started
            logger.debug(
                "%s %s -> %s in %.0f ms (attempt %d)",
                method,
                endpoint,
                type(failure).__name__,
                elapsed * 1000,
                number,
            )
            # Raised outside the handler, so no httpx exception (which holds the request, its signed
            # URL and key headers) is chained to it as __context__.
            failure.__context__ = None
            raise failure
        elapsed = time.perf_counter() - started
        status = response.status_code
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        logger.debug("%s %s -> %d in %.0f ms (attempt %d)", method, endpoint, status, elapsed * 1000, number)
        if self._limiter is None:
            return self._result(response, endpoint)
        self._limiter.observe(response.headers)
        try:
            return self._result(response, endpoint)
        finally:
            # A shared limiter sends the usage and any penalty (429, 418) before the caller goes on.
            await settle(self._limiter)

    async def _exchange(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        json: Any,
    ) -> httpx.Response:
        """Send one request and read its whole body (bounded by :meth:`_bound_body`) within the
        deadline."""
        async with asyncio.timeout(self.limits.deadline):
            return await self._client.request(method, path, params=params, data=data, json=json)

    async def _bound_body(self, response: httpx.Response) -> None:
        """httpx response hook: cap the body at ``limits.max_response_bytes`` before it is read."""
        bound_response(response, self.limits.max_response_bytes)

    def _result(self, response: httpx.Response, endpoint: str) -> Any:
        status = response.status_code
        body: Any = None
        parse_error: BadResponseError | None = None
        if response.content.strip():
            try:
                body = loads(response.content)
            except BadResponseError as exc:
                parse_error = exc
        error: TxsyncError | None = None
        if self._error_mapper is not None:
            error = self._error_mapper(response, body)
            if isinstance(error, ConnectorError):
                self._complete(error, response, endpoint)
        if error is None:
            error = error_for_status(
                response, body, endpoint=endpoint, secrets=self._secrets, now=self._clock()
            )
        if error is not None:
            scrub_exception(error, self._secrets)  # a connector's mapper may quote the body as is
        if error is not None:
            self._account(error)
            raise error
        if status == 204:
            return None
        if parse_error is not None:
            raise MalformedBodyError(str(parse_error), endpoint=endpoint, status=status) from None
        if not response.content.strip():
            raise MalformedBodyError("empty body where JSON was expected", endpoint=endpoint, status=status)
        return body

    def _complete(self, error: ConnectorError, response: httpx.Response, endpoint: str) -> None:
        """Fill what a connector's mapper left out: endpoint, status, Retry-After, ban end."""
        if error.endpoint is None:
            error.endpoint = endpoint
        if error.status is None:
            error.status = response.status_code
        header = response.headers.get("Retry-After")
        if isinstance(error, RateLimitedError) and error.retry_after is None:
            error.retry_after = parse_retry_after(header, now=self._clock())
        if isinstance(error, BannedError) and error.until is None:
            now = self._clock()
            wait = parse_retry_after(header, now=now)
            if wait is not None:
                error.until = now + timedelta(seconds=wait)

    def _account(self, error: TxsyncError) -> None:
        """Count a rate-limit answer and hold the limiter back for what the server asked."""
        if isinstance(error, RateLimitedError):
            self.stats.rate_limited += 1
            if self._limiter is not None and error.retry_after:
                self._limiter.penalize(error.retry_after)
        elif isinstance(error, BannedError):
            self.stats.rate_limited += 1
            if self._limiter is not None and error.until is not None:
                self._limiter.penalize((error.until - self._clock()).total_seconds())

    def _transport_error(self, exc: httpx.HTTPError, endpoint: str) -> TxsyncError:
        kind = type(exc).__name__
        # httpx messages rarely hold the URL, but redact in case one holds a signed query string.
        detail = self._secrets.redact(str(exc))[:200]
        text = f"{kind}: {detail}" if detail else kind
        if isinstance(exc, httpx.TimeoutException):
            return TransientError(f"request timed out ({text})", endpoint=endpoint)
        if isinstance(exc, httpx.UnsupportedProtocol):
            return ConfigurationError(f"cannot reach {endpoint}: {text}")
        if isinstance(exc, httpx.TransportError):
            return TransientError(f"connection failed ({text})", endpoint=endpoint)
        if isinstance(exc, httpx.DecodingError):
            return MalformedBodyError(f"undecodable response body ({text})", endpoint=endpoint)
        return BadResponseError(f"request failed ({text})", endpoint=endpoint)

    async def aclose(self) -> None:
        """Close the connection pool and stop redacting this client's secrets (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._client.aclose()
        finally:
            self._filter.remove_secrets(self._secrets)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"HttpClient(base_url={self._secrets.redact(str(self._client.base_url))!r})"

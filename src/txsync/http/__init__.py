"""The HTTP layer every connector talks through.

* :class:`HttpClient` - an ``httpx.AsyncClient`` wrapper: ``request_json`` / ``get_json`` return exact
  JSON (non-integral numbers as ``Decimal``) or raise one of :mod:`txsync.errors`.
* Rate limits: the :class:`RateLimiter` protocol (pluggable, e.g. shared through Redis) and the
  in-process :class:`WeightedRateLimiter` over fixed windows (:class:`Bucket`, fed by the exchange's
  usage headers) and decaying counters (:class:`DecayingCounter`, Kraken style); the same limits
  shared by every worker through Redis: :class:`RedisRateLimiter`, :class:`RedisLimiterRegistry`,
  :func:`open_limiters` (``txsync[redis]``; the engine's default follows ``TXSYNC_LIMITER_URL``).
* Retries: :class:`RetryPolicy`, on stamina, honouring ``Retry-After``.
* Waits: :func:`notify_wait` (called before every rate-limit or retry wait) reaches the listener a
  sync installed with :func:`wait_listener` (the engine's progress events).
* Signing: :class:`SigningAuth` (an ``httpx.Auth`` base) and :class:`HmacQueryAuth`;
  :func:`signing_payload` (the exact query, body bytes and form fields a signer signs) and
  :func:`with_form_fields` (a nonce into a form body), with no httpx internals.
* Bounds: :class:`HttpLimits` (an overall deadline per attempt, a streamed response size limit);
  :func:`use_limits` sets the default of the clients built inside a block (the engine's setting).
* Errors: :data:`ErrorMapper` (a connector's own error codes), :func:`error_for_status`,
  :class:`MalformedBodyError`.
* Secrets in logs and errors: :func:`redact`, :class:`SecretSet`, :class:`RedactingFilter`,
  :func:`install_log_redaction`, :func:`scrub_exception`.
"""

from txsync.http.auth import HmacQueryAuth, SigningAuth, epoch_ms
from txsync.http.client import DEFAULT_TIMEOUT, HttpClient
from txsync.http.errormap import (
    ErrorMapper,
    MalformedBodyError,
    error_for_status,
    exchange_code,
    exchange_message,
    parse_retry_after,
)
from txsync.http.limits import (
    DEFAULT_DEADLINE,
    DEFAULT_LIMITS,
    DEFAULT_MAX_RESPONSE_BYTES,
    HttpLimits,
    current_limits,
    use_limits,
)
from txsync.http.payload import FORM_CONTENT_TYPE, SigningPayload, signing_payload, with_form_fields
from txsync.http.ratelimit import Bucket, DecayingCounter, Limit, RateLimiter, WeightedRateLimiter, settle
from txsync.http.redact import (
    LOGGER_NAME,
    MASK,
    RedactingFilter,
    SecretSet,
    install_log_redaction,
    is_sensitive_name,
    redact,
    scrub_exception,
    secret_forms,
)
from txsync.http.redis_limiter import RedisLimiterRegistry, RedisRateLimiter, open_limiters
from txsync.http.retry import RetryPolicy
from txsync.http.waits import WaitListener, notify_wait, wait_listener

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "FORM_CONTENT_TYPE",
    "LOGGER_NAME",
    "MASK",
    "Bucket",
    "DecayingCounter",
    "ErrorMapper",
    "HmacQueryAuth",
    "HttpClient",
    "HttpLimits",
    "Limit",
    "MalformedBodyError",
    "RateLimiter",
    "RedactingFilter",
    "RedisLimiterRegistry",
    "RedisRateLimiter",
    "RetryPolicy",
    "SecretSet",
    "SigningAuth",
    "SigningPayload",
    "WaitListener",
    "WeightedRateLimiter",
    "current_limits",
    "epoch_ms",
    "error_for_status",
    "exchange_code",
    "exchange_message",
    "install_log_redaction",
    "is_sensitive_name",
    "notify_wait",
    "open_limiters",
    "parse_retry_after",
    "redact",
    "scrub_exception",
    "secret_forms",
    "settle",
    "signing_payload",
    "use_limits",
    "wait_listener",
    "with_form_fields",
]

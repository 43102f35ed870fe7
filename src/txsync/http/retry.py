"""The retry policy of :class:`~txsync.http.HttpClient`, built on :func:`stamina.retry_context`.

What is retried:

* :class:`RateLimitedError` - after ``Retry-After`` when the server gave a positive one, else after
  our own exponential backoff with jitter (Binance often sends ``Retry-After: 0``);
* :class:`TransientError` (5xx, timeouts, dropped connections) - exponential backoff with jitter;
* :class:`~txsync.http.MalformedBodyError` (a success whose JSON is malformed or truncated, usually a
  broken transfer) - at most ``malformed_attempts`` attempts in all.

Everything else, notably :class:`AuthError`, :class:`PermissionDeniedError`, :class:`BannedError`
and :class:`BadRequestError`, is raised at once. When attempts or the total wait budget run out the
last error is raised as is, so callers always see the typed error.

stamina runs the attempt loop (so its instrumentation hooks and its test mode apply); the policy
decides whether and how long to wait through stamina's backoff hook. With an injected ``sleep`` the
policy waits through it instead of letting stamina sleep, which lets tests observe every wait.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import stamina

from txsync.errors import RateLimitedError, TxsyncError
from txsync.http.errormap import MalformedBodyError
from txsync.http.redact import LOGGER_NAME
from txsync.http.waits import notify_wait

__all__ = ["RetryPolicy"]

T = TypeVar("T")

logger = logging.getLogger(LOGGER_NAME)

_SYSTEM_RANDOM = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """How :class:`~txsync.http.HttpClient` retries a request.

    ``attempts`` bounds the attempts per request (first try included); ``max_wait`` bounds the total
    seconds spent waiting between them: a ``Retry-After`` that does not fit in what is left ends the
    retries at once, our own backoff is shortened to fit, and a spent budget ends them too. Backoff
    number *n* (1-based) waits ``min(wait_max, wait_initial * wait_exp_base ** (n - 1)) +
    uniform(0, wait_jitter)``, capped at ``wait_max``. ``sleep`` (optional) replaces stamina's own
    sleeping; ``random`` returns a float in [0, 1) for the jitter.
    """

    attempts: int = 5
    max_wait: float = 120.0
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_jitter: float = 1.0
    wait_exp_base: float = 2.0
    malformed_attempts: int = 2
    sleep: Callable[[float], Awaitable[None]] | None = field(default=None, compare=False)
    random: Callable[[], float] = field(default=_SYSTEM_RANDOM.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.malformed_attempts < 1:
            raise ValueError("attempts and malformed_attempts must be at least 1")
        for name in ("max_wait", "wait_initial", "wait_max", "wait_jitter"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0")
        if self.wait_exp_base < 1:
            raise ValueError("wait_exp_base must be >= 1")

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(attempts=1)

    def is_retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` is of a kind this policy may retry (limits aside): the error's own
        ``retryable`` flag (rate limits, transient failures, malformed bodies, a connector's own)."""
        return bool(getattr(exc, "retryable", False))

    def backoff(self, retry_number: int) -> float:
        """Our own wait before retry ``retry_number`` (1-based): exponential, jittered, capped."""
        try:
            base = self.wait_initial * self.wait_exp_base ** (retry_number - 1)
        except OverflowError:
            base = self.wait_max
        return min(self.wait_max, min(self.wait_max, base) + self.random() * self.wait_jitter)

    async def call(self, operation: Callable[[int], Awaitable[T]]) -> T:
        """Run ``operation(attempt_number)`` (1-based) until it succeeds or the policy gives up."""
        run = _Run(self)
        async for attempt in stamina.retry_context(
            on=run.on_error,
            attempts=self.attempts,
            timeout=None,  # the hook returns every wait itself (Retry-After or our own backoff)
        ):
            with attempt:
                if run.pending and self.sleep is not None:
                    wait, run.pending = run.pending, 0.0
                    await self.sleep(wait)
                return await operation(attempt.num)
        raise AssertionError("unreachable: stamina either returns or re-raises")  # pragma: no cover


class _Run:
    """The state of one :meth:`RetryPolicy.call`: failures seen and seconds of wait granted."""

    __slots__ = ("failures", "malformed", "pending", "policy", "waited")

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.failures = 0
        self.malformed = 0
        self.waited = 0.0
        self.pending = 0.0

    def on_error(self, exc: Exception) -> bool | float:
        """stamina's backoff hook: ``False`` to give up, else the seconds to wait before retrying."""
        policy = self.policy
        self.failures += 1
        if not policy.is_retryable(exc):
            return False
        if isinstance(exc, MalformedBodyError):
            self.malformed += 1
            if self.malformed >= policy.malformed_attempts:
                return self._give_up(exc, f"after {self.malformed} malformed responses")
        if self.failures >= policy.attempts:
            return self._give_up(exc, f"after {self.failures} attempts")
        budget = policy.max_wait - self.waited
        retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
        if retry_after is not None and retry_after > 0:
            if retry_after > budget:
                return self._give_up(exc, f"Retry-After {retry_after:g} s exceeds the wait budget")
            wait = retry_after
        elif budget <= 0:
            return self._give_up(exc, f"after waiting {self.waited:g} s in all")
        else:
            wait = min(policy.backoff(self.failures), budget)
        self.waited += wait
        logger.info(
            "retrying %s in %.2f s after %s (attempt %d of %d)",
            _where(exc),
            wait,
            type(exc).__name__,
            self.failures + 1,
            policy.attempts,
        )
        notify_wait(wait, "Retry-After" if retry_after is not None and retry_after > 0 else "backoff")
        if policy.sleep is not None:
            self.pending = wait
            return 0.0  # we sleep through the injected ``sleep`` at the next attempt
        return wait

    @staticmethod
    def _give_up(exc: Exception, why: str) -> bool:
        exc.add_note(f"txsync gave up retrying {why}")
        logger.info("giving up on %s: %s %s", _where(exc), type(exc).__name__, why)
        return False


def _where(exc: BaseException) -> str:
    endpoint = getattr(exc, "endpoint", None) if isinstance(exc, TxsyncError) else None
    return endpoint or "request"

"""RetryPolicy: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import pytest
import stamina

from txsync.errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    BannedError,
    ConnectorError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
)
from txsync.http import MalformedBodyError, RetryPolicy

if TYPE_CHECKING:
    from conftest import FakeClock


def policy(clock: FakeClock, **kw: object) -> RetryPolicy:
    return RetryPolicy(sleep=clock.sleep, random=lambda: 0.5, **kw)  # type: ignore[arg-type]


def failing(*errors: Exception) -> tuple[Callable[[int], Awaitable[str]], list[int]]:
    """An operation raising ``errors`` in turn, then returning "ok"; and the attempt numbers seen."""
    seen: list[int] = []

    async def operation(number: int) -> str:
        seen.append(number)
        if len(seen) <= len(errors):
            raise errors[len(seen) - 1]
        return "ok"

    return operation, seen


def test_backoff_is_exponential_jittered_and_capped() -> None:
    p = RetryPolicy(wait_initial=0.5, wait_exp_base=2, wait_jitter=1.0, wait_max=5.0, random=lambda: 0.25)
    assert [p.backoff(n) for n in range(1, 6)] == [0.75, 1.25, 2.25, 4.25, 5.0]
    assert p.backoff(10_000) == 5.0  # no overflow


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="max_wait"):
        RetryPolicy(max_wait=-1)


async def test_retry_after_is_honoured(clock: FakeClock) -> None:
    operation, seen = failing(
        RateLimitedError("slow down", retry_after=7.0),
        RateLimitedError("slow down", retry_after=42.0),
    )
    assert await policy(clock).call(operation) == "ok"
    assert seen == [1, 2, 3]
    assert clock.sleeps == [7.0, 42.0]


async def test_retry_after_zero_or_missing_uses_own_backoff(clock: FakeClock) -> None:
    operation, _ = failing(
        RateLimitedError("slow down", retry_after=0.0),
        RateLimitedError("slow down", retry_after=None),
    )
    assert await policy(clock, wait_initial=0.5, wait_jitter=1.0).call(operation) == "ok"
    assert clock.sleeps == [1.0, 1.5]  # 0.5 * 2**(n-1) + 0.5 * 1.0


async def test_transient_and_malformed_errors_are_retried(clock: FakeClock) -> None:
    operation, seen = failing(TransientError("502"), MalformedBodyError("truncated"))
    assert await policy(clock).call(operation) == "ok"
    assert seen == [1, 2, 3]
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(
    "error",
    [
        AuthError("bad key"),
        PermissionDeniedError("no rights"),
        BannedError("banned"),
        BadRequestError("bad symbol"),
        BadResponseError("wrong shape"),
        ValueError("a bug"),
    ],
)
async def test_other_errors_are_never_retried(clock: FakeClock, error: Exception) -> None:
    operation, seen = failing(error)
    with pytest.raises(type(error)):
        await policy(clock).call(operation)
    assert seen == [1]
    assert clock.sleeps == []


async def test_attempts_exhausted_raises_the_last_typed_error(clock: FakeClock) -> None:
    errors = [TransientError(f"failure {i}", status=503) for i in range(5)]
    operation, seen = failing(*errors)
    with pytest.raises(TransientError) as info:
        await policy(clock, attempts=4).call(operation)
    assert info.value is errors[3]
    assert seen == [1, 2, 3, 4]
    assert len(clock.sleeps) == 3
    assert any("gave up" in note for note in getattr(info.value, "__notes__", []))


async def test_malformed_bodies_are_retried_a_limited_number_of_times(clock: FakeClock) -> None:
    operation, seen = failing(*(MalformedBodyError("truncated") for _ in range(5)))
    with pytest.raises(MalformedBodyError):
        await policy(clock, attempts=10, malformed_attempts=3).call(operation)
    assert seen == [1, 2, 3]


async def test_retry_after_beyond_the_wait_budget_gives_up_at_once(clock: FakeClock) -> None:
    operation, seen = failing(RateLimitedError("slow down", retry_after=600.0))
    with pytest.raises(RateLimitedError) as info:
        await policy(clock, max_wait=120).call(operation)
    assert seen == [1]
    assert clock.sleeps == []
    assert info.value.retry_after == 600.0


async def test_own_backoff_is_shortened_to_the_wait_budget(clock: FakeClock) -> None:
    operation, seen = failing(*(TransientError("503") for _ in range(3)))
    p = policy(clock, attempts=10, max_wait=4.0, wait_initial=3.0, wait_jitter=0.0)
    with pytest.raises(TransientError):
        await p.call(operation)
    assert seen == [1, 2, 3]  # the budget is spent after two waits: no third retry
    assert clock.sleeps == [3.0, 1.0]


async def test_never_policy_makes_one_attempt(clock: FakeClock) -> None:
    operation, seen = failing(TransientError("503"))
    with pytest.raises(TransientError):
        await RetryPolicy.never().call(operation)
    assert seen == [1]


async def test_stamina_test_mode_without_injected_sleep() -> None:
    """With stamina sleeping (no injected sleep), stamina's test mode keeps tests instant."""
    operation, seen = failing(RateLimitedError("slow", retry_after=3600.0), TransientError("503"))
    with stamina.set_testing(True, attempts=5, cap=True):
        result = await RetryPolicy(max_wait=7200).call(operation)
    assert result == "ok"
    assert seen == [1, 2, 3]


async def test_errors_keep_their_fields(clock: FakeClock) -> None:
    error = RateLimitedError("slow", retry_after=0.0, endpoint="/api/v3/myTrades", status=429, code=-1003)
    operation, _ = failing(*(error for _ in range(9)))
    with pytest.raises(ConnectorError) as info:
        await policy(clock, attempts=2).call(operation)
    assert (info.value.endpoint, info.value.status, info.value.code) == ("/api/v3/myTrades", 429, -1003)


async def test_cancellation_during_backoff_is_not_retried() -> None:
    started = asyncio.Event()

    async def forever(seconds: float) -> None:
        started.set()
        await asyncio.Event().wait()

    operation, seen = failing(TransientError("503"), TransientError("503"))
    task = asyncio.create_task(RetryPolicy(sleep=forever).call(operation))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [1]


def test_a_connector_error_marked_retryable_is_retried() -> None:
    """The policy follows the error's own ``retryable`` flag, not a fixed list of classes."""
    from txsync.errors import ConnectorError
    from txsync.http import RetryPolicy

    class Flaky(ConnectorError):
        retryable = True

    calls = 0

    async def op(_: int) -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise Flaky("flaky")
        return "ok"

    async def no_sleep(_: float) -> None:
        return None

    import asyncio

    assert asyncio.run(RetryPolicy(attempts=5, sleep=no_sleep).call(op)) == "ok"
    assert calls == 3

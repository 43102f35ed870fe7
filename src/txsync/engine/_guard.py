"""What keeps secrets inside the engine: scopes, guarded entry points, report redaction, blocking twins.

* :func:`secret_scope` registers a connection's secrets (a :class:`~txsync.http.SecretSet`, never
  plaintext in a frame) as live while the engine works with them, so every log line and every
  :class:`~txsync.errors.TxsyncError` built meanwhile is redacted, and scrubs any exception leaving
  the scope with them (its chain included).
* :func:`guarded` / :func:`guarded_blocking` wrap the public entry points: an exception escaping one is
  scrubbed once more and the locals of every finished frame of its traceback (and of its chained
  exceptions) are cleared, so an error tracker that captures locals finds no key, signer, request or
  credential there.
* :func:`redact_report` masks the secrets in every text of a sync report and cleans it of the
  characters no report should hold (:func:`report_text`).
* :func:`run_blocking` runs a coroutine to completion for a blocking twin, refusing (clearly) to run
  inside a running event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from txsync._redaction import LIVE, SecretSet, redact, scrub_exception
from txsync.engine.report import SyncReport
from txsync.errors import EventLoopError
from txsync.fields import clean_label
from txsync.http import install_log_redaction

__all__ = ["guarded", "guarded_blocking", "redact_report", "report_text", "run_blocking", "secret_scope"]

#: The most characters a report keeps of one text (an error message, a gap's detail...).
REPORT_TEXT_MAX = 10_000

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def secret_scope(secrets: SecretSet) -> Iterator[None]:
    """Treat ``secrets`` as live inside the block; scrub any exception leaving it with them."""
    install_log_redaction()
    LIVE.add(secrets)
    try:
        yield
    except BaseException as exc:
        scrub_exception(exc, secrets)
        raise
    finally:
        LIVE.remove(secrets)


def guarded(method: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Wrap an async entry point: exceptions leave it scrubbed, with their frames' locals cleared."""

    @functools.wraps(method)
    async def entry(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except BaseException as exc:
            scrub_exception(exc, clear_frames=True)
            raise

    return entry


def guarded_blocking(method: Callable[P, T]) -> Callable[P, T]:
    """:func:`guarded` for a blocking entry point."""

    @functools.wraps(method)
    def entry(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except BaseException as exc:
            scrub_exception(exc, clear_frames=True)
            raise

    return entry


#: True inside a blocking twin's own event loop: nothing but the sync runs on that loop, so store work
#: may run on its thread (see :func:`store_work_off_loop`); a host's loop never has it set.
_PRIVATE_LOOP: contextvars.ContextVar[bool] = contextvars.ContextVar("txsync_private_loop", default=False)


async def _on_private_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    _PRIVATE_LOOP.set(True)
    return await make()


def store_work_off_loop() -> bool:
    """Whether blocking store work must leave the running loop's thread: always on a host's loop (an
    async server keeps answering while a sync commits), never on a blocking twin's private loop, where
    the hop to a worker thread would only add its cost (~0.15 ms of CPU per page)."""
    return not _PRIVATE_LOOP.get()


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]], name: str, twin: str) -> T:
    """Run the coroutine ``make()`` builds on a fresh event loop in this thread and return its result.

    Works from any thread without a running loop (also while a loop runs in another thread); in a
    running loop's thread it raises :class:`EventLoopError` naming the async ``twin`` instead of
    blocking that loop (the coroutine is then never created).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_on_private_loop(make))
    raise EventLoopError(
        f"{name} blocks until it is done and cannot run inside a running event loop: "
        f"use `await {twin}` there"
    )


def report_text(text: str, secrets: SecretSet) -> str:
    """``text`` as a report (or the store) may hold it: ``secrets`` and sensitive-looking values
    masked, control, invisible, bidi and lone surrogate characters replaced by spaces (a lone
    surrogate cannot be encoded as JSON or UTF-8 at all), whitespace collapsed, at most
    :data:`REPORT_TEXT_MAX` characters. Server text reaches reports by many ways (error bodies, a
    key check's answer, a third-party connector's own messages), so the engine cleans them all here."""
    if not text:
        return text
    return clean_label(redact(text, secrets), REPORT_TEXT_MAX) or "?"


def _redact_value(value: Any, secrets: SecretSet) -> Any:
    if isinstance(value, str):
        return report_text(value, secrets)
    if isinstance(value, Mapping):
        return {_redact_value(k, secrets): _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(v, secrets) for v in value)
    return value


def redact_report(report: SyncReport, secrets: SecretSet) -> None:
    """Mask ``secrets`` (and sensitive-looking values) in every text of ``report`` and clean it
    (:func:`report_text`), in place: errors, warnings, the state reason, coverage gap details and
    the permission details the source sent. Idempotent."""
    report.errors[:] = [report_text(e, secrets) for e in report.errors]
    report.warnings[:] = [report_text(w, secrets) for w in report.warnings]
    if report.state_reason is not None:
        report.state_reason = report_text(report.state_reason, secrets)
    for stream in report.streams:
        stream.errors[:] = [report_text(e, secrets) for e in stream.errors]
    for gap in report.coverage_gaps:
        gap.detail = report_text(gap.detail, secrets)
        gap.title = report_text(gap.title, secrets)
        gap.remedy = report_text(gap.remedy, secrets)
    if report.permissions is not None:
        details = _redact_value(dict(report.permissions.details), secrets)
        report.permissions = report.permissions.model_copy(update={"details": details})

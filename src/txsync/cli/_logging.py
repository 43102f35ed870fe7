"""``-v``: txsync's logs, and those of the libraries underneath, on stderr at the level the user picks.

Everything goes through the ``txsync`` logger tree with txsync's secret redaction: stamina's retry
events are re-emitted as ``txsync.retry`` records (instead of stamina's own logger, whose records
carry the retried call's arguments), httpx's request lines and SQLAlchemy's warnings are shown at
``-vv``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["configure_logging"]

_HANDLER_NAME = "txsync-cli"
retry_log = logging.getLogger("txsync.retry")


def _retry_hook(details: Any) -> None:
    """stamina's on-retry hook: one txsync log line per scheduled retry."""
    cause = details.caused_by
    retry_log.info(
        "retry %d of %s in %.2f s after %s (waited %.2f s so far)",
        details.retry_num, details.name, details.wait_for, type(cause).__name__, details.waited_so_far,
    )


def configure_logging(verbosity: int, stream: TextIO) -> Callable[[], None]:
    """0: warnings and errors; 1 (``-v``): info (retries, waits, disabled connections); 2 (``-vv``):
    debug, with the HTTP request lines of txsync and httpx. Returns the function that puts the logging
    back as it was (the command line calls it when the command ends: an embedding process keeps its
    own configuration)."""
    import stamina.instrumentation

    from txsync.http import install_log_redaction

    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    redaction = install_log_redaction()
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redaction)
    saved: list[tuple[logging.Logger, int]] = []
    hooks = stamina.instrumentation.get_on_retry_hooks()
    root = logging.getLogger("txsync")
    saved.append((root, root.level))
    root.addHandler(handler)
    root.setLevel(level)
    stamina.instrumentation.set_on_retry_hooks([_retry_hook])
    if verbosity >= 2:
        for name in ("httpx", "sqlalchemy", "alembic"):
            other = logging.getLogger(name)
            saved.append((other, other.level))
            other.addHandler(handler)
            other.setLevel(logging.DEBUG if name == "httpx" else logging.WARNING)

    def restore() -> None:
        for logger, previous in saved:
            logger.removeHandler(handler)
            logger.setLevel(previous)
        stamina.instrumentation.set_on_retry_hooks(hooks)

    return restore

"""Keeping secrets out of log lines: :func:`redact` and the :class:`RedactingFilter`.

Two kinds of values are replaced with ``***``:

* known secret values (API keys, secrets, passphrases), also in their URL-encoded and JSON-escaped
  forms;
* values that look sensitive whatever they are: ``signature=``, ``apikey=``, ``timestamp=``,
  ``nonce=``... parameters in URLs and bodies, and the values of API-key, signature, passphrase and
  ``Authorization`` headers (``X-MBX-APIKEY: ...``, ``'ACCESS-SIGN': '...'``).

:func:`install_log_redaction` attaches one process-wide filter to the ``txsync`` loggers and to
``httpx``'s and ``httpcore``'s (httpx logs full request URLs, signed query strings included, at INFO;
httpcore logs response headers at DEBUG). That filter redacts the secrets registered in
:data:`txsync._redaction.LIVE`: each open :class:`~txsync.http.HttpClient` registers its secrets there,
and the engine registers a connection's secrets for the duration of a sync or a key check. The
constructors of :class:`txsync.errors.TxsyncError` redact their messages with the same registry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from txsync._redaction import (
    LIVE,
    MASK,
    SecretRegistry,
    SecretSet,
    is_sensitive_name,
    redact,
    scrub_exception,
    secret_forms,
)

__all__ = [
    "LOGGER_NAME",
    "MASK",
    "RedactingFilter",
    "SecretSet",
    "install_log_redaction",
    "is_sensitive_name",
    "redact",
    "scrub_exception",
    "secret_forms",
]

#: The logger every module of :mod:`txsync.http` logs through.
LOGGER_NAME = "txsync.http"

#: Loggers (and their descendants existing at install time) the shared filter is attached to.
#: httpx logs signed URLs at INFO; httpcore logs request and response headers at DEBUG.
REDACTED_LOGGERS = ("txsync", "httpx", "httpcore", "hpack")


class RedactingFilter(logging.Filter):
    """A :class:`logging.Filter` that rewrites each record with :func:`redact` applied.

    The message (with its arguments merged in), a formatted exception and stack info are all
    redacted. Secrets are reference-counted: :meth:`add_secrets` and :meth:`remove_secrets` may be
    called by several owners of the same value. The filter never drops a record. ``registry`` (by
    default a private one) holds the secrets; the shared filter uses the process-wide one.
    """

    def __init__(
        self, secrets: Iterable[str] = (), name: str = "", *, registry: SecretRegistry | None = None
    ) -> None:
        super().__init__(name)
        self._registry = registry if registry is not None else SecretRegistry()
        self._formatter = logging.Formatter()
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str] | SecretSet) -> None:
        """Start redacting these values (empty strings are ignored)."""
        self._registry.add(secrets)

    def remove_secrets(self, secrets: Iterable[str] | SecretSet) -> None:
        """Undo one :meth:`add_secrets` of these values."""
        self._registry.remove(secrets)

    def secrets(self) -> tuple[str, ...]:
        """The values currently redacted."""
        return self._registry.values()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always keep it."""
        secrets = self._registry.snapshot()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: still never let the raw arguments through
            message = f"{record.msg} <unformattable arguments>"
        record.msg = redact(message, secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        for key, value in list(vars(record).items()):  # extras (stamina puts the error in them)
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value, secrets))
        return True

    def __repr__(self) -> str:
        return f"RedactingFilter(<{len(self._registry)} secrets>)"


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

_SHARED = RedactingFilter(registry=LIVE)
_INSTALL_LOCK = threading.Lock()


def install_log_redaction(loggers: Iterable[str] = (LOGGER_NAME, "httpx")) -> RedactingFilter:
    """Attach the process-wide :class:`RedactingFilter` to ``loggers`` and to every logger that exists
    under :data:`REDACTED_LOGGERS` (idempotent), and return it.

    Filters apply to records created by the logger they are attached to, not to its children, so each
    logger gets its own reference; loggers created later get it at the next call (every
    :class:`~txsync.http.HttpClient` and every sync calls this).
    """
    with _INSTALL_LOCK:
        names = set(loggers) | set(REDACTED_LOGGERS)
        for existing in list(logging.Logger.manager.loggerDict):
            if any(existing == p or existing.startswith(p + ".") for p in REDACTED_LOGGERS):
                names.add(existing)
        for name in names:
            logger = logging.getLogger(name)
            if _SHARED not in logger.filters:
                logger.addFilter(_SHARED)
    return _SHARED

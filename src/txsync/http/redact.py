"""Keeping secrets out of log lines: :func:`redact` and the :class:`RedactingFilter`.

Two kinds of values are replaced with ``***``:

* known secret values (API keys, secrets, passphrases), also in their URL-encoded form;
* values that look sensitive whatever they are: ``signature=``, ``apikey=``, ``timestamp=``,
  ``nonce=``... parameters in URLs and bodies, and the values of API-key, signature, passphrase and
  ``Authorization`` headers (``X-MBX-APIKEY: ...``, ``'ACCESS-SIGN': '...'``).

:func:`install_log_redaction` attaches one process-wide filter to the ``txsync.http`` logger and to
``httpx``'s own logger (which logs full request URLs, signed query strings included, at INFO).
Each :class:`~txsync.http.HttpClient` registers its secrets there while it is open.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = [
    "LOGGER_NAME",
    "MASK",
    "RedactingFilter",
    "install_log_redaction",
    "is_sensitive_name",
    "redact",
    "secret_forms",
]

#: What a redacted value is replaced with.
MASK = "***"
#: The logger every module of :mod:`txsync.http` logs through.
LOGGER_NAME = "txsync.http"

_SENSITIVE_PARAM = (
    r"signature|sig|sign|signed|hmac|api[-_]?key|access[-_]?key|secret[-_]?key|secret|api[-_]?secret"
    r"|passphrase|password|token|access[-_]?token|auth[-_]?token|timestamp|nonce|recv[-_]?window"
)
# name=value in query strings, form bodies and free text ("...&signature=abc&x=1").
_PARAM_RE = re.compile(rf"(?i)(?<![\w-])((?:{_SENSITIVE_PARAM}))=([^&\s\"'#,;)\]}}]+)")
# Header-like pairs: "X-MBX-APIKEY: v", "'ACCESS-SIGN': 'v'", ('x-mbx-apikey', 'v'), "apiKey": "v".
_HEADER_NAME = (
    r"[\w-]*(?:api[-_]?key|apikey|access[-_]?key|key[-_]?id|sign(?:ature)?|passphrase|secret"
    r"|access[-_]?token|auth[-_]?token|session[-_]?token|x-[\w-]*key)[\w-]*"
)
# A comma separates name and value only between quotes (a tuple), so prose ("Invalid signature, ...")
# is left alone.
_SEPARATOR = r"(?:['\"]?\s*(?::|=>)\s*['\"]?|['\"]\s*,\s*['\"])"
_HEADER_RE = re.compile(rf"(?i)(['\"]?(?<![\w-]){_HEADER_NAME}{_SEPARATOR})([^\s'\",;)\]}}&]+)")
_AUTHORIZATION_RE = re.compile(
    rf"(?i)(['\"]?(?:proxy-)?authorization{_SEPARATOR})"
    r"(?:(bearer|basic|digest|hmac[\w-]*|token)\s+)?([^\s'\",;)\]}}]+)"
)


# A header, query parameter or body field whose name ends in one of these words carries a credential,
# a signature or a value that changes on every request ("X-MBX-APIKEY", "X-Auth-Signature",
# "OK-ACCESS-SIGN", "Api-Nonce", "recvWindow", "access_token").
_SENSITIVE_WORD = (
    r"api[-_]?key|apikey|access[-_]?key|key[-_]?id|secret(?:[-_]?key)?|api[-_]?secret|signature|sign|sig"
    r"|signed|hmac|passphrase|password|access[-_]?token|auth[-_]?token|session[-_]?token|nonce"
    r"|timestamp|recv[-_]?window|authorization|proxy-authorization|cookie|x-auth"
)
_SENSITIVE_NAME_RE = re.compile(rf"(?i)(?:[a-z0-9]+[-_])*?(?:{_SENSITIVE_WORD})")


def is_sensitive_name(name: str) -> bool:
    """Whether a header, query parameter or body field called ``name`` carries a secret-like value.

    True when the name's last word is a key, secret, signature, passphrase, access or session token,
    nonce, timestamp, receive window, authorization or cookie (a bare ``token`` is not: paging tokens
    must stay readable): ``X-MBX-APIKEY``, ``X-Auth-Signature``,
    ``OK-ACCESS-SIGN``, ``Api-Nonce``, ``recvWindow``, ``access_token``. Used by log redaction and
    by the cassette scrubber and leak scan, so both agree.
    """
    return bool(_SENSITIVE_NAME_RE.fullmatch(name.strip()))


def secret_forms(secret: str, *, base64_form: bool = False) -> set[str]:
    """The forms ``secret`` takes on the wire: raw and URL-encoded (and base64 when asked)."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}
    if base64_form:
        forms.add(base64.b64encode(secret.encode()).decode().rstrip("="))
    return {form for form in forms if form}


def _variants(secret: str) -> set[str]:
    return secret_forms(secret)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and every sensitive-looking value replaced by ``***``."""
    values: set[str] = set()
    for secret in secrets:
        if secret:
            values |= _variants(secret)
    # Longest first, so a secret containing another one is masked whole.
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    text = _AUTHORIZATION_RE.sub(
        lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{MASK}", text
    )
    text = _HEADER_RE.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _PARAM_RE.sub(lambda m: f"{m.group(1)}={MASK}", text)


class RedactingFilter(logging.Filter):
    """A :class:`logging.Filter` that rewrites each record with :func:`redact` applied.

    The message (with its arguments merged in), a formatted exception and stack info are all
    redacted. Secrets are reference-counted: :meth:`add_secrets` and :meth:`remove_secrets` may be
    called by several owners of the same value. The filter never drops a record.
    """

    def __init__(self, secrets: Iterable[str] = (), name: str = "") -> None:
        super().__init__(name)
        self._lock = threading.Lock()
        self._secrets: Counter[str] = Counter()
        self._formatter = logging.Formatter()
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Start redacting these values (empty strings are ignored)."""
        with self._lock:
            self._secrets.update(s for s in secrets if s)

    def remove_secrets(self, secrets: Iterable[str]) -> None:
        """Undo one :meth:`add_secrets` of these values."""
        with self._lock:
            self._secrets.subtract(s for s in secrets if s)
            for value in [v for v, n in self._secrets.items() if n <= 0]:
                del self._secrets[value]

    def secrets(self) -> tuple[str, ...]:
        """The values currently redacted."""
        with self._lock:
            return tuple(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always keep it."""
        secrets = self.secrets()
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
        return True

    def __repr__(self) -> str:
        return f"RedactingFilter(<{len(self._secrets)} secrets>)"


_SHARED = RedactingFilter()
_INSTALL_LOCK = threading.Lock()


def install_log_redaction(loggers: Iterable[str] = (LOGGER_NAME, "httpx")) -> RedactingFilter:
    """Attach the process-wide :class:`RedactingFilter` to ``loggers`` (idempotent) and return it.

    Filters apply to records created by the logger they are attached to, not to its children, so
    name each logger that needs it.
    """
    with _INSTALL_LOCK:
        for name in loggers:
            logger = logging.getLogger(name)
            if _SHARED not in logger.filters:
                logger.addFilter(_SHARED)
    return _SHARED

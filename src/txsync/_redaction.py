"""Keeping secrets out of text and exceptions: the redaction core every layer shares.

This module imports nothing from txsync, so :mod:`txsync.errors` (the bottom layer) can redact the
messages of the errors it builds. Its public names are re-exported by :mod:`txsync.http`.

* :func:`redact` masks known secret values (raw, URL-encoded, JSON-escaped) and values that look
  sensitive whatever they are (``signature=``, ``apikey=``, API-key and ``Authorization`` headers).
* :class:`SecretSet` holds secret values for redaction only: it never shows them in ``repr``/``str``,
  refuses to be pickled and is not iterable, so a frame or a report holding one leaks nothing.
* :data:`LIVE` is the process-wide, reference-counted registry of the secrets in use right now (the
  keys of open HTTP clients, of a sync in progress). The log filter and the constructors of
  :class:`txsync.errors.TxsyncError` redact with it.
* :func:`scrub_exception` redacts an exception and everything chained to it (``__cause__``,
  ``__context__``, groups): messages, notes and attributes; it drops the httpx requests, responses and
  URLs exceptions hold, and can clear the local variables of their traceback frames.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, NoReturn
from urllib.parse import quote, quote_plus

__all__ = [
    "LIVE",
    "MASK",
    "SecretRegistry",
    "SecretSet",
    "is_sensitive_name",
    "redact",
    "redact_live",
    "scrub_exception",
    "secret_forms",
]

#: What a redacted value is replaced with.
MASK = "***"

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


def _redaction_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Every form of ``secrets`` worth masking in text, longest first (a secret containing another
    one is masked whole): raw, URL-encoded, and JSON-escaped (an echo inside a JSON document)."""
    values: set[str] = set()
    for secret in secrets:
        if secret:
            values |= secret_forms(secret)
            values.add(json.dumps(secret)[1:-1])
    return tuple(sorted(values, key=len, reverse=True))


class SecretSet:
    """Secret values kept for redaction only.

    It never shows them (``repr`` and ``str`` say how many it holds), refuses to be pickled or
    iterated, and copies as itself, so an engine frame, a report or an HTTP client holding one
    exposes nothing to an error tracker that captures local variables.
    """

    __slots__ = ("_forms", "_values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: tuple[str, ...] = tuple(dict.fromkeys(v for v in values if v))
        self._forms: tuple[str, ...] = _redaction_forms(self._values)

    def redact(self, text: str) -> str:
        """``text`` with these secrets (and sensitive-looking values) masked: :func:`redact`."""
        return redact(text, self)

    def found_in(self, text: str | bytes) -> bool:
        """Whether any form of any of these secrets occurs in ``text``."""
        if isinstance(text, bytes):
            return any(form.encode() in text for form in self._forms)
        return any(form in text for form in self._forms)

    def reveal(self) -> tuple[str, ...]:
        """The plaintext values (to register them with a log filter). Never keep the result."""
        return self._values

    def union(self, other: SecretSet) -> SecretSet:
        """A set holding the values of both."""
        return SecretSet((*self._values, *other._values))

    @property
    def forms(self) -> tuple[str, ...]:
        """Every form to mask, longest first."""
        return self._forms

    def __len__(self) -> int:
        return len(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def __iter__(self) -> NoReturn:
        raise TypeError("a SecretSet is not iterable: use redact() or found_in()")

    def __repr__(self) -> str:
        return f"SecretSet(<{len(self._values)} hidden>)"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return format(repr(self), format_spec)

    def __copy__(self) -> SecretSet:
        return self

    def __deepcopy__(self, memo: Any) -> SecretSet:
        return self

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a SecretSet holds secrets and cannot be pickled")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SecretSet holds secrets and cannot be pickled")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a SecretSet holds secrets and cannot be pickled")


class SecretRegistry:
    """Reference-counted secret values (thread-safe): several owners may register the same value,
    which stays until each has removed it. :meth:`forms` is cached between changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._cache: SecretSet | None = None

    def add(self, secrets: Iterable[str] | SecretSet) -> None:
        """Start redacting these values (empty strings are ignored)."""
        values = secrets.reveal() if isinstance(secrets, SecretSet) else tuple(secrets)
        with self._lock:
            self._counts.update(v for v in values if v)
            self._cache = None

    def remove(self, secrets: Iterable[str] | SecretSet) -> None:
        """Undo one :meth:`add` of these values."""
        values = secrets.reveal() if isinstance(secrets, SecretSet) else tuple(secrets)
        with self._lock:
            self._counts.subtract(v for v in values if v)
            for value in [v for v, n in self._counts.items() if n <= 0]:
                del self._counts[value]
            self._cache = None

    @contextmanager
    def holding(self, secrets: SecretSet) -> Iterator[None]:
        """Register ``secrets`` for the duration of a ``with`` block."""
        self.add(secrets)
        try:
            yield
        finally:
            self.remove(secrets)

    def snapshot(self) -> SecretSet:
        """The values registered now, as a :class:`SecretSet`."""
        with self._lock:
            if self._cache is None:
                self._cache = SecretSet(self._counts)
            return self._cache

    def values(self) -> tuple[str, ...]:
        """The values registered now (plaintext: for tests and the log filter's introspection)."""
        with self._lock:
            return tuple(self._counts)

    def __len__(self) -> int:
        with self._lock:
            return len(self._counts)

    def __repr__(self) -> str:
        return f"SecretRegistry(<{len(self)} secrets>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SecretRegistry holds secrets and cannot be pickled")


#: The secrets in use in this process right now: keys of open HTTP clients and of syncs in progress.
LIVE = SecretRegistry()


def redact(text: str, secrets: Iterable[str] | SecretSet = ()) -> str:
    """``text`` with every known secret and every sensitive-looking value replaced by ``***``."""
    forms = secrets.forms if isinstance(secrets, SecretSet) else _redaction_forms(secrets)
    for value in forms:
        if value in text:
            text = text.replace(value, MASK)
    text = _AUTHORIZATION_RE.sub(
        lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{MASK}", text
    )
    text = _HEADER_RE.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _PARAM_RE.sub(lambda m: f"{m.group(1)}={MASK}", text)


def redact_live(text: str, extra: SecretSet | None = None) -> str:
    """:func:`redact` with the secrets registered in :data:`LIVE` (and ``extra``)."""
    live = LIVE.snapshot()
    return redact(text, live if extra is None else live.union(extra))


def _redact_bytes(data: bytes, secrets: SecretSet) -> bytes:
    for form in secrets.forms:
        data = data.replace(form.encode(), MASK.encode())
    return data


_FOREIGN_MODULES = ("httpx", "httpcore", "h11", "h2")
# Attributes of built-in exceptions that are not in ``__dict__`` but show up in their text.
_BUILTIN_TEXT_ATTRS = ("filename", "filename2", "strerror", "text", "reason", "object", "msg")


def _is_transport_object(value: object) -> bool:
    """An httpx/httpcore request, response, URL, headers... (they hold signed URLs and key headers)."""
    module = type(value).__module__.split(".", 1)[0]
    return module in _FOREIGN_MODULES and not isinstance(value, BaseException)


def _scrub_value(value: Any, secrets: SecretSet, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, (bytes, bytearray)):
        return _redact_bytes(bytes(value), secrets)
    if depth < 3 and isinstance(value, (tuple, list)):
        return type(value)(_scrub_value(item, secrets, depth + 1) for item in value)
    if depth < 3 and isinstance(value, dict):
        return {k: _scrub_value(v, secrets, depth + 1) for k, v in value.items()}
    if _is_transport_object(value):
        return None
    return value


def _scrub_one(exc: BaseException, secrets: SecretSet) -> None:
    with suppress(AttributeError, TypeError):  # an exotic exception type
        exc.args = tuple(_scrub_value(arg, secrets) for arg in exc.args)
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        notes[:] = [redact(n, secrets) if isinstance(n, str) else n for n in notes]
    for name, value in list(getattr(exc, "__dict__", {}).items()):
        if name == "__notes__":
            continue
        scrubbed = _scrub_value(value, secrets)
        if scrubbed is not value:
            with suppress(AttributeError, TypeError):  # a read-only property
                setattr(exc, name, scrubbed)
    for name in _BUILTIN_TEXT_ATTRS:
        if name in getattr(exc, "__dict__", {}):
            continue
        value = getattr(exc, name, None)
        if isinstance(value, (str, bytes)):
            scrubbed = _scrub_value(value, secrets)
            if scrubbed != value:
                with suppress(AttributeError, TypeError):
                    setattr(exc, name, scrubbed)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception chained to it (causes, contexts, group members), once each."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)


def scrub_exception(
    exc: BaseException, secrets: SecretSet | None = None, *, clear_frames: bool = False
) -> BaseException:
    """Redact ``exc`` and every exception chained to it, in place; return ``exc``.

    Messages, notes and string attributes are redacted with ``secrets`` plus the :data:`LIVE` ones;
    httpx/httpcore objects held as attributes (requests with key headers, signed URLs, responses)
    are dropped. With ``clear_frames`` the local variables of every finished frame of their
    tracebacks are cleared (:func:`traceback.clear_frames`), so error trackers that capture locals
    find no key, signer or request there; file names, line numbers and functions stay.
    """
    known = LIVE.snapshot() if secrets is None else LIVE.snapshot().union(secrets)
    for current in _chain(exc):
        _scrub_one(current, known)
        if clear_frames and current.__traceback__ is not None:
            traceback.clear_frames(current.__traceback__)
    return exc

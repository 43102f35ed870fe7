"""The one error taxonomy of txsync.

Every failure a host application can meet is a :class:`TxsyncError`. Connector failures are split by
what the engine (and the user) must do about them:

* :class:`AuthError` / :class:`PermissionDeniedError` - the user must act (new key, other rights);
  the connection is disabled with the reason and never retried automatically.
* :class:`RateLimitedError` / :class:`TransientError` - retried with backoff by the HTTP layer; if
  retries run out the sync stops and reports it.
* :class:`BannedError` - the exchange banned the IP: stop at once, report when the ban ends.
* :class:`BadRequestError` / :class:`BadResponseError` - a bug or an API change: reported, not retried.

* :class:`RequestDeadlineError` / :class:`ResponseTooLargeError` / :class:`StreamBudgetError` - a
  server that trickles bytes, sends an endless or huge body, or pages forever: the work is cut at a
  bound, the stream fails with a report entry, what was committed before stays.

Messages never contain secrets: they are built from status codes, endpoint paths and the exchange's
error code and message, never from request headers or signed query strings; and every constructor
redacts its text once more with the secrets in use at that moment (the keys of open HTTP clients and
of the sync in progress, see :mod:`txsync._redaction`), so a message echoing a key is masked even
when its author forgot.
"""

from __future__ import annotations

from datetime import datetime

from txsync._redaction import redact_live


def _redacted(value: object) -> object:
    return redact_live(value) if isinstance(value, str) else value


class TxsyncError(Exception):
    """Base class of every error raised by txsync. Its message is redacted when it is built."""

    #: Whether retrying the same request may succeed.
    retryable: bool = False
    #: Whether the connection must be disabled until the user acts.
    disables_connection: bool = False

    def __init__(self, *args: object) -> None:
        super().__init__(*(_redacted(arg) for arg in args))


class ModelError(TxsyncError, ValueError):
    """A value given to a txsync model is invalid (float amount, naive datetime, no legs...)."""


class AmountError(ModelError):
    """A value is not an amount the ledger can hold: not a number, not finite, or outside the exact
    range every sum of the ledger can add without rounding (see :func:`txsync.models.to_amount`)."""


class ConfigurationError(TxsyncError):
    """The library or a connection is configured in a way that cannot work."""


class PluginError(TxsyncError):
    """A connector plugin could not be loaded or is incompatible."""


class StoreError(TxsyncError):
    """The store failed or holds data it cannot read."""


class StoreBusyError(StoreError):
    """Another writer held the store longer than the busy timeout."""


class LeaseLostError(StoreError):
    """A sync's lease on its connection expired and another worker took it: the sync stops (what it
    committed stays; pages are idempotent)."""


class UnknownConnectionError(StoreError, KeyError):
    """No connection or account with that id exists in the store."""


class UnknownEntryError(UnknownConnectionError):
    """No manual entry with that id exists in the account (or in the owner's accounts)."""


class ManualEntryError(ModelError):
    """A manual entry (or a manual account operation) the ledger cannot accept, with the reason."""


class RateLimiterUnavailableError(TxsyncError):
    """The shared rate limiter's backend (Redis) cannot be reached or answered an error.

    A sync never runs unlimited instead: it stops with this error (the whole sync, not one stream),
    and a job engine may run it again later. The message names the server (host, port, database),
    never a password.
    """


class ConnectionStateError(TxsyncError):
    """The connection's state forbids the operation (paused, or disabled with a reason)."""


class EventLoopError(TxsyncError, RuntimeError):
    """A blocking call (``Engine.connect``, ``Engine.sync_blocking``...) was made from the thread of a
    running event loop, which it would block: ``await`` its async twin instead."""


class ConnectorError(TxsyncError):
    """A connector's remote side failed. ``endpoint`` names the path, never the signed URL."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        code: str | int | None = None,
    ) -> None:
        super().__init__(message)
        self.endpoint = redact_live(endpoint) if endpoint is not None else None
        self.status = status
        self.code = redact_live(code) if isinstance(code, str) else code

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.endpoint:
            parts.append(f"endpoint={self.endpoint}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        return " ".join(parts) if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"


class AuthError(ConnectorError):
    """The credential was rejected (wrong key, bad signature, revoked, IP not whitelisted)."""

    disables_connection = True


class PermissionDeniedError(ConnectorError):
    """The credential lacks a right it needs, or holds a right txsync refuses (withdraw, trade)."""

    disables_connection = True


class RateLimitedError(ConnectorError):
    """The remote side asked us to slow down (HTTP 429 or an equivalent error code)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class BannedError(ConnectorError):
    """The remote side banned this client (Binance HTTP 418). Never retried within a sync."""

    def __init__(self, message: str, *, until: datetime | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.until = until


class TransientError(ConnectorError):
    """A failure that may go away by itself: 5xx, timeouts, dropped connections."""

    retryable = True


class RequestDeadlineError(TransientError):
    """A request did not complete (connect, send, headers and whole body) within its overall deadline:
    a server trickling bytes is cut there, whatever httpx's per-read timeouts would allow."""

    def __init__(self, message: str, *, deadline: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.deadline = deadline


class BadRequestError(ConnectorError):
    """The remote side rejected the request as malformed (a 4xx that is not auth or rate limit)."""


class BadResponseError(ConnectorError):
    """The remote side answered something we cannot read: malformed or truncated JSON, wrong shape."""


class PaginationLoopError(BadResponseError):
    """A paginator was handed the same cursor twice: the remote side is not advancing."""


class ResponseTooLargeError(BadResponseError):
    """A response body is larger than the client's limit (announced or while streaming, after
    decompression): it is refused before more than the limit is held in memory. Not retried."""

    def __init__(self, message: str, *, limit: int | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.limit = limit


class StreamBudgetError(ConnectorError):
    """A stream used up its budget for one sync (pages, or wall-clock seconds): a server paging
    forever or growing its cursor forever. The stream fails with this in the report; the pages
    committed before stay, and the next sync resumes after them. ``budget`` is ``"pages"`` or
    ``"seconds"``."""

    def __init__(
        self, message: str, *, stream: str | None = None, budget: str | None = None, **kw: object
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.stream = stream
        self.budget = budget


class InvalidRecordError(BadResponseError):
    """One record of a stream is malformed: a missing or mistyped field, an unreadable amount or
    time, an identity txsync refuses (empty, too long, control or bidi characters, non-ASCII digits).

    ``stream`` names the stream, ``record`` the record (its id, or ``None`` when the id itself is the
    problem) and ``field`` the field at fault (``None`` when the record as a whole is). The message
    shows values only as short, escaped previews.
    """

    def __init__(
        self,
        message: str,
        *,
        stream: str | None = None,
        record: str | None = None,
        field: str | None = None,
        **kw: object,
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.stream = stream
        self.record = record
        self.field = field


class DuplicateRecordError(InvalidRecordError):
    """One page holds two records with the same identity and different content: the remote side
    contradicts itself, and txsync never picks one of them silently."""


class VaultError(TxsyncError):
    """A sealed credential cannot be sealed or opened. Messages name keys and formats, never secrets."""


class SealedFormatError(VaultError):
    """A sealed blob is not in a format this version reads: truncated, garbled or an unknown version."""


class TamperedError(VaultError):
    """A sealed blob failed authentication: it was altered, or it belongs to another connection or field."""


class KeyUnavailableError(VaultError):
    """The master key a blob needs is missing, wrong, or retired (the vault fails closed)."""


class MasterKeyError(VaultError, ConfigurationError):
    """The master key itself is missing, unreadable, world-readable or malformed."""


class FileImportError(TxsyncError, ValueError):
    """A file given to an importer cannot be read: its header, a row, a time, an amount, its encoding.

    ``source`` names the file (or archive member), ``row`` the 1-based data row (header excluded),
    ``line`` the physical line (or spreadsheet row) where that row starts, ``column`` the column at
    fault and ``value`` the offending text (shortened). Nothing of a file that raises this is stored.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str,
        row: int | None = None,
        line: int | None = None,
        column: str | None = None,
        value: str | None = None,
        line_label: str = "line",
    ) -> None:
        where = source
        if row is not None:
            where += f": row {row}"
            if line is not None:
                where += f" ({line_label} {line})"
        elif line is not None:
            where += f": {line_label} {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")
        self.detail = message
        self.source = source
        self.row = row
        self.line = line
        self.column = column
        self.value = value
        self.line_label = line_label


class FileLimitError(FileImportError):
    """A file exceeds a safety limit: too large, expands too much (an archive bomb), a line too long,
    too many archive members, or it is not a regular file at all (a device, a pipe)."""


class LinkError(TxsyncError, ValueError):
    """A transfer link the user asked for cannot be made or undone: an unknown transaction, two
    transactions of one account or of different owners, no asset that leaves one and enters the other,
    or a transaction already linked by hand to another one (unlink it first)."""

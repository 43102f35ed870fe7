"""Reading the records of a remote answer: typed fields, safe identities, typed errors.

Every connector turns the JSON an API sent into records and transactions. The data is not trusted:
a field may be missing, of another type, a huge or non-finite number, a string full of control
characters. This module is the one place that reads such data, so every connector refuses it the
same way, with an :class:`~txsync.errors.InvalidRecordError` naming the stream, the record and the
field, never a ``KeyError`` or ``TypeError`` from deep inside a normalizer:

* :class:`Fields` reads one record (a JSON object): ``int_id`` / ``text_id`` for identities,
  ``amount`` (the ledger's one amount rule, :func:`txsync.models.to_amount`), ``integer``,
  ``text`` / ``asset`` / ``label`` for strings, ``ms_time`` / ``seconds_time`` for epoch times,
  ``object`` / ``array`` for nested values, and ``convert`` for a connector's own parser.
* :func:`check_identity` is the identity rule (ids, hashes, composed source ids): non-empty, at most
  :data:`IDENTITY_MAX_LENGTH` characters, no surrounding whitespace, printable (no NUL, no control,
  no bidi override or zero-width character) and no digit outside ASCII (``"١٢٣"`` is not ``"123"``).
* :func:`record_errors` is the backstop around the normalization of one record: any ``KeyError``,
  ``TypeError``, ``ValueError`` (a pydantic validation error too), ``ArithmeticError`` or
  ``RecursionError`` becomes an ``InvalidRecordError`` naming the record, and arithmetic inside it is
  exact (:data:`txsync.models.values.EXACT`: an inexact result raises instead of rounding).
* :func:`unique_records` drops exact repeats in a page and refuses two records with one identity
  and different content (:class:`~txsync.errors.DuplicateRecordError`).

Messages show values only as short escaped previews (``ascii``), never whole payloads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any, TypeVar

from pydantic import ValidationError

from txsync.connector.base import RawRecord
from txsync.errors import BadResponseError, DuplicateRecordError, InvalidRecordError, PaginationLoopError
from txsync.models.values import EXACT, to_amount

__all__ = [
    "IDENTITY_MAX_LENGTH",
    "TEXT_MAX_LENGTH",
    "Fields",
    "RecordName",
    "check_identity",
    "checked_records",
    "clean_label",
    "preview",
    "record_errors",
    "unique_records",
]

T = TypeVar("T")

#: The longest identity accepted: the store's source id column (an EVM token transfer key without a
#: log index - hash, contract, both addresses, a 78-digit token id and value - is about 360).
IDENTITY_MAX_LENGTH = 400
#: The longest text field accepted by :meth:`Fields.text` unless told otherwise.
TEXT_MAX_LENGTH = 256
#: Digits an integer id may have (Binance ids have 19 at most).
_INT_ID_DIGITS = 40
#: Epoch milliseconds of 10000-01-01: later times do not fit a ``datetime``.
_MAX_MS = 253_402_300_800_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PREVIEW = 40
_MISSING: Any = object()


def preview(value: Any, limit: int = _PREVIEW) -> str:
    """A short, escaped rendering of ``value`` for an error message (``'ab\\u202ec...'``)."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + "..."
        return ascii(text)
    if value is None or isinstance(value, bool | int | Decimal):
        text = str(value)
        return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
    return f"a {type(value).__name__}"


def check_identity(value: str, *, max_length: int = IDENTITY_MAX_LENGTH) -> str:
    """Return ``value`` if it is a usable identity, else raise ``ValueError`` saying what is wrong.

    An identity is non-empty, at most ``max_length`` characters, without surrounding whitespace,
    made only of printable characters (``str.isprintable``: no NUL, control, format - bidi
    overrides, zero-width characters - or separator other than the ASCII space) and without any
    digit outside ASCII (Arabic-Indic or superscript digits would read as other ids' numbers).
    Letters outside ASCII are allowed (asset names such as Binance's ``币安人生``).
    """
    if not value:
        raise ValueError("is empty")
    if len(value) > max_length:
        raise ValueError(f"is {len(value)} characters long, more than {max_length}")
    if value != value.strip():
        raise ValueError(f"has surrounding whitespace: {preview(value)}")
    if not value.isascii():
        for ch in value:
            if ch.isdigit() and not ch.isascii():
                raise ValueError(f"holds a digit outside ASCII: {preview(value)}")
    if not value.isprintable():
        raise ValueError(f"holds control or invisible characters: {preview(value)}")
    return value


def _where(stream: str, record: str | None) -> str:
    if record is None:
        return f"a {stream} record"
    return f"{stream} record {preview(record, 60)}"


def _record_error(
    stream: str, record: str | None, field: str | None, problem: str
) -> InvalidRecordError:
    where = _where(stream, record)
    what = f"{where}: field {field!r} {problem}" if field else f"{where}: {problem}"
    return InvalidRecordError(what, stream=stream, record=record, field=field)


class Fields:
    """Typed reads of one record (a JSON object) of ``stream``; every failure is an
    :class:`~txsync.errors.InvalidRecordError` naming ``stream``, ``record`` and the field.

    ``record`` is the record's id once known (``None`` while reading the id itself); ``path`` the
    prefix of nested objects (``"prevout."``), so fields are named as in the payload.
    """

    __slots__ = ("_data", "path", "record", "stream")

    def __init__(self, payload: Any, *, stream: str, record: str | None = None, path: str = "") -> None:
        self.stream = stream
        self.record = record
        self.path = path
        if not isinstance(payload, Mapping):
            where = f"field {path.rstrip('.')!r} " if path else ""
            raise _record_error(stream, record, None, f"{where}is {preview(payload)}, not a JSON object")
        self._data: Mapping[str, Any] = payload

    @property
    def data(self) -> Mapping[str, Any]:
        """The record itself."""
        return self._data

    def named(self, record: str) -> Fields:
        """The same reader, naming the record ``record`` from now on (once its id is read)."""
        return Fields(self._data, stream=self.stream, record=record, path=self.path)

    def error(self, name: str | None, problem: str) -> InvalidRecordError:
        """The error for a problem with field ``name`` (``None``: the record as a whole)."""
        return _record_error(self.stream, self.record, f"{self.path}{name}" if name else None, problem)

    # -- presence ----------------------------------------------------------------------------------

    def raw(self, name: str, default: Any = None) -> Any:
        """The field's value as received (``default`` when absent); no check."""
        return self._data.get(name, default)

    def has(self, name: str) -> bool:
        """Whether the field is present and neither ``null`` nor ``""``."""
        return self._data.get(name) not in (None, "")

    def _required(self, name: str, default: Any) -> Any:
        value = self._data.get(name)
        if value is None or value == "":
            if default is not _MISSING:
                return _MISSING
            raise self.error(name, "is missing")
        return value

    # -- identities --------------------------------------------------------------------------------

    def int_id(self, name: str) -> int:
        """An integer id: a non-negative JSON integer or a string of ASCII digits."""
        value = self._required(name, _MISSING)
        if isinstance(value, bool):
            raise self.error(name, "is a boolean, not an id")
        if isinstance(value, int):
            if value < 0 or value.bit_length() > 133:  # 133 bits ~ 40 digits
                raise self.error(name, f"is {preview(value)}, not a usable id")
            return value
        if isinstance(value, str):
            if len(value) <= _INT_ID_DIGITS and value.isascii() and value.isdigit():
                return int(value)
            raise self.error(name, f"is {preview(value)}, not an id of ASCII digits")
        raise self.error(name, f"is {preview(value)}, not an integer id")

    def text_id(self, name: str, *, allow_int: bool = False, max_length: int = IDENTITY_MAX_LENGTH) -> str:
        """A string id checked by :func:`check_identity` (with ``allow_int``, a JSON integer too)."""
        value = self._required(name, _MISSING)
        if allow_int and isinstance(value, int) and not isinstance(value, bool):
            if value < 0 or value.bit_length() > 133:
                raise self.error(name, f"is {preview(value)}, not a usable id")
            return str(value)
        if not isinstance(value, str):
            raise self.error(name, f"is {preview(value)}, not a string id")
        try:
            return check_identity(value, max_length=max_length)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None

    # -- scalars -----------------------------------------------------------------------------------

    def amount(self, name: str, default: Decimal | None = None) -> Decimal:
        """An exact amount (:func:`txsync.models.to_amount`: JSON number or decimal string, finite,
        within the ledger's range). ``default`` is returned when the field is absent, null or empty;
        without one, that is an error."""
        value = self._required(name, _MISSING if default is None else default)
        if value is _MISSING:
            assert default is not None
            return default
        try:
            return to_amount(value)
        except ValueError as exc:
            raise self.error(name, f"is not a usable amount: {exc}") from None

    def optional_amount(self, name: str) -> Decimal | None:
        """:meth:`amount`, or ``None`` when the field is absent, null or empty."""
        if not self.has(name):
            return None
        return self.amount(name)

    def integer(
        self, name: str, *, minimum: int | None = None, maximum: int | None = None, default: int | None = None
    ) -> int:
        """An integer: a JSON integer or a string of ASCII digits (with an optional sign)."""
        value = self._required(name, _MISSING if default is None else default)
        if value is _MISSING:
            assert default is not None
            return default
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            if value.adjusted() <= _INT_ID_DIGITS:
                number = int(value)
        elif isinstance(value, str):
            text = value.strip()
            digits = text[1:] if text[:1] in "+-" else text
            if 0 < len(digits) <= 80 and digits.isascii() and digits.isdigit():
                number = int(text)
        if number is None:
            raise self.error(name, f"is {preview(value)}, not an integer")
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise self.error(name, f"is {preview(number)}, outside {minimum}..{maximum}")
        return number

    def text(
        self,
        name: str,
        *,
        max_length: int = TEXT_MAX_LENGTH,
        default: str | None = None,
        allow_int: bool = False,
    ) -> str:
        """A string of printable characters without surrounding whitespace (what :func:`check_identity`
        accepts); ``default`` when absent, null or empty. ``allow_int`` reads a JSON integer as text."""
        value = self._required(name, _MISSING if default is None else default)
        if value is _MISSING:
            assert default is not None
            return default
        if allow_int and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise self.error(name, f"is {preview(value)}, not a string")
        try:
            return check_identity(value, max_length=max_length)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None

    def optional_text(
        self, name: str, *, max_length: int = TEXT_MAX_LENGTH, allow_int: bool = False
    ) -> str | None:
        """:meth:`text`, or ``None`` when the field is absent, null or empty."""
        if not self.has(name):
            return None
        return self.text(name, max_length=max_length, allow_int=allow_int)

    def asset(self, name: str) -> str:
        """An asset symbol: :meth:`text` without any whitespace, at most 100 characters."""
        symbol = self.text(name, max_length=100)
        if any(ch.isspace() for ch in symbol):
            raise self.error(name, f"is {preview(symbol)}, not an asset symbol (it holds spaces)")
        return symbol

    def label(self, name: str, *, max_length: int = TEXT_MAX_LENGTH) -> str | None:
        """Free text for display (a description, a token name): control and invisible characters
        are dropped, whitespace collapsed, the result cut at ``max_length``; ``None`` if nothing is
        left or the field is not a string. Never raises: use it for text the user only reads."""
        value = self._data.get(name)
        if not isinstance(value, str):
            return None
        return clean_label(value, max_length)

    def boolean(self, name: str, default: bool | None = None) -> bool:
        """A JSON boolean (``default`` when absent or null)."""
        value = self._data.get(name)
        if value is None and default is not None:
            return default
        if not isinstance(value, bool):
            raise self.error(name, f"is {preview(value)}, not a boolean")
        return value

    # -- times -------------------------------------------------------------------------------------

    def ms_time(self, name: str) -> datetime:
        """Epoch milliseconds (a JSON integer or a digit string) as an aware UTC datetime."""
        ms = self.integer(name)
        if not 0 <= ms < _MAX_MS:
            raise self.error(name, f"is {preview(ms)}, not a time in epoch milliseconds")
        return _EPOCH + timedelta(milliseconds=ms)

    def seconds_time(self, name: str) -> datetime:
        """Epoch seconds (a JSON integer or a digit string) as an aware UTC datetime."""
        seconds = self.integer(name)
        if not 0 <= seconds < _MAX_MS // 1000:
            raise self.error(name, f"is {preview(seconds)}, not a time in epoch seconds")
        return _EPOCH + timedelta(seconds=seconds)

    def convert(self, name: str, parse: Callable[[Any], T], what: str, *, default: Any = _MISSING) -> T:
        """``parse(value)`` of a required field; ``ValueError`` / ``TypeError`` /
        ``ArithmeticError`` / ``BadResponseError`` from it become an error saying the field is not
        ``what`` (``default`` is returned when the field is absent, null or empty, if given)."""
        value = self._required(name, default)
        if value is _MISSING:
            return default  # type: ignore[no-any-return]
        try:
            return parse(value)
        except (ValueError, TypeError, ArithmeticError, OverflowError) as exc:
            del exc
            raise self.error(name, f"is {preview(value)}, not {what}") from None
        except BadResponseError as exc:
            if isinstance(exc, InvalidRecordError | PaginationLoopError):
                raise
            raise self.error(name, f"is {preview(value)}, not {what}") from None

    # -- nested values -----------------------------------------------------------------------------

    def object(self, name: str) -> Fields:
        """A nested JSON object as its own reader (fields named ``name.field`` in errors)."""
        value = self._data.get(name)
        if not isinstance(value, Mapping):
            raise self.error(name, f"is {preview(value)}, not a JSON object")
        return Fields(value, stream=self.stream, record=self.record, path=f"{self.path}{name}.")

    def optional_object(self, name: str) -> Fields | None:
        """:meth:`object`, or ``None`` when the field is absent or null."""
        return None if self._data.get(name) is None else self.object(name)

    def array(self, name: str, *, optional: bool = False) -> list[Any]:
        """A JSON array (empty when ``optional`` and absent or null)."""
        value = self._data.get(name)
        if value is None and optional:
            return []
        if not isinstance(value, list):
            raise self.error(name, f"is {preview(value)}, not a JSON array")
        return value

    def objects(self, name: str, *, optional: bool = False) -> list[Fields]:
        """A JSON array of objects, each as its own reader (``name[i].`` in messages)."""
        items = self.array(name, optional=optional)
        out = []
        for i, item in enumerate(items):
            out.append(Fields(item, stream=self.stream, record=self.record, path=f"{self.path}{name}[{i}]."))
        return out


def clean_label(value: str, max_length: int = TEXT_MAX_LENGTH) -> str | None:
    """``value`` without control or invisible characters, whitespace collapsed, cut at ``max_length``
    (``None`` if nothing is left)."""
    kept = "".join(ch if ch.isprintable() else " " for ch in value[: max_length * 4])
    text = " ".join(kept.split())[:max_length]
    return text or None


_READ_ERRORS = (KeyError, IndexError, TypeError, ValueError, ArithmeticError, AttributeError, RecursionError)


def _summary(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors(include_url=False, include_input=False)[:3]:
            loc = ".".join(str(part) for part in error.get("loc", ()))
            parts.append(f"{loc}: {error.get('msg', '')}" if loc else str(error.get("msg", "")))
        return "; ".join(parts)[:300]
    if isinstance(exc, KeyError):
        return f"field {preview(exc.args[0]) if exc.args else '?'} is missing"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, ValueError) and type(exc).__module__.startswith("txsync"):
        return str(exc)[:300]
    return f"cannot be read ({type(exc).__name__})"


@dataclass
class RecordName:
    """The record :func:`record_errors` names; ``record`` may be set inside the block, once known."""

    record: str | None


@contextmanager
def record_errors(stream: str, record: str | None) -> Iterator[RecordName]:
    """Run the reading of one record: every untyped failure becomes an :class:`InvalidRecordError`
    naming ``stream`` and ``record``, and arithmetic is exact (an inexact result raises).

    A :class:`~txsync.errors.BadResponseError` that names no record is re-raised naming this one;
    other txsync errors pass unchanged. The block may set ``.record`` on the value it is given when
    the record is only known inside it. Do not ``yield`` from a generator inside this block (the
    exact decimal context would leak to the consumer): build the record's transactions, then yield.
    """
    name = RecordName(record)
    try:
        with localcontext(EXACT):
            yield name
    except InvalidRecordError as exc:
        if exc.record is None and name.record is not None and exc.stream in (None, stream):
            raise _record_error(stream, name.record, exc.field, _strip_where(str(exc), exc.stream)) from None
        raise
    except (PaginationLoopError, DuplicateRecordError):
        raise
    except BadResponseError as exc:
        raise _record_error(stream, name.record, None, str(exc)) from None
    except _READ_ERRORS as exc:
        raise _record_error(stream, name.record, None, _summary(exc)) from None


def _strip_where(message: str, stream: str | None) -> str:
    prefix = _where(stream, None) + ": " if stream else ""
    return message[len(prefix) :] if prefix and message.startswith(prefix) else message


def unique_records(records: Iterable[RawRecord], *, stream: str) -> list[RawRecord]:
    """``records`` in order without exact repeats (same id and payload, kept once); two records with
    one id and different payloads raise :class:`~txsync.errors.DuplicateRecordError`."""
    out: list[RawRecord] = []
    seen: dict[str, Any] = {}
    for rec in records:
        if rec.source_id in seen:
            if seen[rec.source_id] != rec.payload:
                raise DuplicateRecordError(
                    f"{_where(stream, rec.source_id)}: appears twice in one page with different content",
                    stream=stream,
                    record=rec.source_id,
                )
            continue
        seen[rec.source_id] = rec.payload
        out.append(rec)
    return out


def checked_records(records: Iterable[RawRecord], *, stream: str) -> list[RawRecord]:
    """:func:`unique_records` after checking every source id with :func:`check_identity`."""
    for rec in records:
        if not isinstance(rec.source_id, str):
            raise InvalidRecordError(
                f"a {stream} record has a source id of type {type(rec.source_id).__name__}", stream=stream
            )
        try:
            check_identity(rec.source_id)
        except ValueError as exc:
            raise InvalidRecordError(f"a {stream} record: its id {exc}", stream=stream, field="id") from None
    return unique_records(records, stream=stream)

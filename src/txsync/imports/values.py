"""Cell values of imported files: exact bounded amounts, times in UTC or a named time zone, symbols, text.

Every function raises ``ValueError`` with a short message naming the value; the readers turn it into a
:class:`~txsync.errors.FileImportError` that names the file, the row and the column.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Context, Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from txsync.errors import ConfigurationError
from txsync.models.values import AMOUNT_MAX_DECIMALS, AMOUNT_MAX_INTEGER_DIGITS

__all__ = [
    "MAX_FRACTION_DIGITS",
    "MAX_INTEGER_DIGITS",
    "canonical_amount",
    "check_symbol",
    "check_text",
    "local_to_utc",
    "minute_precision",
    "parse_amount",
    "parse_amount_canonical",
    "parse_time",
    "short",
    "time_key",
    "time_text",
    "zone",
]

#: The largest amount a file may hold has this many digits before the point, and this many after it
#: (trailing zeros do not count): the ledger's one amount rule (txsync.models.values), so what a file
#: holds can always be summed exactly.
MAX_INTEGER_DIGITS = AMOUNT_MAX_INTEGER_DIGITS
MAX_FRACTION_DIGITS = AMOUNT_MAX_DECIMALS

_AMOUNT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?$", re.ASCII)
_PLAIN = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?", re.ASCII)
#: Normalizing must never round (the default context keeps 28 digits): wide enough for any amount the
#: pattern admits (at most 4 exponent digits are refused later as too large or too fine).
_WIDE = Context(prec=100_000)


def short(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def parse_amount_canonical(text: str) -> tuple[Decimal, str]:
    """:func:`parse_amount` and the canonical text of the amount (:func:`canonical_amount`)."""
    value = text.strip()
    match = _PLAIN.fullmatch(value)
    if match is not None and (match[2] or match[3]):
        integer = match[2].lstrip("0")
        fraction = (match[3] or "").rstrip("0")
        if len(integer) > MAX_INTEGER_DIGITS:
            raise ValueError(f"{short(value)!r} is too large for an amount (more than {MAX_INTEGER_DIGITS} "
                             "digits before the point)")
        if len(fraction) > MAX_FRACTION_DIGITS:
            raise ValueError(f"{short(value)!r} has more than {MAX_FRACTION_DIGITS} decimals")
        if not integer and not fraction:
            return Decimal(0), "0"
        canonical = ("-" if match[1] == "-" else "") + (integer or "0") + ("." + fraction if fraction else "")
        if match[3] and len(match[3]) > MAX_FRACTION_DIGITS:
            return Decimal(canonical), canonical
        return Decimal(value), canonical
    amount = parse_amount(value)
    return amount, canonical_amount(amount)


def parse_amount(text: str) -> Decimal:
    """A signed exact amount: plain decimals and scientific notation (``-1.5E-7``), nothing else.

    Refused: thousands separators and decimal commas (``1,5``), NaN, infinities, hex, and amounts
    the ledger cannot sum exactly (more than :data:`MAX_INTEGER_DIGITS` digits before the point or
    :data:`MAX_FRACTION_DIGITS` significant digits after it, such as ``1e400``). The result has no
    exponent (``1E+3`` becomes ``1000``) and ``-0`` is ``0``.
    """
    value = text.strip()
    match = _PLAIN.fullmatch(value)
    if (match is not None and (match[2] or match[3]) and len(match[3] or "") <= MAX_FRACTION_DIGITS
            and len(match[2].lstrip("0")) <= MAX_INTEGER_DIGITS):
        amount = Decimal(value)  # a plain decimal within bounds: the fast path
        return amount if amount else Decimal(0)
    if not _AMOUNT.match(value):
        if "," in value and re.fullmatch(r"[+-]?[0-9.,]+", value):
            raise ValueError(f"{short(value)!r} is not a number (write decimals with a point, without "
                             "thousands separators)")
        raise ValueError(f"{short(value)!r} is not a number")
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise ValueError(f"{short(value)!r} is not a number") from None
    if not amount:
        return Decimal(0)
    _, digits, exponent = amount.normalize(_WIDE).as_tuple()
    assert isinstance(exponent, int)  # finite: the pattern admits no NaN or infinity
    integer_digits = len(digits) + exponent
    fraction_digits = -exponent if exponent < 0 else 0
    if integer_digits > MAX_INTEGER_DIGITS:
        raise ValueError(f"{short(value)!r} is too large for an amount (more than {MAX_INTEGER_DIGITS} "
                         "digits before the point)")
    if fraction_digits > MAX_FRACTION_DIGITS:
        raise ValueError(f"{short(value)!r} has more than {MAX_FRACTION_DIGITS} decimals")
    raw_exponent = amount.as_tuple().exponent
    assert isinstance(raw_exponent, int)
    if raw_exponent < -MAX_FRACTION_DIGITS:  # trailing zeros beyond what any asset uses
        amount = amount.normalize(_WIDE)
    return Decimal(format(amount, "f"))


def canonical_amount(amount: Decimal) -> str:
    """The canonical text of an amount (no exponent, no trailing zeros, no negative zero)."""
    if not amount:
        return "0"
    return format(amount.normalize(_WIDE), "f")


# -- times --------------------------------------------------------------------------------------------

_TIME = re.compile(
    r"""^(?P<y>\d{4}|\d{2})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})
        (?:[ T]+|\s*,\s*)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?
        \s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$""",
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)
_DAY_FIRST = re.compile(
    r"""^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})
        (?:[ T]+|\s*,\s*)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?
        \s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$""",
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)


def zone(name: object) -> tzinfo:
    """The time zone an import option names (an IANA name such as ``Europe/Paris``; ``None`` = UTC)."""
    if name is None or name in ("UTC", "utc", "Z"):
        return UTC
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError("the import option 'timezone' must be an IANA time zone name such as "
                                 "'Europe/Paris'")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"unknown time zone {short(name)!r}: give an IANA name such as "
                                 "'Europe/Paris' or 'America/New_York'") from None


def parse_time(text: str, tz: tzinfo = UTC, *, day_first_dots: bool = False) -> datetime:
    """A file's time as an aware UTC datetime.

    Accepted: ``YYYY-MM-DD HH:MM[:SS[.fraction]]`` and its variants (``T`` as separator, ``/`` or
    ``.`` between date parts, a two-digit year read as 20YY), with an optional ``Z`` / ``UTC`` /
    ``+hh:mm`` suffix. With ``day_first_dots`` (CoinTracking), also ``DD.MM.YYYY HH:MM[:SS]``.
    A time with a suffix is converted from it; a time without one is read in ``tz`` (UTC unless the
    import names a time zone). A local time that a daylight-saving change makes ambiguous or
    non-existent is refused. Day-first or month-first dates with slashes (``04/03/2021``) are refused:
    they are ambiguous.
    """
    value = text.strip()
    if (len(value) == 19 and value[4] == "-" and value[7] == "-" and value[10] in " T" and value[13] == ":"
            and value[16] == ":" and value.isascii()):
        try:
            naive = datetime.fromisoformat(value)
        except ValueError:
            pass  # the slow path gives the precise message
        else:
            return local_to_utc(naive, tz, value)
    match = _TIME.match(value) or (_DAY_FIRST.match(value) if day_first_dots else None)
    if match is None:
        raise ValueError(f"{short(value)!r} is not a time like 2021-03-04 12:00:00")
    year = int(match["y"])
    if len(match["y"]) == 2:
        year += 2000
    fraction = (match["f"] or "").ljust(6, "0")[:6]
    try:
        naive = datetime(year, int(match["m"]), int(match["d"]), int(match["H"]), int(match["M"]),  # noqa: DTZ001
                         int(match["S"] or 0), int(fraction or 0))
    except ValueError as exc:
        raise ValueError(f"{short(value)!r} is not a valid time ({exc})") from None
    suffix = (match["tz"] or "").upper()
    if suffix in ("Z", "UTC", "GMT"):
        return naive.replace(tzinfo=UTC)
    if suffix:
        digits = suffix[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if offset >= timedelta(hours=24):
            raise ValueError(f"{short(value)!r} has an invalid UTC offset")
        return naive.replace(tzinfo=timezone(offset if suffix[0] == "+" else -offset)).astimezone(UTC)
    return local_to_utc(naive, tz, value)


def minute_precision(text: str) -> bool:
    """Whether a time text (as :func:`parse_time` reads it) gives no seconds (``2021-03-04 12:34``)."""
    value = text.strip()
    match = _TIME.match(value) or _DAY_FIRST.match(value)
    return match is not None and match["S"] is None


def local_to_utc(naive: datetime, tz: tzinfo, shown: str) -> datetime:
    """``naive`` read as a wall-clock time in ``tz``, in UTC; ambiguous or skipped local times refused."""
    if tz is UTC:
        return naive.replace(tzinfo=UTC)
    first = naive.replace(tzinfo=tz, fold=0)
    at = first.astimezone(UTC)
    if at.astimezone(tz).replace(tzinfo=None) != naive:
        raise ValueError(f"{short(shown)!r} does not exist in {tz} (skipped by a daylight-saving change)")
    if first.utcoffset() != naive.replace(tzinfo=tz, fold=1).utcoffset():
        raise ValueError(f"{short(shown)!r} is ambiguous in {tz}: a daylight-saving change repeats that "
                         "hour; write the time with its UTC offset")
    return at


def time_text(at: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS[.ffffff]`` of a UTC time (the form stored in raw payloads)."""
    return at.replace(tzinfo=None).isoformat(sep=" ")


def time_key(at: datetime) -> str:
    """A fixed-width, sortable text of a UTC time (``YYYY-MM-DDTHH:MM:SS.ffffff``)."""
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")


# -- text ---------------------------------------------------------------------------------------------

# C0/C1 controls (but tab, line feed, carriage return), bidirectional overrides and isolates, BOMs.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_FORBIDDEN_IN_SYMBOL = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def check_text(value: str, *, limit: int = 10_000, multiline: bool = True) -> str:
    """``value`` if it is plain text: no control or bidirectional-override characters, not too long."""
    if len(value) > limit:
        raise ValueError(f"{short(value)!r} is longer than {limit} characters")
    if _FORBIDDEN.search(value) or (not multiline and ("\n" in value or "\r" in value)):
        raise ValueError(f"{short(value)!r} holds control or direction-override characters")
    return value


def check_symbol(value: str) -> str:
    """An asset symbol: 1-200 characters, no blanks, no control or direction-override characters."""
    symbol = value.strip()
    if not symbol:
        raise ValueError("is empty")
    if len(symbol) > 200 or _FORBIDDEN_IN_SYMBOL.search(symbol):
        raise ValueError(f"{short(symbol)!r} is not an asset symbol")
    return symbol

"""Cell values of imported files: bounded exact amounts, times and zones, symbols, text."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txsync.errors import ConfigurationError
from txsync.imports.values import (
    MAX_FRACTION_DIGITS,
    MAX_INTEGER_DIGITS,
    canonical_amount,
    check_symbol,
    check_text,
    minute_precision,
    parse_amount,
    parse_amount_canonical,
    parse_time,
    zone,
)
from txsync.models.values import exact

T = datetime(2021, 3, 4, 12, 0, 0, tzinfo=UTC)
PARIS = zone("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "expected", "canonical"),
    [
        ("0.00100000", "0.001", "0.001"),
        ("-1500.20", "-1500.2", "-1500.2"),
        ("1E-8", "0.00000001", "0.00000001"),
        ("+3", "3", "3"),
        ("-0", "0", "0"),
        ("-0.000", "0", "0"),
        (".5", "0.5", "0.5"),
        ("1.", "1", "1"),
        ("100", "100", "100"),
        ("1e+3", "1000", "1000"),
        (" 7 ", "7", "7"),
        ("1" * MAX_INTEGER_DIGITS, "1" * MAX_INTEGER_DIGITS, "1" * MAX_INTEGER_DIGITS),
        ("0." + "0" * (MAX_FRACTION_DIGITS - 1) + "1", f"1E-{MAX_FRACTION_DIGITS}", "0." + "0" * (MAX_FRACTION_DIGITS - 1) + "1"),
        ("2." + "0" * 80, "2", "2"),  # trailing zeros are not digits that matter
    ],
)
def test_amounts_are_exact_and_have_one_canonical_text(text: str, expected: str, canonical: str) -> None:
    amount = parse_amount(text)
    assert isinstance(amount, Decimal) and amount == Decimal(expected)
    assert amount.as_tuple().exponent <= 0  # type: ignore[operator]  # never 1E+3
    assert parse_amount_canonical(text) == (amount, canonical)
    assert canonical_amount(amount) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e400", "too large"),
        (f"-1E+{MAX_INTEGER_DIGITS}", "too large"),
        ("1" * (MAX_INTEGER_DIGITS + 1), "too large"),
        ("1e-400", "decimals"),
        ("0." + "0" * MAX_FRACTION_DIGITS + "1", "decimals"),
        ("NaN", "not a number"),
        ("-Infinity", "not a number"),
        ("inf", "not a number"),
        ("1,5", "decimal"),
        ("1,000.50", "thousands"),
        ("0x10", "not a number"),
        ("1.2.3", "not a number"),
        ("", "not a number"),
        ("--1", "not a number"),
        ("١٢", "not a number"),  # non-ASCII digits
        ("1e99999", "not a number"),
    ],
)
def test_amounts_the_ledger_cannot_hold_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_amount(text)
    with pytest.raises(ValueError, match=message):
        parse_amount_canonical(text)


@settings(max_examples=200, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=-10**30, max_value=10**30))
def test_any_amount_within_bounds_round_trips_and_sums_exactly(value: Decimal) -> None:
    text = format(value, "f")
    try:
        amount, canonical = parse_amount_canonical(text)
    except ValueError:
        with exact():
            assert len(format(value.normalize(), "f").split(".")[-1]) > MAX_FRACTION_DIGITS
        return
    assert amount == value and Decimal(canonical) == value
    assert parse_amount(canonical) == value
    with exact():  # a thousand of the largest amounts still sum without rounding
        total = sum((amount for _ in range(1000)), Decimal(0))
        assert total == value * 1000


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2021-03-04 12:00:00", UTC, T),
        ("2021-03-04T12:00:00", UTC, T),
        ("2021-03-04 12:00 UTC", UTC, T),
        ("2021-03-04 12:00:00Z", UTC, T),
        ("2021-03-04 14:00:00+02:00", UTC, T),
        ("2021-03-04 13:00:00", PARIS, T),  # winter: UTC+1
        ("2021-07-04 14:00:00", PARIS, T.replace(month=7)),  # summer: UTC+2
        ("2021-03-04 12:00:00Z", PARIS, T),  # an explicit suffix wins over the option
        ("2021-03-04 12:00:00 UTC", PARIS, T),
        ("2021-03-04 12:00:00.250", UTC, T.replace(microsecond=250000)),
    ],
)
def test_times_are_utc_unless_the_file_or_the_option_says_otherwise(text: str, tz: object, expected: datetime
                                                                   ) -> None:
    got = parse_time(text, tz)  # type: ignore[arg-type]
    assert got == expected and got.tzinfo is UTC


def test_day_first_dotted_dates_only_where_the_format_uses_them() -> None:
    assert parse_time("04.03.2021 12:00", day_first_dots=True) == T
    assert parse_time("04.03.2021 12:00:00", day_first_dots=True) == T
    with pytest.raises(ValueError, match="not a time"):
        parse_time("04.03.2021 12:00")
    with pytest.raises(ValueError, match="not a time"):
        parse_time("04/03/2021 12:00:00", day_first_dots=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2021-10-31 02:30:00", "ambiguous"),  # the hour Paris repeats
        ("2021-03-28 02:30:00", "does not exist"),  # the hour Paris skips
        ("2021-02-30 10:00:00", "not a valid time"),
        ("2021-03-04", "not a time"),
        ("yesterday", "not a time"),
        ("2021-03-04 12:00:00+25:00", "offset"),
    ],
)
def test_bad_and_ambiguous_local_times_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_time(text, PARIS)


def test_time_zone_option() -> None:
    assert zone(None) is UTC and zone("UTC") is UTC
    assert str(zone("America/New_York")) == "America/New_York"
    for bad in ("Mars/Olympus", "", 5, "../../etc/passwd"):
        with pytest.raises(ConfigurationError, match="time zone"):
            zone(bad)


def test_minute_precision() -> None:
    assert minute_precision("2021-03-04 12:34 UTC") and minute_precision("04.03.2021 12:34")
    assert not minute_precision("2021-03-04 12:34:56")


def test_symbols_and_text() -> None:
    assert check_symbol(" BTC ") == "BTC" and check_symbol("ID:1234") == "ID:1234"
    for bad in ("", "B TC", "BT\u202eC", "X" * 201, "A\x00"):
        with pytest.raises(ValueError, match=r"empty|not an asset symbol"):
            check_symbol(bad)
    assert check_text("two\nlines\tok") == "two\nlines\tok"
    for bad in ("nul\x00", "bell\x07", "rtl\u202eoverride", "bom\ufeff"):
        with pytest.raises(ValueError, match="control"):
            check_text(bad)
    with pytest.raises(ValueError, match="control"):
        check_text("a\nb", multiline=False)
    with pytest.raises(ValueError, match="longer"):
        check_text("x" * 11, limit=10)

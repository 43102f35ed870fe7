"""The shared validation layer: typed field reads, the identity rule, the per-record backstop."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txsync.connector import RawRecord
from txsync.errors import BadResponseError, DuplicateRecordError, InvalidRecordError, TxsyncError
from txsync.fields import Fields, check_identity, checked_records, clean_label, record_errors, unique_records
from txsync.models import Leg

HOSTILE_IDS: list[Any] = [
    None,
    "",
    [1],
    {"id": 1},
    True,
    Decimal("Infinity") if False else Decimal("1E+400"),
    "12\x003",
    "abc\u202edef",  # right-to-left override
    "ab\u200bc",  # zero-width space
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "12³",  # a superscript digit
    " 123",
    "x" * 10_000,
    "line\nbreak",
]


@pytest.mark.parametrize("value", HOSTILE_IDS, ids=lambda v: ascii(v)[:20])
def test_hostile_text_ids_are_refused_with_the_stream_record_and_field(value: Any) -> None:
    fields = Fields({"id": value}, stream="deposits", record=None)
    with pytest.raises(InvalidRecordError) as caught:
        fields.text_id("id")
    error = caught.value
    assert error.stream == "deposits" and error.field == "id" and error.record is None
    assert str(error).startswith("a deposits record: field 'id' ")
    assert len(str(error)) < 300  # a preview, never the whole value
    assert "\x00" not in str(error) and "\u202e" not in str(error)


@pytest.mark.parametrize(
    "value", [None, "", [1], {}, True, -1, 1.5, Decimal("1E+400"), "1e3", "\u0661\u0662\u0663", "12a", "9" * 41, 2**200]
)
def test_hostile_integer_ids_are_refused(value: Any) -> None:
    with pytest.raises(InvalidRecordError):
        Fields({"id": value}, stream="trades").int_id("id")


def test_good_ids_pass() -> None:
    fields = Fields({"a": 28457, "b": "28457", "c": "BTCUSDT:1", "d": "币安人生USDT:7", "e": "Off-chain transfer 1"},
                    stream="s")
    assert fields.int_id("a") == fields.int_id("b") == 28457
    assert fields.text_id("c") == "BTCUSDT:1"
    assert fields.text_id("d") == "币安人生USDT:7"  # letters outside ASCII are fine
    assert fields.text_id("e") == "Off-chain transfer 1"
    assert fields.text_id("a", allow_int=True) == "28457"


@given(st.text(max_size=40))
@settings(max_examples=200)
def test_check_identity_never_admits_invisible_or_foreign_digits(text: str) -> None:
    try:
        check_identity(text)
    except ValueError:
        return
    assert text and text == text.strip() and text.isprintable()
    assert all(ch.isascii() for ch in text if ch.isdigit())


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "is missing"),
        ("", "is missing"),
        ("abc", "not a decimal number"),
        ("NaN", "not a decimal number"),
        ("1_000", "not a decimal number"),
        ("\u0661\u0660", "not a decimal number"),
        (Decimal("1E+400"), "below 10**78"),
        ("1e400", "below 10**78"),
        (10**400, "below 10**78"),
        ("1e-61", "at most 60 decimals"),
        (1.5, "never float"),
        ([1], "not list"),
        (True, "bool"),
    ],
)
def test_amount_fields_name_the_record_and_the_field(value: Any, problem: str) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        Fields({"qty": value}, stream="trades", record="BTCUSDT:1").amount("qty")
    message = str(caught.value)
    assert message.startswith("trades record 'BTCUSDT:1': field 'qty' ") and problem in message
    assert caught.value.record == "BTCUSDT:1" and caught.value.field == "qty"


def test_amounts_times_and_texts() -> None:
    fields = Fields(
        {"qty": "0.00100000", "n": 5, "t": 1_600_000_000_000, "s": "1600000000", "side": "BUY", "x": "a\u202eb"},
        stream="s",
        record="r",
    )
    assert fields.amount("qty") == Decimal("0.00100000") and str(fields.amount("qty")) == "0.00100000"
    assert fields.amount("missing", default=Decimal(0)) == 0
    assert fields.optional_amount("missing") is None
    assert fields.integer("n", minimum=1) == 5
    assert fields.ms_time("t") == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)
    assert fields.seconds_time("s") == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)
    assert fields.text("side") == "BUY"
    assert fields.label("x") == "a b"  # display text is cleaned, never refused
    with pytest.raises(InvalidRecordError, match="field 'x' holds control or invisible characters"):
        fields.text("x")
    with pytest.raises(InvalidRecordError, match=r"outside 6\.\.None"):
        fields.integer("n", minimum=6)
    with pytest.raises(InvalidRecordError, match="not a time in epoch milliseconds"):
        Fields({"t": 10**20}, stream="s").ms_time("t")


def test_nested_objects_are_named_by_their_path() -> None:
    fields = Fields({"vin": [{"prevout": {"value": "x"}}]}, stream="transactions", record="ab")
    (item,) = fields.objects("vin")
    prevout = item.object("prevout")
    assert item.optional_object("missing") is None
    with pytest.raises(InvalidRecordError) as caught:
        prevout.integer("value")
    assert caught.value.field == "vin[0].prevout.value"
    with pytest.raises(InvalidRecordError, match="field 'vin' is a list"):
        fields.object("vin")
    with pytest.raises(InvalidRecordError, match="not a JSON object"):
        Fields([1, 2], stream="s")


@pytest.mark.parametrize(
    "exc",
    [KeyError("qty"), TypeError("'int' object is not subscriptable"), ValueError("x"), RecursionError(),
     ZeroDivisionError(), AttributeError("x"), IndexError("x")],
)
def test_record_errors_turns_untyped_failures_into_typed_ones(exc: Exception) -> None:
    with pytest.raises(InvalidRecordError) as caught, record_errors("trades", "BTCUSDT:9"):
        raise exc
    assert caught.value.stream == "trades" and caught.value.record == "BTCUSDT:9"
    assert str(caught.value).startswith("trades record 'BTCUSDT:9': ")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_record_errors_names_the_record_of_a_pydantic_failure_and_is_exact() -> None:
    with pytest.raises(InvalidRecordError, match=r"record '1': invalid Leg: amount: an amount must be below"), \
            record_errors("deposits", "1"):
        Leg(asset="BTC", amount=Decimal("1e400"))
    with pytest.raises(InvalidRecordError, match="Inexact"), record_errors("deposits", "1"):
        _ = Decimal("1." + "1" * 100) * Decimal("1." + "1" * 100)  # 200 digits: would round silently


def test_record_errors_adds_the_record_to_an_anonymous_bad_response() -> None:
    with pytest.raises(InvalidRecordError, match=r"^s record 'r': user transaction without an integer id"), \
            record_errors("s", "r"):
        raise BadResponseError("user transaction without an integer id")
    with pytest.raises(InvalidRecordError) as caught, record_errors("s", "r"):
        Fields({}, stream="s").amount("qty")  # read before the record was named
    assert caught.value.record == "r" and caught.value.field == "qty"


def test_duplicates_in_a_page() -> None:
    same = [RawRecord("1", {"a": 1}), RawRecord("1", {"a": 1}), RawRecord("2", {"a": 2})]
    assert [r.source_id for r in unique_records(same, stream="s")] == ["1", "2"]
    with pytest.raises(DuplicateRecordError, match="appears twice in one page with different content"):
        unique_records([RawRecord("1", {"a": 1}), RawRecord("1", {"a": 2})], stream="s")
    with pytest.raises(InvalidRecordError, match="holds control"):
        checked_records([RawRecord("1\x00", {})], stream="s")


def test_clean_label() -> None:
    assert clean_label("  Visit\u202e claim.com \x00 now ") == "Visit claim.com now"
    assert clean_label("\x00\u200b") is None
    assert clean_label("x" * 1000, 10) == "x" * 10


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=10))
@settings(max_examples=100)
def test_every_reader_raises_only_typed_errors(value: Any) -> None:
    fields = Fields({"f": value}, stream="s", record="r")
    for read in (fields.int_id, fields.text_id, fields.amount, fields.integer, fields.text, fields.asset,
                 fields.ms_time, fields.seconds_time, fields.boolean, fields.object, fields.optional_object, fields.array, fields.objects):
        failure: TxsyncError | None = None
        try:
            read("f")  # type: ignore[operator]
        except TxsyncError as exc:
            failure = exc
        assert failure is None or isinstance(failure, InvalidRecordError)

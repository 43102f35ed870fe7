"""Model validation: exact amounts, aware UTC times, legs required, secrets never revealed."""

from __future__ import annotations

import copy
import json
import logging
import pickle
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txsync import jsonutil
from txsync.errors import BadResponseError, ModelError
from txsync.models import (
    Balance,
    Credential,
    Leg,
    NormalizedTransaction,
    Origin,
    RawTransaction,
    SourceRef,
    TransactionKind,
    transaction_id,
)

SENTINEL = "SENTINEL-s3cr3t-value-9f8e7d"
T = datetime(2022, 5, 6, 7, 8, 9, tzinfo=UTC)


def _tx(**over: object) -> NormalizedTransaction:
    fields: dict[str, object] = {
        "account_id": "a",
        "key": "k",
        "kind": TransactionKind.TRADE,
        "timestamp": T,
        "legs": [Leg(asset="BTC", amount="1")],
        "sources": [SourceRef(connection_id="c", stream="s", source_id="1")],
    }
    fields.update(over)
    return NormalizedTransaction(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", [1.5, float("nan"), "NaN", "Infinity", Decimal("-Infinity"), True, None, "abc"]
)
def test_amount_rejects_floats_nan_infinities_and_junk(bad: object) -> None:
    with pytest.raises(ModelError, match="amount"):
        Leg(asset="BTC", amount=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "exact"), [("0.00100000", "0.00100000"), (3, "3"), (Decimal("-1E-8"), "-1E-8")]
)
def test_amount_keeps_exact_digits(given: object, exact: str) -> None:
    assert str(Leg(asset="BTC", amount=given).amount) == exact  # type: ignore[arg-type]


def test_naive_datetime_is_refused_and_aware_is_converted_to_utc() -> None:
    with pytest.raises(ModelError, match="naive"):
        _tx(timestamp=datetime(2022, 1, 1))
    paris = timezone(timedelta(hours=2))
    tx = _tx(timestamp=datetime(2022, 1, 1, 14, 0, tzinfo=paris))
    assert tx.timestamp == datetime(2022, 1, 1, 12, 0, tzinfo=UTC)
    assert tx.timestamp.utcoffset() == timedelta(0)


def test_a_transaction_needs_legs() -> None:
    with pytest.raises(ModelError, match="at least one leg"):
        _tx(legs=[])


def test_blank_asset_and_unknown_fields_are_refused() -> None:
    with pytest.raises(ModelError):
        Leg(asset=" BTC", amount="1")
    # An unknown field is a wrong call, as for any Python function.
    with pytest.raises(TypeError, match="price"):
        Leg(asset="BTC", amount="1", price="3")  # type: ignore[call-arg]


def test_transaction_id_is_deterministic_and_scoped() -> None:
    assert _tx().id == _tx().id == transaction_id("a", Origin.API, "k")
    assert _tx(account_id="b").id != _tx().id
    assert _tx(origin=Origin.FILE).id != _tx().id
    assert _tx().net() == {"BTC": Decimal(1)}


def test_models_are_frozen() -> None:
    leg = Leg(asset="BTC", amount="1")
    with pytest.raises(AttributeError, match=r"immutable|frozen"):
        leg.amount = Decimal(2)  # type: ignore[misc]


def test_raw_transaction_and_balance() -> None:
    raw = RawTransaction(
        connection_id="c",
        account_id="a",
        stream="s",
        source_id="1",
        payload={"qty": Decimal("1.10")},
        fetched_at=T,
    )
    assert raw.ref == SourceRef(connection_id="c", stream="s", source_id="1")
    assert Balance(asset="BTC", amount="0.5", locked="0.1").locked == Decimal("0.1")
    with pytest.raises(ModelError):
        Balance(asset="BTC", amount=0.5)  # type: ignore[arg-type]


def test_credential_never_reveals_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    cred = Credential(connector_id="demo", public={"address": "bc1qpublic"}, secrets={"api_secret": SENTINEL})
    shown = [
        repr(cred),
        str(cred),
        f"{cred}",
        f"{cred!r:>300}",
        "%s" % (cred,),
        str(cred.model_dump()),
        cred.model_dump_json(),
        json.dumps(cred.model_dump(mode="json")),
        str(dict(cred)),
        str([cred]),
    ]
    logging.getLogger("t").warning("cred %s %r", cred, cred)
    shown.append(caplog.text)
    for text in shown:
        assert SENTINEL not in text
    assert cred.secret("api_secret") == SENTINEL
    assert cred.value("address") == "bc1qpublic"
    assert cred.secret_values() == (SENTINEL,)
    for attempt in (
        lambda: pickle.dumps(cred),
        lambda: pickle.dumps([cred]),
        lambda: copy.copy(cred).__reduce_ex__(2),
    ):
        with pytest.raises(TypeError, match="cannot be pickled"):
            attempt()


def test_credential_errors_do_not_echo_input() -> None:
    with pytest.raises(ModelError) as info:
        Credential(connector_id="demo", secrets={"k": 12345})  # type: ignore[dict-item]
    assert "12345" not in str(info.value)
    with pytest.raises(KeyError) as missing:
        Credential(connector_id="demo", secrets={"k": SENTINEL}).secret("other")
    assert SENTINEL not in str(missing.value)


def test_exact_json_round_trip_and_errors() -> None:
    text = '{"a":1.10,"b":[1,2.50,"x"],"c":null,"d":true,"e":-0.00000001}'
    value = jsonutil.loads(text)
    assert value["a"] == Decimal("1.10") and isinstance(value["b"][1], Decimal)
    assert jsonutil.dumps(value) == text
    for bad in ('{"a": 1', '{"a": NaN}', "", "[1,2]]", b"\xff"):
        with pytest.raises(BadResponseError):
            jsonutil.loads(bad)
    with pytest.raises(TypeError, match="float"):
        jsonutil.dumps({"x": 1.5})


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text()
        | st.decimals(allow_nan=False, allow_infinity=False),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=20,
    )
)
def test_exact_json_round_trips_any_value(value: object) -> None:
    assert jsonutil.loads(jsonutil.dumps(value)) == value

"""Bounded JSON nesting and the ledger's one amount rule (issue 11, parts 1 and 8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.demo import demo_credential, demo_engine, demo_registry
from helpers.fuzz import connect_offline, source_ids
from txsync import jsonutil
from txsync.engine import Engine
from txsync.errors import AmountError, BadResponseError, ModelError
from txsync.http import HttpClient
from txsync.models import Balance, Leg, to_amount
from txsync.models.values import (
    AMOUNT_MAX_DECIMALS,
    AMOUNT_MAX_DIGITS,
    AMOUNT_MAX_INTEGER_DIGITS,
    EXACT,
    exact,
)
from txsync.store import SqliteStore
from txsync.testing.demo_sandbox import DemoAccount, DemoSandbox
from txsync.testing.harness import NO_SLEEP_RETRY

# -- JSON nesting -------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 900, 100_000])
def test_deep_json_is_a_typed_error_not_a_recursion_error(depth: int) -> None:
    for doc in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        with pytest.raises(BadResponseError, match=f"nested deeper than {jsonutil.MAX_DEPTH} levels"):
            jsonutil.loads(doc)
        with pytest.raises(BadResponseError):
            jsonutil.loads(doc.encode())


def test_nesting_up_to_the_bound_is_read() -> None:
    doc = "[" * jsonutil.MAX_DEPTH + "]" * jsonutil.MAX_DEPTH
    assert jsonutil.nesting_depth(jsonutil.loads(doc)) == jsonutil.MAX_DEPTH
    assert jsonutil.loads('["[[[[", {"a": "{{{{"}]') == ["[[[[", {"a": "{{{{"}]  # brackets in strings
    assert jsonutil.nesting_depth(7) == 0 and jsonutil.nesting_depth([[], {"a": [1]}]) == 3


@pytest.mark.parametrize("doc", ["[NaN]", '{"a": Infinity}', "[-Infinity]", "1" * 5000, '{"a": 1', "[1,]"])
def test_constants_huge_integers_and_truncation_are_typed_errors(doc: str) -> None:
    with pytest.raises(BadResponseError, match="malformed JSON"):
        jsonutil.loads(doc)


async def test_the_http_client_bounds_nesting_of_every_answer() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=deep))
    async with HttpClient("https://api.example.test", transport=transport) as client:
        with pytest.raises(BadResponseError, match="nested deeper"):
            await client.get_json("/deep")


# -- amounts ------------------------------------------------------------------------------------------


def test_bounds_are_explicit_and_consistent() -> None:
    assert AMOUNT_MAX_DIGITS == AMOUNT_MAX_INTEGER_DIGITS + AMOUNT_MAX_DECIMALS < EXACT.prec
    assert to_amount(2**256 - 1) == Decimal(2**256 - 1)  # any uint256 fits
    assert to_amount("1e-60") == Decimal("1e-60")
    assert to_amount("1." + "0" * 200) == Decimal("1." + "0" * 200)  # trailing zeros do not count
    assert str(to_amount("1.10")) == "1.10"


@pytest.mark.parametrize(
    "value", ["1e400", Decimal("-1e78"), 10**78, "1e-61", Decimal("1e-999999"), "NaN", "-Infinity", "sNaN",
              "1_0", "\u0661", " ", float("1"), True, None, [1]]
)
def test_amounts_outside_the_exact_range_are_refused_everywhere(value: Any) -> None:
    with pytest.raises(AmountError):
        to_amount(value)
    with pytest.raises(ModelError):
        Leg(asset="BTC", amount=value)
    with pytest.raises(ModelError):
        Balance(asset="BTC", amount=value)


# An amount anywhere on the admitted grid: up to 78 integer digits, down to 60 decimals.
in_range = st.builds(
    lambda coefficient, exponent: Decimal(coefficient).scaleb(exponent, context=EXACT),  # no rounding
    st.integers(min_value=-(10**30) + 1, max_value=10**30 - 1),
    st.integers(min_value=-AMOUNT_MAX_DECIMALS, max_value=AMOUNT_MAX_INTEGER_DIGITS - 30),
) | st.sampled_from([Decimal(10**78 - 1), Decimal(-(10**78) + 1), Decimal("1e-60"), Decimal("-1e-60")])


@given(st.lists(in_range, min_size=1, max_size=30))
@settings(max_examples=150, derandomize=True)
def test_any_sum_of_admitted_amounts_is_exact(values: list[Decimal]) -> None:
    amounts = [to_amount(value) for value in values]  # every one of them is admitted
    with exact():  # raises decimal.Inexact if a sum had to round
        total = sum(amounts, Decimal(0))
        assert total - sum(reversed(amounts), Decimal(0)) == 0


# -- a poisoned deposit --------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["1e400", "1E+78", "0." + "0" * 70 + "1", 10**400])
async def test_a_deposit_of_1e400_fails_its_page_and_balances_keep_working(
    store: SqliteStore, amount: Any
) -> None:
    account = DemoAccount.generate(trades=10)
    poisoned = account.deposits[1]
    poisoned["amount"] = amount
    engine = demo_engine(store, DemoSandbox(account=account))
    con = connect_offline(engine, "alice", demo_credential())
    report = await engine.sync(con.id)
    trades, deposits = report.streams
    assert trades.completed and not trades.errors
    assert not report.ok and not deposits.completed
    (error,) = deposits.errors
    assert error.startswith(
        f"InvalidRecordError: deposits record '{poisoned['id']}': field 'amount' is not a usable amount: "
    )
    stored = source_ids(store, con.id, "deposits")
    assert poisoned["id"] not in stored
    balances = store.balances(con.account_id)  # never decimal.Inexact
    assert all(abs(v) < Decimal(10) ** AMOUNT_MAX_INTEGER_DIGITS for v in balances.values())
    # once the exchange fixes the record, the next sync stores it and the ledger adds up
    poisoned["amount"] = "0.5"
    again = await engine.sync(con.id)
    assert again.ok
    assert poisoned["id"] in source_ids(store, con.id, "deposits")


# -- server text in errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 418, 500])
async def test_server_error_text_with_controls_or_lone_surrogates_never_breaks_the_report(
    store: SqliteStore, status: int
) -> None:
    """An error body's message reaches the report: control, bidi and lone surrogate characters are
    dropped (a lone surrogate made the report's JSON, and so ``Engine.sync``, raise)."""
    sandbox = DemoSandbox(account=DemoAccount.generate(trades=10))
    hostile = b'{"code": -1100, "msg": "bad \\ud800 param\\u0000 \\u202eevil"}'

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/trades":
            return httpx.Response(status, content=hostile, headers={"Content-Type": "application/json"})
        return sandbox.handle(request)

    engine = Engine(
        store, registry=demo_registry(), transport_for=lambda _c: httpx.MockTransport(handle),
        clock=sandbox.clock, retry=NO_SLEEP_RETRY,
    )
    con = connect_offline(engine, "alice", demo_credential())
    report = await engine.sync(con.id)  # used to raise PydanticSerializationError
    assert not report.ok
    text = report.model_dump_json()
    message = " ".join(report.errors + [e for s in report.streams for e in s.errors])
    assert "bad" in message and "evil" in message
    assert all(ch.isprintable() for ch in message) and "\\ud800" not in text


@pytest.mark.parametrize("amount", ["1e400", "1E+78", "0." + "0" * 70 + "1"])
async def test_a_statement_row_of_1e400_is_a_typed_error_and_nothing_is_imported(
    store: SqliteStore, tmp_path: Any, amount: str
) -> None:
    """The file importer shares the amount rule: the row and its column are named, nothing of the
    file is stored (it used to import 20 of 23 rows), and the balances keep working."""
    from txsync.connectors.binance_statement import BinanceStatement
    from txsync.models import Credential
    from txsync.registry import Registry

    header = '"User_ID","UTC_Time","Account","Operation","Coin","Change","Remark"\r\n'
    rows = [
        '"1","2021-03-01 10:00:00","Spot","Deposit","BTC","1.5",""',
        '"1","2021-03-02 10:00:00","Spot","Deposit","ETH","2",""',
        f'"1","2021-03-03 10:00:00","Spot","Deposit","USDT","{amount}",""',
        '"1","2021-03-04 10:00:00","Spot","Deposit","BNB","3",""',
    ]
    path = tmp_path / "statement.csv"
    path.write_text(header + "\r\n".join(rows) + "\r\n", encoding="utf-8")
    registry = Registry(entry_points=[])
    registry.register(BinanceStatement)
    engine = Engine(store, registry=registry)
    con = connect_offline(
        engine, "alice", Credential(connector_id="binance_statement"), options={"path": str(path)}
    )
    report = await engine.sync(con.id)
    assert not report.ok
    message = " ".join(report.errors + [e for s in report.streams for e in s.errors])
    assert "row 3" in message and "column Change" in message
    assert "78 digits" in message or "60 decimals" in message  # the ledger's one amount rule
    assert store.count_raws(con.id) == 0 and store.count_transactions(con.account_id) == 0
    assert store.balances(con.account_id) == {}

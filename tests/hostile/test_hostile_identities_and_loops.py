"""Every connector, two attack classes aimed precisely (issue 11, part 1):

* a record whose identity is hostile (null, a list, an object, a boolean, ``Infinity``, NUL, a
  right-to-left override, a zero-width space, non-ASCII digits, a lone surrogate, empty, absurdly
  long) is a typed error: the sync is not ok, nothing of that page is stored, no such id is kept;
* a page served again forever is a :class:`~txsync.errors.PaginationLoopError` (or, where the
  server answers another range, the same error saying so), never an ok report with data missing.

The rigs are those of the fuzz tests (each connector against its sandbox's real answers).
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers.fuzz import (
    Clean,
    Mutation,
    Raw,
    Rig,
    check_outcome,
    errors_of,
    stored_raws,
    sync_once,
)
from txsync.fields import check_identity

from . import (
    test_binance_hostile as binance,
)
from . import (
    test_bitcoin_hostile as bitcoin,
)
from . import (
    test_bitstamp_hostile as bitstamp,
)
from . import (
    test_demo_hostile as demo,
)
from . import (
    test_evm_hostile as evm,
)
from . import (
    test_paymium_hostile as paymium,
)

HOSTILE_IDS: list[Any] = [
    None,
    "",
    [1],
    {"id": 1},
    True,
    Raw("Infinity"),
    Raw("1e400"),
    "12\x003",
    "12\u202e34",
    "12\u200b3",
    "\u0661\u0662\u0663",
    "\ud800",
    "x" * 5000,
]

#: (name, rig, clean run, where the id is: list name and path in the answer)
IDS: list[tuple[str, Any, Any, str, tuple[str | int, ...]]] = [
    ("demo trades", demo._rig, demo._clean, "/v1/trades", (0, "id")),
    ("demo deposits", demo._rig, demo._clean, "/v1/deposits", ("rows", 0, "id")),
    ("bitstamp", lambda: bitstamp._rig("since_id"), lambda: bitstamp._clean("since_id"),
     "/api/v2/user_transactions/", (3, "id")),
    ("paymium order", paymium._rig, paymium._clean, "/user/orders", (1, "uuid")),
    ("paymium operation", paymium._rig, paymium._clean, "/user/orders", (1, "account_operations", 0, "uuid")),
    ("bitcoin", bitcoin._rig, bitcoin._clean, "/txs", (0, "txid")),
    ("evm normal", evm._rig, evm._clean, "txlist ", ("result", 0, "hash")),
    ("evm beacon", evm._rig, evm._clean, "txsBeaconWithdrawal", ("result", 0, "withdrawalIndex")),
    ("binance trades", binance._rig, binance._clean, "/api/v3/myTrades", (0, "id")),
    ("binance deposits", binance._rig, binance._clean, "/deposit/hisrec", (0, "id")),  # (see ALLOWED)
    ("binance withdrawals", binance._rig, binance._clean, "/withdraw/history", (0, "id")),
    ("binance convert", binance._rig, binance._clean, "/convert/tradeFlow", ("list", 0, "orderId")),
    ("binance dividends", binance._rig, binance._clean, "/assetDividend", ("rows", 0, "id")),
    ("binance fiat", binance._rig, binance._clean, "/fiat/orders", ("data", 0, "orderNo")),
]


#: Values that are no attack for one case: a Binance deposit without an id is identified by its coin
#: and txId (older deposits have none).
ALLOWED: dict[str, list[Any]] = {"binance deposits": [None, ""]}


def _assert_refused(outcome: Any, clean: Clean, mutation: Mutation) -> None:
    assert outcome.applied, f"{mutation!r} found nothing to change"
    report = outcome.report
    errors = errors_of(report)
    assert not report.ok and errors, f"{mutation!r}: the report is ok"
    for _, sid in stored_raws(outcome.store, outcome.connection_id):
        check_identity(sid)
    check_outcome(outcome, clean, mutation)  # typed errors only, nothing foreign stored


def _values_for(index: int, name: str) -> list[Any]:
    """Every hostile id for each connector's first case, a third of them (rotating) for its other
    cases: every value meets every connector while the suite stays fast."""
    values = [v for v in HOSTILE_IDS if v not in ALLOWED.get(name, [])]
    connector = name.split()[0]
    first = next(i for i, case in enumerate(IDS) if case[0].split()[0] == connector)
    return values if index == first else [v for j, v in enumerate(values) if (j + index) % 3 == 0]


@pytest.mark.parametrize(
    ("index", "name", "rig", "clean", "where", "path"),
    [(i, *case) for i, case in enumerate(IDS)],
    ids=[i[0] for i in IDS],
)
def test_hostile_identities_are_typed_errors_and_never_stored(
    index: int, name: str, rig: Any, clean: Any, where: str, path: tuple[str | int, ...]
) -> None:
    reference: Clean = clean()
    named = 0
    values = _values_for(index, name)
    for value in values:
        mutation = Mutation(0, "set", value=value, where=where, path=path)
        outcome = sync_once(rig(), mutation, reference.answers)
        errors = errors_of(outcome.report)
        _assert_refused(outcome, reference, mutation)
        named += any("record" in e or "txid" in e or "hash" in e for e in errors)
    assert named >= len(values) - 2  # all but whole-answer failures (Infinity) name the record


def test_every_hostile_id_meets_every_connector() -> None:
    for connector in ("demo", "bitstamp", "paymium", "bitcoin", "evm", "binance"):
        cases = [i for i, case in enumerate(IDS) if case[0].startswith(connector)]
        met = {ascii(v) for i in cases for v in _values_for(i, IDS[i][0])}
        assert met >= {ascii(v) for v in HOSTILE_IDS if v not in (None, "")}, connector


#: (name, rig, clean run, list, which answer of it with rows is served forever: the key checks
#: read one row of the same list first for Bitstamp and Paymium)
LOOPS: list[tuple[str, Any, Any, str, int]] = [
    ("demo trades (id paging)", demo._rig, demo._clean, "/v1/trades", 1),
    ("demo deposits (window + offset)", demo._rig, demo._clean, "/v1/deposits", 1),
    ("bitstamp (offset paging)", lambda: bitstamp._rig("offset"), lambda: bitstamp._clean("offset"),
     "/api/v2/user_transactions/", 2),
    ("paymium (newest-first sweep)", paymium._rig, paymium._clean, "/user/orders", 2),
    ("evm (block lanes)", evm._rig, evm._clean, "txlist 0x2787", 1),
    ("binance trades (fromId)", binance._rig, binance._clean, "/api/v3/myTrades ETHUSDT", 1),
    ("binance convert (bisected windows)", binance._rig, binance._clean, "/convert/tradeFlow", 1),
    ("binance deposits (windows + offset)", binance._rig, binance._clean, "/deposit/hisrec", 1),
    ("binance earn (windows + page numbers)", binance._rig, binance._clean, "/simple-earn/flexible", 1),
]


@pytest.mark.parametrize(("name", "rig", "clean", "where", "nth"), LOOPS, ids=[i[0] for i in LOOPS])
def test_a_page_served_forever_is_a_pagination_loop_never_ok(
    name: str, rig: Any, clean: Any, where: str, nth: int
) -> None:
    reference: Clean = clean()
    mutation = Mutation(0, "repeat_forever", where=where, nth=nth)
    outcome = sync_once(rig(), mutation, reference.answers)
    errors = errors_of(outcome.report)
    assert not outcome.report.ok, f"{name}: a page served forever ended ok"
    assert any(e.startswith("PaginationLoopError") for e in errors), errors
    check_outcome(outcome, reference, mutation)


def test_rigs_cover_every_connector() -> None:
    names = {rig().connector.info.id for _, rig, *_ in IDS}
    assert names == {"demo", "bitstamp", "paymium", "bitcoin", "evm", "binance"}
    assert isinstance(bitcoin._rig(), Rig)


@pytest.mark.parametrize("value", [10**30, "x", {"a": 1}, [1, 2]])
def test_a_mistyped_binance_margin_account_is_a_typed_error(value: Any) -> None:
    """Found by the campaign: ``userAssets`` of another type escaped as a bare ``TypeError``."""
    reference: Clean = binance._clean()
    mutation = Mutation(0, "set", value=value, where="/sapi/v1/margin/account", path=("userAssets",))
    outcome = sync_once(binance._rig(), mutation, reference.answers)
    errors = errors_of(outcome.report)
    assert not outcome.report.ok and any("userAssets" in e for e in errors), errors
    check_outcome(outcome, reference, mutation)

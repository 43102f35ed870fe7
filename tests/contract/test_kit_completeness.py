"""The kit's completeness checks catch what the other scenarios let through: a connector that gives two
records of one page the same identity (and so loses every BTC leg of a trade), one that always skips a
page, and balances that do not add up; declared events and declared gaps are let through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

import pytest
from tests.contract.test_kit_catches_problems import ACCOUNT, CREDENTIAL, with_trades

from txsync.connector import Cursor, Page, RawRecord
from txsync.connectors.demo import DemoExchange, TradesStream
from txsync.connectors.demo.sandbox import DemoSandbox
from txsync.models import Balance
from txsync.testing import CommittedPage, ContractHarness
from txsync.testing.checks import (
    check_balances_complete,
    check_page_identities,
    check_record_counts,
    stored_record_counts,
)

#: What the sandbox holds (the whole history is read: the balances must add up).
SERVED = {"trades": len(ACCOUNT.trades), "deposits": len(ACCOUNT.deposits)}


def harness(connector: type[DemoExchange]) -> ContractHarness:
    sandbox = DemoSandbox(account=ACCOUNT)
    return ContractHarness(
        connector, CREDENTIAL, transport=lambda: DemoSandbox(account=ACCOUNT).transport(), clock=sandbox.clock
    )


class LedgerRowsTrades(TradesStream):
    """Serves each trade as two ledger rows (the base leg, then the quote leg) under the trade's id, as
    an exchange's ledger does: both rows get one identity, so the store keeps only the second."""

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        inner = TradesStream.pages(self, cursor)

        async def split() -> AsyncIterator[Page]:
            async for page in inner:
                records = []
                for rec in page.records:
                    base = dict(rec.payload, quoteQty="0", commission="0")
                    quote = dict(rec.payload, qty="0")
                    records += [RawRecord(rec.source_id, base), RawRecord(rec.source_id, quote)]
                yield Page(records, page.cursor, page.label)

        return split()


class SkippingTrades(TradesStream):
    """Drops every second page of trades (an off-by-one in the paging)."""

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        inner = TradesStream.pages(self, cursor)

        async def skip() -> AsyncIterator[Page]:
            index = 0
            async for page in inner:
                yield page if index % 2 == 0 else Page([], page.cursor, page.label)
                index += 1

        return skip()


async def _complete(connector: type[DemoExchange], **kw: object) -> dict[str, str]:
    h = harness(connector)
    run = await h.check_full_sync()
    reported = await h.reported_balances()
    return await h.check_completeness(run, reported, SERVED, **kw)  # type: ignore[arg-type]


async def test_the_demo_exchange_is_complete() -> None:
    assert await _complete(DemoExchange) == {}


async def test_two_records_of_one_page_with_one_identity_fail() -> None:
    broken = with_trades(LedgerRowsTrades)
    with pytest.raises(AssertionError, match=r"stream 'trades' page 1: \d+ records share the source id"):
        await _complete(broken)
    # declared as one event, the identity check lets it through, and the lost legs still show
    with pytest.raises(AssertionError, match=r"do not reconcile after a full sync: .*BTC: computed"):
        await _complete(broken, same_event={"trades": "the two ledger rows of a trade"})


async def test_a_skipped_page_fails_the_record_count() -> None:
    with pytest.raises(AssertionError, match=r"trades: \d+ served, \d+ stored"):
        await _complete(with_trades(SkippingTrades))


def test_identity_check_rules() -> None:
    def page(stream: str, ids: Sequence[str]) -> CommittedPage:
        from tests.contract.test_kit_catches_problems import raws_of

        return CommittedPage(stream, 1, raws_of([{"id": i} for i in ids], stream), [])

    assert check_page_identities([page("t", ["1", "2"]), page("t", ["2", "3"])]) == 2  # across pages: fine
    with pytest.raises(AssertionError, match=r"1 records share the source id .*\['2'\]"):
        check_page_identities([page("t", ["1", "2", "2"])])
    assert check_page_identities([page("t", ["1", "1"])], {"t": "one event"}) == 0
    assert stored_record_counts([page("t", ["1", "2"]), page("t", ["2"]), page("d", ["x"])]) == {
        "d": 1,
        "t": 2,
    }
    check_record_counts([page("t", ["1", "2"])], {"t": 2})
    with pytest.raises(AssertionError, match="d: 1 served, 0 stored"):
        check_record_counts([page("t", ["1", "2"])], {"t": 2, "d": 1})


def test_balance_check_rules() -> None:
    info = DemoExchange.info
    reported = [Balance(asset="BTC", amount=Decimal("1.5")), Balance(asset="EUR", amount=Decimal(10))]
    check_balances_complete({"BTC": Decimal("1.5"), "EUR": Decimal(10)}, reported, info)
    with pytest.raises(AssertionError, match=r"EUR: computed 9, reported 10 \(difference -1\)"):
        check_balances_complete({"BTC": Decimal("1.5"), "EUR": Decimal(9)}, reported, info)
    excused = check_balances_complete(
        {"BTC": Decimal("1.5"), "EUR": Decimal(9)}, reported, info, {"E*": "staking_rewards"}
    )
    assert excused == {"EUR": "staking_rewards"}
    with pytest.raises(AssertionError, match="does not declare"):
        check_balances_complete({}, reported, info, {"EUR": "made_up"})

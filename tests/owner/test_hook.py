"""The engine runs its sync hooks: the owner hook records every gap that applies to the account (the
always-applicable ones in the report too) and links; a failing hook is a warning, never an error."""

from __future__ import annotations

from typing import Any

from tests.connectors.bitcoin.test_bitcoin_sync import harness

from txsync.connectors.bitcoin.sandbox import EsploraSandbox
from txsync.connectors.demo import DemoExchange
from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox
from txsync.engine import Engine, InMemoryCredentials, SyncReport
from txsync.models import Credential
from txsync.owner.ledger import OwnerLedger
from txsync.registry import Registry
from txsync.store import SqliteStore


async def test_always_gaps_are_in_the_report_and_the_account_status() -> None:
    h = harness(EsploraSandbox())
    store = h.new_store()
    run = await h.sync(store)
    assert [(g.gap_id, g.always) for g in run.report.coverage_gaps] == [("off_chain", True)]
    [gap] = OwnerLedger(store).gaps(h.account_id)
    assert (gap.gap_id, gap.always, gap.remedy) == (
        "off_chain",
        True,
        "Import Lightning wallet or exchange statements as files.",
    )
    assert gap.since == run.report.finished_at or gap.since == run.report.started_at
    # the wallet's transactions are read by the linker: its next run has nothing new to do
    assert store.link_since(h.account_id) is not None
    assert OwnerLedger(store).link().changed == 0


class Broken:
    async def after_sync(self, engine: Engine, report: SyncReport, connector: Any) -> None:
        raise RuntimeError("boom")


def _engine(store: SqliteStore, hooks: list[Any] | None) -> tuple[Engine, str]:
    registry = Registry(entry_points=[])
    registry.register(DemoExchange)
    sandbox = DemoSandbox()
    engine = Engine(
        store,
        registry=registry,
        credentials=InMemoryCredentials(),
        transport_for=lambda _c: sandbox.transport(),
        clock=sandbox.clock,
        hooks=hooks,
    )
    credential = Credential(connector_id="demo", secrets={"api_key": DEMO_KEY, "api_secret": DEMO_SECRET})
    connection = engine.connect("bob", credential, options={"origin": "2023-06-01"}, verify=False)
    return engine, connection.id


async def test_a_failing_hook_is_a_warning_and_no_hooks_record_nothing() -> None:
    store = SqliteStore(":memory:")
    engine, con = _engine(store, [Broken()])
    report = await engine.sync(con)
    assert report.ok and report.warnings == ["Broken failed: RuntimeError: boom"]
    account = store.get_connection(con).account_id
    assert OwnerLedger(store).gaps(account) == []
    engine, con = _engine(store, [])
    report = await engine.sync(con)
    assert report.ok and OwnerLedger(store).gaps(store.get_connection(con).account_id) == []


async def test_the_default_hook_keeps_noted_gaps_with_their_detail() -> None:
    store = SqliteStore(":memory:")
    engine, con = _engine(store, None)
    report = await engine.sync(con)
    [gap] = OwnerLedger(store).gaps(store.get_connection(con).account_id)
    assert (gap.gap_id, gap.always, gap.detail) == (
        "staking_rewards",
        False,
        "the API never lists staking rewards",
    )
    assert [g.gap_id for g in report.coverage_gaps] == ["staking_rewards"]

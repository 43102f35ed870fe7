"""``txsync demo``: the main job, on the built-in sandboxes.

It syncs the recorded Binance account (seven years, ~50 traded pairs among 2,100 listed) through the
Binance sandbox that ships in the package, in this process: no network, no keys, no test-only
dependency, the same requests and answers the cassettes under ``cassettes/binance`` were recorded
from (the sandbox is deterministic: a seeded account and a fixed clock). It then imports the account
statement file that the sandbox renders for the same account, checks every balance against what the
exchange reports, values every transaction and balance in EUR (offline, from the recorded price
cassette: see :mod:`txsync.cli._demo_value`) and prints the reports. ``--source demo`` runs the small
Demo Exchange account.

Running it again is incremental and adds nothing; an interrupted run (Ctrl-C) leaves whole pages and
no half-made connection behind, and the next run completes it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from txsync.cli._context import CliContext, data_options, pass_cli
from txsync.cli._errors import EXIT_ATTENTION
from txsync.cli._progress import LiveProgress
from txsync.cli._render import print_ledger_summary, print_report
from txsync.engine import SyncMode, SyncReport
from txsync.models import Credential
from txsync.reconcile import reconcile
from txsync.registry import Registry
from txsync.store.records import ConnectionRecord, ConnectionState

__all__ = ["DEMO_OWNER", "demo"]

DEMO_OWNER = "demo-user"


@dataclass(frozen=True)
class _Account:
    """A recorded account the demo syncs: its connector, sandbox, test credential and options."""

    connector: type[Any]
    sandbox: Any
    credential: Credential
    options: dict[str, Any]
    label: str
    statement: Callable[[], str] | None = None


#: The reason the demo's connections are paused between two demos (see :func:`demo`).
DEMO_PAUSED = "demo: replays the packaged sandbox; `txsync demo` resumes it"


def _account(source: str) -> _Account:
    if source == "demo":
        from txsync.connectors.demo import DemoExchange
        from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox

        return _Account(
            DemoExchange, DemoSandbox(),
            Credential(connector_id="demo", secrets={"api_key": DEMO_KEY, "api_secret": DEMO_SECRET}),
            {}, "Demo Exchange (recorded)",
        )
    from txsync.connectors.binance import Binance
    from txsync.connectors.binance.sandbox import KEY, SECRET, BinanceSandbox, statement_csv

    sandbox = BinanceSandbox(enforce_limits=False)
    return _Account(
        Binance, sandbox,
        Credential(connector_id="binance", secrets={"api_key": KEY, "api_secret": SECRET}),
        # Weights are accounted on a virtual clock: the sandbox has no server to protect.
        {"rate_limit": "simulated"}, "Binance (recorded)",
        statement=lambda: statement_csv(sandbox.account),
    )


def _resumed(store: Any, connection: ConnectionRecord) -> ConnectionRecord:
    """The demo's own connection, made active again if the previous demo paused it."""
    if connection.state == ConnectionState.PAUSED and connection.state_reason == DEMO_PAUSED:
        return store.set_connection_state(connection.id, ConnectionState.ACTIVE)  # type: ignore[no-any-return]
    return connection


def _write_once(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, unless it already holds exactly that."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@click.command()
@click.option("--source", type=click.Choice(["binance", "demo"]), default="binance", show_default=True,
              help="Which recorded account: Binance, or the small Demo Exchange.")
@click.option("--full", is_flag=True, help="Re-read the whole history (idempotent).")
@click.option("--api-only", is_flag=True,
              help="Skip the account statement file (the balances then show what the API misses).")
@click.option("--progress/--no-progress", default=None,
              help="The live display on stderr (default: when stderr is a terminal).")
@click.option("--prices", type=click.Choice(["cassette", "sandbox", "record"]), default="cassette",
              show_default=True,
              help="Where prices come from: the recorded price cassette (offline), the built-in price "
                   "sandboxes, or record the cassette from the sandboxes (maintainers).")
@click.option("--value/--no-value", "with_value", default=True, show_default=True,
              help="Value the transactions and balances after the sync.")
@data_options
@pass_cli
def demo(cli: CliContext, source: str, full: bool, api_only: bool, progress: bool | None,
         prices: str, with_value: bool) -> None:
    """Sync a recorded exchange account (API and statement file) into the store, value it in EUR,
    and report."""
    account = _account(source)
    store = cli.store(create=True)
    registry = Registry(entry_points=[])
    registry.register(account.connector, replace=True)
    transport = account.sandbox.transport()
    engine = cli.engine(store, registry=registry, transport_for=lambda _c: transport,
                        clock=account.sandbox.clock)
    connector_id = account.connector.info.id
    existing = [c for c in store.list_connections()
                if c.connector_id == connector_id and c.label == account.label]
    if existing:
        connection = existing[0]
        connection = _resumed(store, connection)
        if store.get_credential(connection.id) is None:
            engine.replace_credential(connection.id, account.credential)  # verified by the sandbox
    else:  # the key's rights are verified by the sandbox before anything is stored
        connection = engine.connect(DEMO_OWNER, account.credential, label=account.label,
                                    options=dict(account.options))
    if not cli.json:
        cli.echo(f"Store: {cli.target.describe()}\nAccount: {account.label}")
    reports: list[SyncReport] = []
    try:
        with LiveProgress(cli.console(err=True), enabled=progress) as live:
            reports.append(engine.sync_blocking(
                connection.id, SyncMode.FULL if full else SyncMode.INCREMENTAL, progress=live))
            reported = engine.reported_balances_blocking(connection.id)
            if account.statement is not None and not api_only:
                reports.append(_import_statement(cli, engine, registry, store, connection.account_id,
                                                 account.statement, live))
    finally:
        # The demo's connections read the packaged sandbox, not the real exchange: paused between demos
        # (an interrupted one too) so that `txsync sync` never sends their sandbox keys anywhere; the
        # next demo resumes them.
        for demo_connection in store.connections_of(DEMO_OWNER):
            if demo_connection.state == ConnectionState.ACTIVE:
                store.set_connection_state(demo_connection.id, ConnectionState.PAUSED, DEMO_PAUSED)
    if not cli.json:
        print_report(cli, reports[0])
        if len(reports) > 1:
            cli.echo("\nThe account statement file, imported into the same account:")
            print_report(cli, reports[1])
    from txsync.owner import OwnerLedger

    # kept for `txsync balances`, which explains each difference
    OwnerLedger(store).record_reported(connection.account_id, reported, as_of=account.sandbox.clock())
    checks = reconcile(store.balances(connection.account_id), reported)
    summary = print_ledger_summary(cli, store, connection.account_id, checks)
    from txsync.cli._demo_value import value_demo

    valuation = (value_demo(cli, store, connection.account_id, source, account.sandbox.clock, prices)
                 if with_value else None)
    if cli.json:
        cli.emit_json({
            "store": cli.target.describe(), "account_id": connection.account_id,
            "reports": [{**r.model_dump(mode="json"), "ok": r.ok} for r in reports], "ledger": summary,
            "valuation": valuation,
        })
    if not all(r.ok for r in reports) or not all(c.ok for c in checks):  # errors, or balances that differ
        raise click.exceptions.Exit(EXIT_ATTENTION)


def _import_statement(cli: CliContext, engine: Any, registry: Registry, store: Any, account_id: str,
                      render: Callable[[], str], live: LiveProgress) -> SyncReport:
    """Import the statement file into the same account: it fills what the API cannot return."""
    from txsync.connectors.binance_statement import BinanceStatement

    registry.register(BinanceStatement, replace=True)
    existing = [c for c in store.list_connections(account_id) if c.connector_id == BinanceStatement.info.id]
    named = dict(existing[0].options).get("path") if existing else None
    if named:
        path = Path(str(named))
    else:
        target = cli.target
        folder = target.path.parent if target.path is not None else Path(tempfile.gettempdir())
        path = folder / "demo" / "binance-statement.csv"
    _write_once(path, render())
    connection = _resumed(store, existing[0]) if existing else engine.connect(
        DEMO_OWNER, Credential(connector_id=BinanceStatement.info.id), account_id=account_id,
        label="Binance statement file", options={"path": str(path)}, verify=False,
    )
    return engine.sync_blocking(connection.id, progress=live)  # type: ignore[no-any-return]

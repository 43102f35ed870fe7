"""``txsync`` command line: the demo main job, plugin listing, and a ledger summary.

txsync demo [--db PATH] [--full]     sync the recorded Binance account into SQLite (then import its
            [--api-only]             account statement file into the same account) and report
            [--source binance|demo]  (or the small Demo Exchange account)
txsync connectors                    list installed connector plugins and their status
txsync summary [--db PATH]           counts per kind and balances of every account in a store
txsync vault status|rotate|retire V  master key versions and how many secrets each protects; rotate
                                     (new primary version, every data key re-wrapped); retire a version
txsync new-connector NAME [--dir D]  a connector project (package, sandbox, contract tests, recorded
            [--no-record]            cassettes) from the template in txsync.scaffold
txsync transfers [--owner O] [--json]  the owner's transfers linked across accounts (and what is left
txsync transfers link|unlink A B       to decide); link two transactions by hand, or undo a link for good
txsync balances [--owner O | --account A] [--json] [--refresh]
                                     computed vs reported balances, the difference and its likely causes
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from txsync.connector import Connector
from txsync.engine import Engine, SyncMode, SyncReport
from txsync.errors import TxsyncError
from txsync.models import Credential
from txsync.reconcile import BalanceCheck, reconcile
from txsync.registry import Registry, default_registry
from txsync.store import SqliteStore, default_store_path
from txsync.vault import VaultCredentials, key_usage, local_kms, retire_version, rewrap_all

__all__ = ["main"]

REPO_CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"
DEMO_LABEL = "Demo Exchange (recorded)"


def _fmt(amount: Decimal) -> str:
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def print_report(report: SyncReport, out: TextIO) -> None:
    """The per-stream table of a sync report, its gaps, warnings and errors."""
    out.write(f"\nSync ({report.mode}) of {report.connector_id}: {'ok' if report.ok else 'INCOMPLETE'}\n")
    header = ("stream", "pages", "records", "new", "updated", "unchanged", "requests", "weight")
    rows = [header] + [
        (s.stream, s.pages, s.raws, s.new, s.updated, s.unchanged, s.requests, s.weight)
        for s in report.streams
    ]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    for row in rows:
        out.write(
            "  "
            + "  ".join(
                str(v).rjust(w) if i else str(v).ljust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
            + "\n"
        )
    for stream in report.streams:
        for error in stream.errors:
            out.write(f"  ! {stream.stream}: {error}\n")
    for error in report.errors:
        out.write(f"  ! {error}\n")
    for warning in report.warnings:
        out.write(f"  warning: {warning}\n")
    if report.coverage_gaps:
        out.write("\nWhat the API cannot return (import these by file):\n")
        for gap in report.coverage_gaps:
            what = gap.detail or ("no API returns it, for any account" if gap.always else gap.gap_id)
            out.write(f"  - {gap.title}: {what}. Remedy: {gap.remedy}\n")


def print_ledger(
    store: SqliteStore, account_id: str, checks: Sequence[BalanceCheck] | None, out: TextIO
) -> None:
    """Counts per kind (and status) and balances, reconciled when reported balances are given."""
    kinds: Counter[str] = Counter()
    pending: Counter[str] = Counter()
    for tx in store.transactions(account_id=account_id):
        kinds[tx.kind] += 1
        if tx.status != "confirmed":
            pending[tx.kind] += 1
    out.write(f"\nTransactions by kind ({sum(kinds.values())} in all):\n")
    for kind, count in sorted(kinds.items()):
        note = f"  ({pending[kind]} pending)" if pending[kind] else ""
        out.write(f"  {kind:<16}{count:>8}{note}\n")
    if checks is None:
        out.write("\nBalances computed from the ledger:\n")
        for asset, amount in store.balances(account_id).items():
            out.write(f"  {asset:<8}{_fmt(amount):>22}\n")
        return
    out.write("\nBalances: computed from the ledger vs reported by the exchange:\n")
    out.write(f"  {'asset':<8}{'computed':>22}{'reported':>22}{'difference':>16}\n")
    for check in checks:
        mark = "ok" if check.ok else "MISMATCH"
        out.write(
            f"  {check.asset:<8}{_fmt(check.computed):>22}{_fmt(check.reported):>22}"
            f"{_fmt(check.difference):>16}  {mark}\n"
        )


@dataclass(frozen=True)
class _Recording:
    """A recorded account the main job can replay: its connector, test credential and fixed clock."""

    connector: type[Connector]
    credential: Credential
    options: dict[str, Any]
    label: str
    sandbox: Callable[[], Any]  # the sandbox it was recorded from (its clock; its transport to record)


def _recordings() -> dict[str, _Recording]:
    from txsync.connectors.binance import Binance
    from txsync.connectors.binance.sandbox import KEY, SECRET, BinanceSandbox
    from txsync.connectors.demo import DemoExchange
    from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox

    return {
        "binance": _Recording(
            Binance, Credential(connector_id="binance", secrets={"api_key": KEY, "api_secret": SECRET}),
            # Weights are accounted on a virtual clock: a replay has no server to protect.
            {"rate_limit": "simulated"}, "Binance (recorded)",
            lambda: BinanceSandbox(enforce_limits=False),
        ),
        "demo": _Recording(
            DemoExchange,
            Credential(connector_id="demo", secrets={"api_key": DEMO_KEY, "api_secret": DEMO_SECRET}),
            {}, DEMO_LABEL, DemoSandbox,
        ),
    }


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from txsync.testing.cassettes import cassette_vcr, offline_transport
    except ImportError as exc:  # pragma: no cover - vcrpy missing
        out.write(f"txsync demo replays recorded data with vcrpy: {exc}\n")
        return 2
    recording = _recordings()[args.source]
    connector_id = recording.connector.info.id
    sandbox = recording.sandbox()  # only its fixed clock is used when replaying
    record = bool(args.record)
    registry = Registry(entry_points=[])
    registry.register(recording.connector, replace=True)
    store = SqliteStore(args.db)
    transport = sandbox.transport() if record else offline_transport()
    engine = Engine(
        store, registry=registry, transport_for=lambda _c: transport, clock=sandbox.clock,
        credentials=VaultCredentials(store, local_kms(store)),  # only sealed secrets reach the database
    )
    credential = recording.credential
    existing = [
        c for c in store.list_connections() if c.connector_id == connector_id and c.label == recording.label
    ]
    recorder = cassette_vcr(
        Path(args.cassettes) / connector_id, "new_episodes" if record else "none",
        secrets=credential.secret_values(),
    )
    with recorder.use_cassette("main_job.yaml"):
        if existing:
            connection = existing[0]
            if store.get_credential(connection.id) is None:
                engine.replace_credential(connection.id, credential)  # verified through the recording
        else:
            # The key is verified (its rights read from the recording) before anything is stored.
            connection = engine.connect(
                "demo-user", credential, label=recording.label, options=dict(recording.options)
            )
        out.write(f"Store: {store.path}\nAccount: {recording.label}\n")
        report = asyncio.run(engine.sync(connection.id, SyncMode.FULL if args.full else SyncMode.INCREMENTAL))
        if record:  # also record what a second, incremental run asks
            asyncio.run(engine.sync(connection.id))
        reported = asyncio.run(engine.reported_balances(connection.id))
    print_report(report, out)
    ok = report.ok
    statement = Path(args.cassettes) / connector_id / "statement.csv"
    if args.source == "binance" and not args.api_only and statement.is_file():
        ok = _import_statement(engine, registry, connection.account_id, statement, out) and ok
    print_ledger(
        store, connection.account_id, reconcile(store.balances(connection.account_id), reported), out
    )
    from txsync.owner import OwnerLedger

    # kept for `txsync balances`, which explains each difference
    OwnerLedger(store).record_reported(connection.account_id, reported, as_of=sandbox_clock(sandbox))
    store.close()
    return 0 if ok else 1


def _import_statement(
    engine: Engine, registry: Registry, account_id: str, path: Path, out: TextIO
) -> bool:
    """Import the account statement file into the same account: it fills what the API cannot return."""
    from txsync.connectors.binance_statement import BinanceStatement

    registry.register(BinanceStatement, replace=True)
    existing = [
        c for c in engine.store.list_connections(account_id) if c.connector_id == BinanceStatement.info.id
    ]
    connection = existing[0] if existing else engine.connect(
        "demo-user", Credential(connector_id=BinanceStatement.info.id), account_id=account_id,
        label="Binance statement file", options={"path": str(path)},
    )
    out.write(f"\nImporting the account statement file {path.name} into the same account:\n")
    report = asyncio.run(engine.sync(connection.id))
    print_report(report, out)
    return report.ok


def sandbox_clock(sandbox: Any) -> Any:
    """The recorded account's instant (a sandbox's ``clock`` or ``now``)."""
    clock = getattr(sandbox, "clock", None) or sandbox.now
    return clock() if callable(clock) else clock


def _connectors(_: argparse.Namespace, out: TextIO) -> int:
    entries = default_registry().load_all()
    if not entries:
        out.write("No connector plugins installed.\n")
    for entry in entries:
        out.write(f"{entry.id:<20}{entry.status:<14}{entry.origin}  {entry.reason or ''}\n")
    return 0


def _summary(args: argparse.Namespace, out: TextIO) -> int:
    store = SqliteStore(args.db)
    accounts = sorted({c.account_id for c in store.list_connections()})
    out.write(f"Store: {store.path}: {len(accounts)} accounts\n")
    for account_id in accounts:
        account = store.get_account(account_id)
        out.write(f"\nAccount {account.id} ({account.connector_id}, owner {account.owner_id})\n")
        print_ledger(store, account_id, None, out)
    store.close()
    return 0


def _vault(args: argparse.Namespace, out: TextIO) -> int:
    store = SqliteStore(args.db)
    try:
        kms = local_kms(store)
        if args.action == "rotate":
            new = kms.add_version()
            out.write(f"New primary master key version: {new}\n")
            result = rewrap_all(store, kms)
            out.write(f"Re-wrapped {result.rewrapped} data keys ({result.already_primary} already current)\n")
            for connection_id, field, reason in result.failed:
                out.write(f"  not re-wrapped: {connection_id} {field}: {reason}\n")
        elif args.action == "retire":
            retire_version(store, kms, args.version, force=args.force)
            out.write(f"Retired master key version {args.version}\n")
        usage = key_usage(store)
        out.write(f"Master key: {kms!r}\n")
        for info in kms.versions():
            state = "primary" if info.primary else "retired" if info.retired else "active"
            count = usage.pop(info.key, 0)
            out.write(f"  version {info.key.version:<6}{state:<9}{count:>6} sealed secrets\n")
        for ref, count in usage.items():
            out.write(f"  {ref}: {count} sealed secrets under a key this KMS does not have\n")
        return 0
    except TxsyncError as exc:
        out.write(f"{type(exc).__name__}: {exc}\n")
        return 1
    finally:
        store.close()


def _new_connector(args: argparse.Namespace, out: TextIO) -> int:
    from txsync.scaffold import ScaffoldError, new_connector

    try:
        made = new_connector(args.name, args.dir, record=not args.no_record)
    except ScaffoldError as exc:
        out.write(f"txsync new-connector: {exc}\n")
        return 2
    out.write(f"Created {made.names.distribution} in {made.directory}:\n")
    for path in made.files:
        out.write(f"  {path}\n")
    if made.recorded:
        where = f"cassettes/{made.names.name}/"
        out.write(f"Recorded {len(made.cassettes)} cassettes from the sandbox into {where}.\n")
    else:
        out.write(f"Cassettes not recorded ({made.note}). Record them with:\n  {made.record_command}\n")
    out.write(
        f"\nNext:\n  cd {made.directory}\n  pip install -e '.[test]'\n  pytest\n"
        "Then write the sandbox from your API's documentation, adapt the connector, re-record.\n"
    )
    return 0


def _transfers(args: argparse.Namespace, out: TextIO) -> int:
    from txsync.owner.cli import link_command, transfers_command, unlink_command

    store = SqliteStore(args.db)
    try:
        if args.action is None:
            if args.ids:
                out.write("txsync transfers: give 'link A B' or 'unlink A B' to act on two transactions\n")
                return 2
            return transfers_command(store, owner=args.owner, as_json=args.json, out=out)
        if len(args.ids) != 2:
            out.write(f"txsync transfers {args.action}: give the two transaction ids\n")
            return 2
        if args.action == "link":
            return link_command(
                store, *args.ids, asset=args.asset, note=args.note, as_json=args.json, out=out
            )
        return unlink_command(store, *args.ids, note=args.note, out=out)
    finally:
        store.close()


def _balances(args: argparse.Namespace, out: TextIO) -> int:
    from txsync.owner.cli import balances_command

    store = SqliteStore(args.db)
    try:
        return balances_command(
            store, owner=args.owner, account=args.account, as_json=args.json, refresh=args.refresh, out=out
        )
    finally:
        store.close()


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``txsync`` command; returns the exit status."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="txsync", description="Sync crypto transaction history.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="sync a recorded exchange account into SQLite and report")
    demo.add_argument(
        "--source", choices=["binance", "demo"], default="binance",
        help="which recorded account: Binance (default) or the small Demo Exchange",
    )
    demo.add_argument("--db", type=Path, default=None, help=f"SQLite file (default {default_store_path()})")
    demo.add_argument("--full", action="store_true", help="re-read the whole history (idempotent)")
    demo.add_argument(
        "--api-only", action="store_true",
        help="skip importing the account statement file (the balances then show what the API misses)",
    )
    demo.add_argument("--cassettes", default=str(REPO_CASSETTES), help=argparse.SUPPRESS)
    demo.add_argument("--record", action="store_true", help=argparse.SUPPRESS)
    demo.set_defaults(run=_demo)
    sub.add_parser("connectors", help="list installed connector plugins").set_defaults(run=_connectors)
    summary = sub.add_parser("summary", help="counts and balances of every account in a store")
    summary.add_argument("--db", type=Path, default=None)
    summary.set_defaults(run=_summary)
    vault = sub.add_parser("vault", help="master key versions, rotation and retirement (local KMS)")
    vault.add_argument("action", choices=["status", "rotate", "retire"])
    vault.add_argument("version", nargs="?", help="the version to retire")
    vault.add_argument("--force", action="store_true", help="retire even if secrets still need it")
    vault.add_argument("--db", type=Path, default=None)
    vault.set_defaults(run=_vault)
    scaffold = sub.add_parser(
        "new-connector", help="generate a connector project: package, sandbox, contract tests, cassettes"
    )
    scaffold.add_argument("name", help="the connector id (lower case, digits, underscores), e.g. acme")
    scaffold.add_argument(
        "--dir", type=Path, default=None, help="the project directory to create (default ./txsync-NAME)"
    )
    scaffold.add_argument(
        "--no-record", action="store_true", help="do not record the cassettes (print the command instead)"
    )
    scaffold.set_defaults(run=_new_connector)
    transfers = sub.add_parser(
        "transfers", help="transfers linked across the owner's accounts; link or unlink two transactions"
    )
    transfers.add_argument("action", nargs="?", choices=["link", "unlink"], help="act on two transactions")
    transfers.add_argument("ids", nargs="*", help="the two transaction ids (either order)")
    transfers.add_argument("--owner", default=None, help="the owner (default: the store's only owner)")
    transfers.add_argument("--asset", default=None, help="link: the asset, when the two share several")
    transfers.add_argument("--note", default=None, help="link/unlink: why (kept with the decision)")
    transfers.add_argument("--json", action="store_true", help="print JSON")
    transfers.add_argument("--db", type=Path, default=None)
    transfers.set_defaults(run=_transfers)
    balances = sub.add_parser("balances", help="computed vs reported balances, explained")
    which = balances.add_mutually_exclusive_group()
    which.add_argument("--owner", default=None, help="every account of this owner, and its totals")
    which.add_argument("--account", default=None, help="one account")
    balances.add_argument("--json", action="store_true", help="print JSON")
    balances.add_argument(
        "--refresh", action="store_true", help="ask each account's source for its balances first (network)"
    )
    balances.add_argument("--db", type=Path, default=None)
    balances.set_defaults(run=_balances)
    args = parser.parse_args(argv)
    if args.command == "vault" and args.action == "retire" and not args.version:
        parser.error("vault retire needs the version to retire")
    code: int = args.run(args, out)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

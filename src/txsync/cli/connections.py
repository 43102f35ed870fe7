"""``txsync connectors``, ``connect``, ``connections``, ``pause``, ``resume``, ``remove``.

Secrets never come from the command line: ``connect`` reads each secret field from the variable
``TXSYNC_SECRET_<FIELD>``, from ``--secrets-file`` (a JSON object, or ``field=value`` lines), or from a
prompt that does not echo; a secret given as ``--field`` is refused. The key is verified against the
source before anything is stored (a refused key creates nothing, not even the store).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import click

from txsync.cli._context import CliContext, data_options, pass_cli
from txsync.cli._errors import EXIT_ATTENTION, EXIT_USAGE, CliError
from txsync.cli._render import connection_json, table
from txsync.models import Credential
from txsync.store.records import ConnectionState

__all__ = ["connect", "connections", "connectors", "pause", "remove", "resume"]

SECRET_ENV_PREFIX = "TXSYNC_SECRET_"  # noqa: S105 - a variable name prefix, not a secret
FIELD_ENV_PREFIX = "TXSYNC_FIELD_"


def _info_json(entry: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": entry.id, "status": str(entry.status), "origin": entry.origin, "reason": entry.reason,
    }
    cls = entry.plugin
    if cls is None or entry.status != "available":
        return data
    info = cls.info
    data.update({
        "display_name": info.display_name,
        "kind": str(info.kind),
        "credential_fields": [f.model_dump(mode="json") for f in info.credential_fields],
        "options": [o.model_dump(mode="json") for o in getattr(info, "options", ())],
        "streams": [s.model_dump(mode="json") for s in info.streams],
        "coverage_gaps": [g.model_dump(mode="json") for g in info.coverage_gaps],
        "reports_permissions": info.reports_permissions,
        "minimal_permissions": info.minimal_permissions,
    })
    return data


@click.command()
@data_options
@pass_cli
def connectors(cli: CliContext) -> None:
    """The installed connector plugins: status, credential fields, options, streams, coverage gaps."""
    from txsync.registry import default_registry

    entries = default_registry().load_all()
    if cli.json:
        cli.emit_json([_info_json(e) for e in entries])
        return
    if not entries:
        cli.echo("No connector plugins installed.")
        return
    out = table("id", "status", "kind", "credential fields", "streams", "gaps", right=("streams", "gaps"))
    for entry in entries:
        info = entry.plugin.info if entry.plugin is not None and entry.status == "available" else None
        if info is None:
            out.add_row(entry.id, str(entry.status), "", entry.reason or "", "", "")
            continue
        fields = ", ".join(f"{f.name}{' (secret)' if f.secret else ''}" for f in info.credential_fields)
        out.add_row(entry.id, str(entry.status), str(info.kind), fields or "-", str(len(info.streams)),
                    str(len(info.coverage_gaps)))
    cli.print(out)
    cli.echo("\n`txsync connectors --json` lists every field, option, stream and coverage gap.")


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--{what} {item!r}: expected name=value", EXIT_USAGE)
        pairs[key.strip()] = value
    return pairs


def _option_value(text: str) -> Any:
    """An option's value: JSON for lists and objects (``extra_pairs=["BCC/BTC"]``), else the text."""
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except ValueError:
            raise CliError(f"--option value {stripped[:40]!r} is not valid JSON", EXIT_USAGE) from None
    return text


def _secrets_file(path: Path) -> dict[str, str]:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--secrets-file {path}: {exc.strerror}", EXIT_USAGE) from None
    if mode & 0o077:
        click.echo(f"warning: {path} is readable by other users (chmod 600 it)", err=True)
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise CliError(f"--secrets-file {path}: not valid JSON", EXIT_USAGE) from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise CliError(f"--secrets-file {path}: expected a JSON object of strings", EXIT_USAGE)
        return {str(k): v for k, v in data.items()}
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise CliError(f"--secrets-file {path}: line {number} is not field=value", EXIT_USAGE)
        found[key.strip()] = value.strip()
    return found


def _credential(
    info: Any, fields: dict[str, str], secrets_file: Path | None, interactive: bool
) -> Credential:
    from_file = _secrets_file(secrets_file) if secrets_file is not None else {}
    public: dict[str, str] = {}
    secrets: dict[str, str] = {}
    known = {f.name for f in info.credential_fields}
    for name in fields:
        if name not in known:
            raise CliError(f"{info.id} has no credential field {name!r} (it has: "
                           f"{', '.join(sorted(known)) or 'none'})", EXIT_USAGE)
    for spec in info.credential_fields:
        env_name = (SECRET_ENV_PREFIX if spec.secret else FIELD_ENV_PREFIX) + spec.name.upper()
        if spec.secret:
            if spec.name in fields:
                raise CliError(
                    f"the secret {spec.name} is never taken from the command line (it would stay in the "
                    f"shell history and the process list): set {env_name}, use --secrets-file, or type it "
                    "at the prompt", EXIT_USAGE)
            value = os.environ.get(env_name) or from_file.get(spec.name)
        else:
            value = fields.get(spec.name) or os.environ.get(env_name) or from_file.get(spec.name)
        if not value and interactive and (spec.required or spec.secret):
            value = click.prompt(spec.label, hide_input=spec.secret,
                                 default="" if not spec.required else None, show_default=False, err=True)
        if not value:
            if spec.required:
                raise CliError(
                    f"no value for {spec.name} ({spec.label}): set {env_name}"
                    + (", use --secrets-file" if spec.secret else f", pass --field {spec.name}=...")
                    + " or run in a terminal to be prompted", EXIT_USAGE)
            continue
        (secrets if spec.secret else public)[spec.name] = value
    return Credential(connector_id=info.id, public=public, secrets=secrets)


@click.command()
@click.argument("connector")
@click.option("--owner", required=True, help="The owner (user) the account belongs to.")
@click.option("--label", default="", help="A name for the account and connection.")
@click.option("--account", "account_id", default=None, help="Add the key to this existing account.")
@click.option("--option", "options", multiple=True, metavar="NAME=VALUE",
              help="A connection option (repeatable); lists and objects as JSON.")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE",
              help="A public credential field (an address, an xpub); never a secret.")
@click.option("--secrets-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A file holding the secret fields (JSON object or field=value lines).")
@click.option("--interactive/--no-interactive", default=None,
              help="Prompt for missing fields (default: when stdin is a terminal).")
@click.option("--no-verify", is_flag=True, help="Store the key without asking the source (offline tools).")
@data_options
@pass_cli
def connect(cli: CliContext, connector: str, owner: str, label: str, account_id: str | None,
            options: tuple[str, ...], fields: tuple[str, ...], secrets_file: Path | None,
            interactive: bool | None, no_verify: bool) -> None:
    """Connect an account: CONNECTOR's key (or address, or file) for --owner, verified first.

    Secrets come from TXSYNC_SECRET_<FIELD> variables, --secrets-file or a prompt, never from argv."""
    from txsync.registry import default_registry
    from txsync.store import SqliteStore

    registry = default_registry()
    info = registry.get(connector).info
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    credential = _credential(info, _pairs(fields, "field"), secrets_file, interactive)
    parsed = {k: _option_value(v) for k, v in _pairs(options, "option").items()}
    warnings: list[str] = []
    if not no_verify:
        # Verify against the source before the store (or a master key) is created: a refused key
        # leaves nothing behind.
        probe = SqliteStore(":memory:")
        try:
            _, warnings = cli.engine(probe, registry=registry).check_credential_blocking(
                credential, options=parsed)
        finally:
            probe.close()
    store = cli.store(create=True)
    engine = cli.engine(store, registry=registry)
    connection = engine.connect(owner, credential, account_id=account_id, label=label, options=parsed,
                                verify=False)
    if cli.json:
        data = connection_json(connection, owner, True)
        data["warnings"] = warnings
        cli.emit_json(data)
        return
    cli.echo(f"Connected {info.display_name} for {owner}: connection {connection.id}, "
             f"account {connection.account_id}")
    for warning in warnings:
        cli.echo(f"  warning: {warning}")
    cli.echo(f"Sync it with: txsync sync {connection.id}")


@click.command()
@click.option("--owner", default=None, help="Only this owner's connections.")
@data_options
@pass_cli
def connections(cli: CliContext, owner: str | None) -> None:
    """The connections (keys, addresses, files) and their state."""
    store = cli.store()
    found = store.connections_of(owner) if owner is not None else store.list_connections()
    owners = {a.id: a.owner_id for a in store.list_accounts(owner)}
    keyed = {c for c, _, _ in store.sealed_blobs()}
    rows = [(c, owners.get(c.account_id, ""), c.id in keyed or store.get_credential(c.id) is not None)
            for c in found]
    if cli.json:
        cli.emit_json([connection_json(c, o, k) for c, o, k in rows])
        return
    if not rows:
        cli.echo("No connections." + ("" if owner is None else f" (owner {owner})"))
        return
    out = table("connection", "owner", "connector", "label", "state", "last sync", "key")
    for c, o, k in rows:
        last = c.last_sync_at.strftime("%Y-%m-%d %H:%M") if c.last_sync_at else "never"
        state = str(c.state) + (f": {c.state_reason}" if c.state_reason and c.state != "active" else "")
        key = "yes" if k else ("-" if c.state == ConnectionState.MANUAL else "MISSING")
        out.add_row(c.id, o, c.connector_id, c.label, state, last, key)
    cli.print(out)


def _set_state(cli: CliContext, connection_id: str, state: ConnectionState) -> None:
    store = cli.store()
    engine = cli.engine(store)
    paused = state == ConnectionState.PAUSED
    connection = engine.pause(connection_id) if paused else engine.resume(connection_id)
    if cli.json:
        cli.emit_json(connection_json(connection))
    else:
        cli.echo(f"{connection.id}: {connection.state}")


@click.command()
@click.argument("connection_id", metavar="CONNECTION")
@data_options
@pass_cli
def pause(cli: CliContext, connection_id: str) -> None:
    """Stop syncing CONNECTION until it is resumed."""
    _set_state(cli, connection_id, ConnectionState.PAUSED)


@click.command()
@click.argument("connection_id", metavar="CONNECTION")
@data_options
@pass_cli
def resume(cli: CliContext, connection_id: str) -> None:
    """Make a paused or disabled CONNECTION active again."""
    _set_state(cli, connection_id, ConnectionState.ACTIVE)


@click.command()
@click.argument("connection_id", metavar="CONNECTION")
@click.option("--account", "whole_account", is_flag=True,
              help="Erase the connection's whole account: every key, its ledger and your edits.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@data_options
@pass_cli
def remove(cli: CliContext, connection_id: str, whole_account: bool, yes: bool) -> None:
    """Remove CONNECTION, its key destroyed (the account's ledger stays unless --account)."""
    store = cli.store()
    connection = store.get_connection(connection_id)
    what = (f"account {connection.account_id} with its ledger, your edits and every key"
            if whole_account else f"connection {connection_id} and its key")
    if not yes:
        if not (sys.stdin is not None and sys.stdin.isatty()):
            raise CliError(f"removing {what} cannot be undone: confirm with --yes", EXIT_USAGE)
        if not click.confirm(f"Remove {what}? This cannot be undone", default=False, err=True):
            raise click.exceptions.Exit(EXIT_ATTENTION)
    engine = cli.engine(store)
    if whole_account:
        engine.remove_account(connection.account_id)
    else:
        engine.remove_connection(connection_id)
    if cli.json:
        cli.emit_json({"removed": "account" if whole_account else "connection",
                       "connection_id": connection_id, "account_id": connection.account_id})
    else:
        cli.echo(f"Removed {what}.")

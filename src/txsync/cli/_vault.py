"""``txsync vault status|rotate|retire``, and the vault the other commands open only when needed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from txsync.cli._context import CliContext, data_options, pass_cli
from txsync.cli._errors import EXIT_ATTENTION
from txsync.errors import TxsyncError
from txsync.models import Credential
from txsync.store.records import ConnectionRecord

__all__ = ["LazyVault", "vault"]


class LazyVault:
    """The engine's credential provider for the command line: the local KMS (and so the master key
    file) is opened on the first key stored or opened, never by a command that only reads, lists or
    removes (removal deletes the sealed blobs without any key)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._inner: Any = None

    def _vault(self) -> Any:
        if self._inner is None:
            from txsync.vault import VaultCredentials, local_kms

            self._inner = VaultCredentials(self.store, local_kms(self.store))
        return self._inner

    def put(self, connection: ConnectionRecord, credential: Credential) -> None:
        """Seal and store a key (opens, or creates, the master key)."""
        self._vault().put(connection, credential)

    def open(self, connection: ConnectionRecord) -> Credential:
        """Open a stored key for a sync."""
        return self._vault().open(connection)  # type: ignore[no-any-return]

    def drop(self, connection_id: str) -> None:
        """Forget a key: its sealed blobs are deleted, no master key is needed."""
        self.store.drop_credential(connection_id)

    def __repr__(self) -> str:
        return "LazyVault()"


def _has_master_key(store: Any) -> bool:
    from txsync.vault import ENV_MASTER_KEY, default_key_path
    from txsync.vault import ENV_USE_KEYRING as keyring_env

    if os.environ.get(ENV_MASTER_KEY) or os.environ.get(keyring_env) == "1":
        return True
    return default_key_path(getattr(store, "path", None)).exists()


def _status(cli: CliContext, store: Any, kms: Any) -> None:
    from txsync.vault import key_usage

    usage = key_usage(store)
    if cli.json:
        cli.emit_json({
            "master_key": repr(kms),
            "versions": [
                {"version": info.key.version, "primary": info.primary, "retired": info.retired,
                 "sealed_secrets": usage.pop(info.key, 0)}
                for info in kms.versions()
            ],
            "unknown_keys": {str(ref): count for ref, count in usage.items()},
        })
        return
    cli.echo(f"Master key: {kms!r}")
    for info in kms.versions():
        state = "primary" if info.primary else "retired" if info.retired else "active"
        count = usage.pop(info.key, 0)
        cli.echo(f"  version {info.key.version:<6}{state:<9}{count:>6} sealed secrets")
    for ref, count in usage.items():
        cli.echo(f"  {ref}: {count} sealed secrets under a key this KMS does not have")


def _run(cli: CliContext, action: str, version: str | None = None, force: bool = False) -> None:
    from txsync.vault import local_kms, retire_version, rewrap_all

    store = cli.store()
    if not _has_master_key(store) and not store.sealed_blobs():
        if cli.json:
            cli.emit_json({"master_key": None, "versions": [], "unknown_keys": {}})
        else:
            cli.echo("No master key yet: none is needed until a key is connected.")
        if action != "status":
            raise click.exceptions.Exit(EXIT_ATTENTION)
        return
    try:
        kms = local_kms(store)
        if action == "rotate":
            new = kms.add_version()
            result = rewrap_all(store, kms)
            if not cli.json:
                cli.echo(f"New primary master key version: {new}")
                cli.echo(f"Re-wrapped {result.rewrapped} data keys "
                         f"({result.already_primary} already current)")
                for connection_id, field, reason in result.failed:
                    cli.echo(f"  not re-wrapped: {connection_id} {field}: {reason}")
        elif action == "retire":
            assert version is not None
            retire_version(store, kms, version, force=force)
            if not cli.json:
                cli.echo(f"Retired master key version {version}")
        _status(cli, store, kms)
    except TxsyncError as exc:
        cli.echo(f"{type(exc).__name__}: {exc}")
        raise click.exceptions.Exit(EXIT_ATTENTION) from None


@click.group()
@data_options
def vault() -> None:
    """Master key versions, rotation and retirement (local KMS)."""


@vault.command()
@data_options
@pass_cli
def status(cli: CliContext) -> None:
    """Master key versions and how many sealed secrets each protects."""
    _run(cli, "status")


@vault.command()
@data_options
@pass_cli
def rotate(cli: CliContext) -> None:
    """Add a new primary master key version and re-wrap every data key with it."""
    _run(cli, "rotate")


@vault.command()
@click.argument("version")
@click.option("--force", is_flag=True, help="Retire even if secrets still need it.")
@data_options
@pass_cli
def retire(cli: CliContext, version: str, force: bool) -> None:
    """Retire master key VERSION (refused while a secret still needs it)."""
    _run(cli, "retire", version, force)


def key_file(store: Any) -> Path:
    """Where the store's master key file is (for messages)."""
    from txsync.vault import default_key_path

    return default_key_path(getattr(store, "path", None))

"""``txsync sandbox``: the built-in sandboxes served over real HTTP.

``txsync sandbox list`` names them; ``txsync sandbox serve NAME [--port N] [--host 127.0.0.1]`` serves
one until Ctrl-C, printing its base URL, the connection options that point its connector at it and
its test accounts (the sandbox's own published keys or addresses). Several processes (workers, a
benchmark, a connector author's tool) then call one emulated exchange that meters all of them together;
``GET /__sandbox__/stats`` returns its counters (requests, answers by status, 429s, 418s, weight).
"""

from __future__ import annotations

import json
from typing import Any

import click

from txsync.cli._context import CliContext, pass_cli

__all__ = ["sandbox"]

#: Accounts printed in full; the others are summed up.
_SHOWN = 5


@click.group()
def sandbox() -> None:
    """Serve the built-in exchange and explorer emulations over HTTP."""


@sandbox.command("list")
@pass_cli
def list_sandboxes(cli: CliContext) -> None:
    """The sandboxes ``txsync sandbox serve`` can serve."""
    from txsync.sandboxes import SANDBOXES

    if cli.json:
        cli.echo(json.dumps({name: about for name, (about, _target) in sorted(SANDBOXES.items())}))
        return
    for name, (about, _target) in sorted(SANDBOXES.items()):
        cli.echo(f"{name:10} {about}")


@sandbox.command("serve")
@click.argument("name")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="The port (0: any free one, printed).")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--accounts", type=click.IntRange(1, 100_000), default=None,
              help="Binance: serve this many small accounts behind one IP, each with its own key.")
@click.option("--window", type=click.FloatRange(0.1, 3600), default=None,
              help="Binance: the length of a weight window in seconds (60, as on Binance; shorter "
                   "compresses time for benchmarks, the limits per window staying Binance's).")
@pass_cli
def serve(
    cli: CliContext, name: str, port: int, host: str, accounts: int | None, window: float | None
) -> None:
    """Serve the sandbox NAME on HOST:PORT until Ctrl-C."""
    from txsync.sandboxes import STATS_PATH, SandboxServer, served_sandbox

    params: dict[str, Any] = {}
    if accounts is not None:
        params["accounts"] = accounts
    if window is not None:
        params["window"] = window
    served = served_sandbox(name, **params)
    server = SandboxServer(served, host=host, port=port)
    url = server.base_url
    options = served.options(url)
    if cli.json:
        cli.echo(json.dumps({
            "sandbox": served.name, "connector": served.connector, "base_url": url, "options": options,
            "stats_url": url + STATS_PATH, "note": served.note,
            "accounts": [{"label": a.label, "credential": dict(a.fields)} for a in served.accounts],
        }))
    else:
        cli.echo(f"Serving the {served.name} sandbox at {url}  (Ctrl-C stops it)")
        if served.note:
            cli.echo(f"  {served.note}")
        cli.echo(f"  connector: {served.connector}   options: {json.dumps(options)}")
        cli.echo(f"  counters: GET {url}{STATS_PATH}")
        for account in served.accounts[:_SHOWN]:
            fields = "  ".join(f"{k}={v}" for k, v in account.fields.items())
            cli.echo(f"  {account.label}: {fields}")
        if len(served.accounts) > _SHOWN:
            cli.echo(f"  ... and {len(served.accounts) - _SHOWN} more accounts (--json lists them all)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        cli.echo("stopped", err=True)

"""``txsync new-connector``: a connector project from the template in :mod:`txsync.scaffold`."""

from __future__ import annotations

from pathlib import Path

import click

from txsync.cli._context import CliContext, pass_cli
from txsync.cli._errors import EXIT_USAGE

__all__ = ["new_connector"]


@click.command("new-connector")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The project directory to create (default ./txsync-NAME).")
@click.option("--no-record", is_flag=True, help="Do not record the cassettes (print the command instead).")
@pass_cli
def new_connector(cli: CliContext, name: str, directory: Path | None, no_record: bool) -> None:
    """Generate a connector project: package, sandbox, contract tests, recorded cassettes.

    NAME is the connector id (lower case, digits, underscores), e.g. acme."""
    from txsync.scaffold import ScaffoldError
    from txsync.scaffold import new_connector as make

    try:
        made = make(name, directory, record=not no_record)
    except ScaffoldError as exc:
        cli.echo(f"txsync new-connector: {exc}")
        raise click.exceptions.Exit(EXIT_USAGE) from None
    cli.echo(f"Created {made.names.distribution} in {made.directory}:")
    for path in made.files:
        cli.echo(f"  {path}")
    if made.recorded:
        cli.echo(f"Recorded {len(made.cassettes)} cassettes from the sandbox into "
                 f"cassettes/{made.names.name}/.")
    else:
        cli.echo(f"Cassettes not recorded ({made.note}). Record them with:\n  {made.record_command}")
    cli.echo(f"\nNext:\n  cd {made.directory}\n  pip install -e '.[test]'\n  pytest\n"
             "Then write the sandbox from your API's documentation, adapt the connector, re-record.")

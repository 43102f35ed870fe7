"""``txsync new-connector NAME``: a pip-installable connector project, ready to test.

:func:`new_connector` writes the project template shipped in this package (``template/``, package
data) with every name derived from the connector id, then records the contract cassettes from the
generated sandbox, so the project's tests pass out of the box::

    txsync-acme/
        pyproject.toml              the txsync.connectors entry point, the test extra
        src/txsync_acme/            the connector (connector.py, _streams.py)
            sandbox/                its sandbox (_server.py, _scenario.py), laid out as the built-ins'
        tests/test_contract.py      the contract kit (txsync.testing.ConnectorContract)
        tests/test_connector.py     bad paths against the sandbox
        cassettes/acme/             recorded from the sandbox

Recording needs the kit's extra (``pip install 'txsync[testing]'``); without it, or with
``record=False``, the project is written and :attr:`NewConnector.record_command` says how to record.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from importlib.util import find_spec
from pathlib import Path
from string import Template

from txsync.errors import ConfigurationError
from txsync.scaffold._names import RESERVED, ProjectNames

__all__ = [
    "RESERVED",
    "NewConnector",
    "ProjectNames",
    "ScaffoldError",
    "new_connector",
    "record_command",
    "template_files",
]

_SUFFIX = ".tmpl"
_RENAMES = {"gitignore": ".gitignore"}
#: Modules recording needs in the interpreter that runs it (the kit's extra).
_RECORDING_NEEDS = ("pytest", "vcr", "yaml")


class ScaffoldError(ConfigurationError):
    """The project cannot be generated (bad name, directory in the way) or its cassettes not recorded."""


@dataclass(frozen=True)
class NewConnector:
    """What :func:`new_connector` made."""

    names: ProjectNames
    directory: Path
    #: The files written, relative to ``directory`` (cassettes not included).
    files: tuple[Path, ...]
    #: Whether the contract cassettes were recorded.
    recorded: bool
    #: The command (run in ``directory``) that records the cassettes.
    record_command: str
    #: Why the cassettes were not recorded, when they were not.
    note: str = ""
    cassettes: tuple[Path, ...] = field(default=())


def _template() -> Traversable:
    return files("txsync.scaffold").joinpath("template")


def template_files() -> list[str]:
    """The template's files (paths relative to the template root, as shipped)."""
    found: list[str] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            path = f"{prefix}{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, path + "/")
            elif child.name.endswith(_SUFFIX):
                found.append(path)

    walk(_template(), "")
    return found


def _target(template_path: str, names: ProjectNames) -> Path:
    parts = [part.replace("__package__", names.package) for part in template_path[: -len(_SUFFIX)].split("/")]
    parts[-1] = _RENAMES.get(parts[-1], parts[-1])
    return Path(*parts)


def _mapping(names: ProjectNames) -> dict[str, str]:
    from txsync import __version__

    sandbox_classes = sorted(["Scenario", f"{names.cls}Sandbox"])
    return {
        "name": names.name,
        "package": names.package,
        "distribution": names.distribution,
        "cls": names.cls,
        "title": names.title,
        "host": names.host,
        "key_header": names.key_header,
        "weight_header": names.weight_header,
        "key": names.key,
        "secret": names.secret,
        "txsync_version": __version__,
        "sandbox_classes": "\n".join(f'    "{name}",' for name in sandbox_classes),
    }


def _render(names: ProjectNames, directory: Path) -> list[Path]:
    mapping = _mapping(names)
    root = _template()
    written: list[Path] = []
    for template_path in template_files():
        node = root.joinpath(*template_path.split("/"))
        try:
            text = Template(node.read_text(encoding="utf-8")).substitute(mapping)
        except (KeyError, ValueError) as exc:  # pragma: no cover - a broken template is a txsync bug
            raise ScaffoldError(f"template {template_path} is broken: {exc!r}") from None
        target = _target(template_path, names)
        (directory / target).parent.mkdir(parents=True, exist_ok=True)
        (directory / target).write_text(text, encoding="utf-8")
        written.append(target)
    (directory / "cassettes" / names.name).mkdir(parents=True, exist_ok=True)
    return written


def record_command(python: str | None = None) -> str:
    """The shell command, run in the project directory, that records the cassettes from the sandbox."""
    return f"TXSYNC_RECORD=1 {python or 'python'} -m pytest tests/test_contract.py"


def _record(directory: Path, python: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TXSYNC_RECORD": "1"}
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_contract.py"]
    # A fixed command: the given interpreter's pytest on the project just written.
    return subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True, check=False)  # noqa: S603


def new_connector(
    name: str,
    directory: str | os.PathLike[str] | None = None,
    *,
    record: bool = True,
    python: str | None = None,
) -> NewConnector:
    """Write a connector project for connector id ``name`` into ``directory`` (default
    ``./txsync-<name>``; it must not exist or be empty) and, unless ``record`` is false, record its
    contract cassettes from its sandbox with ``python`` (default: this interpreter).

    Raises :class:`ScaffoldError` for an invalid or reserved name, a directory in the way, or a
    recording that fails (its output is in the message).
    """
    try:
        names = ProjectNames(name)
    except ConfigurationError as exc:
        raise ScaffoldError(str(exc)) from None
    target = Path(directory) if directory is not None else Path.cwd() / names.distribution
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not an empty directory")
    target.mkdir(parents=True, exist_ok=True)
    written = _render(names, target)
    interpreter = python or sys.executable
    command = record_command(python)
    if not record:
        return NewConnector(names, target, tuple(written), False, command, note="recording not asked for")
    if python is None:
        missing = [module for module in _RECORDING_NEEDS if find_spec(module) is None]
        if missing:
            note = f"recording needs {', '.join(missing)}: pip install 'txsync[testing]'"
            return NewConnector(names, target, tuple(written), False, command, note=note)
    try:
        run = _record(target, interpreter)
    except OSError as exc:
        raise ScaffoldError(f"cannot run {interpreter} to record the cassettes: {exc}") from None
    if run.returncode != 0:
        tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-30:])
        raise ScaffoldError(f"recording the cassettes in {target} failed:\n{tail}")
    cassettes = tuple(sorted(p.relative_to(target) for p in (target / "cassettes").rglob("*.yaml")))
    return NewConnector(names, target, tuple(written), True, command, cassettes=cassettes)

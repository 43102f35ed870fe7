"""The docs site's griffe extension: the Sphinx roles of docstrings become optional autorefs, each
naming the full path of what the role means from where it is written."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import griffe

EXTENSION = Path(__file__).resolve().parents[2] / "docs_tools" / "griffe_sphinx_roles.py"

PACKAGE = {
    "__init__.py": '''
        """The package. See :class:`~pkg.core.Thing`, :func:`helper` and ``:class:`literal` ``."""

        from pkg.core import Thing, helper

        __all__ = ["Thing", "helper"]
    ''',
    "core.py": '''
        """Core: :class:`Thing` and :data:`LIMIT`."""

        LIMIT = 3


        class Thing:
            """A thing: :meth:`run` it; unlike :class:`Unknown` or :mod:`decimal`."""

            def run(self) -> None:
                """Calls :meth:`stop`, then :func:`helper`, then :meth:`~pkg.core.Thing.stop`."""

            def stop(self) -> None:
                """No roles here."""


        def helper() -> None:
            """Uses :class:`Thing` and :attr:`.Thing.run`."""
    ''',
}


def _load(tmp_path: Path) -> griffe.Module:
    root = tmp_path / "pkg"
    root.mkdir()
    for name, source in PACKAGE.items():
        (root / name).write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    loaded = griffe.load(
        "pkg", search_paths=[str(tmp_path)], extensions=griffe.load_extensions(str(EXTENSION)),
    )
    assert isinstance(loaded, griffe.Module)
    return loaded


def _refs(text: str) -> list[tuple[str, str]]:
    """The (identifier, title) of each reference in a rewritten docstring."""
    return re.findall(r'<autoref optional identifier="([^"]+)">`([^`]+)`</autoref>', text)


def test_roles_become_optional_references_to_full_paths(tmp_path: Path) -> None:
    pkg = _load(tmp_path)
    core = pkg["core"]
    thing = core["Thing"]
    assert _refs(pkg.docstring.value) == [("pkg.core.Thing", "Thing"), ("pkg.core.helper", "helper")]
    assert _refs(core.docstring.value) == [("pkg.core.Thing", "Thing"), ("pkg.core.LIMIT", "LIMIT")]
    # a method's siblings, the module's functions, a fully qualified name shown short
    assert _refs(thing["run"].docstring.value) == [
        ("pkg.core.Thing.stop", "stop"), ("pkg.core.helper", "helper"), ("pkg.core.Thing.stop", "stop"),
    ]
    # names that resolve nowhere stay as written (an optional reference renders them as code)
    assert _refs(thing.docstring.value) == [
        ("pkg.core.Thing.run", "run"), ("Unknown", "Unknown"), ("decimal", "decimal"),
    ]
    assert _refs(core["helper"].docstring.value) == [
        ("pkg.core.Thing", "Thing"), ("pkg.core.Thing.run", "Thing.run"),
    ]


def test_text_without_roles_is_left_alone(tmp_path: Path) -> None:
    pkg = _load(tmp_path)
    assert pkg["core"]["Thing"]["stop"].docstring.value == "No roles here."
    # a role shown inside a ``literal`` stays as written
    assert "``:class:`literal` ``" in pkg.docstring.value
    assert ":class:" not in pkg["core"].docstring.value

"""A griffe extension for the docs site: Sphinx cross-reference roles become links.

txsync's docstrings name other objects with Sphinx roles (``:class:`~txsync.store.Store```,
``:meth:`sync```). mkdocstrings renders Markdown, where such a role would show as literal text; this
extension rewrites each role into an *optional* mkdocs-autorefs reference: a link when the target is
rendered somewhere on the site, plain code otherwise (an optional reference never fails a ``--strict``
build, since many targets, the standard library's included, have no page).

Names are resolved the way a reader would: a dotted name that starts with the package's name
(``txsync.``) is taken as written; any other name is looked up in the scope of the documented object
(its members, its module's imports, its parents), then its remaining attributes appended. ``~`` shows
only the last component. A role shown inside a ````literal```` stays as written.

Loaded by ``mkdocs.yml`` (``plugins.mkdocstrings.handlers.python.options.extensions``).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, GriffeLoader, Module, NameResolutionError, Object

__all__ = ["SphinxRoles"]

_LITERAL = re.compile(r"(``.+?``)", re.DOTALL)
_ROLE = re.compile(r":(?:class|func|meth|data|mod|attr|exc|obj|const):`(?P<target>[^`<>]+)`")


def _identifier(obj: Object, target: str) -> str:
    """The full dotted path ``target`` names from ``obj``'s docstring (``target`` itself if unknown)."""
    name = target.lstrip(".")
    if name.partition(".")[0] == obj.package.name:
        return name
    head, dot, rest = name.partition(".")
    scopes = [obj] if obj.is_module or obj.is_class else []
    if obj.parent is not None:
        scopes.append(obj.parent)
    for scope in scopes:
        try:
            resolved = scope.resolve(head)
        except (NameResolutionError, AttributeError, KeyError):
            continue
        return f"{resolved}{dot}{rest}"
    return name


def _rewrite(obj: Object, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        target = match["target"].strip()
        short = target.startswith("~")
        target = target.lstrip("~")
        title = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
        return f'<autoref optional identifier="{_identifier(obj, target)}">`{title}`</autoref>'

    # a role shown inside a ``literal`` stays as written
    parts = _LITERAL.split(text)
    return "".join(part if i % 2 else _ROLE.sub(replace, part) for i, part in enumerate(parts))


class SphinxRoles(Extension):
    """Rewrites the Sphinx roles of every docstring once the object tree is complete."""

    def on_object(self, *, obj: Object, loader: GriffeLoader, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring (aliases are left to their targets)."""
        _rewrite_docstring(obj)

    def on_package(self, *, pkg: Module, loader: GriffeLoader, **kwargs: Any) -> None:
        """Rewrite the top-level package's own docstring (not an ``on_object`` event)."""
        _rewrite_docstring(pkg)


def _rewrite_docstring(obj: Object) -> None:
    # rewriting is idempotent: a rewritten docstring has no role left
    if obj.is_alias or obj.docstring is None or ":`" not in obj.docstring.value:
        return
    obj.docstring.value = _rewrite(obj, obj.docstring.value)

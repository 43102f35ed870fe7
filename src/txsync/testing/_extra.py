"""The ``txsync[testing]`` extra: what the connector-author kit imports, and the error that names it."""

from __future__ import annotations

__all__ = ["INSTALL_HINT", "KIT_MODULES", "missing_extra"]

#: The command that installs the kit's dependencies.
INSTALL_HINT = "pip install 'txsync[testing]'"

#: Top-level modules the kit imports that a plain ``pip install txsync`` does not bring
#: (pytest, vcrpy, PyYAML).
KIT_MODULES = frozenset({"pytest", "_pytest", "vcr", "yaml"})


def missing_extra(exc: ModuleNotFoundError, what: str) -> ModuleNotFoundError:
    """The error to raise when importing ``what`` failed with ``exc``.

    A missing kit dependency becomes a :class:`ModuleNotFoundError` (an ``ImportError``) saying which
    extra to install; anything else is returned unchanged, so a broken installation is not hidden.
    """
    missing = (exc.name or "").partition(".")[0]
    if missing not in KIT_MODULES:
        return exc
    return ModuleNotFoundError(
        f"{what} needs {missing!r}, which comes with the connector-author kit's extra: {INSTALL_HINT}",
        name=exc.name,
    )

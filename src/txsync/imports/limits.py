"""Safety limits of every file import: size, decompression ratio, line length, archive members."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from txsync.errors import ConfigurationError

__all__ = ["DEFAULT_LIMITS", "ImportLimits"]

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """What an importer reads at most. A file beyond a limit is a :class:`~txsync.errors.FileLimitError`.

    * ``max_bytes``: the largest file read, and the most bytes an archive (or a compressed file)
      may expand to, all members together.
    * ``max_ratio``: the most an archive member or a compressed file may expand relative to its
      compressed size (real CSV exports compress 5-30x; a zip bomb 1,000x and more). Checked once a
      member has produced more than ``ratio_floor`` bytes, so tiny, very compressible files pass.
    * ``max_line_chars``: the longest physical line (a file without line breaks is not a CSV).
    * ``max_members``: the most files an archive may hold.
    """

    max_bytes: int = 512 * _MIB
    max_ratio: int = 200
    ratio_floor: int = 1 * _MIB
    max_line_chars: int = 1 * _MIB
    max_members: int = 1000

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, base: ImportLimits | None = None) -> ImportLimits:
        """The defaults with the connection options ``max_bytes`` / ``max_ratio`` applied."""
        limits = base or DEFAULT_LIMITS
        changes: dict[str, int] = {}
        for name in ("max_bytes", "max_ratio"):
            if name in options:
                value = options[name]
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ConfigurationError(f"import option {name!r} must be a positive integer")
                changes[name] = value
        return replace(limits, **changes) if changes else limits


#: The limits used unless a connection's options say otherwise.
DEFAULT_LIMITS = ImportLimits()

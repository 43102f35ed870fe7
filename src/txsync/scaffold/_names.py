"""The names a new connector project is generated with, all derived from its connector id."""

from __future__ import annotations

import hashlib
import keyword
import re
from dataclasses import dataclass

from txsync.errors import ConfigurationError

__all__ = ["RESERVED", "ProjectNames"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,23}$")

#: Ids a generated connector may not take: the built-in connectors' (a second plugin claiming one
#: would be reported as a duplicate) and names that would shadow txsync's own packages.
RESERVED = frozenset(
    {"binance", "binance_statement", "bitcoin", "bitstamp", "demo", "evm", "paymium", "testing", "txsync"}
)


@dataclass(frozen=True)
class ProjectNames:
    """Every name the template uses, derived from the connector id ``name`` (``acme_pro``):

    ``package`` ``txsync_acme_pro``, ``distribution`` ``txsync-acme-pro``, ``cls`` ``AcmePro``,
    ``title`` ``Acme Pro``, ``host`` ``api.acme-pro.example``, the API key and weight headers, and a
    sandbox test key and secret (long, distinctive, derived from the name so that re-generating gives
    the same cassettes).
    """

    name: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or "__" in self.name or self.name.endswith("_"):
            raise ConfigurationError(
                f"connector name {self.name!r} is not valid: use 2 to 24 lower-case letters, digits and "
                "single underscores, starting with a letter (e.g. acme or acme_pro)"
            )
        if keyword.iskeyword(self.name) or self.name in RESERVED:
            raise ConfigurationError(f"connector name {self.name!r} is reserved: choose another")

    @property
    def package(self) -> str:
        """The Python package: ``txsync_<name>``."""
        return f"txsync_{self.name}"

    @property
    def distribution(self) -> str:
        """The distribution (what ``pip install`` takes): ``txsync-<name with dashes>``."""
        return f"txsync-{self.name.replace('_', '-')}"

    @property
    def cls(self) -> str:
        """The connector class: the name in CamelCase."""
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def title(self) -> str:
        """The display name: the name's words, capitalized."""
        return " ".join(part.capitalize() for part in self.name.split("_"))

    @property
    def host(self) -> str:
        """The example API's host (the ``.example`` top-level domain never resolves)."""
        return f"api.{self.name.replace('_', '-')}.example"

    @property
    def key_header(self) -> str:
        """The header carrying the API key."""
        return f"X-{self.name.replace('_', '-').upper()}-APIKEY"

    @property
    def weight_header(self) -> str:
        """The header the API reports the weight used this minute in."""
        return f"X-{self.name.replace('_', '-').upper()}-USED-WEIGHT"

    def _derived(self, what: str) -> str:
        return hashlib.sha256(f"txsync sandbox {what} for {self.name}".encode()).hexdigest()

    @property
    def key(self) -> str:
        """The sandbox's test API key."""
        return f"sbx-{self.name.replace('_', '-')}-key-{self._derived('key')[:40]}"

    @property
    def secret(self) -> str:
        """The sandbox's test API secret."""
        return f"sbx-{self.name.replace('_', '-')}-secret-{self._derived('secret')[:40]}"

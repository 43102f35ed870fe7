"""Credentials: what a user hands a connector. Secret values never leave through repr, dumps or pickle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from pydantic import Field, SecretStr

from txsync.models.base import TxsyncModel

__all__ = ["Credential", "Permissions"]


class Credential(TxsyncModel):
    """The values a connection authenticates with.

    ``public`` holds values that are not secret (a wallet address, an xpub, a Bitstamp customer id);
    ``secrets`` holds API keys and secrets as :class:`pydantic.SecretStr`. Printing, formatting,
    ``model_dump``/``model_dump_json`` and JSON show ``'**********'`` for each secret; pickling raises
    ``TypeError`` so a credential cannot leak into a cache, a queue or a crash dump.
    """

    connector_id: str = Field(min_length=1)
    public: Mapping[str, str] = Field(default_factory=dict)
    secrets: Mapping[str, SecretStr] = Field(default_factory=dict)

    def secret(self, name: str) -> str:
        """Reveal one secret value. Call it only where the value is used (signing a request)."""
        try:
            return self.secrets[name].get_secret_value()
        except KeyError:
            raise KeyError(f"credential for {self.connector_id!r} has no secret field {name!r}") from None

    def value(self, name: str) -> str:
        """Return a field, public or secret, by name."""
        if name in self.public:
            return self.public[name]
        return self.secret(name)

    def has(self, name: str) -> bool:
        """Whether the credential holds the field ``name``."""
        return name in self.public or name in self.secrets

    def secret_values(self) -> tuple[str, ...]:
        """Every secret value, for redaction filters. Never log the result."""
        return tuple(v.get_secret_value() for v in self.secrets.values() if v.get_secret_value())

    def __repr__(self) -> str:
        return (
            f"Credential(connector_id={self.connector_id!r}, public={dict(self.public)!r}, "
            f"secrets={sorted(self.secrets)!r})"
        )

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return format(repr(self), format_spec)

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a Credential cannot be pickled: store it sealed through txsync.vault")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Credential cannot be pickled: store it sealed through txsync.vault")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a Credential cannot be pickled: store it sealed through txsync.vault")


class Permissions(TxsyncModel):
    """What a credential may do, as the remote side reports it.

    ``None`` means unknown: the exchange has no permission endpoint (``reported`` is then ``False``),
    so the engine relies on the user's word and the connector's documentation.
    """

    reported: bool
    can_read: bool = True
    can_trade: bool | None = None
    can_withdraw: bool | None = None
    can_transfer: bool | None = None
    ip_restricted: bool | None = None
    details: Mapping[str, Any] = Field(default_factory=dict)

    @property
    def dangerous(self) -> bool:
        """Whether the key can move funds out (withdraw or transfer)."""
        return bool(self.can_withdraw) or bool(self.can_transfer)

"""Raw and normalized transactions, their legs and where they came from.

These are the value types of the ingest path: every record a connector reads becomes a
:class:`RawTransaction`, and every event it normalizes a :class:`NormalizedTransaction` made of
:class:`Leg` s, so a sync builds several of them per transaction. They are ``msgspec`` structs with
their rules checked in ``__post_init__`` (the same rules the pydantic models checked: exact finite
``Decimal`` amounts, never floats; aware UTC times; at least one leg; non-blank assets), at a fraction
of a pydantic model's cost, and untracked by the cyclic garbage collector. They are frozen, compare by
value, and keep pydantic-style helpers (``model_copy``, ``model_dump``, ``model_construct``) for code
written against the earlier models. A wrong field value raises :class:`~txsync.errors.ModelError`; an
unknown keyword argument raises ``TypeError``, as for any Python call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self

import msgspec
from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from txsync.errors import ModelError
from txsync.models.enums import LegRole, Origin, TransactionKind, TransactionStatus
from txsync.models.values import (
    AMOUNT_MAX_DECIMALS,
    AMOUNT_MAX_INTEGER_DIGITS,
    check_amount,
    check_amount_range,
    exact,
    to_utc,
)

__all__ = [
    "Leg",
    "NormalizedTransaction",
    "RawTransaction",
    "SourceRef",
    "net_deltas",
    "transaction_id",
]

_force = msgspec.structs.force_setattr
_MAX_ASSET = 200
_BIG = AMOUNT_MAX_INTEGER_DIGITS
_SMALL = AMOUNT_MAX_DECIMALS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIELDS: dict[type, tuple[Any, ...]] = {}


def transaction_id(account_id: str, origin: Origin | str, key: str) -> str:
    """The deterministic id of the transaction a source describes with ``key`` in ``account_id``.

    The same event always gets the same id, whichever connection (or replaced key) of the account
    reads it, so user edits keyed by id survive every re-sync.
    """
    text = account_id + "\x1f" + str(origin) + "\x1f" + key
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _invalid(model: str, field: str, message: str) -> ModelError:
    return ModelError(f"invalid {model}: {field}: {message}")


def _text(model: str, field: str, value: Any) -> None:
    if type(value) is not str:
        if isinstance(value, str):
            return
        raise _invalid(model, field, f"must be a string, not {type(value).__name__}")
    if not value:
        raise _invalid(model, field, "must not be empty")


def _opt_text(model: str, field: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise _invalid(model, field, f"must be a string or None, not {type(value).__name__}")


def _enum(model: str, field: str, enum: Any, value: Any) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise _invalid(model, field, f"{value!r} is not one of {[e.value for e in enum]}") from None


def _utc(model: str, field: str, value: Any) -> datetime:
    try:
        return to_utc(value)
    except ValueError as exc:
        raise _invalid(model, field, str(exc)) from None


class _Value(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of the ingest value types: frozen, keyword-only, pydantic-style helpers."""

    @classmethod
    def model_construct(cls, **fields: Any) -> Self:
        """Build without checking the rules (for values known to be valid, as pydantic's was)."""
        obj = cls(**cls._placeholder())
        infos = _FIELDS.get(cls)
        if infos is None:
            infos = _FIELDS[cls] = msgspec.structs.fields(cls)
        for info in infos:
            if info.name in fields:
                value = fields[info.name]
            elif info.default_factory is not msgspec.NODEFAULT:
                value = info.default_factory()
            elif info.default is not msgspec.NODEFAULT:
                value = info.default
            else:
                continue  # not given, no default: keeps a placeholder
            _force(obj, info.name, value)
        return obj

    @classmethod
    def _placeholder(cls) -> dict[str, Any]:
        return {}

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self:
        """A copy with some fields replaced (the rules are checked again)."""
        fields = {name: getattr(self, name) for name in self.__struct_fields__}
        fields.update(update or {})
        return type(self)(**fields)

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        """The value as a dict (``mode="json"``: only JSON types, amounts and times as strings)."""
        return {name: _dump(getattr(self, name), mode) for name in self.__struct_fields__}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        """Let pydantic models hold these values (validated from an instance or a dict)."""

        def validate(value: Any) -> Any:
            if isinstance(value, cls):
                return value
            if isinstance(value, Mapping):
                return cls(**value)
            raise ValueError(f"expected {cls.__name__} or a mapping, not {type(value).__name__}")

        def serialize(value: Any, info: Any) -> Any:
            return value.model_dump(mode="json" if info.mode_is_json() else "python")

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(serialize, info_arg=True),
        )


def _dump(value: Any, mode: str) -> Any:
    if isinstance(value, _Value):
        return value.model_dump(mode=mode)
    if isinstance(value, tuple):
        return [_dump(v, mode) for v in value] if mode == "json" else tuple(_dump(v, mode) for v in value)
    if isinstance(value, frozenset):
        return sorted(value) if mode == "json" else value
    if isinstance(value, Mapping):
        return {k: _dump(v, mode) for k, v in value.items()}
    if mode == "json":
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat().replace("+00:00", "Z")
        if isinstance(value, (TransactionKind, TransactionStatus, LegRole, Origin)):
            return value.value
    return value


class SourceRef(_Value, frozen=True, kw_only=True, gc=False):
    """The identity of one raw record: (connection, stream, source id)."""

    connection_id: str
    stream: str
    source_id: str

    @classmethod
    def _placeholder(cls) -> dict[str, Any]:
        return {"connection_id": "-", "stream": "-", "source_id": "-"}

    def __post_init__(self) -> None:
        c, s, i = self.connection_id, self.stream, self.source_id
        if type(c) is not str or type(s) is not str or type(i) is not str or not c or not s or not i:
            _text("SourceRef", "connection_id", c)
            _text("SourceRef", "stream", s)
            _text("SourceRef", "source_id", i)


class RawTransaction(_Value, frozen=True, kw_only=True, gc=False):
    """One record exactly as a source returned it (JSON numbers kept as Decimal)."""

    connection_id: str
    account_id: str
    stream: str
    source_id: str
    payload: Any
    fetched_at: datetime

    if TYPE_CHECKING:  # what the rules accept (and convert), for type checkers

        def __init__(
            self, *, connection_id: str, account_id: str, stream: str, source_id: str, payload: Any,
            fetched_at: datetime | str,
        ) -> None: ...

    @classmethod
    def _placeholder(cls) -> dict[str, Any]:
        return {"connection_id": "-", "account_id": "-", "stream": "-", "source_id": "-", "payload": None,
                "fetched_at": _EPOCH}

    def __post_init__(self) -> None:
        c, a, s, i = self.connection_id, self.account_id, self.stream, self.source_id
        if (type(c) is not str or type(a) is not str or type(s) is not str or type(i) is not str
                or not c or not a or not s or not i):
            _text("RawTransaction", "connection_id", c)
            _text("RawTransaction", "account_id", a)
            _text("RawTransaction", "stream", s)
            _text("RawTransaction", "source_id", i)
        at = self.fetched_at
        if type(at) is not datetime or at.tzinfo is not UTC:
            _force(self, "fetched_at", _utc("RawTransaction", "fetched_at", at))

    @property
    def ref(self) -> SourceRef:
        """This record's identity."""
        return SourceRef(connection_id=self.connection_id, stream=self.stream, source_id=self.source_id)


class Leg(_Value, frozen=True, kw_only=True, gc=False):
    """A signed movement of one asset: positive in, negative out."""

    asset: str
    amount: Decimal
    role: LegRole = LegRole.PRINCIPAL
    #: Where inside the account the value moved (spot, funding, an address...), if it matters.
    wallet: str | None = None

    if TYPE_CHECKING:  # what the rules accept (and convert), for type checkers

        def __init__(
            self, *, asset: str, amount: Decimal | int | str, role: LegRole | str = ...,
            wallet: str | None = ...,
        ) -> None: ...

    @classmethod
    def _placeholder(cls) -> dict[str, Any]:
        return {"asset": "-", "amount": Decimal(0)}

    def __post_init__(self) -> None:
        asset = self.asset
        if type(asset) is not str or not asset or len(asset) > _MAX_ASSET or asset != asset.strip():
            if not isinstance(asset, str):
                raise _invalid("Leg", "asset", f"must be a string, not {type(asset).__name__}")
            if len(asset) > _MAX_ASSET:
                raise _invalid("Leg", "asset", f"longer than {_MAX_ASSET} characters")
            if not asset.strip() or asset != asset.strip():
                raise _invalid("Leg", "asset", "must be a non-blank symbol without surrounding spaces")
        amount = self.amount
        try:
            if type(amount) is not Decimal or not amount.is_finite():
                _force(self, "amount", check_amount(amount))
            elif amount and (not -_SMALL < amount.adjusted() < _BIG or len(text := str(amount)) > 40
                             or "E" in text):
                # Out of the cheap bounds (a magnitude, or a long or scientific text that may hide
                # more than the allowed decimals): the exact rule of txsync.models.values decides.
                check_amount_range(amount)
        except ValueError as exc:
            raise _invalid("Leg", "amount", str(exc)) from None
        if type(self.role) is not LegRole:
            _force(self, "role", _enum("Leg", "role", LegRole, self.role))
        wallet = self.wallet
        if wallet is not None and type(wallet) is not str:
            _opt_text("Leg", "wallet", wallet)


def _legs(value: Any) -> tuple[Leg, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _invalid("NormalizedTransaction", "legs", "must be a sequence of Leg")
    legs = []
    for leg in value:
        if type(leg) is Leg:
            legs.append(leg)
        elif isinstance(leg, Mapping):
            legs.append(Leg(**leg))
        elif isinstance(leg, Leg):
            legs.append(leg)
        else:
            raise _invalid("NormalizedTransaction", "legs", f"an item is a {type(leg).__name__}, not a Leg")
    return tuple(legs)


def _sources(value: Any) -> tuple[SourceRef, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _invalid("NormalizedTransaction", "sources", "must be a sequence of SourceRef")
    refs = []
    for ref in value:
        if isinstance(ref, SourceRef):
            refs.append(ref)
        elif isinstance(ref, Mapping):
            refs.append(SourceRef(**ref))
        else:
            raise _invalid(
                "NormalizedTransaction", "sources", f"an item is a {type(ref).__name__}, not a SourceRef"
            )
    return tuple(refs)


class NormalizedTransaction(_Value, frozen=True, kw_only=True, gc=False):
    """A timestamped event of one account, made of signed legs.

    ``key`` identifies the event within the account for its source (``"trade:BTCUSDT:28457"``); the
    id is derived from (account, origin, key). ``sources`` are the raw records it was built from.
    """

    account_id: str
    key: str
    kind: TransactionKind
    timestamp: datetime
    status: TransactionStatus = TransactionStatus.CONFIRMED
    legs: tuple[Leg, ...]
    origin: Origin = Origin.API
    external_ids: Mapping[str, str] = msgspec.field(default_factory=dict)
    sources: tuple[SourceRef, ...] = ()
    description: str | None = None
    flags: frozenset[str] = frozenset()
    meta: Mapping[str, Any] = msgspec.field(default_factory=dict)

    if TYPE_CHECKING:  # what the rules accept (and convert), for type checkers

        def __init__(
            self,
            *,
            account_id: str,
            key: str,
            kind: TransactionKind | str,
            timestamp: datetime | str,
            status: TransactionStatus | str = ...,
            legs: Iterable[Leg | Mapping[str, Any]],
            origin: Origin | str = ...,
            external_ids: Mapping[str, str] = ...,
            sources: Iterable[SourceRef | Mapping[str, Any]] = ...,
            description: str | None = ...,
            flags: Iterable[str] = ...,
            meta: Mapping[str, Any] = ...,
        ) -> None: ...

    @classmethod
    def _placeholder(cls) -> dict[str, Any]:
        return {"account_id": "-", "key": "-", "kind": TransactionKind.OTHER, "timestamp": _EPOCH,
                "legs": (Leg(asset="-", amount=Decimal(0)),)}

    def __post_init__(self) -> None:
        name = "NormalizedTransaction"
        account_id, key = self.account_id, self.key
        if type(account_id) is not str or type(key) is not str or not account_id or not key:
            _text(name, "account_id", account_id)
            _text(name, "key", key)
        if type(self.kind) is not TransactionKind:
            _force(self, "kind", _enum(name, "kind", TransactionKind, self.kind))
        stamp = self.timestamp
        if type(stamp) is not datetime or stamp.tzinfo is not UTC:
            _force(self, "timestamp", _utc(name, "timestamp", stamp))
        if type(self.status) is not TransactionStatus:
            _force(self, "status", _enum(name, "status", TransactionStatus, self.status))
        if type(self.origin) is not Origin:
            _force(self, "origin", _enum(name, "origin", Origin, self.origin))
        legs = self.legs
        if type(legs) is tuple:
            for leg in legs:
                if type(leg) is not Leg:
                    legs = _legs(legs)
                    _force(self, "legs", legs)
                    break
        else:
            legs = _legs(legs)
            _force(self, "legs", legs)
        if not legs:
            raise _invalid(name, "legs", "a transaction needs at least one leg")
        sources = self.sources
        if type(sources) is tuple:
            for ref in sources:
                if type(ref) is not SourceRef:
                    _force(self, "sources", _sources(sources))
                    break
        else:
            _force(self, "sources", _sources(sources))
        external = self.external_ids
        if type(external) is not dict and not isinstance(external, Mapping):
            raise _invalid(name, "external_ids", "must be a mapping of strings")
        for k, v in external.items():
            if (type(k) is not str or type(v) is not str) and not (isinstance(k, str) and isinstance(v, str)):
                raise _invalid(name, "external_ids", f"{k!r} must map a string to a string")
        if self.description is not None:
            _opt_text(name, "description", self.description)
        flags = self.flags
        if type(flags) is not frozenset:
            if isinstance(flags, (str, bytes)) or not isinstance(flags, Iterable):
                raise _invalid(name, "flags", "must be a set of strings")
            flags = frozenset(flags)
            _force(self, "flags", flags)
        if flags and not all(isinstance(f, str) for f in flags):
            raise _invalid(name, "flags", "every flag must be a string")
        meta = self.meta
        if type(meta) is not dict and not isinstance(meta, Mapping):
            raise _invalid(name, "meta", "must be a mapping")

    @property
    def id(self) -> str:
        """Deterministic id: see :func:`transaction_id`."""
        return transaction_id(self.account_id, self.origin, self.key)

    def net(self) -> dict[str, Decimal]:
        """Net amount per asset over all legs (fees included)."""
        return net_deltas(self.legs)

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        """The transaction as a dict, its ``id`` included."""
        data = super().model_dump(mode=mode)
        data["id"] = self.id
        return data


def net_deltas(legs: Any) -> dict[str, Decimal]:
    """Sum ``legs`` per asset, dropping assets that net to zero."""
    totals: dict[str, Decimal] = {}
    with exact():
        for leg in legs:
            totals[leg.asset] = totals.get(leg.asset, Decimal(0)) + leg.amount
    return {asset: amount for asset, amount in totals.items() if amount != 0}

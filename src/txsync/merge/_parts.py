"""How one description of an event (a *part*) is stored, and what a set of parts says together."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from txsync import jsonutil
from txsync.models import NormalizedTransaction, Origin
from txsync.models.values import exact

__all__ = [
    "ORIGIN_PRIORITY",
    "Effective",
    "duration_us",
    "effective",
    "encode_body",
    "encode_legs",
    "encode_part",
    "from_us",
    "identity_key",
    "legs_signature",
    "part_key",
    "part_signature",
    "signature",
    "single_texts",
    "to_us",
]

#: Which origin's parts describe a merged transaction's legs: the API is authoritative.
ORIGIN_PRIORITY: tuple[str, ...] = (Origin.API.value, Origin.FILE.value, Origin.MANUAL.value)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact integer arithmetic)."""
    return (moment - _EPOCH) // _US


def duration_us(delta: timedelta) -> int:
    """A duration in whole microseconds (exact)."""
    return delta // _US


def from_us(us: int) -> datetime:
    """Inverse of :func:`to_us`."""
    return _EPOCH + timedelta(microseconds=us)


def part_key(tx: NormalizedTransaction, stream: str) -> str:
    """The key a description of an event is stored under inside its transaction.

    Descriptions from different streams add up (parts); the same stream read through another
    connection of the account (a replaced key) replaces its own part instead of doubling it.
    """
    return str(tx.origin) + ":" + stream + ":" + tx.key


def identity_key(origin: str, key: str) -> str:
    """The identity a transaction is found by in its account: the (origin, key) its id derives from."""
    return f"{origin}\x1f{key}"


def part_identity(pkey: str) -> str | None:
    """The identity key of a stored part (``None`` for a cover, which describes nothing itself)."""
    origin, sep, rest = pkey.partition(":")
    stream, sep2, key = rest.partition(":")
    if not sep or not sep2 or stream.startswith("~"):
        return None
    return identity_key(origin, key)


def encode_part(tx: NormalizedTransaction) -> dict[str, Any]:
    """The stored form of one description of an event."""
    # (str() of a StrEnum member is its value, and much cheaper than ``.value``.)
    # The legs come last: the text of a single part's legs is the tail of its body (see single_texts).
    part: dict[str, Any] = {
        "origin": str(tx.origin),
        "kind": str(tx.kind),
        "ts": (tx.timestamp - _EPOCH) // _US,
        "status": str(tx.status),
        "sources": [[s.connection_id, s.stream, s.source_id] for s in tx.sources],
    }
    if tx.external_ids:
        part["external_ids"] = dict(tx.external_ids)
    if tx.description is not None:
        part["description"] = tx.description
    if tx.flags:
        part["flags"] = sorted(tx.flags)
    if tx.meta:
        part["meta"] = dict(tx.meta)
    part["legs"] = [[leg.asset, str(leg.amount), str(leg.role), leg.wallet] for leg in tx.legs]
    return part


def single_texts(parts: Mapping[str, Any]) -> tuple[str, str]:
    """The stored texts (body, legs) of a transaction made of one part whose legs come last, with one
    encode: its legs' text is the tail of the body (a ``"legs":`` key can only be that one, since the
    encoder escapes every quote inside strings)."""
    body = jsonutil.encode({"parts": parts})
    return body, body[body.rindex('"legs":') + 7 : -3]


def encode_body(parts: Mapping[str, Any]) -> str:
    """The stored text of a transaction's parts (canonical JSON, amounts as decimal strings)."""
    return jsonutil.encode({"parts": parts})


def encode_legs(legs: Sequence[Sequence[Any]]) -> str:
    """The stored text of effective legs."""
    return jsonutil.encode(legs)


def signature(net: Mapping[str, Decimal]) -> str:
    """A short fingerprint of net asset deltas, equal for equal deltas whatever their notation."""
    if not net:
        return "-"
    with exact():
        text = ";".join(f"{asset}={amount.normalize():f}" for asset, amount in sorted(net.items()))
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def net_of(legs: Iterable[Sequence[Any]]) -> dict[str, Decimal]:
    """Net deltas of stored legs (``[asset, amount, role, wallet]``), zero nets dropped."""
    totals: dict[str, Decimal] = {}
    with exact():
        for leg in legs:
            totals[leg[0]] = totals.get(leg[0], Decimal(0)) + Decimal(leg[1])
    return {asset: amount for asset, amount in totals.items() if amount != 0}


def legs_signature(legs: Iterable[Sequence[Any]]) -> str:
    """The :func:`signature` of stored legs."""
    return signature(net_of(legs))


def part_signature(part: Mapping[str, Any]) -> str:
    """The :func:`signature` of one stored part."""
    return legs_signature(part["legs"])


@dataclass(slots=True)
class Effective:
    """What a set of parts says about the event, read by the store for its columns and queries."""

    kind: str
    ts: int
    status: str
    origin: str  # the origin whose parts supply the legs
    origins: str
    legs: list[list[Any]]

    @property
    def signature(self) -> str:
        """The fingerprint of the effective legs' net deltas."""
        return legs_signature(self.legs)


def _specificity(item: tuple[str, Mapping[str, Any]]) -> tuple[bool, bool, str]:
    key, part = item
    return ("cover" in part, part["kind"] == "other", key)


def effective(parts: Mapping[str, Mapping[str, Any]]) -> Effective:
    """Combine parts: the highest-priority origin present supplies the legs (its parts add up);
    its most specific part supplies kind, time and status, whatever order the parts arrived in (a
    described part before a cover, a specific kind before ``other``, then by part key)."""
    if len(parts) == 1:
        (only,) = parts.values()
        origin = only["origin"]
        return Effective(only["kind"], only["ts"], only["status"], origin, origin, only["legs"])
    origins = sorted({p["origin"] for p in parts.values()})
    chosen = next(o for o in (*ORIGIN_PRIORITY, *origins) if o in origins)
    mine = [p for p in parts.values() if p["origin"] == chosen]
    primary = mine[0] if len(mine) == 1 else min(
        (item for item in parts.items() if item[1]["origin"] == chosen), key=_specificity
    )[1]
    legs = primary["legs"] if len(mine) == 1 else [leg for p in mine for leg in p["legs"]]
    return Effective(primary["kind"], primary["ts"], primary["status"], chosen, ",".join(origins), legs)


def primary_part(parts: Mapping[str, Mapping[str, Any]]) -> tuple[str, Mapping[str, Any]]:
    """The part (key and value) that supplies kind, time, description and meta."""
    eff_origin = effective(parts).origin
    return min((item for item in parts.items() if item[1]["origin"] == eff_origin), key=_specificity)

"""Exact JSON: numbers are read as ``Decimal`` / ``int`` and written back digit for digit.

Exchanges send amounts as JSON numbers (Paymium) or strings (Binance). Reading a number through
``float`` loses digits, so every payload txsync stores or normalizes goes through :func:`loads`, which
keeps non-integral numbers as :class:`~decimal.Decimal`, and :func:`dumps`, which writes them back with
the same digits (``1.10`` stays ``1.10``). Key order is preserved.

Nesting is bounded: a document nested deeper than :data:`MAX_DEPTH` arrays and objects is refused
with a :class:`~txsync.errors.BadResponseError` (never a ``RecursionError``), so no payload txsync
stores can make a later recursive walk (serializing, normalizing) exhaust the stack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec
import orjson

from txsync.errors import BadResponseError

__all__ = ["MAX_DEPTH", "JsonValue", "dumps", "encode", "loads", "loads_stored", "nesting_depth"]

#: The deepest nesting of arrays and objects :func:`loads` accepts. Exchange and explorer answers
#: nest four or five levels; a payload deeper than this is hostile or broken.
MAX_DEPTH = 64

#: A JSON value as txsync holds it: non-integral numbers are ``Decimal``.
JsonValue = Any

_encode_str = json.encoder.encode_basestring_ascii


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> JsonValue:
    """Parse JSON exactly; raises :class:`BadResponseError` on malformed or truncated input, on the
    constants ``NaN`` / ``Infinity``, and on nesting deeper than ``max_depth``."""
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise BadResponseError(f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        # The message carries position info only, never the document (it may hold account data).
        raise BadResponseError(f"malformed JSON: {type(exc).__name__} at {_position(exc)}") from None
    if isinstance(value, dict | list) and _may_exceed(text, max_depth):
        depth = nesting_depth(value, stop_after=max_depth)
        if depth > max_depth:
            raise BadResponseError(f"JSON nested deeper than {max_depth} levels")
    return value


def _may_exceed(text: str | bytes, max_depth: int) -> bool:
    # A document cannot nest deeper than it has opening brackets (a cheap C-level count).
    if isinstance(text, str):
        return text.count("[") + text.count("{") > max_depth
    return text.count(b"[") + text.count(b"{") > max_depth


def nesting_depth(value: JsonValue, *, stop_after: int | None = None) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar is 0, ``[]`` is 1, ``[{}]`` is 2).

    Iterative, so it works on any depth; with ``stop_after`` it returns as soon as the depth exceeds
    that bound (the result is then ``stop_after + 1``).
    """
    if not isinstance(value, Mapping | list | tuple):
        return 0
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if stop_after is not None and deepest > stop_after:
                return deepest
        children = node.values() if isinstance(node, Mapping) else node
        for child in children:
            if isinstance(child, Mapping | list | tuple):
                stack.append((child, depth + 1))
    return deepest


def _position(exc: Exception) -> str:
    pos = getattr(exc, "pos", None)
    return f"char {pos}" if pos is not None else "unknown position"


def _fragment(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("cannot encode a non-finite Decimal as JSON")
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode(value: JsonValue) -> str:
    """The canonical text of a JSON value, fast: the same text as :func:`dumps` for every value
    :func:`loads` can return (compact, ASCII with ``\\u`` escapes, ``Decimal`` digit for digit, key
    order kept). Used for everything txsync stores. Unlike :func:`dumps` it does not look for floats
    (write amounts as ``Decimal``); they would be written as JSON numbers."""
    try:
        out = orjson.dumps(value, default=_fragment)
    except TypeError:  # an int beyond 64 bits, a non-str key, a type orjson does not know
        return dumps(value)
    if out.isascii() and 0x7F not in out:  # (an int: bytes.__contains__ tries ints first)
        return out.decode("ascii")
    return dumps(value)  # non-ASCII text: escape it exactly as dumps does


_stored = msgspec.json.Decoder(float_hook=Decimal)


def loads_stored(text: str | bytes) -> JsonValue:
    """Parse JSON that txsync wrote itself (ledger bodies), fast; numbers as :func:`loads` reads them."""
    try:
        return _stored.decode(text)
    except msgspec.DecodeError as exc:
        raise BadResponseError(f"malformed stored JSON: {exc}") from None


def dumps(value: JsonValue) -> str:
    """Serialize compactly; ``Decimal`` is written with its own digits, floats are refused."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: JsonValue, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("cannot encode a non-finite Decimal as JSON")
        out.append(format(value, "f"))
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(key))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, float):
        raise TypeError("floats are not allowed in txsync JSON: use Decimal")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")

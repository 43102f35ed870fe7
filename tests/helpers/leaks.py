"""Finding a secret anywhere a host or an error tracker could read it.

* :func:`exception_texts` - every text an exception carries: message, repr, args, notes, attributes,
  the formatted traceback (chained exceptions included), for the exception and each one chained.
* :func:`reachable` - every path from an object to a string or bytes value holding a needle,
  walking containers, object ``__dict__`` and ``__slots__``, bound methods, generators, exceptions,
  tracebacks and the locals of their frames. Objects built to hold secrets without showing them
  (they never repr or pickle them) are where secrets may live: :data:`HOLDERS` are not entered.
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from types import (
    AsyncGeneratorType,
    BuiltinFunctionType,
    CodeType,
    CoroutineType,
    FrameType,
    FunctionType,
    GeneratorType,
    MethodType,
    ModuleType,
    TracebackType,
)
from typing import Any

from txsync.http import SecretSet, SigningAuth, secret_forms
from txsync.models import Credential

#: Types that hold secrets by design: never shown by repr/str/format, never pickled.
HOLDERS: tuple[type, ...] = (Credential, SigningAuth, SecretSet)

TESTS = Path(__file__).resolve().parents[1]


def needles(*secrets: str) -> tuple[str, ...]:
    """The forms of ``secrets`` to look for (raw and URL-encoded)."""
    return tuple(sorted({form for secret in secrets for form in secret_forms(secret)}))


def chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
        if isinstance(current, BaseExceptionGroup):
            stack += list(current.exceptions)


def exception_texts(exc: BaseException) -> list[str]:
    """Every text ``exc`` and the exceptions chained to it carry."""
    texts = ["".join(traceback.format_exception(exc))]
    for current in chain(exc):
        texts += [str(current), repr(current), repr(current.args)]
        texts += [str(note) for note in getattr(current, "__notes__", [])]
        texts += [f"{name}={value!r}" for name, value in vars(current).items()]
        for name in ("request", "response"):  # httpx exceptions: their properties raise when dropped
            try:
                texts.append(repr(getattr(current, name, None)))
                held = getattr(current, name, None)
                if held is not None:
                    texts += [str(getattr(held, "url", "")), repr(getattr(held, "headers", ""))]
            except RuntimeError:
                pass
    return texts


def found_in(texts: Iterable[str], secrets: tuple[str, ...]) -> list[str]:
    """The texts (shortened around the hit) that contain a secret."""
    hits = []
    for text in texts:
        for secret in secrets:
            at = text.find(secret)
            if at >= 0:
                hits.append(text[max(0, at - 80) : at + 20])
    return hits


_LEAVES = (int, float, complex, Decimal, bool, type(None), type, ModuleType, FunctionType, BuiltinFunctionType, CodeType)


def _children(obj: Any, skip: str | None) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        for key, value in list(obj.items()):
            yield f"[{key!r}]", value
            yield f"<key {key!r}>", key
        return
    if isinstance(obj, (list, tuple, set, frozenset, deque)):
        for index, item in enumerate(list(obj)):
            yield f"[{index}]", item
        return
    if isinstance(obj, BaseException):
        yield ".args", obj.args
        yield ".__cause__", obj.__cause__
        yield ".__context__", obj.__context__
        yield ".__traceback__", obj.__traceback__
    if isinstance(obj, TracebackType):  # every frame of the traceback, one level down
        tb: TracebackType | None = obj
        while tb is not None:
            if skip is None or not str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(skip):
                yield f"<frame {tb.tb_frame.f_code.co_name}>", tb.tb_frame
            tb = tb.tb_next
        return
    if isinstance(obj, FrameType):
        for name, value in obj.f_locals.items():
            yield f".f_locals[{name!r}]", value
        return
    if isinstance(obj, (GeneratorType, CoroutineType, AsyncGeneratorType)):
        frame = getattr(obj, "gi_frame", None) or getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None)
        if frame is not None:
            yield ".frame", frame
        return
    if isinstance(obj, MethodType):
        yield ".__self__", obj.__self__
        return
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        for name, value in list(attrs.items()):
            yield f".{name}", value
    for klass in type(obj).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if isinstance(name, str) and hasattr(obj, name) and not name.startswith("__"):
                yield f".{name}", getattr(obj, name, None)


def reachable(
    root: Any,
    secrets: tuple[str, ...],
    *,
    max_depth: int = 12,
    max_nodes: int = 200_000,
    skip_frames_under: Path | None = TESTS,
) -> list[str]:
    """Paths from ``root`` to a str/bytes value containing one of ``secrets``.

    Traceback frames of code under ``skip_frames_under`` (the tests themselves, which hold the
    sentinel values they look for) are not entered.
    """
    skip = None if skip_frames_under is None else str(skip_frames_under)
    encoded = tuple(s.encode() for s in secrets)
    found: list[str] = []
    seen: set[int] = set()
    queue: deque[tuple[Any, str, int]] = deque([(root, "root", 0)])
    while queue and len(seen) < max_nodes:
        obj, path, depth = queue.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            if any(s in obj for s in secrets):
                found.append(path)
            continue
        if isinstance(obj, (bytes, bytearray, memoryview)):
            data = bytes(obj)
            if any(s in data for s in encoded):
                found.append(path)
            continue
        if isinstance(obj, (HOLDERS, _LEAVES)) or depth >= max_depth:
            continue
        try:
            children = list(_children(obj, skip))
        except Exception:  # an exotic object whose attributes cannot be read
            children = []
        for name, child in children:
            queue.append((child, path + name, depth + 1))
    return found

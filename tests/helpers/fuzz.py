"""The hostile-payload fuzz harness: mutate a sandbox's real answers, sync, check what the ledger got.

A :class:`Rig` names a connector, how to build a fresh sandbox transport and the connection's
credential and options. :func:`clean_run` syncs it once untouched; :func:`hostile_run` syncs it again
with one :class:`Mutation` applied by :class:`MutatingTransport` to one JSON answer of the sandbox
(wrong types, missing fields, huge / NaN / infinite numbers, deep nesting, unicode controls, duplicate
ids with different content, rows out of order, a page served again once or forever), and
:func:`check_outcome` asserts the properties every connector must keep:

* only typed errors (no stream error is a bare ``KeyError`` / ``TypeError`` / ``RecursionError`` the
  engine had to catch as a "connector error");
* the report is never ok when a stream failed, and never ok with data missing after a page was
  served again (a content-preserving mutation leaves either an error or the clean ledger; serving
  a page with fewer rows again is excepted: it is a server losing rows, which nothing can tell from
  a short last page or an empty window);
* a rejected page leaves no trace: when the sync failed, every raw record stored is one the clean
  sync stored too, byte for byte;
* whatever happened, the store stays usable: every stored identity passes the identity rule and
  ``balances()`` / ``transactions()`` work.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from sqlalchemy import text

from txsync import jsonutil
from txsync.connector import Connector
from txsync.engine import Engine, InMemoryCredentials, SyncReport
from txsync.fields import check_identity
from txsync.models import Credential
from txsync.registry import Registry
from txsync.store import SqliteStore
from txsync.testing.harness import NO_SLEEP_RETRY

# -- connecting -------------------------------------------------------------------------------------------


def connect_offline(engine: Engine, owner_id: str, credential: Credential, **kw: Any) -> Any:
    """``engine.connect`` without verifying the key where the engine verifies by default (the tests
    here sync the sandbox right after; a verifying connect cannot run inside an event loop)."""
    if "verify" in inspect.signature(engine.connect).parameters:
        kw["verify"] = False
    return engine.connect(owner_id, credential, **kw)


# -- reading a store ------------------------------------------------------------------------------------


def stored_raws(store: SqliteStore, connection_id: str | None = None) -> dict[tuple[str, str], Any]:
    """Every raw record in the store: ``{(stream, source_id): payload}`` (read with SQL: the store
    has no API listing raws; both the schema with a ``stream`` column and the one with a ``streams``
    table are read)."""
    with store._engine.connect() as conn:
        columns = {row[1] for row in conn.execute(text("PRAGMA table_info(raw_transactions)"))}
        if "stream" in columns:
            query = "SELECT stream, source_id, payload FROM raw_transactions r"
            where = " WHERE r.connection_id = :c"
        else:
            query = (
                "SELECT s.stream, r.source_id, r.payload FROM raw_transactions r "
                "JOIN streams s ON r.stream_seq = s.seq"
            )
            where = " WHERE s.connection_id = :c"
        if connection_id is not None:
            rows = list(conn.execute(text(query + where), {"c": connection_id}))
        else:
            rows = list(conn.execute(text(query)))
    return {(stream, sid): jsonutil.loads(payload) for stream, sid, payload in rows}


def source_ids(store: SqliteStore, connection_id: str, stream: str) -> set[str]:
    """The source ids of one stream's raws."""
    return {sid for (name, sid) in stored_raws(store, connection_id) if name == stream}


def ledger(store: SqliteStore, account_id: str) -> list[tuple[Any, ...]]:
    """A comparable picture of an account's ledger (across stores: ids depend on the account id):
    the raws each transaction was built from, its kind, time, status, legs and flags."""
    return sorted(
        (
            tuple(sorted((ref.stream, ref.source_id) for ref in tx.sources)),
            tuple(sorted(tx.flags)),
            str(tx.kind),
            tx.timestamp.isoformat(),
            str(tx.status),
            tuple(sorted((leg.asset, str(leg.amount), str(leg.role), leg.wallet or "") for leg in tx.legs)),
        )
        for tx in store.transactions(account_id=account_id)
    )


# -- mutations ------------------------------------------------------------------------------------------


class Raw(str):
    """A JSON token written as is (``NaN``, ``1e400``), not as a string."""


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


#: Values a field is replaced with.
HOSTILE_VALUES: tuple[Any, ...] = (
    None,
    True,
    [],
    {},
    "",
    "x" * 5000,
    "\x00",
    "12\u202e34",
    "\u200b",
    "\u0661\u0662\u0663",
    "\ud800",
    -1,
    0,
    10**30,
    Raw("1e400"),
    Raw("-1e-70"),
    Raw("NaN"),
    Raw("Infinity"),
    "1e400",
    "NaN",
    Decimal("1.5"),
    "2021-13-45 99:99:99",
    _nested(40),
    _nested(900),
)

#: Mutations that change no record's content: after them a sync must either fail or give the clean
#: ledger (a page served again, rows out of order, a row listed twice).
CONTENT_PRESERVING = frozenset({"repeat_once", "repeat_forever", "reverse", "duplicate"})
OPERATIONS = ("replace", "delete", "duplicate", "conflict", "reverse", "truncate", "repeat_once",
              "repeat_forever")


@dataclass(frozen=True)
class Mutation:
    """What to do to the ``target``-th JSON answer (counted from 1, modulo the clean run's count).

    With ``where``, the target is instead the first answer of a list whose name (see
    :attr:`Rig.listing`) contains ``where`` and that holds rows (for ``set``: that has ``path``);
    ``set`` puts ``value`` at ``path`` (keys and list indexes from the top of the answer).
    """

    target: int
    op: str
    node: int = 0
    value: Any = None
    where: str | None = None
    path: tuple[str | int, ...] = ()
    #: With ``where``: the how-manieth answer of that list with rows (1: the first).
    nth: int = 1

    def __repr__(self) -> str:
        where = f", where={self.where!r}, path={self.path!r}" if self.where else ""
        return (
            f"Mutation(target={self.target}, op={self.op!r}, node={self.node}, "
            f"value={ascii(self.value)[:40]}{where})"
        )


def _at(body: Any, path: tuple[str | int, ...]) -> tuple[Any, str | int] | None:
    """The (container, key) ``path`` names in ``body``, if it exists."""
    node = body
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return None
    if not path:
        return None
    last = path[-1]
    if isinstance(node, dict) and last in node:
        return node, last
    if isinstance(node, list) and isinstance(last, int) and -len(node) <= last < len(node):
        return node, last
    return None


def mutations() -> st.SearchStrategy[Mutation]:
    """Any mutation of one answer."""
    return st.builds(
        Mutation,
        target=st.integers(min_value=0, max_value=10_000),
        op=st.sampled_from(OPERATIONS),
        node=st.integers(min_value=0, max_value=10_000),
        value=st.sampled_from(HOSTILE_VALUES),
    )


def _slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) of a JSON value, depth first, at most 5000."""
    stack = [value]
    count = 0
    while stack and count < 5000:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            count += 1
            yield node, key
            if isinstance(child, dict | list):
                stack.append(child)


def _record_lists(value: Any) -> list[list[Any]]:
    """The non-empty lists reachable from the top through objects only: lists of records (a list
    inside a record, such as a transaction's inputs, is part of that record's content)."""
    found: list[list[Any]] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            if node:
                found.append(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
    return found


def _lists(value: Any) -> list[list[Any]]:
    found = [value] if isinstance(value, list) and value else []
    found += [c[k] for c, k in _slots(value) if isinstance(c[k], list) and c[k]]
    return found


def _row_count(body: bytes) -> int:
    """How many items the lists of an answer hold."""
    return sum(len(items) for items in _lists(jsonutil.loads(body)))


def _encode(value: Any) -> bytes:
    tokens: dict[str, str] = {}

    def mark(node: Any) -> Any:
        if isinstance(node, Raw):
            placeholder = f"__raw_{len(tokens)}__"
            tokens[placeholder] = str(node)
            return placeholder
        if isinstance(node, dict):
            return {k: mark(v) for k, v in node.items()}
        if isinstance(node, list):
            return [mark(v) for v in node]
        return node

    if jsonutil.nesting_depth(value) > 200:  # the encoder recurses: write very deep values by hand
        return _encode_deep(value)
    out = jsonutil.dumps(mark(value))
    for placeholder, token in tokens.items():
        out = out.replace(f'"{placeholder}"', token)
    return out.encode("utf-8", "surrogatepass")


def _encode_deep(value: Any) -> bytes:
    # Only our own _nested() values are this deep: encode the rest with a marker, then splice them in.
    deep = jsonutil.dumps(_shallow(value, store := []))
    for i, depth in enumerate(store):
        deep = deep.replace(f'"__deep_{i}__"', "[" * depth + "1" + "]" * depth)
    return deep.encode("utf-8", "surrogatepass")


def _shallow(node: Any, store: list[int]) -> Any:
    if isinstance(node, list) and node and jsonutil.nesting_depth(node, stop_after=200) > 200:
        store.append(jsonutil.nesting_depth(node))
        return f"__deep_{len(store) - 1}__"
    if isinstance(node, dict):
        return {k: _shallow(v, store) for k, v in node.items()}
    if isinstance(node, list):
        return [_shallow(v, store) for v in node]
    return node


def mutate(body: Any, mutation: Mutation) -> Any:
    """``body`` (a parsed JSON answer) with ``mutation`` applied; returned as a new value."""
    body = copy.deepcopy(body)
    op = mutation.op
    if op == "set":
        slot = _at(body, mutation.path)
        if slot is not None:
            container, key = slot
            container[key] = mutation.value
        return body
    if op in ("replace", "delete"):
        slots = list(_slots(body))
        if not slots:
            return mutation.value if op == "replace" else body
        container, key = slots[mutation.node % len(slots)]
        if op == "replace":
            container[key] = mutation.value  # values are never changed afterwards: no copy
        else:
            del container[key]
        return body
    # Rows out of order or listed twice keep every record's content only in lists of records.
    lists = _record_lists(body) if op in CONTENT_PRESERVING else _lists(body)
    if not lists:
        return body
    target = lists[mutation.node % len(lists)]
    if op == "reverse":
        target.reverse()
    elif op == "truncate":
        target.pop()
    elif op in ("duplicate", "conflict"):
        index = (mutation.node // max(len(lists), 1)) % len(target)
        twin = copy.deepcopy(target[index])
        if op == "conflict":
            twin = _altered(twin)
        target.insert(index + 1, twin)
    return body


def _altered(item: Any) -> Any:
    """``item`` with one scalar changed (an amount-looking field first), keeping its identity."""
    if not isinstance(item, dict):
        return [item, item] if not isinstance(item, list) else [*item, 1]
    keys = [k for k, v in item.items() if isinstance(v, str | int | Decimal) and not isinstance(v, bool)]
    preferred = [k for k in keys if any(w in k.lower() for w in ("amount", "qty", "value", "fee", "status"))]
    for key in preferred or [k for k in keys if "id" not in k.lower() and "hash" not in k.lower()] or keys:
        value = item[key]
        item[key] = "7" if value != "7" else "8"
        return item
    item["extra"] = 1
    return item


class MutatingTransport(httpx.AsyncBaseTransport):
    """Passes requests to ``inner`` and applies ``mutation`` to one JSON answer (or, for
    ``repeat_forever``, freezes one answer and serves it again to every later request of its path).
    ``count`` is the number of JSON answers so far; ``applied`` whether the mutation took effect."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        mutation: Mutation | None,
        answers: int = 1,
        listing: Callable[[httpx.Request], str] | None = None,
    ) -> None:
        self.inner = inner
        self.listing = listing or (lambda request: request.url.path)
        self.mutation = mutation
        self.target = None if mutation is None else mutation.target % max(answers, 1) + 1
        self.count = 0
        self.applied = False
        #: A page served again held fewer rows than the answer it replaced: as if the server lost
        #: rows (a short page reads as the end of a list; nothing can tell).
        self.lossy = False
        self._last: dict[str, bytes] = {}
        self._frozen: dict[str, bytes] = {}
        self._matches = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if response.status_code != 200 or body.strip()[:1] not in (b"{", b"["):
            return self._rebuild(response, body, request)
        self.count += 1
        path = self.listing(request)
        original = body
        m = self.mutation
        if m is not None and m.op == "repeat_forever" and path in self._frozen:
            body = self._frozen[path]
            if body != original:
                self.applied = True
                self.lossy = self.lossy or _row_count(body) < _row_count(original)
        elif m is not None and self._is_target(m, path, original):
            if m.op == "repeat_forever":
                self._frozen[path] = body
                self.applied = m.where is not None or self.applied
            elif m.op == "repeat_once":
                body = self._last.get(path, body)
                self.applied = body != original
                self.lossy = self.applied and _row_count(body) < _row_count(original)
            else:
                changed = _encode(mutate(jsonutil.loads(body), m))
                self.applied = changed != _encode(jsonutil.loads(body))
                body = changed
        self._last[path] = original
        return self._rebuild(response, body, request)

    def _is_target(self, m: Mutation, listing: str, body: bytes) -> bool:
        if m.where is None:
            return self.count == self.target
        if m.where not in listing or (self.applied and m.op != "set"):
            return False  # "set" stays: a server that keeps sending the bad value (retries see it too)
        parsed = jsonutil.loads(body)
        if not (_at(parsed, m.path) is not None if m.op == "set" else bool(_lists(parsed))):
            return False
        self._matches += 1
        return self._matches >= m.nth

    @staticmethod
    def _rebuild(response: httpx.Response, body: bytes, request: httpx.Request) -> httpx.Response:
        headers = [
            (k, v) for k, v in response.headers.multi_items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        ]
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- running --------------------------------------------------------------------------------------------


@dataclass
class Rig:
    """How to sync one connector against a fresh sandbox."""

    connector: type[Connector]
    credential: Callable[[], Credential]
    #: A fresh sandbox transport (one per sync: a sandbox keeps request counters and nonces).
    transport: Callable[[], httpx.AsyncBaseTransport]
    clock: Callable[[], Any]
    options: dict[str, Any] = field(default_factory=dict)
    #: Rows without an identity of their own (two identical rows are two events): a row listed
    #: twice cannot be told apart, so ``duplicate`` is not content-preserving for this connector.
    ambiguous_duplicates: bool = False
    #: Which list a request reads (a page served "again" is one of the same list): the path by default.
    listing: Callable[[httpx.Request], str] | None = None


@dataclass
class Outcome:
    """One sync: its report, its store and connection, and what the transport did."""

    report: SyncReport
    store: SqliteStore
    connection_id: str
    account_id: str
    answers: int
    applied: bool
    lossy: bool
    preserving: frozenset[str] = CONTENT_PRESERVING


def _engine(rig: Rig, store: SqliteStore, transport: httpx.AsyncBaseTransport) -> Engine:
    registry = Registry(entry_points=[])
    registry.register(rig.connector)
    return Engine(
        store,
        registry=registry,
        credentials=InMemoryCredentials(),
        transport_for=lambda _c: transport,
        clock=rig.clock,
        retry=NO_SLEEP_RETRY,
    )


def sync_once(rig: Rig, mutation: Mutation | None, answers: int = 1) -> Outcome:
    """A fresh store and sandbox, one sync through a :class:`MutatingTransport`."""
    store = SqliteStore(":memory:")
    transport = MutatingTransport(rig.transport(), mutation, answers, rig.listing)
    engine = _engine(rig, store, transport)
    connection = connect_offline(engine, "owner", rig.credential(), options=dict(rig.options))
    report = asyncio.run(engine.sync(connection.id))
    preserving = CONTENT_PRESERVING - {"duplicate"} if rig.ambiguous_duplicates else CONTENT_PRESERVING
    return Outcome(
        report, store, connection.id, connection.account_id, transport.count, transport.applied,
        transport.lossy, preserving,
    )


@dataclass
class Clean:
    """The untouched sync every hostile one is compared with."""

    raws: dict[tuple[str, str], Any]
    ledger: list[tuple[Any, ...]]
    answers: int


def clean_run(rig: Rig) -> Clean:
    """Sync ``rig`` untouched; it must succeed."""
    outcome = sync_once(rig, None)
    report = outcome.report
    assert report.ok, (report.errors, [(s.stream, s.errors) for s in report.streams])
    clean = Clean(
        stored_raws(outcome.store, outcome.connection_id),
        ledger(outcome.store, outcome.account_id),
        outcome.answers,
    )
    outcome.store.close()
    assert clean.raws and clean.ledger
    return clean


def errors_of(report: SyncReport) -> list[str]:
    """Every error of a report, sync-level and per stream."""
    return list(report.errors) + [e for s in report.streams for e in s.errors]


def check_outcome(outcome: Outcome, clean: Clean, mutation: Mutation) -> None:
    """The properties of the module docstring."""
    report = outcome.report
    errors = errors_of(report)
    untyped = [e for e in errors if e.startswith("connector error")]
    assert not untyped, f"{mutation!r} let an untyped error escape: {untyped}"
    assert report.ok == (not errors and all(s.completed for s in report.streams))
    if errors:
        assert not report.ok
    raws = stored_raws(outcome.store, outcome.connection_id)
    for _, sid in raws:
        check_identity(sid)
    outcome.store.balances(outcome.account_id)  # never decimal.Inexact, never a crash
    now = ledger(outcome.store, outcome.account_id)
    if not report.ok:
        # The rejected page left no trace: everything stored is what the clean sync stored.
        foreign = [key for key, payload in raws.items() if clean.raws.get(key, _ABSENT) != payload]
        assert not foreign, f"{mutation!r} failed the sync but stored foreign raws {foreign[:3]}: {errors}"
    elif mutation.op in outcome.preserving and not outcome.lossy:
        assert now == clean.ledger, f"{mutation!r}: the report is ok but the ledger differs"
    outcome.store.close()


_ABSENT = object()

#: Examples per connector (``TXSYNC_FUZZ_EXAMPLES`` raises it for a longer hunt).
FUZZ_EXAMPLES = int(os.environ.get("TXSYNC_FUZZ_EXAMPLES", "12"))

fuzz_settings = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: a sync per step would take minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    database=None,
)

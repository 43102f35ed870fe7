"""The contract kit's checks: plain functions that raise ``AssertionError`` with a message that says
what is wrong and what to do about it.

:class:`~txsync.testing.ConnectorContract` runs them against a connector's cassettes; they can also
be called directly (on a sync run against a sandbox, on hand-made pages) to test a connector or the
checks themselves.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from txsync import jsonutil
from txsync.connector import API_VERSION, Connector, ConnectorInfo, Cursor, Stream
from txsync.engine import SyncReport
from txsync.merge import MergeCounts
from txsync.models import (
    Balance,
    ConnectorKind,
    Credential,
    NormalizedTransaction,
    Origin,
    RawTransaction,
    TransactionKind,
    TransactionStatus,
    transaction_id,
)

__all__ = [
    "CommittedPage",
    "CursorOrder",
    "canonical_cursor",
    "check_balances_complete",
    "check_cassettes_clean",
    "check_connector_info",
    "check_ledgers_equal",
    "check_normalized_page",
    "check_page_identities",
    "check_page_order",
    "check_record_counts",
    "check_sync_report",
    "compare_cursors",
    "origin_of",
    "stored_record_counts",
]

#: Credential field names that must be declared secret (unless they also say "public").
_SECRET_NAME = re.compile(r"secret|key|pass|token|private|seed|mnemonic|otp|session", re.IGNORECASE)
_PUBLIC_NAME = re.compile(r"public|xpub|ypub|zpub|address|account|user|customer|uid", re.IGNORECASE)
#: Shorter test secrets could collide with ordinary data and make the cassette scan meaningless.
MIN_TEST_SECRET = 8

#: ``compare(stream, before, after)``: negative if ``after`` goes back, 0 if equal, positive if it
#: moves forward, ``None`` when the two cannot be ordered.
CursorOrder = Callable[[str, Cursor, Cursor], "int | None"]


@dataclass
class CommittedPage:
    """One page as the engine committed it: its stream, cursor, raws and normalized transactions."""

    stream: str
    cursor: Cursor
    raws: list[RawTransaction]
    transactions: list[NormalizedTransaction]
    counts: MergeCounts | None = None
    #: Extra notes (the sync run it belongs to).
    notes: dict[str, Any] = field(default_factory=dict)


def _fail(message: str) -> None:
    raise AssertionError(message)


# -- (a) info and credential schema -------------------------------------------------------------------


def check_connector_info(
    connector_cls: type[Connector],
    credential: Credential,
    stream_names: Sequence[str] | None = None,
) -> ConnectorInfo:
    """The connector's static description and the test credential are valid and consistent.

    Checks: ``info`` is a valid :class:`ConnectorInfo` of this API version; every credential field
    whose name says it is secret is declared ``secret=True``; every coverage gap has a remedy; the
    test credential is for this connector, holds every required field, nothing undeclared, its
    secrets in ``secrets`` and public values in ``public``, and its secrets are long enough to be
    found by the cassette scan. With ``stream_names`` (the names of ``streams()``), they must be
    exactly the declared streams, without duplicates.
    """
    info = getattr(connector_cls, "info", None)
    if not isinstance(info, ConnectorInfo):
        _fail(f"{connector_cls.__qualname__}.info must be a txsync.connector.ConnectorInfo")
    assert isinstance(info, ConnectorInfo)
    try:
        ConnectorInfo.model_validate(info.model_dump())
    except Exception as exc:
        _fail(f"{connector_cls.__qualname__}.info does not validate: {exc}")
    if info.api_version != API_VERSION:
        _fail(f"info.api_version is {info.api_version}, this txsync implements connector API {API_VERSION}")
    for spec in info.credential_fields:
        if _SECRET_NAME.search(spec.name) and not _PUBLIC_NAME.search(spec.name) and not spec.secret:
            _fail(
                f"credential field {spec.name!r} looks secret but is declared secret=False: "
                "declare it secret=True so it is sealed, redacted and scrubbed"
            )
    for gap in info.coverage_gaps:
        if not gap.remedy.strip() or not gap.title.strip():
            _fail(f"coverage gap {gap.id!r} needs a title and a remedy the user can act on")
    if credential.connector_id != info.id:
        _fail(f"the test credential is for {credential.connector_id!r}, the connector is {info.id!r}")
    declared = {spec.name: spec for spec in info.credential_fields}
    for spec in info.credential_fields:
        if spec.required and not credential.has(spec.name):
            _fail(f"the test credential lacks the required field {spec.name!r}")
    for name in (*credential.public, *credential.secrets):
        if name not in declared:
            _fail(f"the test credential holds {name!r}, which info.credential_fields does not declare")
    for name in credential.secrets:
        if not declared[name].secret:
            _fail(f"the test credential holds {name!r} as a secret but info declares it secret=False")
    for name in credential.public:
        if declared[name].secret:
            _fail(f"credential field {name!r} is declared secret but the test credential holds it in public")
    for name in credential.secrets:
        if len(credential.secret(name)) < MIN_TEST_SECRET:
            _fail(
                f"the test secret {name!r} is shorter than {MIN_TEST_SECRET} characters: use a long, "
                "distinctive value so the cassette scan can prove it never leaks"
            )
    if stream_names is not None:
        names = list(stream_names)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            _fail(f"streams() returns several streams named {dupes}")
        wanted = [s.name for s in info.streams]
        if set(names) != set(wanted):
            missing, extra = sorted(set(wanted) - set(names)), sorted(set(names) - set(wanted))
            _fail(
                f"streams() names {names} do not match info.streams {wanted} "
                f"(not returned: {missing}; undeclared: {extra})"
            )
    return info


# -- (b) sync report and page order ------------------------------------------------------------------


def check_sync_report(report: SyncReport, stream_names: Sequence[str] | None = None) -> None:
    """A sync finished cleanly: no error, every stream completed (and every expected stream ran)."""
    hint = (
        " (a request missing from the cassette shows up as CannotOverwriteExistingCassetteException: "
        "re-record the cassettes with TXSYNC_RECORD=1)"
    )
    if report.errors:
        _fail(f"the sync reported errors: {report.errors}{hint}")
    for stream in report.streams:
        if stream.errors:
            _fail(f"stream {stream.stream!r} reported errors: {stream.errors}{hint}")
        if not stream.completed:
            _fail(f"stream {stream.stream!r} did not complete")
    if stream_names is not None:
        ran = [s.stream for s in report.streams]
        if sorted(ran) != sorted(stream_names):
            _fail(f"the sync ran streams {ran}, the connector has {list(stream_names)}")
    if not report.ok:
        _fail(f"the sync is not ok (state {report.state}: {report.state_reason}){hint}")


def _number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _sequence_order(before: Sequence[Any], after: Sequence[Any]) -> int | None:
    for a, b in zip(before, after, strict=False):
        order = compare_cursors(a, b)
        if order is None:
            return None
        if order:
            return order
    return (len(after) > len(before)) - (len(after) < len(before))


def compare_cursors(before: Cursor, after: Cursor) -> int | None:
    """How ``after`` stands to ``before``: positive (forward), 0 (equal), negative (backwards), or
    ``None`` when they cannot be ordered.

    Numbers compare as numbers. Dicts compare value by value in key order when one's keys are a
    prefix of the other's (``{"start": s}`` < ``{"start": s, "end": e, "inner": 5}`` <
    ``{"start": s2}`` for ``s2 > s``); lists likewise. Strings, booleans, ``None`` and dicts with
    other keys are opaque (``None``): a connector whose cursors are ordered strings can say so by
    overriding :meth:`ConnectorContract.compare_cursors`.
    """
    if _number(before) and _number(after):
        forward: bool = after > before
        backward: bool = after < before
        return int(forward) - int(backward)
    if isinstance(before, dict) and isinstance(after, dict):
        kb, ka = list(before), list(after)
        shorter = min(len(kb), len(ka))
        if kb[:shorter] != ka[:shorter]:
            return None
        return _sequence_order([before[k] for k in kb], [after[k] for k in ka])
    if isinstance(before, list | tuple) and isinstance(after, list | tuple):
        return _sequence_order(before, after)
    return None


def canonical_cursor(cursor: Cursor) -> str:
    """A cursor as canonical JSON text (how the store keeps it); fails if it is not JSON."""
    try:
        return jsonutil.dumps(cursor)
    except (TypeError, ValueError) as exc:
        raise AssertionError(
            f"cursor {cursor!r} is not JSON-serializable ({exc}): the store keeps cursors as JSON"
        ) from None


def check_page_order(
    pages: Sequence[CommittedPage],
    compare: CursorOrder | None = None,
) -> dict[str, int]:
    """Pages of each stream (in commit order, one sync run) move their cursor forward.

    Each page's cursor must differ from the previous page's cursor of the same stream (a page that
    does not move the cursor would loop on resume) and, when the two can be ordered, must not go
    backwards. Returns the number of pages per stream.
    """
    order = compare or (lambda _stream, a, b: compare_cursors(a, b))
    last: dict[str, tuple[int, Cursor, str]] = {}
    counts: dict[str, int] = {}
    for index, page in enumerate(pages, start=1):
        text = canonical_cursor(page.cursor)
        counts[page.stream] = counts.get(page.stream, 0) + 1
        previous = last.get(page.stream)
        if previous is not None:
            number, cursor, previous_text = previous
            if text == previous_text:
                _fail(
                    f"stream {page.stream!r}: page {index} has the same cursor as page {number} "
                    f"({text}): every page must move the cursor, or a resume repeats it forever"
                )
            direction = order(page.stream, cursor, page.cursor)
            if direction is not None and direction < 0:
                _fail(
                    f"stream {page.stream!r}: the cursor goes backwards from page {number} to page {index} "
                    f"({previous_text} -> {text}): pages must come in cursor order"
                )
        last[page.stream] = (index, page.cursor, text)
    return counts


# -- (f) normalized transactions ---------------------------------------------------------------------


def origin_of(connector_cls: type[Connector]) -> Origin:
    """The origin the engine expects from a connector's transactions (file or API)."""
    return Origin.FILE if connector_cls.info.kind == ConnectorKind.FILE else Origin.API


def _check_transaction(
    tx: Any, where: str, account_id: str, origin: Origin, refs: set[tuple[str, str, str]]
) -> None:
    if not isinstance(tx, NormalizedTransaction):
        _fail(f"{where}: normalize() yielded {type(tx).__name__}, not a NormalizedTransaction")
    name = f"{where}: transaction {tx.key!r}"
    if not isinstance(tx.key, str) or not tx.key:
        _fail(f"{where}: a transaction has no key")
    if tx.account_id != account_id:
        _fail(f"{name} is for account {tx.account_id!r}, the raws are of {account_id!r}")
    if tx.origin != origin:
        _fail(f"{name} has origin {tx.origin!r}, expected {origin.value!r}")
    if not tx.sources:
        _fail(f"{name} has no sources: list the raw records it was built from")
    for source in tx.sources:
        ref = (source.connection_id, source.stream, source.source_id)
        if ref not in refs:
            _fail(f"{name} names source {ref}, which is not a raw record of this page")
    if not tx.legs:
        _fail(f"{name} has no legs")
    for leg in tx.legs:
        if not isinstance(leg.amount, Decimal) or isinstance(leg.amount, bool):
            _fail(f"{name}: leg {leg.asset!r} amount is {type(leg.amount).__name__}, must be Decimal")
        if not leg.amount.is_finite():
            _fail(f"{name}: leg {leg.asset!r} amount is not finite")
        if not isinstance(leg.asset, str) or not leg.asset.strip() or leg.asset != leg.asset.strip():
            _fail(f"{name}: a leg has a blank or padded asset symbol {leg.asset!r}")
    stamp = tx.timestamp
    if not isinstance(stamp, datetime) or stamp.tzinfo is None or stamp.utcoffset() != timedelta(0):
        _fail(f"{name}: timestamp {stamp!r} is not an aware UTC datetime")
    if tx.kind not in set(TransactionKind):
        _fail(f"{name}: kind {tx.kind!r} is not a TransactionKind")
    if tx.status not in set(TransactionStatus):
        _fail(f"{name}: status {tx.status!r} is not a TransactionStatus")
    if tx.id != transaction_id(account_id, origin, tx.key):
        _fail(f"{name}: id {tx.id!r} is not derived from (account, origin, key)")


def _picture(tx: NormalizedTransaction) -> dict[str, Any]:
    return tx.model_dump(mode="json")


def check_normalized_page(
    streams: Iterable[Stream],
    raws: Sequence[RawTransaction],
    *,
    account_id: str,
    origin: Origin = Origin.API,
    committed: Sequence[NormalizedTransaction] | None = None,
    label: str = "",
) -> list[NormalizedTransaction]:
    """Normalize one page's ``raws`` twice (with two stream instances) and check every transaction.

    ``streams`` gives at least two instances of the page's stream (fresh connectors, or the same
    stream twice). Each transaction must be well-formed (account, origin, sources naming raws of
    the page, at least one leg, Decimal amounts, aware UTC timestamp, valid kind and status, id
    derived from its key) and both normalizations, and ``committed`` (what the sync stored) if
    given, must agree transaction for transaction. Returns the first normalization.
    """
    instances = list(streams)
    if len(instances) < 2:
        raise ValueError("check_normalized_page needs two stream instances")
    where = f"stream {instances[0].name!r}" + (f" page {label}" if label else "")
    refs = {(r.connection_id, r.stream, r.source_id) for r in raws}
    first = list(instances[0].normalize(raws))
    second = list(instances[1].normalize(raws))
    for tx in first:
        _check_transaction(tx, where, account_id, origin, refs)
    for other, what in ((second, "a second normalization"), (committed, "what the sync committed")):
        if other is None:
            continue
        if [tx.id for tx in other] != [tx.id for tx in first]:
            _fail(
                f"{where}: {what} of the same raws gives other transaction ids "
                f"({len(other)} vs {len(first)} transactions): keys must be deterministic"
            )
        for a, b in zip(first, other, strict=True):
            if _picture(a) != _picture(b):
                _fail(
                    f"{where}: {what} of the same raws describes {a.key!r} differently: "
                    "normalize must be pure"
                )
    return first


# -- (c), (d) ledgers --------------------------------------------------------------------------------


def check_ledgers_equal(
    expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]], what: str
) -> None:
    """Two ledger pictures (lists of transaction dicts, as the harness takes them) are the same."""
    if len(expected) != len(actual):
        ids_e = {str(tx.get("id")) for tx in expected}
        ids_a = {str(tx.get("id")) for tx in actual}
        _fail(
            f"{what}: {len(actual)} transactions instead of {len(expected)} "
            f"(missing {len(ids_e - ids_a)}, extra {len(ids_a - ids_e)}; "
            f"e.g. missing {sorted(ids_e - ids_a)[:3]}, extra {sorted(ids_a - ids_e)[:3]})"
        )
    for index, (e, a) in enumerate(zip(expected, actual, strict=True)):
        if e != a:
            fields = sorted(k for k in set(e) | set(a) if e.get(k) != a.get(k))
            _fail(f"{what}: transaction #{index + 1} ({e.get('id')}) differs in {fields}")


# -- (g) cassettes -----------------------------------------------------------------------------------


def check_cassettes_clean(
    root: Any,
    secrets: Sequence[str],
    *,
    scrub_headers: Iterable[str] = (),
    scrub_params: Iterable[str] = (),
    require_files: bool = True,
) -> int:
    """No cassette under ``root`` holds a secret or an unscrubbed key, signature, nonce or timestamp.

    Returns the number of cassette files scanned; with ``require_files``, finding none fails.
    """
    from txsync.testing.cassettes import find_cassette_leaks, iter_cassette_files

    files = list(iter_cassette_files(root))
    if require_files and not files:
        _fail(f"no cassette under {root}: record them with TXSYNC_RECORD=1")
    problems = find_cassette_leaks(root, secrets, scrub_headers=scrub_headers, scrub_params=scrub_params)
    if problems:
        listing = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        _fail(
            f"{len(problems)} leak(s) in the cassettes (delete and re-record them after fixing the "
            f"scrubbing):\n  {listing}{more}"
        )
    return len(files)


# -- (i) completeness ----------------------------------------------------------------------------------


def check_page_identities(pages: Sequence[CommittedPage], same_event: Mapping[str, str] | None = None) -> int:
    """No two records of one page share a source id, and no two transactions of one page share a key,
    unless the page's stream is in ``same_event`` (stream -> why its records of one page may describe
    one event). Two records given one identity are one record to the store: the second replaces the
    first, and a leg is lost (two ledger rows of one trade given the trade's id). Returns the pages
    checked."""
    allowed = dict(same_event or {})
    checked = 0
    for index, page in enumerate(pages, start=1):
        if page.stream in allowed:
            continue
        checked += 1
        for what, values in (
            ("records share the source id", [r.source_id for r in page.raws]),
            ("transactions share the key", [tx.key for tx in page.transactions]),
        ):
            dupes = sorted(v for v, n in Counter(values).items() if n > 1)
            if dupes:
                _fail(
                    f"stream {page.stream!r} page {index}: {len(dupes)} {what} of another in the same page "
                    f"(e.g. {dupes[:3]}): the store keeps one and loses the others. Give each record its own "
                    "identity, or declare in the contract's same_event_identities that this stream's "
                    "records of one page describe one event"
                )
    return checked


def stored_record_counts(pages: Sequence[CommittedPage]) -> dict[str, int]:
    """How many distinct records (source ids) of each stream a sync stored."""
    ids: dict[str, set[str]] = {}
    for page in pages:
        ids.setdefault(page.stream, set()).update(r.source_id for r in page.raws)
    return {stream: len(found) for stream, found in sorted(ids.items())}


def check_record_counts(pages: Sequence[CommittedPage], expected: Mapping[str, int]) -> dict[str, int]:
    """A full sync stored, per stream, exactly as many records as the source holds for the account
    (``expected``, as the sandbox counts them): a skipped page, a window never asked for, or records
    merged away by a shared identity all show here. Returns the stored counts."""
    got = stored_record_counts(pages)
    wrong = {
        stream: (int(expected.get(stream, 0)), got.get(stream, 0))
        for stream in sorted(set(expected) | set(got))
        if int(expected.get(stream, 0)) != got.get(stream, 0)
    }
    if wrong:
        listing = ", ".join(f"{s}: {e} served, {g} stored" for s, (e, g) in wrong.items())
        _fail(
            f"the full sync did not store every record the source holds ({listing}): a page or a "
            "window skipped, or records given one identity"
        )
    return got


def check_balances_complete(
    computed: Mapping[str, Decimal],
    reported: Sequence[Balance],
    info: ConnectorInfo,
    excepted: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The balances computed from a full sync's transactions equal what the source reports, asset by
    asset, except assets named in ``excepted`` (fnmatch pattern -> the id of the declared coverage gap
    that explains why they may differ) and assets of a gap with ``unreported_balances`` the source does
    not report. Returns the excepted assets that differ, with their gap."""
    import fnmatch

    from txsync.reconcile import reconcile

    declared = {gap.id: gap for gap in info.coverage_gaps}
    for pattern, named in (excepted or {}).items():
        if named not in declared:
            _fail(
                f"balance_gaps names {named!r} for {pattern!r}, which {info.id}'s info does not declare: "
                "an exception must be a declared coverage gap"
            )
    unreported = [gap for gap in info.coverage_gaps if gap.unreported_balances]
    reported_assets = {b.asset for b in reported}
    differing: dict[str, str] = {}
    wrong: list[Any] = []
    for check in reconcile(computed, reported):
        if check.ok:
            continue
        gap_id = next((g for p, g in (excepted or {}).items() if fnmatch.fnmatchcase(check.asset, p)), None)
        if gap_id is not None:
            differing[check.asset] = gap_id
            continue
        if check.asset not in reported_assets and any(g.concerns(check.asset) for g in unreported):
            continue
        wrong.append(check)
    if wrong:
        listing = "; ".join(
            f"{c.asset}: computed {c.computed}, reported {c.reported} (difference {c.difference})"
            for c in wrong[:10]
        )
        _fail(
            f"{len(wrong)} asset(s) do not reconcile after a full sync: {listing}. A leg lost or doubled, a "
            "record skipped, or a gap: declare it in info.coverage_gaps and name the asset in the "
            "contract's balance_gaps"
        )
    return differing

"""The file-importer contract: a FILE connector that reads a file in two streaming passes.

* **Pass 1, validate** (:meth:`FileImporter.verify`, before anything is stored): every row of every
  source is read, parsed and checked; a bad row raises :class:`~txsync.errors.FileImportError` and the
  engine stores nothing of the file. Valid rows go, in their canonical form, into a :class:`Spill`
  (an on-disk external sort), so memory does not grow with the file.
* **Pass 2, import** (:meth:`FileStream.pages`): the rows come back from the spill in canonical order
  (by time, then content), are given identities and grouped into transactions by the format's
  planner, and are yielded in pages of whole transactions, each with the cursor that resumes after it.

Identities come from content: a row's source id is its time, a digest of its canonical content and
its rank among identical rows of that time, so re-importing the same file, or an overlapping one,
adds nothing, and two identical rows of one file stay two.

Cursor (one stream, ``rows``): ``{"v": 1, "rows": R, "digest": D}`` - the number of rows imported in
canonical order and the SHA-256 of those rows. A re-import of the same file, or of a longer export
whose first R rows are the same, resumes after row R; any other file is read from its first row,
which the content identities make safe.
"""

from __future__ import annotations

import asyncio
import hashlib
from abc import abstractmethod
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, ClassVar

from txsync.connector import Connector, ConnectorContext, Cursor, Page, RawRecord, Stream
from txsync.errors import ConfigurationError
from txsync.imports.limits import ImportLimits
from txsync.imports.spill import Spill
from txsync.imports.values import zone
from txsync.models import Balance, NormalizedTransaction, Permissions, RawTransaction

__all__ = ["CURSOR_VERSION", "FileImporter", "FileStream", "PlannedRecord", "Prepared"]

CURSOR_VERSION = 1
DEFAULT_PAGE_SIZE = 500
_MAX_NAMED_UNKNOWN = 50


@dataclass(slots=True)
class PlannedRecord:
    """One row in canonical order: its raw record, the transaction (``event``) it belongs to, the
    bytes its identity and the resume digest are computed from, and whether a page may end after it."""

    source_id: str
    payload: dict[str, Any]
    digest_line: bytes
    event: str
    cut_after: bool = True


@dataclass
class Prepared:
    """What pass 1 found: rows read, sources, and unknown labels / operations (name -> rows)."""

    rows: int = 0
    sources: list[str] = field(default_factory=list)
    unknown: dict[str, int] = field(default_factory=dict)
    unknown_more: int = 0

    def note_unknown(self, name: str) -> None:
        """Count a row of an unknown label (the names kept are capped; the rest are only counted)."""
        if name in self.unknown or len(self.unknown) < _MAX_NAMED_UNKNOWN:
            self.unknown[name] = self.unknown.get(name, 0) + 1
        else:
            self.unknown_more += 1

    def unknown_detail(self) -> str:
        """The unknown names with their row counts, for the report."""
        text = ", ".join(f"{name!r} ({n} rows)" for name, n in sorted(self.unknown.items()))
        if self.unknown_more:
            text += f", and {self.unknown_more} rows of other names"
        return text


class FileImporter(Connector):
    """Base class of the file connectors (Koinly, CoinTracking, the txsync template, Binance statement).

    Options every importer reads: ``path`` (the file: CSV, or a .zip / .tar.gz of CSVs; ``.xlsx``
    where the format allows it) or ``text`` (the content, ``str`` or ``bytes``) with an optional
    ``name`` for messages; ``timezone`` (an IANA name: times written without an offset are read in
    it; default UTC); ``page_size`` (transactions per page, default 500); ``max_bytes`` /
    ``max_ratio`` (the safety limits, see :class:`~txsync.imports.ImportLimits`).

    Subclasses set ``info`` (kind FILE), ``format_name`` and implement :meth:`sniff`,
    :meth:`prepare_into`, :meth:`plan` and :meth:`normalize`.
    """

    #: The format name :func:`~txsync.imports.detect_format` returns for files of this importer.
    format_name: ClassVar[str]
    #: Whether the importer reads Excel workbooks as well as CSV.
    reads_xlsx: ClassVar[bool] = False
    #: The coverage gap noted when rows have labels / operations the importer does not know.
    unknown_gap: ClassVar[str | None] = None
    #: The stream class (its ``name`` keys the stored cursor).
    stream_class: ClassVar[type[FileStream]]

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        options = context.options
        size = options.get("page_size", DEFAULT_PAGE_SIZE)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 100_000:
            raise ConfigurationError(f"{self.info.id} option 'page_size' must be an integer 1..100000")
        self.page_size = size
        self.tz: tzinfo = zone(options.get("timezone"))
        self.limits = ImportLimits.from_options(options)
        self._spill: Spill | None = None
        self._prepared: Prepared | None = None
        self._lock = asyncio.Lock()

    # -- what a format implements ---------------------------------------------------------------

    @classmethod
    @abstractmethod
    def sniff(cls, header: Sequence[str]) -> bool:
        """Whether a file with this header row is in this importer's format."""

    @classmethod
    def expected_header(cls) -> str:
        """The columns a file of this format has, for messages (override to be more precise)."""
        return cls.info.display_name

    @abstractmethod
    def prepare_into(self, spill: Spill) -> Prepared:
        """Pass 1: read every source of ``self.context.options``, validate every row (raise
        :class:`~txsync.errors.FileImportError` on the first bad one) and add the rows to ``spill``."""

    @abstractmethod
    def plan(self, spill: Spill) -> Iterator[PlannedRecord]:
        """Pass 2: the rows of the spill in canonical order, with identities and events; the last
        record of the iteration must allow a cut. Called again for every resume attempt."""

    @abstractmethod
    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        """The transactions of a page's raws (whole events: a page never splits one)."""

    # -- the connector ----------------------------------------------------------------------------

    async def prepare(self) -> Prepared:
        """Pass 1, once per sync, off the event loop."""
        async with self._lock:
            if self._prepared is None:
                spill = Spill()
                try:
                    prepared = await asyncio.to_thread(self.prepare_into, spill)
                except BaseException:
                    spill.close()
                    raise
                self._spill, self._prepared = spill, prepared
                if prepared.unknown and self.unknown_gap:
                    self.context.note_gap(self.unknown_gap, prepared.unknown_detail(),
                                          stream=self.stream_class.name)
            return self._prepared

    @property
    def spill(self) -> Spill:
        """The validated rows (after :meth:`prepare`)."""
        if self._spill is None:
            raise RuntimeError("prepare() first")
        return self._spill

    async def verify(self) -> Permissions:
        """Read and check the whole file before anything is stored: a malformed row fails here."""
        prepared = await self.prepare()
        return Permissions(
            reported=True, can_read=True, can_trade=False, can_withdraw=False, can_transfer=False,
            details={"rows": prepared.rows},
        )

    async def balances(self) -> Sequence[Balance]:
        """A file lists movements, not balances: nothing to report."""
        return []

    def streams(self) -> Sequence[Stream]:
        return [self.stream_class(self)]

    async def aclose(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None
            self._prepared = None


class FileStream(Stream):
    """Every row of the file, in canonical order, paged by whole transactions."""

    name = "rows"

    def __init__(self, importer: FileImporter) -> None:
        self.importer = importer

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        return self._pages(cursor)

    async def _pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        prepared = await self.importer.prepare()
        pages: Generator[Page, None, None] = self._sync_pages(cursor, prepared.rows)
        try:
            while True:
                page = await asyncio.to_thread(next, pages, None)
                if page is None:
                    return
                yield page
        finally:
            pages.close()

    def _sync_pages(self, cursor: Cursor, total: int) -> Generator[Page, None, None]:
        importer = self.importer
        records, running, position = _resume(importer, cursor)
        size = importer.page_size
        chunk: list[PlannedRecord] = []
        events: set[str] = set()
        begin = position
        try:
            for record in records:
                running.update(record.digest_line)
                position += 1
                chunk.append(record)
                events.add(record.event)
                if record.cut_after and len(events) >= size:
                    yield self._page(chunk, begin, position, total, running, len(events))
                    chunk, events, begin = [], set(), position
            if chunk:
                yield self._page(chunk, begin, position, total, running, len(events))
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _page(chunk: list[PlannedRecord], begin: int, end: int, total: int, running: Any,
              events: int) -> Page:
        return Page(
            records=[RawRecord(r.source_id, r.payload) for r in chunk],
            cursor={"v": CURSOR_VERSION, "rows": end, "digest": running.hexdigest()},
            label=f"rows {begin + 1}-{end} of {total}",
            extra={"events": events},
        )

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        return self.importer.normalize(raws)


FileImporter.stream_class = FileStream


def _resume(importer: FileImporter, cursor: Cursor) -> tuple[Iterator[PlannedRecord], Any, int]:
    """Where to start: after the cursor's rows if this file begins with exactly those rows."""
    fresh = importer.plan(importer.spill)
    if not isinstance(cursor, dict) or cursor.get("v") != CURSOR_VERSION:
        return fresh, hashlib.sha256(), 0
    count, digest = cursor.get("rows"), cursor.get("digest")
    if not isinstance(count, int) or isinstance(count, bool) or not isinstance(digest, str) or count <= 0:
        return fresh, hashlib.sha256(), 0
    running = hashlib.sha256()
    for position, record in enumerate(fresh, start=1):
        running.update(record.digest_line)
        if position == count:
            if record.cut_after and running.hexdigest() == digest:
                return fresh, running, position
            break
    close = getattr(fresh, "close", None)
    if close is not None:
        close()
    # Another file (or a shorter one): read it all; the content identities make that idempotent.
    return importer.plan(importer.spill), hashlib.sha256(), 0

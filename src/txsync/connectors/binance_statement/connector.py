"""The Binance account statement connector: a FILE connector reading the "Generate all statements" CSV.

Connect it to the same account as the Binance API connection (``Engine.connect(...,
account_id=<that account>, options={"path": ...})``): its events are stored with origin FILE and
merged with the API's (see :mod:`txsync.merge`), so a trade both describe is one transaction and
what only the file knows (dust beyond the API's last 100, delisted pairs, launchpad, ETH 2.0, card,
P2P, COIN-M futures, loans, mining...) is added.

Cursor (one stream, ``statement``): ``{"v": 1, "rows": R, "digest": D}`` - the number of rows
imported, in canonical order, and the SHA-256 of those rows. A re-import of the same file (or of a
longer, newer export whose first R rows are the same) resumes after row R; any other file is read
from its first row, which deduplication makes safe (row and event identities come from content).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from txsync.connector import (
    Connector,
    ConnectorContext,
    ConnectorInfo,
    CoverageGap,
    Cursor,
    Page,
    RawRecord,
    Stream,
    StreamInfo,
)
from txsync.connectors.binance_statement._events import Plan, build_plan, normalize_rows
from txsync.connectors.binance_statement._parse import StatementRow, parse_rows, read_sources
from txsync.errors import ConfigurationError
from txsync.models import Balance, ConnectorKind, NormalizedTransaction, Permissions, RawTransaction

__all__ = ["BinanceStatement", "StatementStream", "load_plan"]

CURSOR_VERSION = 1
DEFAULT_PAGE_SIZE = 500  # events per page


def load_plan(options: Any) -> Plan:
    """Read and parse the file the options name (raises on the first bad row), then plan its events."""
    rows: list[StatementRow] = []
    for name, text in read_sources(options):
        rows.extend(parse_rows(name, text))
    return build_plan(rows)


class StatementStream(Stream):
    """Every row of the statement, in canonical order, paged by whole events."""

    name = "statement"

    def __init__(self, connector: BinanceStatement) -> None:
        self.connector = connector

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        return self._pages(cursor)

    async def _pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        plan = await self.connector.plan()
        rows = plan.rows
        start, running = _resume(plan, cursor)
        size = self.connector.page_size
        begin = start
        events: set[str] = set()
        cuts = {i for i in plan.cuts if i >= start}
        for i in range(start, len(rows)):
            running.update(rows[i].digest_line)
            events.add(rows[i].event)
            if i in cuts and (len(events) >= size or i == len(rows) - 1):
                chunk = rows[begin : i + 1]
                yield Page(
                    records=[RawRecord(p.source_id, p.payload()) for p in chunk],
                    cursor={"v": CURSOR_VERSION, "rows": i + 1, "digest": running.hexdigest()},
                    label=f"rows {begin + 1}-{i + 1} of {len(rows)}",
                    extra={"events": len(events)},
                )
                begin = i + 1
                events = set()

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        return normalize_rows(raws)


def _resume(plan: Plan, cursor: Cursor) -> tuple[int, Any]:
    """Where to start: after the cursor's rows if this file begins with exactly those rows."""
    running = hashlib.sha256()
    if not isinstance(cursor, dict) or cursor.get("v") != CURSOR_VERSION:
        return 0, running
    count, digest = cursor.get("rows"), cursor.get("digest")
    if not isinstance(count, int) or isinstance(count, bool) or not isinstance(digest, str):
        return 0, running
    if not 0 < count <= len(plan.rows) or count - 1 not in set(plan.cuts):
        return 0, hashlib.sha256()
    for p in plan.rows[:count]:
        running.update(p.digest_line)
    if running.hexdigest() != digest:
        return 0, hashlib.sha256()  # another file: read it all (identities make that idempotent)
    return count, running


class BinanceStatement(Connector):
    """Imports a Binance account statement file ("Generate all statements" CSV).

    Options: ``path`` (the downloaded .csv, or the .zip / .tar.gz it came in) or ``text`` (the CSV
    content itself, for a host that holds the upload in memory); ``page_size`` (events per page,
    default 500). No credential is needed: connect with ``Credential(connector_id="binance_statement")``.
    """

    info = ConnectorInfo(
        id="binance_statement",
        display_name="Binance account statement (CSV)",
        kind=ConnectorKind.FILE,
        credential_fields=(),
        streams=(StreamInfo(name="statement", description="Every balance change of the statement file"),),
        coverage_gaps=(
            CoverageGap(
                id="unknown_operations",
                title="Statement operations txsync does not know",
                description="Rows whose Operation is not in txsync's table are kept as 'other' "
                "transactions flagged unknown_type, with their amounts.",
                remedy="Check those transactions and set their kind by hand, and tell the txsync "
                "maintainers the operation name so the next version maps it.",
            ),
        ),
        reports_permissions=True,
        minimal_permissions="None: a file downloaded from Binance (Wallet > Transaction History > "
        "Generate all statements); no API key.",
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        size = context.options.get("page_size", DEFAULT_PAGE_SIZE)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 100_000:
            raise ConfigurationError("binance_statement option 'page_size' must be an integer 1..100000")
        self.page_size = size
        self._plan: Plan | None = None

    async def plan(self) -> Plan:
        """The parsed file (read once per sync, off the event loop)."""
        if self._plan is None:
            self._plan = await asyncio.to_thread(load_plan, dict(self.context.options))
            if self._plan.unknown:
                detail = ", ".join(f"{name!r} ({n} rows)" for name, n in sorted(self._plan.unknown.items()))
                self.context.note_gap("unknown_operations", detail, stream=StatementStream.name)
        return self._plan

    async def verify(self) -> Permissions:
        """Read and check the whole file before anything is stored: a malformed row fails here."""
        plan = await self.plan()
        return Permissions(
            reported=True, can_read=True, can_trade=False, can_withdraw=False, can_transfer=False,
            details={"rows": len(plan.rows)},
        )

    async def balances(self) -> Sequence[Balance]:
        """A statement lists changes, not balances: nothing to report."""
        return []

    def streams(self) -> Sequence[Stream]:
        return [StatementStream(self)]

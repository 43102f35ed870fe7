"""The ``user_transactions`` stream: the account's whole history, paged by ``since_id``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from txsync.connector import Cursor, Page, RawRecord, Stream
from txsync.connectors.bitstamp._matching import CryptoRow, candidates_of
from txsync.connectors.bitstamp._normalize import CURRENCY_PREFIX, normalize_page, page_matches
from txsync.connectors.bitstamp._rows import TYPE_NAMES, row_id, type_of, unknown_keys, unlisted_codes
from txsync.errors import BadResponseError, ConfigurationError, DuplicateRecordError, PaginationLoopError
from txsync.models import NormalizedTransaction, RawTransaction
from txsync.pagination import InvalidCursorError, OffsetPaginator, PaginationLimitError

if TYPE_CHECKING:
    from txsync.connectors.bitstamp.connector import Bitstamp

__all__ = ["MAX_OFFSET", "SINCE_ID_LIMIT", "UserTransactionsStream"]

USER_TRANSACTIONS = "/api/v2/user_transactions/"
#: ``since_id`` forces pages of 1000 rows.
SINCE_ID_LIMIT = 1000
#: The largest ``offset`` Bitstamp accepts.
MAX_OFFSET = 200_000


def _positions(cursor: Cursor, key: str) -> dict[str, int]:
    """The integer fields of a cursor written in the current paging mode; ``{}`` (start over) for a
    cursor of the other mode (the ``paging`` option changed: re-reading is harmless, raws dedup)."""
    if cursor is None:
        return {}
    if not isinstance(cursor, Mapping):
        raise InvalidCursorError("a Bitstamp user_transactions cursor is a JSON object")
    if key not in cursor:
        return {}
    out: dict[str, int] = {}
    for name, value in cursor.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidCursorError(f"cursor field {name!r} must be a non-negative integer")
        out[str(name)] = value
    return out


class UserTransactionsStream(Stream):
    """Every user transaction, ascending by id.

    The first page is read from ``offset=0`` (no id known yet), the following ones with
    ``since_id`` (exclusive) = the last id stored; the cursor is ``{"since_id": id}``. Crypto deposits
    and withdrawals of a page are matched against ``crypto-transactions``: the candidate rows are
    kept in the same page (source ids ``crypto:...``) so that normalization stays a pure function
    of the page. A crypto movement younger than the connector's ``txid_grace`` that has no candidate
    yet (a withdrawal not broadcast yet) holds the resume point back: the cursor then also carries
    ``"recheck_from"`` and the next sync reads again from just before it, so the txid is attached
    once Bitstamp publishes it.

    With the connection option ``paging="offset"`` it pages by ``offset`` instead (cursor
    ``{"offset": n}``), which Bitstamp serves only up to offset 200000.
    """

    name = "user_transactions"

    def __init__(self, connector: Bitstamp) -> None:
        self.connector = connector

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        """Pages from ``cursor`` (``None``: from the first transaction)."""
        if self.connector.paging == "offset":
            return self._offset_pages(cursor)
        return self._since_id_pages(cursor)

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        """See :func:`txsync.connectors.bitstamp._normalize.normalize_page`."""
        return normalize_page(raws)

    # -- fetching -----------------------------------------------------------------------------------

    async def _fetch(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows = await self.connector.http.request_json(
            "POST", USER_TRANSACTIONS, data=params, weights={"requests": 1}
        )
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise BadResponseError(
                "user_transactions: expected a list of objects", endpoint=USER_TRANSACTIONS
            )
        return rows

    async def _since_id_pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        state = _positions(cursor, "since_id")
        position: int | None = state.get("recheck_from", state.get("since_id"))
        held: int | None = None
        while True:
            if position is None:
                params: dict[str, Any] = {"offset": 0, "limit": SINCE_ID_LIMIT, "sort": "asc"}
            else:
                params = {"since_id": position, "limit": SINCE_ID_LIMIT, "sort": "asc"}
            rows = await self._fetch(params)
            if not rows:
                return
            fresh: dict[int, dict[str, Any]] = {}
            for row in rows:
                ident = row_id(row)
                if (position is None or ident > position) and fresh.setdefault(ident, row) != row:
                    raise DuplicateRecordError(
                        f"user_transactions: two rows of one page have the id {ident} and different content",
                        stream=self.name,
                        record=str(ident),
                        endpoint=USER_TRANSACTIONS,
                    )
            full = len(rows) >= SINCE_ID_LIMIT
            if not fresh:
                if not full:
                    return
                raise PaginationLoopError(
                    f"user_transactions: the page after id {position} holds no newer id; Bitstamp "
                    "served an earlier page again"
                )
            ordered = [fresh[ident] for ident in sorted(fresh)]
            extra, hold = await self._page_extras(ordered)
            if hold is not None and held is None:
                index = next(i for i, row in enumerate(ordered) if row_id(row) == hold)
                held = row_id(ordered[index - 1]) if index else (position or 0)
            last = row_id(ordered[-1])
            next_cursor: dict[str, int] = {"since_id": last}
            if held is not None:
                next_cursor["recheck_from"] = held
            yield Page(
                records=[RawRecord(str(row_id(row)), row) for row in ordered] + extra,
                cursor=next_cursor,
                label=f"ids {row_id(ordered[0])}..{last}",
            )
            if not full:
                return
            position = last

    async def _offset_pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        state = _positions(cursor, "offset")
        limit = self.connector.page_limit

        async def fetch(offset: int, size: int) -> Sequence[dict[str, Any]]:
            return await self._fetch({"offset": offset, "limit": size, "sort": "asc"})

        paginator = OffsetPaginator(fetch, limit=limit, key=row_id, max_offset=MAX_OFFSET)
        try:
            async for step in paginator.steps(state.get("offset")):
                ordered = sorted(step.items, key=row_id)
                extra, _hold = await self._page_extras(ordered)
                yield Page(
                    records=[RawRecord(str(row_id(row)), row) for row in ordered] + extra,
                    cursor={"offset": step.cursor},
                    label=f"offset {step.cursor - len(step.items)}",
                )
        except PaginationLimitError:
            self.connector.context.note_gap(
                "offset_limit", "the history is longer than offset paging can reach", stream=self.name
            )
            raise

    # -- what a page keeps beside its rows ------------------------------------------------------------

    async def _page_extras(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[RawRecord], int | None]:
        """The records kept in the page beside its rows (currency-list entries, then crypto rows) and
        the id to re-read from (see :meth:`_crypto_records`)."""
        currencies = await self._currency_records(rows)
        listed = frozenset(record.source_id[len(CURRENCY_PREFIX) :] for record in currencies)
        self._note_types(rows, listed)
        crypto, hold = await self._crypto_records(rows, listed)
        return crypto + currencies, hold

    async def _currency_records(self, rows: Sequence[Mapping[str, Any]]) -> list[RawRecord]:
        """For row keys shaped like a currency code that neither the connector's snapshot nor a pair
        names, the entries of Bitstamp's live currency list that name them (``currency:<code>``):
        kept in the page, they make those keys currencies (a coin listed after the snapshot)."""
        codes: set[str] = set()
        for row in rows:
            codes |= unlisted_codes(row)
        if not codes:
            return []
        listed = await self.connector.currency_list()
        if listed is None:
            return []
        return [RawRecord(f"{CURRENCY_PREFIX}{code}", listed[code]) for code in sorted(codes & listed.keys())]

    # -- crypto-transactions --------------------------------------------------------------------------

    async def _crypto_records(
        self, rows: Sequence[Mapping[str, Any]], listed: frozenset[str] = frozenset()
    ) -> tuple[list[RawRecord], int | None]:
        """The crypto rows that are candidates for this page's movements (kept in the page) and the
        id of the first young movement still without any (the point to re-read from), if any."""
        movements, _ = page_matches(rows, [], listed)
        if not movements:
            return [], None
        crypto = await self.connector.crypto_rows()
        if crypto is None:
            return [], None
        chosen: dict[str, tuple[CryptoRow, Any]] = {}
        rows_only = [entry[0] for entry in crypto]
        payloads = {entry[0].source_id: entry[1] for entry in crypto}
        for movement in movements.values():
            for candidate in candidates_of(movement, rows_only):
                chosen[candidate.source_id] = (candidate, payloads[candidate.source_id])
        embedded = [chosen[sid] for sid in sorted(chosen)]
        _, matches = page_matches(rows, [row for row, _ in embedded], listed)
        if any(m.status != "matched" for m in matches.values()):
            self.connector.context.note_gap(
                "onchain_txids",
                "some crypto deposits or withdrawals could not be matched to one "
                "crypto transaction (flagged crypto_unmatched or crypto_match_ambiguous)",
                stream=self.name,
            )
        young = self.connector.context.clock() - self.connector.txid_grace
        hold = min(
            (
                m.user_id
                for m in movements.values()
                if matches[m.user_id].status == "unmatched" and m.at >= young
            ),
            default=None,
        )
        return [RawRecord(row.source_id, payload) for row, payload in embedded], hold

    def _note_types(self, rows: Iterable[Mapping[str, Any]], listed: frozenset[str] = frozenset()) -> None:
        context = self.connector.context
        for row in rows:
            code = type_of(row)
            if code not in TYPE_NAMES:
                context.note_gap(
                    "unknown_types",
                    "Bitstamp listed transaction types txsync does not know; they "
                    "are kept as 'other' with the flag unknown_type",
                    stream=self.name,
                )
            if unknown_keys(row, listed):
                context.note_gap(
                    "unknown_keys",
                    "Bitstamp rows carry fields txsync does not read as currencies; they are kept "
                    "in meta.unknown_keys with the flag unknown_keys, never as assets",
                    stream=self.name,
                )
            if code == 14:
                context.note_gap(
                    "sub_accounts", "the account moved funds to or from sub-accounts", stream=self.name
                )


def grace(hours: Any) -> timedelta:
    """The ``txid_grace_hours`` option as a duration."""
    if isinstance(hours, bool) or not isinstance(hours, int | float | Decimal) or hours < 0:
        raise ConfigurationError("the option txid_grace_hours must be a non-negative number")
    return timedelta(hours=float(hours))

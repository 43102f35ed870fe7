"""Paging by item identity: ordered ids (Binance ``fromId``, Bitstamp ``since_id``) and opaque
"after this item" tokens (Esplora ``/txs/chain/:last_seen_txid`` or ``after_txid``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Generic, Literal, TypeVar

from txsync.connector.base import Cursor
from txsync.errors import DuplicateRecordError, PaginationLoopError

from ._core import InvalidCursorError, Step, as_int, check_duplicates, int_cursor, json_key

__all__ = ["IdCursorPaginator", "TokenPaginator"]

T = TypeVar("T")


class IdCursorPaginator(Generic[T]):
    """Pages ``fetch(position)`` by increasing integer ids.

    ``inclusive=True`` (Binance ``fromId``): the remote side returns ids ``>= position``, so the next
    position is the largest id + 1. ``inclusive=False`` (Bitstamp ``since_id``): it returns ids
    ``> position``, so the next position is the largest id. ``id_of`` extracts an item's id, an int
    or a string of digits (compared as an int). Items at or behind the position already passed
    (duplicates of earlier pages) and repeats within a page are dropped; each step's items are
    sorted by id, so out-of-order pages are fine. The cursor is the next position (an int);
    ``start`` is the first one sent (with ``inclusive=False`` an item whose id equals it is skipped).

    Paging stops on an empty page, on a page shorter than ``limit`` when it is given, or on a page
    that only echoes the boundary id (a remote side treating an exclusive bound inclusively). A page
    with nothing new otherwise raises :class:`~txsync.errors.PaginationLoopError`.
    """

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[Sequence[T]]],
        *,
        id_of: Callable[[T], int | str],
        inclusive: bool = True,
        start: int = 0,
        limit: int | None = None,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        self.fetch = fetch
        self.id_of = id_of
        self.inclusive = inclusive
        self.start = start
        self.limit = limit

    def _is_new(self, ident: int, position: int) -> bool:
        return ident >= position if self.inclusive else ident > position

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[T]]:
        """Yield one step per page with new ids, from position ``cursor`` (``None``: ``start``)."""
        resumed = int_cursor(cursor, "id")
        position = self.start if resumed is None else resumed
        while True:
            page = await self.fetch(position)
            if not page:
                return
            by_id: dict[int, T] = {}
            stale: list[int] = []
            for item in page:
                ident = as_int(self.id_of(item), "an item id")
                if not self._is_new(ident, position):
                    stale.append(ident)
                elif ident not in by_id:
                    by_id[ident] = item
                elif by_id[ident] != item:
                    raise DuplicateRecordError(
                        f"id paging: two items of one page have the id {ident} and different content",
                        record=str(ident),
                    )
            full = self.limit is None or len(page) >= self.limit
            if not by_id:
                echo = not self.inclusive and all(ident == position for ident in stale)
                if not full or (echo and self.limit is None):
                    return
                raise PaginationLoopError(
                    f"id paging: the page for position {position} holds no id past it; the remote "
                    "side is not advancing"
                )
            ordered = sorted(by_id)
            position = ordered[-1] + 1 if self.inclusive else ordered[-1]
            yield Step([by_id[ident] for ident in ordered], position)
            if not full:
                return


class TokenPaginator(Generic[T]):
    """Pages ``fetch(token)`` where ``token`` names the last item already received (``None`` first).

    For lists the remote side orders itself, with no comparable ids: Esplora's
    ``/address/:addr/txs/chain/:last_seen_txid``. ``key`` gives an item's token (a str or int); the
    next token is the key of the last item of the page. Items seen earlier in this run are dropped.
    Paging stops on an empty page. A page that brings nothing new either stops paging
    (``on_all_seen="stop"``: instances that serve the first page again once the end is reached) or
    raises :class:`~txsync.errors.PaginationLoopError` (``"raise"``, the default), and so does a
    token that was already used. The cursor is the token to send next.
    """

    def __init__(
        self,
        fetch: Callable[[str | int | None], Awaitable[Sequence[T]]],
        *,
        key: Callable[[T], str | int],
        on_all_seen: Literal["raise", "stop"] = "raise",
    ) -> None:
        self.fetch = fetch
        self.key = key
        self.on_all_seen = on_all_seen

    async def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[T]]:
        """Yield one step per page with new items, after token ``cursor`` (``None``: the top)."""
        if cursor is not None and (isinstance(cursor, bool) or not isinstance(cursor, str | int)):
            raise InvalidCursorError(f"token cursor must be a string, an integer or null, not {type(cursor)}")
        token: str | int | None = cursor
        used: set[str | int | None] = {token}
        seen: set[str | int] = set()
        while True:
            page = await self.fetch(token)
            if not page:
                return
            fresh: list[T] = []
            keys = [json_key(self.key(item), "key") for item in page]
            check_duplicates(page, keys, "token paging")
            for item, k in zip(page, keys, strict=True):
                if k not in seen:
                    seen.add(k)
                    fresh.append(item)
            if not fresh:
                if self.on_all_seen == "stop":
                    return
                raise PaginationLoopError(
                    "token paging: the remote side served a page of items already received"
                )
            token = json_key(self.key(page[-1]), "key")
            if token in used:
                raise PaginationLoopError(
                    "token paging: the remote side led back to a position already visited"
                )
            used.add(token)
            yield Step(fresh, token)

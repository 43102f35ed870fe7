"""What every paginator shares: the step it yields, its protocol, its errors, and collecting."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Hashable, Sequence
from typing import Generic, NamedTuple, Protocol, TypeVar

from txsync.connector.base import Cursor, Page, RawRecord
from txsync.errors import (
    BadResponseError,
    ConnectorError,
    DuplicateRecordError,
    PaginationLoopError,
    TxsyncError,
)
from txsync.fields import preview

__all__ = [
    "BlockOverflowError",
    "Collected",
    "InvalidCursorError",
    "PaginationLimitError",
    "Paginator",
    "Step",
    "as_pages",
    "collect",
    "collect_steps",
]

T = TypeVar("T")


class Step(NamedTuple, Generic[T]):
    """Items fetched in one step and the cursor that resumes right *after* them.

    ``cursor`` is JSON-serializable and never points past an item that is not in this step or an
    earlier one, so a stream can store ``Page(records, cursor)`` as a checkpoint. ``items`` may be
    empty when only the position advanced (an empty time window). ``label`` says what the step
    covers (a window), for the sync report.
    """

    items: Sequence[T]
    cursor: Cursor
    label: str = ""


class Paginator(Protocol[T]):
    """Anything that pages a remote list: ``steps(cursor)`` yields :class:`Step` objects.

    ``cursor`` is ``None`` to start from the paginator's origin, or a cursor of a step it yielded
    earlier (possibly in another process, after a JSON round trip) to yield exactly what follows it.
    """

    def steps(self, cursor: Cursor = None) -> AsyncIterator[Step[T]]:
        """Yield the steps after ``cursor`` (``None``: from the origin)."""
        ...


class InvalidCursorError(TxsyncError, ValueError):
    """A resume cursor does not have the shape the paginator writes (a corrupt or foreign cursor)."""


class PaginationLimitError(ConnectorError):
    """The remote side's paging limits put the rest of the data out of reach of this paginator.

    Not retryable: narrow the request (a shorter time window, a smaller block range) or page the
    same data another way.
    """


class BlockOverflowError(PaginationLimitError, PaginationLoopError):
    """One block holds at least as many rows as a page can carry, so paging by block cannot advance.

    ``block`` is that block, ``cap`` the page size. Page that single block another way (for
    Etherscan: ``startblock=endblock=block`` with ``page``/``offset``), or use a larger cap.
    """

    def __init__(self, block: int, cap: int) -> None:
        super().__init__(
            f"block {block} holds {cap} or more rows, a full page: paging by block range cannot "
            f"advance past it; page that block on its own or raise the page size above {cap}"
        )
        self.block = block
        self.cap = cap


class Collected(NamedTuple, Generic[T]):
    """Everything a paginator yielded, the cursor after the last step, and how many steps it took."""

    items: list[T]
    cursor: Cursor
    steps: int


async def collect(paginator: Paginator[T], cursor: Cursor = None) -> Collected[T]:
    """Run ``paginator`` from ``cursor`` to the end and gather its items (tests, small streams).

    The returned cursor is the last step's, or ``cursor`` itself when no step was yielded.
    """
    return await collect_steps(paginator.steps(cursor), cursor)


async def collect_steps(steps: AsyncIterable[Step[T]], cursor: Cursor = None) -> Collected[T]:
    """Gather the items of already started ``steps``; ``cursor`` is returned if there is no step."""
    items: list[T] = []
    count = 0
    async for step in steps:
        items.extend(step.items)
        cursor = step.cursor
        count += 1
    return Collected(items, cursor, count)


async def as_pages(steps: AsyncIterable[Step[T]], to_record: Callable[[T], RawRecord]) -> AsyncIterator[Page]:
    """Turn steps into connector :class:`~txsync.connector.base.Page` objects, one per step."""
    async for step in steps:
        yield Page(records=[to_record(item) for item in step.items], cursor=step.cursor, label=step.label)


# --- helpers shared by the paginator modules -------------------------------------------------------


def int_cursor(cursor: Cursor, what: str) -> int | None:
    """``cursor`` as an int position, ``None`` for "from the origin"; anything else is refused."""
    if cursor is None:
        return None
    if isinstance(cursor, bool) or not isinstance(cursor, int):
        raise InvalidCursorError(f"{what} cursor must be an integer or null, not {type(cursor).__name__}")
    return cursor


def json_key(value: object, what: str) -> str | int:
    """Check that a dedup key survives a JSON round trip unchanged (a str or an int)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(
            f"{what} must return a str or an int (kept in JSON cursors), not {type(value).__name__}"
        )
    return value


def as_int(value: object, what: str) -> int:
    """``value`` as an int: ints as they are, decimal strings (``"769800519366885376"``) parsed.

    Anything else is a :class:`~txsync.errors.BadResponseError` naming ``what`` (never the value).
    """
    if isinstance(value, bool):
        raise BadResponseError(f"{what} is a boolean, expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if digits.isascii() and digits.isdigit():
            return int(text)
        raise BadResponseError(f"{what} is not an integer string ({len(value)} characters)")
    raise BadResponseError(f"{what} has type {type(value).__name__}, expected an integer")


def page_fingerprint(keys: Sequence[Hashable] | str) -> bytes:
    """A short digest of a page's item keys (or of any text), to recognise a page served again."""
    text = keys if isinstance(keys, str) else repr(list(keys))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class RepeatGuard(Generic[T]):
    """Detects a remote side that serves a page again although the position moved.

    With a ``key``, items whose key was on the previous page are dropped (a list that shifted by a
    few rows while paging); a page made only of such items, or one listing exactly the keys of any
    earlier page of this run, is a loop; two items of one page with the same key and different
    content raise :class:`~txsync.errors.DuplicateRecordError`. Without a key, a page equal to any
    earlier one is a loop. Only a 16-byte digest per page is kept, so memory stays flat.
    """

    def __init__(self, key: Callable[[T], Hashable] | None, what: str) -> None:
        self._key = key
        self._what = what
        self._previous_keys: frozenset[Hashable] = frozenset()
        self._pages: set[bytes] = set()

    def admit(self, items: Sequence[T], position: int, skip: int = 0) -> list[T]:
        """The new items of this page from index ``skip`` on (earlier ones were consumed before).

        Raises ``PaginationLoopError`` when the page repeats an earlier one.
        """
        if self._key is None:
            page = list(items)
            self._remember(page_fingerprint(repr(page)), position)
            return page[skip:]
        keys = [self._key(item) for item in items]
        check_duplicates(items, keys, self._what)
        self._remember(page_fingerprint(keys), position)
        fresh: list[T] = []
        taken: set[Hashable] = set(keys[:skip])
        for item, k in zip(items[skip:], keys[skip:], strict=True):
            if k in self._previous_keys or k in taken:
                continue
            taken.add(k)
            fresh.append(item)
        if not fresh:
            raise self._loop(position)
        self._previous_keys = frozenset(keys)
        return fresh

    def _remember(self, fingerprint: bytes, position: int) -> None:
        if fingerprint in self._pages:
            raise self._loop(position)
        self._pages.add(fingerprint)

    def _loop(self, position: int) -> PaginationLoopError:
        return PaginationLoopError(
            f"{self._what}: the remote side returned an earlier page again at {position}; "
            "it does not honour the paging parameter"
        )


def check_duplicates(items: Sequence[T], keys: Sequence[Hashable], what: str) -> None:
    """Raise :class:`~txsync.errors.DuplicateRecordError` when two items of one page share a key but
    differ (exact repeats are left to the caller to drop)."""
    if len(set(keys)) == len(keys):
        return
    first: dict[Hashable, T] = {}
    for item, k in zip(items, keys, strict=True):
        if k in first and first[k] != item:
            raise DuplicateRecordError(
                f"{what}: two items of one page have the key {preview(k)} and different content",
                record=str(k)[:100],
            )
        first.setdefault(k, item)

"""Reusable paginators that connectors build their streams with.

Each paginator is driven by a ``fetch`` coroutine the connector supplies (it makes the request
and returns the parsed rows) and yields :class:`Step` objects, ``(items, cursor)``, where ``cursor``
is a JSON value that resumes right after those items. A stream turns each step into a
``Page(records, cursor)`` (:func:`as_pages`). Every paginator stops on an empty page, raises
:class:`~txsync.errors.PaginationLoopError` when the remote side stops advancing or serves an
earlier page again (any earlier page: a digest of each is kept, see :func:`page_fingerprint`)
instead of looping, raises :class:`~txsync.errors.DuplicateRecordError` when one page holds two
different items under one key (an exact repeat is kept once), and resumes from any cursor it
yielded, yielding exactly what follows it.

* :class:`OffsetPaginator` - ``offset``/``limit``.
* :class:`PageNumberPaginator` - ``page``/``rows`` (or ``current``/``size``), with ``total`` if given.
* :class:`IdCursorPaginator` - increasing ids: Binance ``fromId`` (inclusive), Bitstamp ``since_id``.
* :class:`TokenPaginator` - "after this item" tokens: Esplora ``last_seen_txid``.
* :class:`WindowPaginator` over :func:`split_windows` - time windows of at most ``max_span`` with an
  inner paginator per window (:class:`SingleRequest`, or offset / page number).
* :class:`BlockRangePaginator` - Etherscan ``startblock``/``endblock`` with a row cap.
"""

from txsync.errors import PaginationLoopError

from ._blocks import BlockRangePaginator
from ._core import (
    BlockOverflowError,
    Collected,
    InvalidCursorError,
    PaginationLimitError,
    Paginator,
    Step,
    as_pages,
    collect,
    collect_steps,
    page_fingerprint,
)
from ._ids import IdCursorPaginator, TokenPaginator
from ._offset import Counted, OffsetPaginator, PageNumberPaginator
from ._windows import SingleRequest, Window, WindowPaginator, from_ms, split_windows, to_ms

__all__ = [
    "BlockOverflowError",
    "BlockRangePaginator",
    "Collected",
    "Counted",
    "IdCursorPaginator",
    "InvalidCursorError",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PaginationLimitError",
    "PaginationLoopError",
    "Paginator",
    "SingleRequest",
    "Step",
    "TokenPaginator",
    "Window",
    "WindowPaginator",
    "as_pages",
    "collect",
    "collect_steps",
    "from_ms",
    "page_fingerprint",
    "split_windows",
    "to_ms",
]

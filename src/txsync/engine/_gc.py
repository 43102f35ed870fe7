"""Garbage-collector settings for the ingest loop.

A sync allocates millions of short-lived containers (payload dicts, parts, rows) and almost no
reference cycles; with the default thresholds CPython's cyclic collector runs every 700 allocations
and rescans every long-lived object of the host, which cost a fifth of the CPU of an ingest. While at
least one sync runs, objects that exist when it starts are frozen out of collection (``gc.freeze``)
and the youngest generation is collected every ``GEN0_THRESHOLD`` allocations; memory stays flat (the
garbage is freed by reference counting, cycles are still collected). The host's settings come back
when the last running sync ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["GEN0_THRESHOLD", "ingest_gc"]

#: Allocations between two collections of the youngest generation during a sync.
GEN0_THRESHOLD = 100_000

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def ingest_gc() -> Iterator[None]:
    """Tune the collector for the duration of the block (re-entrant across concurrent syncs)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gen0, gen1, gen2 = _saved
            gc.set_threshold(max(gen0, GEN0_THRESHOLD), max(gen1, 50), max(gen2, 100))
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                gc.unfreeze()
                _saved = None

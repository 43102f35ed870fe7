"""Dedup-merge: how raws and normalized transactions of one page join the stored ledger.

Three levels (DESIGN.md, "Sync semantics"):

1. **Same raw twice** - a raw's identity is (connection, stream, source id); seeing it again updates it
   in place (or leaves it alone when the payload is the same).
2. **Several raws, one event** - a normalized transaction's identity is (account, origin, key) (its
   id is derived from it), so every stream or connection describing the same event lands on the same
   stored transaction. Each description is kept as a *part* (keyed by origin, stream and key); the
   parts of one origin add up: an EVM hash seen in the normal, internal and token lists becomes one
   transaction with every leg.
3. **File vs API** - a file row and an API record of one event have different keys. They are matched
   on (account, net asset deltas, time within a tolerance) as multisets: each stored transaction can be
   claimed by one description of the other origin only, so two identical same-second trades in the file
   and two in the API make two transactions, never one. Both provenances are kept.
   **Groups**: when no single description matches, a description is matched against *several* of the
   other origin in the same time window whose net deltas add up to the same totals (see
   :mod:`txsync.merge._groups`). This needs a backend with ``window_candidates`` (optional, see
   :class:`WindowBackend`).

The functions here are pure; a :class:`MergeBackend` (the store's view inside one database
transaction) supplies what is stored. Amounts stay ``Decimal`` end to end.
"""

from txsync import jsonutil
from txsync.merge._groups import (
    GROUP_MAX_ITEMS,
    GROUP_MAX_STEPS,
    MATCH_WINDOW_META,
    MAX_MATCH_WINDOW,
)
from txsync.merge._page import merge_page
from txsync.merge._parts import (
    ORIGIN_PRIORITY,
    Effective,
    duration_us,
    effective,
    encode_body,
    encode_legs,
    encode_part,
    from_us,
    identity_key,
    legs_signature,
    part_key,
    part_signature,
    signature,
    to_us,
)
from txsync.merge._types import (
    MergeBackend,
    MergeCounts,
    MergeWrites,
    PageBatch,
    RawWrite,
    StoredRaw,
    StoredTransaction,
    WindowBackend,
)

#: The canonical text of a raw payload (compact; Decimal numbers keep their digits).
encode_payload = jsonutil.encode

__all__ = [
    "GROUP_MAX_ITEMS",
    "GROUP_MAX_STEPS",
    "MATCH_WINDOW_META",
    "MAX_MATCH_WINDOW",
    "ORIGIN_PRIORITY",
    "Effective",
    "MergeBackend",
    "MergeCounts",
    "MergeWrites",
    "PageBatch",
    "RawWrite",
    "StoredRaw",
    "StoredTransaction",
    "WindowBackend",
    "duration_us",
    "effective",
    "encode_body",
    "encode_legs",
    "encode_part",
    "encode_payload",
    "from_us",
    "identity_key",
    "legs_signature",
    "merge_page",
    "part_key",
    "part_signature",
    "signature",
    "to_us",
]

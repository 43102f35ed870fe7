"""Pending and dropped transactions, where the explorer lists the mempool (Blockscout).

Blockscout's ``pendingtxlist`` lists an address's transactions waiting in the mempool, with no
block and no time; Etherscan's API has no such list (the stream is then off). Each sync:

* every listed transaction is one record ``{"pending": <row>, "first_seen": iso}``, normalized
  like a ``txlist`` row under the same key as the mined transaction (``tx:<chain>:<hash>``), with
  the status ``pending`` and the time txsync first saw it;
* a transaction listed before and no longer listed is asked for (``gettxinfo``): mined, it becomes
  ``{"mined": {...}}``, a part with no value (the ``normal`` list's part now describes it, so the
  pending legs are not counted twice); unknown to the explorer, it becomes ``{"dropped": {...}}``:
  ``failed`` with the flag ``dropped`` and no value (replaced by fee, or evicted).

The cursor is ``{"pending": {hash: first seen (ISO)}}``: the first-seen time is the transaction's
time while it waits and must not move, so a full re-sync keeps it (:meth:`cursor_for_full_sync`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from txsync.connector import Cursor, Page, RawRecord, Stream
from txsync.errors import InvalidRecordError
from txsync.fields import Fields, preview, record_errors
from txsync.models import (
    Leg,
    NormalizedTransaction,
    RawTransaction,
    TransactionKind,
    TransactionStatus,
)
from txsync.pagination import InvalidCursorError

from ._normalize import UINT256_MAX

if TYPE_CHECKING:
    from .connector import EvmWallet

__all__ = ["PendingStream", "check_pending_row"]

_STREAM = "pending"


def check_pending_row(row: Any) -> dict[str, Any]:
    """Check what the explorer writes in one ``pendingtxlist`` row (hash, addresses, uint256 value
    and gas); anything malformed is an :class:`~txsync.errors.InvalidRecordError` naming it."""
    fields = Fields(row, stream=_STREAM)
    tx_hash = fields.text("hash", max_length=66)
    if len(tx_hash) != 66 or not tx_hash.startswith("0x") or not _is_hex(tx_hash[2:]):
        raise fields.error("hash", f"is {preview(tx_hash)}, not a 0x transaction hash")
    fields = fields.named(tx_hash.lower())
    for name, required in (("from", True), ("to", False), ("contractAddress", False)):
        value = fields.raw(name)
        if value in (None, "") and not required:
            continue
        if not isinstance(value, str) or len(value) != 42 or not _is_hex(value[2:]) or value[:2] != "0x":
            raise fields.error(name, f"is {preview(value)}, not a 0x address")
    fields.integer("value", minimum=0, maximum=UINT256_MAX)
    for name in ("gas", "gasPrice", "gasUsed", "nonce"):
        if fields.raw(name) not in (None, ""):
            fields.integer(name, minimum=0, maximum=UINT256_MAX)
    return fields.data  # type: ignore[return-value]


def _is_hex(text: str) -> bool:
    return bool(text) and text.isascii() and all(c in "0123456789abcdefABCDEF" for c in text)


def _state(cursor: Cursor) -> dict[str, str]:
    if cursor is None:
        return {}
    problem = "an EVM pending cursor is {'pending': {hash: first seen (ISO time)}}"
    if not isinstance(cursor, Mapping) or not isinstance(cursor.get("pending"), Mapping):
        raise InvalidCursorError(problem)
    out: dict[str, str] = {}
    for key, value in cursor["pending"].items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidCursorError(problem)
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise InvalidCursorError(problem) from None
        out[key] = value
    return out


class PendingStream(Stream):
    """The wallet's transactions waiting in the mempool, and what became of them (see the module)."""

    name = _STREAM

    def __init__(self, connector: EvmWallet) -> None:
        self.connector = connector

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        """One page per sync: what is pending now, and what stopped being pending."""
        return self._pages(_state(cursor))

    def cursor_for_full_sync(self, stored: Cursor) -> Cursor:
        """Keep the first-seen times of the transactions still waiting (see the module)."""
        try:
            return {"pending": _state(stored)} if _state(stored) else None
        except InvalidCursorError:
            return None

    async def _pages(self, known: dict[str, str]) -> AsyncIterator[Page]:
        c = self.connector
        if not c.pending_transactions:
            return
        now = c.context.clock().astimezone(UTC).isoformat()
        listed: dict[str, dict[str, Any]] = {}
        for address in c.addresses:
            for row in await c.api.pending_rows(address):
                checked = check_pending_row(row)
                listed.setdefault(str(checked["hash"]).lower(), checked)
        records: list[RawRecord] = []
        state: dict[str, str] = {}
        for tx_hash in sorted(listed):
            first = known.get(tx_hash, now)
            state[tx_hash] = first
            records.append(RawRecord(tx_hash, {"pending": listed[tx_hash], "first_seen": first}))
        for tx_hash in sorted(set(known) - set(listed)):
            info = await c.api.tx_info(tx_hash)
            if info is None:
                records.append(
                    RawRecord(tx_hash, {"dropped": {"hash": tx_hash}, "first_seen": known[tx_hash]})
                )
                continue
            reader = Fields(info, stream=_STREAM, record=tx_hash)
            if reader.raw("blockNumber") in (None, ""):
                state[tx_hash] = known[tx_hash]  # still waiting (listed beyond the list's size)
                continue
            block = reader.integer("blockNumber", minimum=0, maximum=2**63)
            stamp = reader.seconds_time("timeStamp")
            mined = {"hash": tx_hash, "blockNumber": block, "timeStamp": int(stamp.timestamp())}
            records.append(RawRecord(tx_hash, {"mined": mined, "first_seen": known[tx_hash]}))
        if records or state != known:
            yield Page(records=records, cursor={"pending": state}, label="mempool")

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        """See the module notes."""
        out: list[NormalizedTransaction] = []
        for raw in raws:
            with record_errors(self.name, raw.source_id):
                out.append(self._one(raw))
        return out

    def _one(self, raw: RawTransaction) -> NormalizedTransaction:
        c = self.connector
        payload = Fields(raw.payload, stream=self.name, record=raw.source_id)
        first_seen = payload.convert("first_seen", _iso_time, "an ISO time")
        chain = str(c.chain.chain_id)
        if "pending" in raw.payload:
            row = dict(payload.object("pending").data)
            row["timeStamp"] = str(int(first_seen.timestamp()))
            row.setdefault("isError", "0")
            (tx,) = c.normalizer.normal([raw.model_copy(update={"payload": row})])
            meta = {**tx.meta, "first_seen": first_seen.isoformat()}
            return tx.model_copy(
                update={
                    "status": TransactionStatus.PENDING,
                    "flags": tx.flags | {"pending"},
                    "meta": meta,
                    "sources": (raw.ref,),
                }
            )
        zero = [Leg(asset=c.chain.native_symbol, amount=Decimal(0))]
        external = {"tx_hash": raw.source_id, "chain_id": chain}
        if "mined" in raw.payload:
            mined = payload.object("mined")
            block = mined.integer("blockNumber", minimum=0, maximum=2**63)
            return NormalizedTransaction(
                account_id=raw.account_id,
                key=f"tx:{chain}:{raw.source_id}",
                kind=TransactionKind.OTHER,
                timestamp=mined.seconds_time("timeStamp"),
                legs=zero,
                external_ids=external,
                sources=[raw.ref],
                description=f"was pending from {first_seen.isoformat()}, mined in block {block}",
                meta={"chain_id": c.chain.chain_id, "block": block, "first_seen": first_seen.isoformat()},
            )
        if "dropped" in raw.payload:
            return NormalizedTransaction(
                account_id=raw.account_id,
                key=f"tx:{chain}:{raw.source_id}",
                kind=TransactionKind.OTHER,
                timestamp=first_seen,
                status=TransactionStatus.FAILED,
                legs=zero,
                external_ids=external,
                sources=[raw.ref],
                flags={"dropped"},
                description="dropped from the mempool or replaced before being mined: nothing moved",
                meta={"chain_id": c.chain.chain_id, "first_seen": first_seen.isoformat()},
            )
        raise InvalidRecordError(
            f"{self.name} record {preview(raw.source_id, 80)}: neither pending, mined nor dropped",
            stream=self.name,
            record=raw.source_id,
        )


def _iso_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("not a string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.astimezone(UTC)

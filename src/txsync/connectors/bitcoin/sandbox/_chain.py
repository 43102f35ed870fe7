"""A tiny UTXO ledger that renders its transactions as Esplora JSON.

Transactions spend outputs that exist (or "foreign" outputs funded from outside the emulation, whose
prevout is described but whose funding transaction is not served), fees are inputs minus outputs,
and every amount is an integer number of satoshis. Blocks are numbered from ``start_height`` and
timed 10 minutes apart from ``start_time``. Unconfirmed transactions live in the mempool until
:meth:`Chain.confirm` mines them or :meth:`Chain.drop` / :meth:`Chain.replace` evicts them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from embit import script  # type: ignore[import-untyped]

__all__ = ["Chain", "Outpoint"]

#: (txid, output index)
Outpoint = tuple[str, int]

_TYPES = {"0014": "v0_p2wpkh", "5120": "v1_p2tr", "76a9": "p2pkh", "a914": "p2sh"}


@lru_cache(maxsize=4096)
def _script_of(address: str) -> tuple[str, str]:
    hexed = script.address_to_scriptpubkey(address).data.hex()
    return hexed, _TYPES.get(hexed[:4], "unknown")


@dataclass
class _Output:
    address: str | None
    value: int
    scriptpubkey: str
    kind: str
    spent_by: str | None = None


@dataclass
class Chain:
    """The emulated blockchain and mempool."""

    start_height: int = 800_000
    start_time: datetime = datetime(2023, 8, 1, tzinfo=UTC)
    txs: dict[str, dict[str, Any]] = field(default_factory=dict)
    heights: dict[str, int | None] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    outputs: dict[Outpoint, _Output] = field(default_factory=dict)
    _counter: int = 0

    # -- building ---------------------------------------------------------------------------------

    def _next(self, what: str) -> str:
        self._counter += 1
        return hashlib.sha256(f"txsync-sandbox:{what}:{self._counter}".encode()).hexdigest()

    def block_time(self, height: int) -> int:
        """The timestamp of block ``height`` (10 minutes apart)."""
        return int(self.start_time.timestamp()) + (height - self.start_height) * 600

    def _output(self, address: str | None, value: int) -> _Output:
        if address is None:  # a witness commitment / OP_RETURN output
            return _Output(None, value, "6a24aa21a9ed" + "00" * 32, "op_return")
        spk, kind = _script_of(address)
        return _Output(address, value, spk, kind)

    def fund(self, address: str, value: int) -> Outpoint:
        """An output from outside the emulation (its funding transaction is not served)."""
        outpoint = (self._next("foreign"), 0)
        self.outputs[outpoint] = self._output(address, value)
        return outpoint

    def coinbase(self, outputs: list[tuple[str | None, int]], height: int) -> str:
        """A coinbase transaction mined at ``height`` paying ``outputs``."""
        txid = self._next("coinbase")
        vin = [
            {
                "txid": "0" * 64,
                "vout": 4294967295,
                "prevout": None,
                "scriptsig": f"03{height:06x}",
                "is_coinbase": True,
                "sequence": 4294967295,
            }
        ]
        return self._store(txid, vin, outputs, fee=0, height=height)

    def send(
        self, inputs: list[Outpoint], outputs: list[tuple[str | None, int]], *, fee: int, height: int | None
    ) -> str:
        """A transaction spending ``inputs`` (which must be unspent) into ``outputs`` plus ``fee``."""
        spent = [self.outputs[o] for o in inputs]
        if any(out.spent_by for out in spent):
            raise ValueError("sandbox: double spend")
        if sum(out.value for out in spent) != sum(v for _, v in outputs) + fee:
            raise ValueError("sandbox: inputs must equal outputs plus fee")
        txid = self._next("tx")
        vin = []
        for (prev_txid, index), out in zip(inputs, spent, strict=True):
            prevout: dict[str, Any] = {"scriptpubkey": out.scriptpubkey, "scriptpubkey_type": out.kind}
            if out.address is not None:
                prevout["scriptpubkey_address"] = out.address
            prevout["value"] = out.value
            vin.append(
                {
                    "txid": prev_txid,
                    "vout": index,
                    "prevout": prevout,
                    "is_coinbase": False,
                    "sequence": 4294967293,
                }
            )
            out.spent_by = txid
        return self._store(txid, vin, outputs, fee=fee, height=height)

    def _store(
        self,
        txid: str,
        vin: list[dict[str, Any]],
        outputs: list[tuple[str | None, int]],
        *,
        fee: int,
        height: int | None,
    ) -> str:
        vout = []
        for index, (address, value) in enumerate(outputs):
            out = self._output(address, value)
            self.outputs[(txid, index)] = out
            item: dict[str, Any] = {"scriptpubkey": out.scriptpubkey, "scriptpubkey_type": out.kind}
            if address is not None:
                item["scriptpubkey_address"] = address
            item["value"] = value
            vout.append(item)
        size = 11 + 68 * len(vin) + 31 * len(vout)
        self.txs[txid] = {
            "txid": txid,
            "version": 2,
            "locktime": 0,
            "vin": vin,
            "vout": vout,
            "size": size,
            "weight": size * 3 + 10,
            "fee": fee,
        }
        self.heights[txid] = height
        self.order.append(txid)
        return txid

    # -- mempool changes --------------------------------------------------------------------------

    def confirm(self, txid: str, height: int) -> None:
        """Mine an unconfirmed transaction at ``height``."""
        if self.heights.get(txid, 0) is not None:
            raise ValueError("sandbox: only a mempool transaction can be confirmed")
        self.heights[txid] = height
        self.order.remove(txid)
        self.order.append(txid)

    def drop(self, txid: str) -> None:
        """Evict an unconfirmed transaction: its inputs are unspent again, its outputs gone."""
        if self.heights.get(txid, 0) is not None:
            raise ValueError("sandbox: only a mempool transaction can be dropped")
        tx = self.txs.pop(txid)
        del self.heights[txid]
        self.order.remove(txid)
        for item in tx["vin"]:
            self.outputs[(item["txid"], item["vout"])].spent_by = None
        for index in range(len(tx["vout"])):
            del self.outputs[(txid, index)]

    def replace(self, txid: str, outputs: list[tuple[str | None, int]], *, fee: int) -> str:
        """Replace-by-fee: drop ``txid`` and spend its inputs again into ``outputs``."""
        inputs = [(item["txid"], item["vout"]) for item in self.txs[txid]["vin"]]
        self.drop(txid)
        return self.send(inputs, outputs, fee=fee, height=None)

    # -- reading ----------------------------------------------------------------------------------

    def render(self, txid: str) -> dict[str, Any]:
        """The Esplora JSON of a transaction, status included."""
        tx = dict(self.txs[txid])
        height = self.heights[txid]
        if height is None:
            tx["status"] = {"confirmed": False}
        else:
            tx["status"] = {
                "confirmed": True,
                "block_height": height,
                "block_hash": hashlib.sha256(f"block{height}".encode()).hexdigest(),
                "block_time": self.block_time(height),
            }
        return tx

    def touching(self, address: str) -> tuple[list[str], list[str]]:
        """(unconfirmed txids newest first, confirmed txids newest first) touching ``address``."""
        hits = []
        for position, txid in enumerate(self.order):
            tx = self.txs[txid]
            if any(
                (item.get("prevout") or {}).get("scriptpubkey_address") == address for item in tx["vin"]
            ) or any(item.get("scriptpubkey_address") == address for item in tx["vout"]):
                hits.append((position, txid))
        mempool = [t for _, t in sorted(hits, reverse=True) if self.heights[t] is None]
        confirmed = sorted(
            ((self.heights[t] or 0, p, t) for p, t in hits if self.heights[t] is not None), reverse=True
        )
        return mempool, [t for _, _, t in confirmed]

    def stats(self, address: str) -> dict[str, Any]:
        """``GET /address/:address`` for ``address``."""
        mempool, confirmed = self.touching(address)

        def half(txids: list[str]) -> dict[str, int]:
            funded = spent = funded_sum = spent_sum = 0
            for txid in txids:
                tx = self.txs[txid]
                for item in tx["vout"]:
                    if item.get("scriptpubkey_address") == address:
                        funded, funded_sum = funded + 1, funded_sum + item["value"]
                for item in tx["vin"]:
                    prevout = item.get("prevout") or {}
                    if prevout.get("scriptpubkey_address") == address:
                        spent, spent_sum = spent + 1, spent_sum + prevout["value"]
            return {
                "funded_txo_count": funded,
                "funded_txo_sum": funded_sum,
                "spent_txo_count": spent,
                "spent_txo_sum": spent_sum,
                "tx_count": len(txids),
            }

        return {"address": address, "chain_stats": half(confirmed), "mempool_stats": half(mempool)}

    def balance(self, addresses: set[str] | list[str], *, include_mempool: bool = True) -> int:
        """Funded minus spent over ``addresses`` (satoshis), as the stats report it."""
        total = 0
        for address in addresses:
            stats = self.stats(address)
            for name in ("chain_stats", "mempool_stats") if include_mempool else ("chain_stats",):
                total += stats[name]["funded_txo_sum"] - stats[name]["spent_txo_sum"]
        return total

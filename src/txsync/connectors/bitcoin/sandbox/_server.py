"""The Esplora HTTP emulation, with the paging quirks of the instances the connector meets.

Flavors (``EsploraSandbox(flavor=...)``):

* ``blockstream`` (blockstream.info/api, Blockstream's esplora): ``/address/:a/txs`` gives up to 50
  unconfirmed then the newest 25 confirmed; ``/txs/chain/:last_seen_txid`` the next 25;
  ``?after_txid=`` is ignored (the first page comes back).
* ``mempool`` (mempool.space/api): the same, plus ``/address/:a/txs?after_txid=`` pages.
* ``electrum`` (an electrum-server-backed instance): 10 per page, no ``/txs/chain/:txid`` form
  (404), ``?after_txid=`` pages, and the first page served again when the cursor is the newest
  confirmed transaction.

Errors are plain text, as Esplora sends them: 400 ``Invalid Bitcoin address`` / ``Address on invalid
network`` / ``Invalid hex string``, 404 ``Transaction not found`` / ``Not Found``. Throttling is a
429 ``Too Many Requests`` **without** ``Retry-After`` (every ``throttle_every``-th request), and
``faults`` injects failures by request number: ``"429"``, ``"503"``, ``"timeout"``, ``"truncated"``
(a 200 whose JSON is cut), ``"malformed"`` (a 200 HTML page), ``"drop_page"`` (a listing page
served empty: truncated paging).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from embit import script  # type: ignore[import-untyped]
from embit.networks import NETWORKS  # type: ignore[import-untyped]

from ._scenario import ScenarioWallet

__all__ = ["FLAVORS", "EsploraSandbox"]

FLAVORS: dict[str, dict[str, Any]] = {
    "blockstream": {
        "base_url": "https://blockstream.info/api",
        "page_size": 25,
        "chain_form": True,
        "after_txid": False,
        "repeat_first_page": False,
    },
    "mempool": {
        "base_url": "https://mempool.space/api",
        "page_size": 25,
        "chain_form": True,
        "after_txid": True,
        "repeat_first_page": False,
    },
    "electrum": {
        "base_url": "https://esplora.example.org/api",
        "page_size": 10,
        "chain_form": False,
        "after_txid": True,
        "repeat_first_page": True,
    },
}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
MEMPOOL_LIMIT = 50


def _text(status: int, body: str) -> httpx.Response:
    return httpx.Response(status, content=body.encode(), headers={"Content-Type": "text/plain"})


@dataclass
class EsploraSandbox:
    """The emulated instance. ``transport()`` gives an ``httpx.MockTransport`` serving it."""

    wallet: ScenarioWallet = field(default_factory=ScenarioWallet.standard)
    flavor: str = "blockstream"
    throttle_every: int | None = None
    faults: dict[int, str] = field(default_factory=dict)
    network: str = "main"
    requests: int = 0
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {self.flavor!r}")
        self.config = dict(FLAVORS[self.flavor])
        self.prefix = httpx.URL(self.config["base_url"]).path.rstrip("/")

    @property
    def base_url(self) -> str:
        """The instance's API root (the host the cassettes name)."""
        return str(self.config["base_url"])

    def now(self) -> datetime:
        """The sandbox's clock: an hour after the last block."""
        return datetime.fromtimestamp(self.wallet.chain.block_time(self.wallet.tip), UTC) + timedelta(hours=1)

    def transport(self) -> httpx.MockTransport:
        """A transport answering every request from this sandbox."""
        return httpx.MockTransport(self.handle)

    # -- requests ---------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as the instance would."""
        self.requests += 1
        path = request.url.path
        query = request.url.query.decode()
        self.log.append(path + (f"?{query}" if query else ""))
        fault = self.faults.get(self.requests)
        if fault is not None:
            return self._fault(fault, request)
        if self.throttle_every and self.requests % self.throttle_every == 0:
            return _text(429, "Too Many Requests")
        return self._route(request)

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.startswith(self.prefix + "/"):
            return _text(404, "Not Found")
        parts = path[len(self.prefix) + 1 :].split("/")
        if parts[0] == "tx" and len(parts) == 2:
            return self._tx(parts[1])
        if parts[0] == "address" and len(parts) >= 2:
            problem = self._check_address(parts[1])
            if problem is not None:
                return problem
            address, rest = parts[1], parts[2:]
            if not rest:
                return self._json(self.wallet.chain.stats(address))
            if rest == ["txs"]:
                after = request.url.params.get("after_txid")
                if after is not None and self.config["after_txid"]:
                    return self._after(address, after)
                return self._json(self._first_page(address))
            if rest == ["txs", "mempool"]:
                mempool, _ = self.wallet.chain.touching(address)
                return self._json([self.wallet.chain.render(t) for t in mempool[:MEMPOOL_LIMIT]])
            if rest[:2] == ["txs", "chain"] and len(rest) <= 3 and self.config["chain_form"]:
                if len(rest) == 2:
                    return self._json(self._confirmed(address, None))
                return self._after(address, rest[2])
        return _text(404, "Not Found")

    def _check_address(self, address: str) -> httpx.Response | None:
        try:
            spk = script.address_to_scriptpubkey(address)
        except Exception:
            return _text(400, "Invalid Bitcoin address")
        lower = address.lower()
        canonical = spk.address(NETWORKS[self.network])
        if canonical not in (address, lower):
            return _text(400, "Address on invalid network")
        return None

    def _tx(self, txid: str) -> httpx.Response:
        if not _HEX64.match(txid):
            return _text(400, "Invalid hex string")
        if txid not in self.wallet.chain.txs:
            return _text(404, "Transaction not found")
        return self._json(self.wallet.chain.render(txid))

    def _confirmed(self, address: str, after: str | None) -> list[dict[str, Any]]:
        _, confirmed = self.wallet.chain.touching(address)
        start = 0
        if after is not None:
            if after not in confirmed:
                return []
            start = confirmed.index(after) + 1
        size = int(self.config["page_size"])
        return [self.wallet.chain.render(t) for t in confirmed[start : start + size]]

    def _first_page(self, address: str) -> list[dict[str, Any]]:
        mempool, _ = self.wallet.chain.touching(address)
        return [self.wallet.chain.render(t) for t in mempool[:MEMPOOL_LIMIT]] + self._confirmed(address, None)

    def _after(self, address: str, after: str) -> httpx.Response:
        if not _HEX64.match(after):
            return _text(400, "Invalid hex string")
        _, confirmed = self.wallet.chain.touching(address)
        if self.config["repeat_first_page"] and confirmed and after == confirmed[0]:
            return self._json(self._first_page(address))
        return self._json(self._confirmed(address, after))

    def _json(self, body: Any) -> httpx.Response:
        return httpx.Response(
            200, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )

    def _fault(self, fault: str, request: httpx.Request) -> httpx.Response:
        if fault == "429":
            return _text(429, "Too Many Requests")
        if fault == "503":
            return _text(503, "Service Unavailable")
        if fault == "timeout":
            raise httpx.ReadTimeout("sandbox: timed out", request=request)
        if fault == "malformed":
            return httpx.Response(
                200, content=b"<html>502 Bad Gateway</html>", headers={"Content-Type": "text/html"}
            )
        answer = self._route(request)
        if fault == "truncated":
            return httpx.Response(
                200,
                content=answer.content[: len(answer.content) // 2],
                headers={"Content-Type": "application/json"},
            )
        if fault == "drop_page":
            return self._json([])
        raise ValueError(f"unknown sandbox fault {fault!r}")

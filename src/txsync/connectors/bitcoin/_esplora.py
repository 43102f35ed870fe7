"""A small Esplora REST client (Blockstream's esplora, mempool.space, self-hosted electrs).

Esplora answers errors with plain-text bodies ("Invalid Bitcoin address", "Transaction not found")
and 429 without ``Retry-After`` when throttled; :func:`esplora_errors` maps them onto the txsync
taxonomy (the retry policy then backs off by itself). Every answer's shape is checked before a
connector relies on it, so a changed or broken instance gives a :class:`BadResponseError`, never a
``KeyError`` deep inside normalization. Endpoints are named by their template
(``/address/:address/txs``), so neither errors nor logs reveal which addresses a wallet holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from txsync.errors import BadRequestError, BadResponseError, DuplicateRecordError, TxsyncError
from txsync.fields import clean_label
from txsync.http import HttpClient

__all__ = [
    "MAX_SATS",
    "AddressStats",
    "EsploraClient",
    "EsploraNotFoundError",
    "IncompleteHistoryError",
    "TxStats",
    "check_tx",
    "esplora_errors",
]

_TXID = re.compile(r"^[0-9a-f]{64}$")
_TEXT_LIMIT = 200


class EsploraNotFoundError(BadRequestError):
    """Esplora answered 404: an unknown transaction ("Transaction not found") or route."""


class IncompleteHistoryError(BadResponseError):
    """Paging an address returned fewer transactions than its ``chain_stats``/``mempool_stats``
    ``tx_count`` announce: the instance's paging lost some (raised with ``on_incomplete="error"``)."""

    def __init__(self, message: str, *, expected: int, got: int, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.expected = expected
        self.got = got


def esplora_errors(response: httpx.Response, body: Any | None) -> TxsyncError | None:
    """Map Esplora's plain-text 400 and 404 answers, keeping their text (no secret can be in it:
    an Esplora request carries no key). Everything else falls back on the status mapping."""
    status = response.status_code
    if status not in (400, 404):
        return None
    text = clean_label(response.text, _TEXT_LIMIT) or response.reason_phrase
    if status == 404:
        return EsploraNotFoundError(f"not found: {text}", status=status)
    return BadRequestError(f"request rejected: {text}", status=status)


@dataclass(frozen=True)
class TxStats:
    """One half of an address's stats (``chain_stats`` or ``mempool_stats``), in satoshis."""

    tx_count: int
    funded_txo_sum: int
    spent_txo_sum: int

    @property
    def balance(self) -> int:
        """Funded minus spent."""
        return self.funded_txo_sum - self.spent_txo_sum


@dataclass(frozen=True)
class AddressStats:
    """``GET /address/:address``: confirmed and mempool activity of one address."""

    address: str
    chain: TxStats
    mempool: TxStats

    @property
    def used(self) -> bool:
        """Whether any transaction (confirmed or not) touches the address."""
        return self.chain.tx_count > 0 or self.mempool.tx_count > 0

    @property
    def balance(self) -> int:
        """Confirmed plus unconfirmed balance in satoshis."""
        return self.chain.balance + self.mempool.balance


#: No output can hold more satoshis than will ever exist (21 million BTC).
MAX_SATS = 2_100_000_000_000_000
#: Bound of counters and cumulative sums (``funded_txo_sum`` adds every output ever received).
_MAX_COUNTER = 2**63
#: Block times beyond year 10000 are no time.
_MAX_TIME = 253_402_300_800


def _int(value: Any, what: str, endpoint: str, maximum: int = _MAX_COUNTER) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise BadResponseError(f"{what} must be an integer in 0..{maximum}", endpoint=endpoint)
    return value


def _address(value: Any, what: str, endpoint: str) -> None:
    if value is None:
        return
    if not (isinstance(value, str) and 0 < len(value) <= 100 and value.isascii() and value.isalnum()):
        raise BadResponseError(
            f"{what} must be an address (up to 100 ASCII letters and digits)", endpoint=endpoint
        )


def _stats(body: Any, name: str, endpoint: str) -> TxStats:
    part = body.get(name) if isinstance(body, dict) else None
    if not isinstance(part, dict):
        raise BadResponseError(f"address stats: missing {name}", endpoint=endpoint)
    return TxStats(
        tx_count=_int(part.get("tx_count"), f"{name}.tx_count", endpoint),
        funded_txo_sum=_int(part.get("funded_txo_sum"), f"{name}.funded_txo_sum", endpoint),
        spent_txo_sum=_int(part.get("spent_txo_sum"), f"{name}.spent_txo_sum", endpoint),
    )


def check_tx(tx: Any, endpoint: str) -> dict[str, Any]:
    """Check that ``tx`` has the Esplora transaction shape the connector reads; return it."""

    def bad(what: str) -> BadResponseError:
        return BadResponseError(f"transaction: {what}", endpoint=endpoint)

    if not isinstance(tx, dict):
        raise bad("expected an object")
    txid = tx.get("txid")
    if not isinstance(txid, str) or not _TXID.match(txid):
        raise bad("txid must be 64 lower-case hex digits")
    vin, vout, status = tx.get("vin"), tx.get("vout"), tx.get("status")
    if not isinstance(vin, list) or not vin or not isinstance(vout, list):
        raise bad("vin must be a non-empty list and vout a list")
    if "fee" in tx:
        _int(tx["fee"], "fee", endpoint, MAX_SATS)
    for item in vin:
        if not isinstance(item, dict):
            raise bad("vin items must be objects")
        if "is_coinbase" in item and not isinstance(item["is_coinbase"], bool):
            raise bad("vin.is_coinbase must be a boolean")
        prevout = item.get("prevout")
        if prevout is not None:
            if not isinstance(prevout, dict):
                raise bad("prevout must be an object or null")
            _int(prevout.get("value"), "prevout.value", endpoint, MAX_SATS)
            _address(prevout.get("scriptpubkey_address"), "prevout.scriptpubkey_address", endpoint)
    for item in vout:
        if not isinstance(item, dict):
            raise bad("vout items must be objects")
        _int(item.get("value"), "vout.value", endpoint, MAX_SATS)
        _address(item.get("scriptpubkey_address"), "vout.scriptpubkey_address", endpoint)
    if not isinstance(status, dict) or not isinstance(status.get("confirmed"), bool):
        raise bad("status.confirmed must be a boolean")
    if status["confirmed"]:
        _int(status.get("block_time"), "status.block_time", endpoint, _MAX_TIME)
        _int(status.get("block_height"), "status.block_height", endpoint)
    return tx


def _tx_list(body: Any, endpoint: str) -> list[dict[str, Any]]:
    """The checked transactions of a listing, each txid once (an exact repeat is dropped; two
    different transactions under one txid are a :class:`DuplicateRecordError`)."""
    if not isinstance(body, list):
        raise BadResponseError("expected a list of transactions", endpoint=endpoint)
    out: dict[str, dict[str, Any]] = {}
    for tx in body:
        checked = check_tx(tx, endpoint)
        if out.setdefault(checked["txid"], checked) != checked:
            raise DuplicateRecordError(
                "a listing holds two different transactions under one txid",
                stream="transactions",
                record=checked["txid"],
                endpoint=endpoint,
            )
    return list(out.values())


class EsploraClient:
    """The Esplora calls the Bitcoin connector makes, over a :class:`~txsync.http.HttpClient`.

    Each call costs one request in the limiter's ``requests`` bucket when the client has a limiter.
    """

    def __init__(self, http: HttpClient, *, metered: bool = True) -> None:
        self.http = http
        self._weights = {"requests": 1} if metered else {}

    async def _get(self, path: str, endpoint: str, params: dict[str, str] | None = None) -> Any:
        return await self.http.get_json(path, params=params, weights=self._weights, endpoint=endpoint)

    async def address_stats(self, address: str) -> AddressStats:
        """``GET /address/:address``."""
        endpoint = "/address/:address"
        body = await self._get(f"address/{address}", endpoint)
        return AddressStats(
            address=address,
            chain=_stats(body, "chain_stats", endpoint),
            mempool=_stats(body, "mempool_stats", endpoint),
        )

    async def address_txs(self, address: str) -> list[dict[str, Any]]:
        """``GET /address/:address/txs``: unconfirmed (up to 50) then the newest confirmed."""
        endpoint = "/address/:address/txs"
        return _tx_list(await self._get(f"address/{address}/txs", endpoint), endpoint)

    async def address_txs_chain(self, address: str, last_seen: str) -> list[dict[str, Any]]:
        """``GET /address/:address/txs/chain/:last_seen_txid``: the next confirmed, older ones."""
        endpoint = "/address/:address/txs/chain/:last_seen_txid"
        return _tx_list(await self._get(f"address/{address}/txs/chain/{last_seen}", endpoint), endpoint)

    async def address_txs_after(self, address: str, last_seen: str) -> list[dict[str, Any]]:
        """``GET /address/:address/txs?after_txid=``: mempool.space's query form of the same."""
        endpoint = "/address/:address/txs?after_txid"
        body = await self._get(f"address/{address}/txs", endpoint, params={"after_txid": last_seen})
        return _tx_list(body, endpoint)

    async def tx(self, txid: str) -> dict[str, Any] | None:
        """``GET /tx/:txid``; ``None`` when the node no longer knows it (404: replaced or dropped)."""
        endpoint = "/tx/:txid"
        try:
            body = await self._get(f"tx/{txid}", endpoint)
        except EsploraNotFoundError:
            return None
        tx = check_tx(body, endpoint)
        if tx["txid"] != txid:
            raise BadResponseError("asked for one transaction, got another", endpoint=endpoint)
        return tx

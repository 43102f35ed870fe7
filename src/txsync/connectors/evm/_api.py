"""The Etherscan-compatible explorer API: the envelope, its errors, and the ``module=account`` calls.

Etherscan v2 (``https://api.etherscan.io/v2/api?chainid=<id>&...``) and Blockscout instances
(``<instance>/api?...``, no ``chainid``) answer the same actions with the same envelope
``{"status": "1"|"0", "message": ..., "result": ...}``, with HTTP 200 even for errors. The
envelope's "No transactions found" (and Blockscout's "No token transfers found"...) is an empty
list; every other ``status: "0"`` answer is mapped onto :mod:`txsync.errors` by
:func:`explorer_error_mapper`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from txsync.errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    BannedError,
    ConfigurationError,
    RateLimitedError,
    TransientError,
    TxsyncError,
)
from txsync.fields import clean_label
from txsync.http import ErrorMapper, HttpClient, redact

__all__ = [
    "ETHERSCAN_V2_URL",
    "ExplorerApi",
    "explorer_error_mapper",
    "is_empty_envelope",
    "next_utc_midnight",
]

#: The Etherscan API v2 endpoint: one key for every chain it serves.
ETHERSCAN_V2_URL = "https://api.etherscan.io/v2/api"

#: Seconds to wait after a per-second rate-limit answer (its window is one second).
PER_SECOND_WAIT = 1.0
#: A limiter held back longer than this (seconds) means a daily-limit ban: fail fast, never wait.
BANNED_WAIT_LIMIT = 120.0
#: Seconds Etherscan throttles an IP after too many invalid-key attempts.
INVALID_KEY_THROTTLE = 30.0

_EMPTY = re.compile(r"^no\b.*\bfound\b", re.IGNORECASE)


def next_utc_midnight(now: datetime) -> datetime:
    """The next 00:00 UTC after ``now`` (when Etherscan's daily counters start again)."""
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def is_empty_envelope(body: Any) -> bool:
    """Whether ``body`` is the "No transactions found" kind of envelope: an empty list, not an error."""
    if not isinstance(body, Mapping) or str(body.get("status")) != "0":
        return False
    message = body.get("message")
    result = body.get("result")
    return isinstance(message, str) and bool(_EMPTY.match(message.strip())) and result in ([], None, "")


def _text(body: Mapping[str, Any]) -> str:
    parts = [body.get("message"), body.get("result")]
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def explorer_error_mapper(secrets: Sequence[str], clock: Callable[[], datetime]) -> ErrorMapper:
    """The :data:`~txsync.http.ErrorMapper` of the explorer envelope (HTTP 200 with ``status: "0"``).

    * ``Invalid API Key`` / ``Missing/Invalid API Key`` -> :class:`AuthError` (the engine disables
      the connection until the user gives a new key);
    * ``Too many invalid api key attempts`` -> :class:`RateLimitedError` after 30 s;
    * ``Max daily ...`` -> :class:`BannedError` with ``until`` = the next 00:00 UTC: the engine stops
      the whole sync and reports when it may run again;
    * ``Max rate limit reached`` / ``Max calls per sec ...`` -> :class:`RateLimitedError` after 1 s
      (retried by the HTTP layer);
    * ``Free API access is not supported for this chain``, ``Missing or unsupported chainid`` ->
      :class:`~txsync.errors.ConfigurationError` (the key's plan or the chain id must change);
    * ``Query Timeout occured`` -> :class:`TransientError` (retried);
    * anything else with ``status: "0"`` -> :class:`BadRequestError` with the explorer's text.

    Non-200 answers fall back on the default status mapping (429, 5xx...).
    """

    def mapper(response: httpx.Response, body: Any | None) -> TxsyncError | None:
        if response.status_code != 200 or not isinstance(body, Mapping):
            return None
        if str(body.get("status")) != "0" or is_empty_envelope(body):
            return None
        raw = _text(body)
        text = clean_label(redact(raw, secrets), 200) or "NOTOK"
        low = raw.lower()
        if "too many invalid api key" in low:
            return RateLimitedError(
                f"the explorer throttles this IP after invalid API keys: {text}",
                retry_after=INVALID_KEY_THROTTLE,
            )
        if "api key" in low and ("invalid" in low or "missing" in low):
            return AuthError(f"the explorer rejected the API key: {text}")
        if "daily" in low or "per day" in low:
            until = next_utc_midnight(clock())
            return BannedError(
                f"the explorer's daily request limit is used up until {until.isoformat()}: {text}",
                until=until,
            )
        if "rate limit" in low:
            return RateLimitedError(f"rate limited by the explorer: {text}", retry_after=PER_SECOND_WAIT)
        if "free api access is not supported" in low:
            return ConfigurationError(
                f"this chain needs a paid explorer plan (the key is on the free tier): {text}"
            )
        if "chainid" in low or "unsupported chain" in low:
            return ConfigurationError(f"the explorer does not serve this chain id: {text}")
        if "timeout" in low:
            return TransientError(f"the explorer timed out: {text}")
        return BadRequestError(f"the explorer refused the request: {text}")

    return mapper


class ExplorerApi:
    """Calls of one explorer (Etherscan v2 with ``chain_id``, or a Blockscout instance)."""

    def __init__(
        self,
        http: HttpClient,
        *,
        path: str,
        chain_id: int,
        api_key: str | None,
        etherscan: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http = http
        self.path = path
        self.chain_id = chain_id
        self._api_key = api_key
        self._etherscan = etherscan
        self._clock = clock

    def __repr__(self) -> str:
        return f"ExplorerApi(path={self.path!r}, chain_id={self.chain_id})"

    async def call(self, module: str, action: str, params: Mapping[str, Any]) -> Any:
        """One request; returns the envelope's ``result`` (``[]`` for "No transactions found")."""
        query: dict[str, Any] = {}
        if self._etherscan:
            query["chainid"] = self.chain_id
        query.update({"module": module, "action": action})
        query.update(params)
        if self._api_key:
            query["apikey"] = self._api_key
        endpoint = f"{self.path} {action}"
        self._refuse_while_banned(endpoint)
        body = await self.http.get_json(self.path, params=query, weights={"calls": 1}, endpoint=endpoint)
        if is_empty_envelope(body):
            return []
        if not isinstance(body, Mapping) or "result" not in body or "status" not in body:
            raise BadResponseError("not an explorer envelope {status, message, result}", endpoint=endpoint)
        if str(body.get("status")) != "1":
            raise BadResponseError(
                f"unexpected envelope status {str(body.get('status'))[:10]!r}", endpoint=endpoint
            )
        return body["result"]

    def _refuse_while_banned(self, endpoint: str) -> None:
        """Fail fast instead of waiting for hours when the shared limiter holds this key back after
        a daily-limit answer (the HTTP layer penalizes the limiter until the ban ends)."""
        blocked_for = getattr(self.http.limiter, "blocked_for", None)
        if blocked_for is None:
            return
        wait = float(blocked_for())
        if wait > BANNED_WAIT_LIMIT:
            until = self._clock() + timedelta(seconds=wait)
            raise BannedError(
                f"the explorer's daily request limit for this key is used up until {until.isoformat()}",
                until=until,
                endpoint=endpoint,
            )

    async def rows(
        self,
        action: str,
        address: str,
        start_block: int,
        end_block: int | None,
        page: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        """One page of an account list (``txlist``, ``tokentx``...), ascending by block."""
        params: dict[str, Any] = {"address": address, "startblock": start_block}
        if end_block is not None:
            params["endblock"] = end_block
        elif self._etherscan:  # as Etherscan's own guide pages a full history: up to "latest"
            params["endblock"] = "latest"
        params.update({"page": page, "offset": offset, "sort": "asc"})
        result = await self.call("account", action, params)
        if not isinstance(result, list) or not all(isinstance(row, dict) for row in result):
            raise BadResponseError(f"{action}: expected a list of objects", endpoint=f"{self.path} {action}")
        return result

    async def block_at(self, timestamp: int) -> int:
        """The first block at or after ``timestamp`` (``module=block&action=getblocknobytime``)."""
        result = await self.call("block", "getblocknobytime", {"timestamp": timestamp, "closest": "after"})
        return _int_result(result, "getblocknobytime")

    async def native_balances(self, addresses: Sequence[str]) -> dict[str, int]:
        """Native balances in the smallest unit, by address (``balancemulti``, 20 per call)."""
        out: dict[str, int] = {}
        for i in range(0, len(addresses), 20):
            chunk = addresses[i : i + 20]
            if len(chunk) == 1:
                result = await self.call("account", "balance", {"address": chunk[0], "tag": "latest"})
                out[chunk[0]] = _int_result(result, "balance")
                continue
            result = await self.call("account", "balancemulti", {"address": ",".join(chunk), "tag": "latest"})
            if not isinstance(result, list):
                raise BadResponseError("balancemulti: expected a list")
            for row in result:
                if not isinstance(row, dict):
                    raise BadResponseError("balancemulti: expected objects")
                out[str(row.get("account", "")).lower()] = _int_result(row.get("balance"), "balancemulti")
        return out

    async def pending_rows(self, address: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The address's transactions waiting in the mempool (Blockscout's ``pendingtxlist``;
        Etherscan's API has no such list). Rows carry no block and no time."""
        result = await self.call("account", "pendingtxlist", {"address": address, "page": 1, "offset": limit})
        if not isinstance(result, list) or not all(isinstance(row, dict) for row in result):
            raise BadResponseError(
                "pendingtxlist: expected a list of objects", endpoint=f"{self.path} pendingtxlist"
            )
        return result

    async def tx_info(self, tx_hash: str) -> dict[str, Any] | None:
        """What the explorer knows of one transaction (Blockscout's ``gettxinfo``): ``None`` when
        it knows none ("Transaction not found": dropped from the mempool or replaced)."""
        try:
            result = await self.call("transaction", "gettxinfo", {"txhash": tx_hash})
        except BadRequestError as exc:
            if "not found" in str(exc).lower():
                return None
            raise
        if not isinstance(result, dict):
            raise BadResponseError("gettxinfo: expected an object", endpoint=f"{self.path} gettxinfo")
        return result

    async def token_balance(self, contract: str, address: str) -> int:
        """An ERC-20 balance in the token's smallest unit (``tokenbalance``)."""
        result = await self.call(
            "account", "tokenbalance", {"contractaddress": contract, "address": address, "tag": "latest"}
        )
        return _int_result(result, "tokenbalance")


def _int_result(value: Any, what: str) -> int:
    """A uint256 amount the explorer wrote as a JSON integer or a string of ASCII digits."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) <= 80:
        number = int(value.strip())
    if number is None or not 0 <= number < 2**256:
        raise BadResponseError(f"{what}: expected an integer amount")
    return number

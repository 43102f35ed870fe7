"""A local emulation of the Etherscan API v2 (and of a Blockscout instance's Etherscan-compatible API).

Built from Etherscan's documentation:

* ``GET https://api.etherscan.io/v2/api?chainid=<id>&module=...&action=...&apikey=...``; every answer
  is HTTP 200 with the envelope ``{"status", "message", "result"}``;
* ``chainid`` is required ("Missing or unsupported chainid parameter ..."); the free tier does not
  serve chains 56, 8453, 10 and 43114 ("Free API access is not supported for this chain ...");
* the API key is checked ("Invalid API Key"; more than 5 invalid attempts in 30 s throttle the IP);
* per-second and daily call limits per key ("Max rate limit reached ...", "Max daily rate limit
  reached ..."), counted on a simulated clock (``tick_ms`` per request, or an injected ``clock``);
* account lists (``txlist``, ``txlistinternal``, ``tokentx``, ``tokennfttx``, ``token1155tx``,
  ``txsBeaconWithdrawal``) with ``startblock``/``endblock``/``page``/``offset``/``sort``, at most
  ``record_cap`` rows per answer (1,000 on the free tier, 10,000 paid) whatever ``offset`` asks,
  ``page * offset <= 10000`` ("Result window is too large ..."), and "No transactions found" as
  ``status: "0"`` with an empty list;
* ``balance``, ``balancemulti`` (20 addresses), ``tokenbalance`` and ``getblocknobytime``;
* Blockscout flavor only: ``pendingtxlist`` (the mempool: rows without block or time) and
  ``module=transaction&action=gettxinfo`` ("Transaction not found" for an unknown hash).

``faults`` maps a request number (1-based) to an injected failure: ``"rate"``, ``"daily"``,
``"query_timeout"``, ``"malformed"`` (an HTML page with status 200), ``"truncated"``,
``"not_envelope"``, ``"timeout"``, ``"http429"``, ``"http502"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ._scenario import EvmChain

__all__ = [
    "ETHERSCAN_HOST",
    "EVM_API_KEY",
    "EVM_PAID_API_KEY",
    "FREE_UNSUPPORTED_CHAINS",
    "EtherscanSandbox",
]

ETHERSCAN_HOST = "api.etherscan.io"
#: The sandbox's test keys (free tier and paid tier). Cassettes must never contain them.
EVM_API_KEY = "evmsandboxfreekey7Q2W9E4R1T6Y3U8I5O0PZXCV"
EVM_PAID_API_KEY = "evmsandboxpaidkey3M8N1B6V9C2X5Z7L4K0JHGFD"
#: Chains Etherscan's free tier does not serve.
FREE_UNSUPPORTED_CHAINS = frozenset({56, 8453, 10, 43114})
#: Chains the sandbox serves (the scenario on chain 1, empty chains elsewhere).
SUPPORTED_CHAINS = frozenset({1, 10, 56, 100, 137, 324, 8453, 42161, 43114, 59144, 534352})
LIST_ACTIONS = frozenset(
    {"txlist", "txlistinternal", "tokentx", "tokennfttx", "token1155tx", "txsBeaconWithdrawal"}
)
MAX_WINDOW = 10_000
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

MSG_CHAIN = (
    "Missing or unsupported chainid parameter (required for v2 api), please see "
    "https://api.etherscan.io/v2/chainlist for the list of supported chainids"
)
MSG_FREE_CHAIN = (
    "Free API access is not supported for this chain. Please upgrade your api plan for full chain "
    "coverage. https://etherscan.io/apis"
)
MSG_INVALID_KEY = "Invalid API Key"
MSG_MISSING_KEY = "Missing/Invalid API Key"
MSG_KEY_THROTTLE = "Too many invalid api key attempts, please try again later"
MSG_RATE = "Max rate limit reached, please use API Key for higher rate limit"
MSG_DAILY = "Max daily rate limit reached. 100000 (100%) of 100000 day/limit"
MSG_WINDOW = "Result window is too large, PageNo x Offset size must be less than or equal to 10000"
MSG_TIMEOUT = "Query Timeout occured. Please select a smaller result dataset"
MSG_ACTION = "Error! Missing Or invalid Action name"
MSG_ADDRESS = "Error! Invalid address format"


class _Refusal(Exception):
    def __init__(self, text: str, message: str = "NOTOK") -> None:
        super().__init__(text)
        self.text = text
        self.message = message


@dataclass
class EtherscanSandbox:
    """The emulated explorer. ``transport()`` gives an ``httpx.MockTransport`` serving it.

    ``keys`` maps each accepted API key to its tier (``"free"`` or ``"paid"``); ``record_cap``
    overrides the tier's rows-per-answer cap. ``flavor="blockscout"`` serves ``/api`` without
    ``chainid`` and without key checks.
    """

    chain: EvmChain = field(default_factory=EvmChain.scenario)
    chain_id: int = 1
    keys: dict[str, str] = field(default_factory=lambda: {EVM_API_KEY: "free", EVM_PAID_API_KEY: "paid"})
    record_cap: int | None = None
    per_second: int | None = None  # default: 3 free, 10 paid
    daily_limit: int = 100_000
    flavor: str = "etherscan"
    host: str = ETHERSCAN_HOST
    start: datetime = datetime(2025, 3, 1, tzinfo=UTC)
    tick_ms: int = 350
    clock: Callable[[], float] | None = None
    faults: dict[int, str] = field(default_factory=dict)
    requests: int = 0
    log: list[dict[str, str]] = field(default_factory=list)
    _calls: dict[tuple[str, int], int] = field(default_factory=dict)
    _days: dict[tuple[str, str], int] = field(default_factory=dict)
    _invalid: list[float] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        """The sandbox's current (simulated) time."""
        return datetime.fromtimestamp(self._seconds(), UTC)

    def _seconds(self) -> float:
        if self.clock is not None:
            return self.clock()
        return self.start.timestamp() + self.requests * self.tick_ms / 1000

    def transport(self) -> httpx.MockTransport:
        """A transport answering every request from this sandbox."""
        return httpx.MockTransport(self.handle)

    # -- request handling -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as the explorer would."""
        self.requests += 1
        params = {k: v for k, v in request.url.params.items()}
        self.log.append({k: ("<key>" if k == "apikey" else v) for k, v in params.items()})
        expected = "/v2/api" if self.flavor == "etherscan" else "/api"
        if (self.host and request.url.host != self.host) or request.url.path != expected:
            return httpx.Response(404, text="<html><body>404 Not Found</body></html>")
        fault = self.faults.get(self.requests)
        if fault is not None:
            return self._fault(fault, request)
        try:
            result = self._dispatch(params)
        except _Refusal as refusal:
            return self._envelope("0", refusal.message, refusal.text)
        if isinstance(result, list) and not result:
            return self._envelope("0", "No transactions found", [])
        return self._envelope("1", "OK", result)

    def _dispatch(self, params: dict[str, str]) -> Any:
        if self.flavor == "etherscan":
            self._check_chain_param(params)
            tier = self._check_key(params.get("apikey"))
            self._check_limits(params.get("apikey", ""), tier)
            chain_id = int(params["chainid"])
            if chain_id not in SUPPORTED_CHAINS:
                raise _Refusal(MSG_CHAIN)
            if tier == "free" and chain_id in FREE_UNSUPPORTED_CHAINS:
                raise _Refusal(MSG_FREE_CHAIN)
            chain = self.chain if chain_id == self.chain_id else EvmChain()
        else:
            tier = "paid"
            self._check_limits("", tier)
            chain = self.chain
        module, action = params.get("module"), params.get("action")
        if module == "account" and action in LIST_ACTIONS:
            return self._list(chain, action, params, tier)
        if module == "account" and action == "balance":
            return str(chain.balance(self._address(params.get("address"))))
        if module == "account" and action == "balancemulti":
            found = [self._address(a) for a in params.get("address", "").split(",")]
            if len(found) > 20:
                raise _Refusal("Error! Maximum of 20 addresses per request")
            return [{"account": a, "balance": str(chain.balance(a))} for a in found]
        if module == "account" and action == "tokenbalance":
            contract = self._address(params.get("contractaddress"))
            return str(chain.token_balance(contract, self._address(params.get("address"))))
        if self.flavor == "blockscout" and module == "account" and action == "pendingtxlist":
            return chain.pending_rows(self._address(params.get("address")))
        if self.flavor == "blockscout" and module == "transaction" and action == "gettxinfo":
            info = chain.tx_info(params.get("txhash", "").lower())
            if info is None:
                raise _Refusal("Transaction not found", message="Transaction not found")
            return info
        if module == "block" and action == "getblocknobytime":
            stamp = params.get("timestamp", "")
            if not stamp.isdigit():
                raise _Refusal("Error! Invalid timestamp")
            block = chain.block_at(int(stamp), params.get("closest", "before"))
            if block is None:
                raise _Refusal("Error! No closest block found")
            return str(block)
        raise _Refusal(MSG_ACTION)

    def _check_chain_param(self, params: dict[str, str]) -> None:
        raw = params.get("chainid", "")
        if not raw.isdigit():
            raise _Refusal(MSG_CHAIN)

    def _check_key(self, key: str | None) -> str:
        now = self._seconds()
        self._invalid = [t for t in self._invalid if now - t < 30]
        if len(self._invalid) > 5:
            raise _Refusal(MSG_KEY_THROTTLE)
        if not key:
            self._invalid.append(now)
            raise _Refusal(MSG_MISSING_KEY)
        tier = self.keys.get(key)
        if tier is None:
            self._invalid.append(now)
            raise _Refusal(MSG_INVALID_KEY)
        return tier

    def _check_limits(self, key: str, tier: str) -> None:
        now = self._seconds()
        day = datetime.fromtimestamp(now, UTC).date().isoformat()
        used_today = self._days.get((key, day), 0)
        if used_today >= self.daily_limit:
            raise _Refusal(MSG_DAILY)
        self._days[(key, day)] = used_today + 1
        second = int(now // 1)
        limit = self.per_second or (3 if tier == "free" else 10)
        used = self._calls.get((key, second), 0)
        self._calls[(key, second)] = used + 1
        if used >= limit:
            raise _Refusal(MSG_RATE)

    @staticmethod
    def _address(value: str | None) -> str:
        if not value or not _ADDRESS.match(value):
            raise _Refusal(MSG_ADDRESS)
        return value.lower()

    @staticmethod
    def _int(params: dict[str, str], name: str, default: int) -> int:
        raw = params.get(name)
        if raw is None or raw == "":
            return default
        if raw == "latest" and name == "endblock":
            return 10**12
        if not raw.isdigit():
            raise _Refusal(f"Error! Invalid {name}")
        return int(raw)

    def _list(self, chain: EvmChain, action: str, params: dict[str, str], tier: str) -> list[dict[str, Any]]:
        who = self._address(params.get("address"))
        start = self._int(params, "startblock", 0)
        end = self._int(params, "endblock", 10**12)
        page = max(1, self._int(params, "page", 1))
        offset = self._int(params, "offset", MAX_WINDOW)
        if offset < 1:
            offset = MAX_WINDOW
        if page * offset > MAX_WINDOW:
            raise _Refusal(MSG_WINDOW)
        cap = self.record_cap or (1000 if tier == "free" else 10_000)
        size = min(offset, cap)
        rows = [r for r in chain.rows(action, who, self.flavor) if start <= int(r["blockNumber"]) <= end]
        if params.get("sort") == "desc":
            rows.reverse()
        return rows[(page - 1) * size : page * size]

    # -- answers ----------------------------------------------------------------------------------

    @staticmethod
    def _envelope(status: str, message: str, result: Any) -> httpx.Response:
        body = json.dumps({"status": status, "message": message, "result": result}).encode()
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json; charset=utf-8"})

    def _fault(self, fault: str, request: httpx.Request) -> httpx.Response:
        if fault == "rate":
            return self._envelope("0", "NOTOK", MSG_RATE)
        if fault == "daily":
            return self._envelope("0", "NOTOK", MSG_DAILY)
        if fault == "query_timeout":
            return self._envelope("0", "NOTOK", MSG_TIMEOUT)
        if fault == "malformed":
            return httpx.Response(200, text="<html><head><title>Just a moment...</title></head></html>")
        if fault == "truncated":
            return httpx.Response(
                200, content=b'{"status":"1","message":"OK","result":[{"blockNumber":"19', headers={}
            )
        if fault == "not_envelope":
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": "0x0"})
        if fault == "timeout":
            raise httpx.ReadTimeout("sandbox: timed out", request=request)
        if fault == "http429":
            return httpx.Response(429, text="Too Many Requests")
        if fault == "http502":
            return httpx.Response(502, text="<html>502 Bad Gateway</html>")
        raise ValueError(f"unknown fault {fault!r}")

"""The EVM wallet connector: Ethereum, BNB Smart Chain, Polygon, Arbitrum, OP, Base and any other
Etherscan-v2 chain id, or any Blockscout instance, through one code path."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from txsync.connector import (
    Connector,
    ConnectorContext,
    ConnectorInfo,
    CoverageGap,
    CredentialField,
    Cursor,
    Page,
    RawRecord,
    Stream,
    StreamInfo,
)
from txsync.errors import ConfigurationError
from txsync.fields import record_errors
from txsync.http import Bucket, HttpClient, WeightedRateLimiter
from txsync.models import (
    Balance,
    ConnectorKind,
    NormalizedTransaction,
    Permissions,
    RawTransaction,
)

from ._api import ETHERSCAN_V2_URL, ExplorerApi, explorer_error_mapper
from ._chains import OP_STACK_CHAINS, ChainInfo, chain_info
from ._normalize import (
    Normalizer,
    base_key,
    block_of,
    check_row,
    erc20_asset,
    ledger_decimals,
    scaled,
    unique_key,
)
from ._paging import BlockLanes, Row
from ._pending import PendingStream

__all__ = ["EvmWallet"]

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
#: The most rows asked per request (``offset``): Etherscan's ``page * offset`` window. Servers may
#: answer fewer (1,000 on free keys); the paging copes with any cap.
DEFAULT_PAGE_SIZE = 10_000
#: Etherscan's free tier: 3 calls per second.
DEFAULT_CALLS_PER_SECOND = 3


def _parse_addresses(text: str) -> list[str]:
    tokens = [t for t in re.split(r"[\s,;]+", text.strip()) if t]
    if not tokens:
        raise ConfigurationError("give at least one 0x address")
    bad = [t for t in tokens if not _ADDRESS.match(t)]
    if bad:
        shown = ", ".join(t[:50] for t in bad[:3])
        raise ConfigurationError(f"not an EVM address (0x followed by 40 hex digits): {shown}")
    return list(dict.fromkeys(t.lower() for t in tokens))


def _int_option(options: Any, name: str, default: int | None, *, minimum: int = 0) -> int | None:
    value = options.get(name, default)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"option {name!r} must be an integer >= {minimum}")
    return value


def _bool_option(options: Any, name: str, default: bool) -> bool:
    value = options.get(name, default)
    if isinstance(value, str):
        value = value.strip().lower() in ("1", "true", "yes", "on")
    if not isinstance(value, bool):
        raise ConfigurationError(f"option {name!r} must be true or false")
    return value


class _ListStream(Stream):
    """One account list of the explorer, paged by block over all of the wallet's addresses."""

    action: ClassVar[str]

    def __init__(self, connector: EvmWallet) -> None:
        self.connector = connector

    def enabled(self) -> bool:
        """Whether this list exists for the connection's chain and explorer."""
        return True

    def _normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        raise NotImplementedError

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        out: list[NormalizedTransaction] = []
        normalizer = self.connector.normalizer
        transactions = iter(self._normalize(raws))
        while True:
            normalizer.current = None
            # the hash being read is named by the error (the generator runs inside the block)
            with record_errors(self.name, None) as named:
                try:
                    tx = next(transactions)
                except StopIteration:
                    break
                finally:
                    named.record = normalizer.current
            out.append(tx)
        return out

    def lanes(self, start_block: int | None = None) -> BlockLanes:
        """The paginator of this list."""
        c = self.connector

        async def fetch(address: str, start: int, end: int | None, page: int, offset: int) -> list[Row]:
            rows = await c.api.rows(self.action, address, start, end, page, offset)
            return [check_row(self.name, row) for row in rows]

        return BlockLanes(
            fetch,
            c.addresses,
            page_size=c.page_size,
            block_of=block_of,
            base_key_of=base_key(self.name),
            unique_key=unique_key(self.name),
            start_block=c.start_block if start_block is None else start_block,
        )

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        return self._pages(cursor)

    async def _pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        if not self.enabled():
            return
        c = self.connector
        if isinstance(cursor, dict) and "time" in cursor:
            stamp = cursor.get("time")
            if isinstance(stamp, bool) or not isinstance(stamp, int):
                raise ConfigurationError("a time cursor needs an integer 'time' (unix seconds)")
            if stamp > int(c.context.clock().timestamp()):
                return  # nothing can be on chain after now
            cursor = {"block": max(c.start_block, await c.api.block_at(stamp))}
        async for step in self.lanes().steps(cursor):
            yield Page(
                records=[RawRecord(key, row) for key, row in step.items],
                cursor=step.cursor,
                label=step.label,
            )

    def cursor_from_time(self, since: datetime) -> Cursor:
        return {"time": int(since.astimezone(UTC).timestamp())}


class NormalStream(_ListStream):
    """Normal transactions (``txlist``): native value and the gas fee of transactions we sent."""

    name = "normal"
    action = "txlist"

    def _normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        return self.connector.normalizer.normal(raws)


class InternalStream(_ListStream):
    """Internal transactions (``txlistinternal``): native value moved by contracts."""

    name = "internal"
    action = "txlistinternal"

    def _normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        return self.connector.normalizer.internal(raws)


class Erc20Stream(_ListStream):
    """ERC-20 transfers (``tokentx``)."""

    name = "erc20"
    action = "tokentx"

    def _normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        return self.connector.normalizer.erc20(raws)


class Erc721Stream(_ListStream):
    """ERC-721 transfers (``tokennfttx``)."""

    name = "erc721"
    action = "tokennfttx"

    def _normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        return self.connector.normalizer.nft(raws, "erc721")


class Erc1155Stream(_ListStream):
    """ERC-1155 transfers (``token1155tx``)."""

    name = "erc1155"
    action = "token1155tx"

    def _normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        return self.connector.normalizer.nft(raws, "erc1155")


class BeaconWithdrawalsStream(_ListStream):
    """Beacon chain withdrawals (``txsBeaconWithdrawal``, Ethereum only)."""

    name = "beacon_withdrawals"
    action = "txsBeaconWithdrawal"

    def enabled(self) -> bool:
        return self.connector.beacon_withdrawals

    def _normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        return self.connector.normalizer.beacon(raws)


_STREAMS: tuple[type[_ListStream], ...] = (
    NormalStream,
    InternalStream,
    Erc20Stream,
    Erc721Stream,
    Erc1155Stream,
    BeaconWithdrawalsStream,
)


class EvmWallet(Connector):
    """EVM addresses read through an Etherscan-compatible explorer API.

    Credential: ``addresses`` (public: one or several 0x addresses, separated by commas or spaces)
    and ``api_key`` (secret: the explorer API key; optional for Blockscout instances).

    Options: ``chain_id`` (default 1), ``base_url`` (default Etherscan v2; a Blockscout instance's
    ``https://<host>/api`` works too), ``explorer`` (``etherscan`` or ``blockscout``, guessed from the
    URL), ``native_symbol`` / ``native_decimals`` (required for chains the connector does not know),
    ``page_size`` (rows asked per request, default 10,000), ``calls_per_second`` (default 3, the
    free tier; 0 turns the local limiter off), ``start_block`` (default 0), ``token_balances``
    (report ERC-20 balances, default true), ``beacon_withdrawals`` (default: on for Ethereum over
    Etherscan), ``pending_transactions`` (the mempool, Blockscout only; default: on for Blockscout).
    """

    info = ConnectorInfo(
        id="evm",
        display_name="EVM wallet (Ethereum, BNB Chain, Polygon, Arbitrum, OP, Base...)",
        kind=ConnectorKind.WALLET,
        credential_fields=(
            CredentialField(
                name="addresses",
                label="Addresses",
                secret=False,
                description="One or several 0x addresses of the wallet, separated by commas.",
            ),
            CredentialField(
                name="api_key",
                label="Explorer API key",
                secret=True,
                required=False,
                description="An Etherscan API key (one key serves every chain); optional for Blockscout.",
            ),
        ),
        streams=(
            StreamInfo(name="normal", description="Normal transactions: native value and gas fees"),
            StreamInfo(name="internal", description="Internal transactions: native value moved by contracts"),
            StreamInfo(name="erc20", description="ERC-20 token transfers"),
            StreamInfo(name="erc721", description="ERC-721 NFT transfers"),
            StreamInfo(name="erc1155", description="ERC-1155 token transfers"),
            StreamInfo(name="beacon_withdrawals", description="Beacon chain withdrawals (Ethereum)"),
            StreamInfo(
                name="pending",
                description="Transactions waiting in the mempool, and whether they were mined or "
                "dropped (Blockscout instances: Etherscan's API lists no mempool)",
            ),
        ),
        coverage_gaps=(
            CoverageGap(
                id="l1_data_fees",
                title="L1 data fees on OP-stack chains",
                description=(
                    "On OP Mainnet, Base and other OP-stack chains a sender also pays an L1 data fee, "
                    "which the explorer's transaction list does not always include."
                ),
                remedy="Add the L1 fees as manual fee entries, or import the explorer's CSV export.",
            ),
            CoverageGap(
                id="rebasing_tokens",
                title="Rebasing and fee-on-transfer tokens",
                description=(
                    "Balances of rebasing tokens (stETH, aTokens...) change without a transfer, so no "
                    "transaction lists the change."
                ),
                remedy="Record the balance change as a manual reward entry; reconciliation shows the gap.",
                always=True,
            ),
            CoverageGap(
                id="block_rewards",
                title="Block rewards and priority fees paid to a block producer",
                description=(
                    "A miner's block rewards (proof of work) and the priority fees credited to a "
                    "validator's fee recipient address are not transactions: no list of the "
                    "explorer's account API that txsync reads shows them (getminedblocks is not read)."
                ),
                remedy=(
                    "Add them as manual reward entries from your validator's or pool's statement; "
                    "the balance check shows the difference until then."
                ),
            ),
            CoverageGap(
                id="nft_balances",
                title="NFT holdings",
                description="The explorer's free API does not report NFT holdings, only NFT transfers.",
                remedy="Check NFT holdings on the explorer; every NFT transfer is in the ledger.",
                always=True,
                assets=("eip155:*/erc721:*", "eip155:*/erc1155:*"),
                unreported_balances=True,
            ),
        ),
        reports_permissions=True,
        minimal_permissions="Public addresses only: an explorer API key cannot move funds.",
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        options = context.options
        credential = context.credential
        self.addresses = _parse_addresses(
            credential.value("addresses") if credential.has("addresses") else ""
        )
        chain_id = _int_option(options, "chain_id", 1, minimum=1)
        assert chain_id is not None
        symbol = options.get("native_symbol")
        if symbol is not None and (not isinstance(symbol, str) or not symbol.strip() or len(symbol) > 20):
            raise ConfigurationError("option 'native_symbol' must be a short symbol such as 'ETH'")
        decimals = _int_option(options, "native_decimals", None)
        chain = chain_info(chain_id, symbol.strip() if isinstance(symbol, str) else None, decimals)
        if chain is None:
            raise ConfigurationError(
                f"chain id {chain_id} is not one the connector knows: give its native asset as the "
                "'native_symbol' option (and 'native_decimals' if not 18)"
            )
        self.chain: ChainInfo = chain
        url = httpx.URL(str(options.get("base_url", ETHERSCAN_V2_URL)))
        if url.scheme not in ("https", "http") or not url.host:
            raise ConfigurationError("option 'base_url' must be an http(s) URL")
        explorer = options.get("explorer")
        if explorer is None:
            explorer = (
                "etherscan" if url.host.endswith("etherscan.io") and "/v2/" in url.path else "blockscout"
            )
        if explorer not in ("etherscan", "blockscout"):
            raise ConfigurationError("option 'explorer' must be 'etherscan' or 'blockscout'")
        self.explorer: str = explorer
        api_key = credential.secret("api_key") if "api_key" in credential.secrets else None
        if explorer == "etherscan" and not api_key:
            raise ConfigurationError("Etherscan needs an API key: give the 'api_key' credential field")
        page_size = _int_option(options, "page_size", DEFAULT_PAGE_SIZE, minimum=1)
        assert page_size is not None
        self.page_size = min(page_size, 10_000)
        start_block = _int_option(options, "start_block", 0)
        assert start_block is not None
        self.start_block = start_block
        self.token_balances = _bool_option(options, "token_balances", True)
        self.beacon_withdrawals = _bool_option(
            options, "beacon_withdrawals", chain.chain_id == 1 and explorer == "etherscan"
        )
        self.pending_transactions = _bool_option(options, "pending_transactions", explorer == "blockscout")
        if self.pending_transactions and explorer != "blockscout":
            raise ConfigurationError(
                "option 'pending_transactions' needs a Blockscout instance: Etherscan's API lists no "
                "pending transactions"
            )
        rate = _int_option(options, "calls_per_second", DEFAULT_CALLS_PER_SECOND)
        limiter = None
        if rate:
            who = hashlib.sha256((api_key or "anonymous").encode()).hexdigest()[:16]
            limiter = context.limiters.get(
                f"evm-explorer:{url.host}:{who}", lambda: WeightedRateLimiter([Bucket("calls", rate, 1.0)])
            )
        secrets = credential.secret_values()
        self.http = HttpClient(
            str(url.copy_with(path="/", query=None, fragment=None)).rstrip("/"),
            limiter=limiter,
            transport=context.transport,
            stats=context.stats,
            retry=context.retry,
            error_mapper=explorer_error_mapper(secrets, context.clock),
            secrets=secrets,
            clock=context.clock,
        )
        self.api = ExplorerApi(
            self.http,
            path=url.path or "/api",
            chain_id=chain.chain_id,
            api_key=api_key,
            etherscan=explorer == "etherscan",
            clock=context.clock,
        )
        self.normalizer = Normalizer(chain, self.addresses)

    async def verify(self) -> Permissions:
        """Check the key and the chain with one balance request. Addresses and an explorer key can
        only read: nothing here can move funds."""
        await self.api.native_balances(self.addresses)
        return Permissions(
            reported=True,
            can_read=True,
            can_trade=False,
            can_withdraw=False,
            can_transfer=False,
            details={
                "credential": "public addresses and an explorer API key",
                "chain_id": self.chain.chain_id,
            },
        )

    async def balances(self) -> Sequence[Balance]:
        """Native balances of every address and, with ``token_balances``, the ERC-20 balance of
        every token each address ever transferred (found by reading its ``tokentx`` list)."""
        now = self.context.clock()
        out: list[Balance] = []
        native = await self.api.native_balances(self.addresses)
        for address in self.addresses:
            amount = native.get(address, 0)
            if amount:
                out.append(
                    Balance(
                        asset=self.chain.native_symbol,
                        amount=self.normalizer.native(amount),
                        wallet=self.normalizer.wallet(address),
                        as_of=now,
                    )
                )
        if not self.token_balances:
            return out
        holders: dict[str, set[str]] = {}
        decimals: dict[str, int] = {}
        async for step in Erc20Stream(self).lanes().steps(None):
            for _key, row in step.items:
                contract = str(row.get("contractAddress", "")).lower()
                if not _ADDRESS.match(contract):
                    continue
                raw = str(row.get("tokenDecimal", "")).strip()
                declared = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 3 else None
                decimals[contract] = ledger_decimals(declared)[0]  # the scale the ledger books it in
                for side in (row.get("from"), row.get("to")):
                    who = str(side or "").lower()
                    if who in self.normalizer.own:
                        holders.setdefault(contract, set()).add(who)
        for contract in sorted(holders):
            for address in sorted(holders[contract]):
                amount = await self.api.token_balance(contract, address)
                if amount:
                    out.append(
                        Balance(
                            asset=erc20_asset(self.chain.chain_id, contract),
                            amount=scaled(amount, decimals[contract]),
                            wallet=self.normalizer.wallet(address),
                            as_of=now,
                        )
                    )
        return out

    def streams(self) -> Sequence[Stream]:
        if self.chain.chain_id in OP_STACK_CHAINS:
            self.context.note_gap(
                "l1_data_fees", "included only where the explorer lists them per transaction"
            )
        # the mempool first: a transaction mined since the last sync then drops its pending legs
        # before the normal list adds its mined ones
        return [PendingStream(self), *(cls(self) for cls in _STREAMS)]

    async def aclose(self) -> None:
        await self.http.aclose()

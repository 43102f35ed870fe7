"""From explorer rows to normalized transactions, from the wallet's own point of view.

Every list (normal, internal, ERC-20, ERC-721, ERC-1155) describes a transaction hash with the key
``tx:<chain id>:<hash>``; the merge adds the parts of the different lists into one transaction with
every leg. Each function here builds one part per hash from *all* the rows of that hash in one page
(the block paging guarantees a page never cuts a block, so a part is always whole).

Rules: amounts are exact (integers scaled by ``10**-decimals`` without rounding); legs carry the
address they moved on as ``wallet`` (``eip155:<chain>:<address>``, CAIP-10); the gas fee is a FEE leg
only when one of the user's addresses sent the transaction; a reverted transaction keeps its fee
and moves nothing else; a transfer between two of the user's addresses is internal (its legs cancel
out, kind TRANSFER); spam and odd tokens are kept with flags, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from txsync.errors import InvalidRecordError
from txsync.fields import Fields, clean_label, preview
from txsync.models import (
    Leg,
    LegRole,
    NormalizedTransaction,
    RawTransaction,
    TransactionKind,
)
from txsync.models.values import AMOUNT_MAX_DECIMALS

from ._chains import ChainInfo

__all__ = [
    "SPAM_ASSET",
    "TOKEN_STREAMS",
    "UINT256_MAX",
    "Normalizer",
    "base_key",
    "block_of",
    "check_row",
    "erc20_asset",
    "ledger_decimals",
    "nft_asset",
    "reverted_traces",
    "scaled",
    "spam_reasons",
    "unique_key",
]

_HEX_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
_URLISH = re.compile(
    r"(https?://|www\.|t\.me/|\.(com|io|net|org|xyz|app|top|site|online|finance|lol|vip|cc|me|gift|pro|"
    r"club|link|claims?|fund|network|events?)\b)",
    re.IGNORECASE,
)
_BAIT = re.compile(r"\b(claim|visit|reward|airdrop|voucher|bonus|free|redeem|eligible)\b", re.IGNORECASE)
#: Above this many decimals a token is odd (ERC-20 allows up to 255; real tokens use 0..24).
ODD_DECIMALS = 36
#: A beacon withdrawal of this much or more is taken as a validator exit (principal), not a reward.
EXIT_THRESHOLD_GWEI = 16 * 10**9


def scaled(value: int, decimals: int) -> Decimal:
    """``value * 10**-decimals`` exactly, whatever the number of digits (no context rounding)."""
    digits = tuple(int(c) for c in str(abs(value)))
    return Decimal((1 if value < 0 else 0, digits, -decimals))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text)
    return None


def _addr(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def block_of(row: dict[str, Any]) -> int:
    """A row's block number; a missing or malformed one is a typed error."""
    from txsync.errors import BadResponseError

    number = _int(row.get("blockNumber"))
    if number is None or number < 0:
        raise BadResponseError("an explorer row has no valid blockNumber")
    return number


def _hash(row: dict[str, Any]) -> str:
    # Blockscout names the transaction of an internal row ``transactionHash``
    value = row.get("hash") if "hash" in row else row.get("transactionHash")
    return value.strip().lower() if isinstance(value, str) and value.strip() else ""


_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}", re.ASCII)
_ANY_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)
#: Every EVM quantity (a value, a token id, gas) is a uint256.
UINT256_MAX = 2**256 - 1
#: The lists whose rows describe token transfers.
TOKEN_STREAMS = frozenset({"erc20", "erc721", "erc1155"})
_FLAGS_01 = ("isError", "txreceipt_status")
_GAS_FIELDS = ("gasUsed", "gasPrice", "L1FeesPaid", "l1Fee", "l1FeesPaid")
_FREE_TEXT = ("input", "functionName", "methodId", "tokenName", "tokenSymbol", "type", "errCode")


def _check_address(row: Fields, name: str, *, required: bool) -> None:
    if not row.has(name):
        if required:
            raise row.error(name, "is missing")
        return
    value = row.raw(name)
    if not isinstance(value, str) or not _ANY_ADDRESS.fullmatch(value.strip()):
        raise row.error(name, f"is {preview(value)}, not a 0x address")


def check_row(stream: str, row: Any) -> dict[str, Any]:
    """Check the explorer's fields of one row of ``stream`` (what the explorer itself writes: hash,
    block, time, addresses, uint256 quantities, 0/1 flags) and return the row; anything malformed is
    an :class:`~txsync.errors.InvalidRecordError` naming the stream, the row and the field.

    What a token contract chooses (name, symbol, decimals) is not checked here: spam tokens set
    them freely, and they are kept with flags (see :class:`Normalizer`), never a failure.
    """
    fields = Fields(row, stream=stream)
    if stream == "beacon_withdrawals":
        index = fields.integer("withdrawalIndex", minimum=0, maximum=2**64)
        fields = fields.named(f"withdrawal {index}")
        fields.integer("validatorIndex", minimum=0, maximum=2**64)
        _check_address(fields, "address", required=True)
        fields.integer("amount", minimum=0, maximum=2**64)
        fields.integer("blockNumber", minimum=0, maximum=2**63)
        fields.seconds_time("timestamp")
        return fields.data  # type: ignore[return-value]
    hash_field = "transactionHash" if not fields.has("hash") and fields.has("transactionHash") else "hash"
    tx_hash = fields.text(hash_field, max_length=66)
    if not _TX_HASH.fullmatch(tx_hash):
        raise fields.error(hash_field, f"is {preview(tx_hash)}, not a 0x transaction hash")
    fields = fields.named(tx_hash.lower())
    fields.integer("blockNumber", minimum=0, maximum=2**63)
    fields.seconds_time("timeStamp")
    _check_address(fields, "from", required=True)
    _check_address(fields, "to", required=stream in TOKEN_STREAMS)
    _check_address(fields, "contractAddress", required=stream in TOKEN_STREAMS)
    if stream in ("normal", "internal", "erc20"):
        fields.integer("value", minimum=0, maximum=UINT256_MAX)
    if stream in ("erc721", "erc1155"):
        fields.integer("tokenID", minimum=0, maximum=UINT256_MAX)
    if stream == "erc1155":
        fields.integer("tokenValue", minimum=0, maximum=UINT256_MAX)
    for name in _GAS_FIELDS:
        if fields.has(name):
            fields.integer(name, minimum=0, maximum=UINT256_MAX)
    if fields.has("logIndex"):
        fields.integer("logIndex", minimum=0, maximum=2**32)
    for name in ("traceId", "index"):
        if fields.has(name):
            fields.text(name, max_length=64, allow_int=True)
    for name in _FLAGS_01:
        if fields.has(name) and fields.raw(name) not in ("0", "1", 0, 1):
            raise fields.error(name, f"is {preview(fields.raw(name))}, not 0 or 1")
    for name in _FREE_TEXT:
        if fields.raw(name) is not None and not isinstance(fields.raw(name), str):
            raise fields.error(name, f"is {preview(fields.raw(name))}, not a string")
    return fields.data  # type: ignore[return-value]


def base_key(stream: str) -> Callable[[dict[str, Any]], str]:
    """The identity of a row of ``stream`` (before counting identical rows of one block)."""

    def normal(row: dict[str, Any]) -> str:
        return _hash(row) or f"block{row.get('blockNumber')}:nohash"

    def internal(row: dict[str, Any]) -> str:
        trace = row.get("traceId") or row.get("index")
        if isinstance(trace, str | int) and str(trace).strip():
            return f"{_hash(row)}:{str(trace).strip()}"
        src, dst = _addr(row.get("from")), _addr(row.get("to"))
        return f"{_hash(row)}:{src}:{dst}:{row.get('value')}:{row.get('type')}"

    def token(row: dict[str, Any]) -> str:
        log = row.get("logIndex")
        token_id = row.get("tokenID", "")
        if isinstance(log, str | int) and str(log).strip():
            return f"{_hash(row)}:{str(log).strip()}:{token_id}"
        value = row.get("tokenValue", row.get("value"))
        return (
            f"{_hash(row)}:{_addr(row.get('contractAddress'))}:{_addr(row.get('from'))}:"
            f"{_addr(row.get('to'))}:{token_id}:{value}"
        )

    def withdrawal(row: dict[str, Any]) -> str:
        return f"withdrawal:{row.get('withdrawalIndex')}"

    table = {
        "normal": normal,
        "internal": internal,
        "erc20": token,
        "erc721": token,
        "erc1155": token,
        "beacon_withdrawals": withdrawal,
    }
    return table[stream]


def unique_key(stream: str) -> Callable[[dict[str, Any]], bool]:
    """Whether a row's :func:`base_key` identifies it alone (a hash, a trace id, a log index, a
    withdrawal index): two rows with such a key in one answer are one row listed twice. Without one
    (Etherscan's token lists carry no log index), two identical rows of one transaction are two
    identical transfers and both count."""

    def unique(row: dict[str, Any]) -> bool:
        if stream in ("normal", "beacon_withdrawals"):
            return True
        if stream == "internal":
            return bool(str(row.get("traceId") or row.get("index") or "").strip())
        return bool(str(row.get("logIndex", "")).strip())

    return unique


def erc20_asset(chain_id: int, contract: str) -> str:
    """The CAIP-19 id of an ERC-20 token: ``eip155:<chain>/erc20:<contract>``."""
    return f"eip155:{chain_id}/erc20:{contract}"


def nft_asset(chain_id: int, standard: str, contract: str, token_id: str) -> str:
    """The CAIP-19 id of one NFT: ``eip155:<chain>/erc721:<contract>/<token id>`` (or erc1155)."""
    return f"eip155:{chain_id}/{standard}:{contract}/{token_id}"


def spam_reasons(name: Any, symbol: Any) -> set[str]:
    """Flags for a token whose name or symbol looks like bait (links, "claim"...)."""
    text = " ".join(v for v in (name, symbol) if isinstance(v, str))
    flags: set[str] = set()
    if _URLISH.search(text) or _BAIT.search(text):
        flags.add("spam_suspect")
    return flags


def _clean(value: Any, limit: int = 80) -> str | None:
    """Text a token or contract chose, for display: control and invisible characters dropped."""
    return clean_label(value, limit) if isinstance(value, str) else None


def _time(rows: Sequence[dict[str, Any]]) -> datetime | None:
    for row in rows:
        stamp = _int(row.get("timeStamp", row.get("timestamp")))
        if stamp is not None and 0 <= stamp < 253_402_300_800:
            return datetime.fromtimestamp(stamp, UTC)
    return None


def ledger_decimals(decimals: int | None) -> tuple[int, set[str]]:
    """The scale txsync books a token in, and flags: its own ``decimals`` when the ledger can hold
    its smallest unit exactly, else 0 (amounts in the token's smallest unit) with ``unknown_decimals``
    (none given) or ``odd_decimals`` plus ``base_units`` (more than
    :data:`~txsync.models.values.AMOUNT_MAX_DECIMALS`: a spam token can declare up to 255)."""
    if decimals is None or decimals > 255:
        return 0, {"unknown_decimals"}
    if decimals > AMOUNT_MAX_DECIMALS:
        return 0, {"odd_decimals", "base_units"}
    if decimals > ODD_DECIMALS:
        return decimals, {"odd_decimals"}
    return decimals, set()


#: The prefix of the flag naming one spam token of a transaction (``spam_asset:<CAIP-19 id>``,
#: txsync.valuation's ``SPAM_ASSET_PREFIX``): valuation skips that token's legs only, never the
#: other legs of the transaction.
SPAM_ASSET = "spam_asset:"


def _judge_transfers(part: _Part, per_transfer: Sequence[set[str]], spam_tokens: set[str]) -> None:
    """Raise on the part only the flags every one of its token transfers carries (a swap that also
    received a spam token is not spam; an airdrop of spam alone is), and name each spam token in a
    ``spam_asset:<asset>`` flag. Each token's own flags stay in ``meta["tokens"][asset]["flags"]``."""
    if per_transfer:
        common = set.intersection(*per_transfer)
        part.flags.update(common)
    part.flags.update(SPAM_ASSET + asset for asset in spam_tokens)


def _trace(row: dict[str, Any]) -> str:
    value = row.get("traceId", row.get("index"))
    return str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""


def reverted_traces(rows: Sequence[dict[str, Any]]) -> set[int]:
    """The positions of the internal rows of one transaction that moved nothing: those marked
    ``isError=1`` and, with Etherscan's hierarchical trace ids (``0_1_1``), every trace below a
    reverted one (a call inside a reverted call is undone too, whatever its own flag says)."""
    failed = {_trace(row) for row in rows if str(row.get("isError", "0")).strip() == "1"}
    out: set[int] = set()
    for n, row in enumerate(rows):
        if str(row.get("isError", "0")).strip() == "1":
            out.add(n)
            continue
        parts = _trace(row).split("_")
        if any("_".join(parts[:i]) in failed for i in range(1, len(parts))):
            out.add(n)
    return out


@dataclass
class _Part:
    """Legs and flags of one hash's part, built row by row."""

    legs: list[Leg]
    flags: set[str]
    tokens: dict[str, dict[str, Any]]
    ins: int = 0
    outs: int = 0
    own: int = 0  # movements between two of the user's addresses
    spam_ins: int = 0


class Normalizer:
    """Normalizes the rows of one chain for a wallet made of ``addresses``."""

    def __init__(self, chain: ChainInfo, addresses: Iterable[str]) -> None:
        self.chain = chain
        self.own = frozenset(a.lower() for a in addresses)
        #: The hash (or withdrawal) being normalized, for the error naming it.
        self.current: str | None = None

    # -- helpers -----------------------------------------------------------------------------------

    def wallet(self, address: str) -> str:
        """The CAIP-10 account id a leg moved on."""
        return f"eip155:{self.chain.chain_id}:{address}"

    def native(self, wei: int) -> Decimal:
        """A native amount in the chain's unit."""
        return scaled(wei, self.chain.native_decimals)

    def _key(self, tx_hash: str) -> str:
        return f"tx:{self.chain.chain_id}:{tx_hash}"

    def _move(
        self, part: _Part, asset: str, amount: Decimal, src: str, dst: str, *, spam: bool = False
    ) -> None:
        """Legs of ``amount`` of ``asset`` moving from ``src`` to ``dst`` (only our sides)."""
        mine_src, mine_dst = src in self.own, dst in self.own
        if amount == 0:  # a zero-value transfer moves nothing: one neutral leg, kept for the record
            if mine_src or mine_dst:
                part.legs.append(
                    Leg(asset=asset, amount=abs(amount), wallet=self.wallet(src if mine_src else dst))
                )
            return
        if mine_src and mine_dst:
            if src != dst:
                part.legs.append(Leg(asset=asset, amount=amount.copy_negate(), wallet=self.wallet(src)))
                part.legs.append(Leg(asset=asset, amount=amount, wallet=self.wallet(dst)))
            part.own += 1
            part.flags.add("internal_transfer" if src != dst else "self_transfer")
        elif mine_src:
            part.legs.append(Leg(asset=asset, amount=amount.copy_negate(), wallet=self.wallet(src)))
            part.outs += 1
        elif mine_dst:
            part.legs.append(Leg(asset=asset, amount=amount, wallet=self.wallet(dst)))
            part.ins += 1
            part.spam_ins += int(spam)

    def _finish(
        self,
        raws: Sequence[RawTransaction],
        rows: Sequence[dict[str, Any]],
        tx_hash: str,
        part: _Part,
        *,
        kind: TransactionKind | None = None,
        description: str | None = None,
        meta: dict[str, Any] | None = None,
        key: str | None = None,
        external_ids: dict[str, str] | None = None,
    ) -> NormalizedTransaction:
        when = _time(rows)
        flags = set(part.flags)
        if when is None:
            raise self._unparsable(raws, "no row of the transaction has a readable time")
        if kind is None:
            kind = self._kind(part)
        legs = part.legs or [Leg(asset=self.chain.native_symbol, amount=Decimal(0))]
        info: dict[str, Any] = {"chain_id": self.chain.chain_id}
        block = _int(rows[0].get("blockNumber"))
        if block is not None:
            info["block"] = block
        if part.tokens:
            info["tokens"] = part.tokens
        info.update(meta or {})
        return NormalizedTransaction(
            account_id=raws[0].account_id,
            key=key or self._key(tx_hash),
            kind=kind,
            timestamp=when,
            legs=legs,
            external_ids=external_ids or {"tx_hash": tx_hash, "chain_id": str(self.chain.chain_id)},
            sources=[raw.ref for raw in raws],
            description=description,
            flags=frozenset(flags),
            meta=info,
        )

    @staticmethod
    def _kind(part: _Part) -> TransactionKind:
        if part.ins and part.outs:
            return TransactionKind.TRADE
        if part.ins:
            return TransactionKind.AIRDROP if part.spam_ins == part.ins else TransactionKind.DEPOSIT
        if part.outs:
            return TransactionKind.WITHDRAWAL
        if part.own:
            return TransactionKind.TRANSFER
        if any(leg.role == LegRole.FEE for leg in part.legs):
            return TransactionKind.FEE
        return TransactionKind.OTHER

    def _by_hash(self, raws: Sequence[RawTransaction]) -> Iterator[tuple[str, list[RawTransaction]]]:
        groups: dict[str, list[RawTransaction]] = {}
        for raw in raws:
            row = raw.payload if isinstance(raw.payload, dict) else {}
            groups.setdefault(_hash(row) or f"nohash:{raw.source_id}", []).append(raw)
        for tx_hash, group in groups.items():
            self.current = tx_hash
            yield tx_hash, group

    def _unparsable(self, raws: Sequence[RawTransaction], what: str) -> InvalidRecordError:
        """The error for rows no transaction can be built from (never kept as if valid)."""
        return InvalidRecordError(
            f"{raws[0].stream} record {preview(raws[0].source_id, 80)}: {what}",
            stream=raws[0].stream,
            record=raws[0].source_id,
        )

    # -- streams -----------------------------------------------------------------------------------

    def normal(self, raws: Sequence[RawTransaction]) -> Iterator[NormalizedTransaction]:
        """``txlist`` rows: the value, and the gas fee when one of our addresses sent it."""
        for tx_hash, group in self._by_hash(raws):
            row = group[0].payload if isinstance(group[0].payload, dict) else {}
            src, dst = _addr(row.get("from")), _addr(row.get("to"))
            value = _int(row.get("value"))
            if not _HEX_ADDRESS.match(src) or value is None:
                raise self._unparsable(group, "a normal transaction without a readable sender or value")
            part = _Part([], set(), {})
            failed = (
                str(row.get("isError", "0")).strip() == "1"
                or str(row.get("txreceipt_status", "")).strip() == "0"
            )
            created = _addr(row.get("contractAddress")) if not dst else ""
            target = dst or created
            call = str(row.get("input", "0x")).strip().lower() not in ("", "0x", "deprecated")
            if src in self.own:
                gas_used, gas_price = _int(row.get("gasUsed")), _int(row.get("gasPrice"))
                if gas_used is None or gas_price is None:
                    part.flags.add("unknown_fee")
                else:
                    fee = gas_used * gas_price
                    for field_name in ("L1FeesPaid", "l1Fee", "l1FeesPaid"):
                        extra = _int(row.get(field_name))
                        if extra:
                            fee += extra
                            break
                    if fee:
                        part.legs.append(
                            Leg(
                                asset=self.chain.native_symbol,
                                amount=self.native(fee).copy_negate(),
                                role=LegRole.FEE,
                                wallet=self.wallet(src),
                            )
                        )
            description = None
            kind: TransactionKind | None = None
            if failed:
                part.flags.add("reverted")
                kind = TransactionKind.FEE if src in self.own else TransactionKind.OTHER
                description = "reverted: only the fee was paid" if src in self.own else "reverted"
            else:
                if value:
                    self._move(part, self.chain.native_symbol, self.native(value), src, target)
                elif src not in self.own:
                    # Someone else called (or created) the wallet's address with no value: a
                    # multisig run by another owner or a relayer, a wallet deployed by a factory.
                    # Not spam by itself (spam is judged on token transfers, per transfer).
                    part.flags.add("incoming_call" if call or created else "zero_value")
                if src == target and src in self.own:
                    part.flags.add("self_transfer")
                    kind = TransactionKind.FEE
                if created:
                    part.flags.add("contract_creation")
                    kind, description = TransactionKind.OTHER, "contract creation"
                elif call and kind is None:
                    name = (
                        _clean(row.get("functionName"), 120) or _clean(row.get("methodId"), 12) or "unknown"
                    )
                    kind, description = TransactionKind.OTHER, f"contract call {name}"
            yield self._finish(group, [row], tx_hash, part, kind=kind, description=description)

    def internal(self, raws: Sequence[RawTransaction]) -> Iterator[NormalizedTransaction]:
        """``txlistinternal`` rows: value moved by contracts (reverted traces move nothing)."""
        for tx_hash, group in self._by_hash(raws):
            rows = [r.payload if isinstance(r.payload, dict) else {} for r in group]
            part = _Part([], set(), {})
            failed = reverted_traces(rows)
            undone: list[dict[str, str]] = []
            for n, row in enumerate(rows):
                value = _int(row.get("value"))
                if value is None:
                    raise self._unparsable(group, "an internal transaction without a readable value")
                src = _addr(row.get("from"))
                dst = _addr(row.get("to")) or _addr(row.get("contractAddress"))
                if n in failed:
                    part.flags.add("reverted_trace")
                    if value and (src in self.own or dst in self.own):
                        undone.append(
                            {"trace": _trace(row), "from": src, "to": dst, "value": str(value)}
                        )
                    continue
                if value:
                    self._move(part, self.chain.native_symbol, self.native(value), src, dst)
            if part.legs or part.flags - {"reverted_trace"}:
                meta = {"reverted_traces": undone} if undone else None
                yield self._finish(group, rows, tx_hash, part, meta=meta)
            elif undone:
                # Value the wallet would have received or sent in a call that reverted: nothing
                # moved, but the transaction is kept (visibly) with what was undone.
                yield self._finish(
                    group,
                    rows,
                    tx_hash,
                    part,
                    kind=TransactionKind.OTHER,
                    description="reverted internal transfer: nothing moved",
                    meta={"reverted_traces": undone},
                )
            # else: zero-value traces only: they moved nothing, the raws stay on their own

    def erc20(self, raws: Sequence[RawTransaction]) -> Iterator[NormalizedTransaction]:
        """``tokentx`` rows: ERC-20 transfers, scaled by each token's decimals."""
        for tx_hash, group in self._by_hash(raws):
            rows = [r.payload if isinstance(r.payload, dict) else {} for r in group]
            part = _Part([], set(), {})
            per_transfer: list[set[str]] = []
            spam_tokens: set[str] = set()
            for row in rows:
                contract = _addr(row.get("contractAddress"))
                value = _int(row.get("value"))
                if not _HEX_ADDRESS.match(contract) or value is None:
                    raise self._unparsable(group, "a token transfer without a readable contract or value")
                asset = erc20_asset(self.chain.chain_id, contract)
                declared = _int(row.get("tokenDecimal"))
                decimals, flags = ledger_decimals(declared)
                flags |= spam_reasons(row.get("tokenName"), row.get("tokenSymbol"))
                if "base_units" in flags:
                    flags.add("spam_suspect")
                token_spam = "spam_suspect" in flags  # a property of the token itself
                if value == 0:
                    flags.update({"zero_value", "spam_suspect"})
                per_transfer.append(flags)
                if token_spam:
                    spam_tokens.add(asset)
                known = part.tokens.get(asset, {}).get("flags", [])
                merged = sorted(set(known) | flags)
                part.tokens[asset] = {
                    "standard": "erc20",
                    "symbol": _clean(row.get("tokenSymbol"), 40),
                    "name": _clean(row.get("tokenName")),
                    "decimals": decimals,
                    **({"declared_decimals": declared} if declared != decimals else {}),
                    **({"flags": merged} if merged else {}),
                }
                self._move(
                    part,
                    asset,
                    scaled(value, decimals),
                    _addr(row.get("from")),
                    _addr(row.get("to")),
                    spam="spam_suspect" in flags,
                )
            _judge_transfers(part, per_transfer, spam_tokens)
            yield self._finish(group, rows, tx_hash, part)

    def nft(self, raws: Sequence[RawTransaction], standard: str) -> Iterator[NormalizedTransaction]:
        """``tokennfttx`` (ERC-721, one token each) and ``token1155tx`` (``tokenValue`` of one id)."""
        for tx_hash, group in self._by_hash(raws):
            rows = [r.payload if isinstance(r.payload, dict) else {} for r in group]
            part = _Part([], set(), {})
            per_transfer: list[set[str]] = []
            spam_tokens: set[str] = set()
            for row in rows:
                contract = _addr(row.get("contractAddress"))
                token_id = _int(row.get("tokenID"))
                amount = 1 if standard == "erc721" else _int(row.get("tokenValue"))
                if not _HEX_ADDRESS.match(contract) or token_id is None or amount is None:
                    raise self._unparsable(group, "an NFT transfer without a readable contract, id or amount")
                asset = nft_asset(self.chain.chain_id, standard, contract, str(token_id))
                flags = spam_reasons(row.get("tokenName"), row.get("tokenSymbol"))
                if "spam_suspect" in flags:
                    spam_tokens.add(asset)
                if amount == 0:
                    flags.update({"zero_value", "spam_suspect"})
                per_transfer.append(flags)
                part.tokens[asset] = {
                    "standard": standard,
                    "symbol": _clean(row.get("tokenSymbol"), 40),
                    "name": _clean(row.get("tokenName")),
                    "token_id": str(token_id),
                    **({"flags": sorted(flags)} if flags else {}),
                }
                self._move(
                    part,
                    asset,
                    Decimal(amount),
                    _addr(row.get("from")),
                    _addr(row.get("to")),
                    spam="spam_suspect" in flags,
                )
            _judge_transfers(part, per_transfer, spam_tokens)
            yield self._finish(group, rows, tx_hash, part)

    def beacon(self, raws: Sequence[RawTransaction]) -> Iterator[NormalizedTransaction]:
        """``txsBeaconWithdrawal`` rows (amount in gwei): rewards, or a validator exit from 16 ETH."""
        for raw in raws:
            self.current = raw.source_id
            row = raw.payload if isinstance(raw.payload, dict) else {}
            index = _int(row.get("withdrawalIndex"))
            gwei = _int(row.get("amount"))
            address = _addr(row.get("address"))
            if index is None or gwei is None:
                raise self._unparsable([raw], "an unreadable beacon withdrawal")
            exit_ = gwei >= EXIT_THRESHOLD_GWEI
            part = _Part(
                [
                    Leg(
                        asset=self.chain.native_symbol,
                        amount=scaled(gwei, 9),
                        role=LegRole.PRINCIPAL if exit_ else LegRole.REWARD,
                        wallet=self.wallet(address) if address else None,
                    )
                ],
                {"validator_exit"} if exit_ else set(),
                {},
            )
            yield self._finish(
                [raw],
                [row],
                "",
                part,
                kind=TransactionKind.TRANSFER if exit_ else TransactionKind.REWARD,
                description="beacon chain withdrawal"
                + (" (validator exit)" if exit_ else " (consensus rewards)"),
                meta={"validator_index": str(row.get("validatorIndex", "")), "withdrawal_index": str(index)},
                key=f"withdrawal:{self.chain.chain_id}:{index}",
                external_ids={"withdrawal_index": str(index), "chain_id": str(self.chain.chain_id)},
            )

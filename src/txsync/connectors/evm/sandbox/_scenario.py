"""The chain the EVM sandbox serves: transactions with their effects, from which every explorer list
and every balance is derived (so the lists and the balances can never disagree)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ADDRESS_A",
    "ADDRESS_B",
    "ChainTx",
    "EvmChain",
    "Token",
    "TokenTransfer",
    "Withdrawal",
]

ETH = 10**18
GWEI = 10**9
BLOCK_TIME = 12
ZERO = "0x" + "0" * 40


def address(label: str) -> str:
    """A deterministic address for a scenario actor."""
    return "0x" + hashlib.sha256(f"address:{label}".encode()).hexdigest()[:40]


def tx_hash(label: str) -> str:
    """A deterministic transaction hash."""
    return "0x" + hashlib.sha256(f"tx:{label}".encode()).hexdigest()


#: The wallet's two addresses.
ADDRESS_A = address("wallet-a")
ADDRESS_B = address("wallet-b")
EXCHANGE = address("exchange-hot-wallet")
FRIEND = address("friend")
VAULT = address("vault-contract")
ROUTER = address("dex-router")
REVERTER = address("reverting-contract")
SPAMMER = address("spammer")
LOOKALIKE = address("lookalike-of-a")
PAYROLL = address("payroll")


@dataclass(frozen=True)
class Token:
    """A token contract as the explorer describes it (name, symbol, decimals as strings)."""

    contract: str
    name: str
    symbol: str
    decimals: str
    standard: str = "erc20"


USDC = Token(address("usdc"), "USD Coin", "USDC", "6")
WETH = Token(address("weth"), "Wrapped Ether", "WETH", "18")
SPAM = Token(address("spam-token"), "Visit ethclaim-bonus.xyz to claim rewards", "ETHBonus", "18")
ODD = Token(address("odd-token"), "Weird Token", "WRD", "")
NFT = Token(address("nft"), "Sandbox Apes", "SAPE", "0", "erc721")
MULTI = Token(address("multi-token"), "Game Items", "ITEM", "", "erc1155")


@dataclass(frozen=True)
class TokenTransfer:
    """One ERC-20 / ERC-721 / ERC-1155 transfer inside a transaction."""

    token: Token
    src: str
    dst: str
    value: int  # ERC-20 amount, ERC-1155 tokenValue; ERC-721: 1
    token_id: int | None = None


@dataclass(frozen=True)
class Internal:
    """A value-moving call inside a transaction (a trace)."""

    src: str
    dst: str
    value: int
    trace_id: str
    kind: str = "call"
    error: bool = False


@dataclass
class ChainTx:
    """One on-chain transaction and everything it did."""

    label: str
    block: int
    index: int
    src: str
    dst: str
    value: int = 0
    gas_used: int = 21_000
    gas_price: int = 20 * GWEI
    failed: bool = False
    function: str = ""
    internals: list[Internal] = field(default_factory=list)
    transfers: list[TokenTransfer] = field(default_factory=list)

    @property
    def hash(self) -> str:
        """The transaction hash."""
        return tx_hash(self.label)

    @property
    def fee(self) -> int:
        """What the sender paid for gas."""
        return self.gas_used * self.gas_price

    def undone(self, call: Internal) -> bool:
        """Whether ``call`` moved nothing: it reverted, or a call above it did (trace ids are
        hierarchical: ``1_0`` runs inside ``1``), whatever its own error flag says."""
        if call.error:
            return True
        failed = {c.trace_id for c in self.internals if c.error}
        parts = call.trace_id.split("_")
        return any("_".join(parts[:i]) in failed for i in range(1, len(parts)))


@dataclass(frozen=True)
class Withdrawal:
    """A beacon chain withdrawal (amount in gwei)."""

    index: int
    validator: int
    address: str
    gwei: int
    block: int


@dataclass
class EvmChain:
    """A chain: transactions and withdrawals in block order, block ``first_block`` at ``genesis``."""

    txs: list[ChainTx] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)
    #: Transactions waiting in the mempool (their ``block`` is ignored until :meth:`mine`).
    pending: list[ChainTx] = field(default_factory=list)
    first_block: int = 19_000_000
    genesis: datetime = datetime(2024, 1, 10, tzinfo=UTC)

    # -- time -------------------------------------------------------------------------------------

    def time_of(self, block: int) -> int:
        """Unix time of ``block``."""
        return int(self.genesis.timestamp()) + (block - self.first_block) * BLOCK_TIME

    def block_at(self, stamp: int, closest: str = "before") -> int | None:
        """The block at ``stamp`` (the last one at or before it, or the first at or after it)."""
        offset = stamp - int(self.genesis.timestamp())
        if closest == "after":
            block = self.first_block + max(0, -(-offset // BLOCK_TIME))
        else:
            if offset < 0:
                return None
            block = self.first_block + offset // BLOCK_TIME
        return block

    # -- balances ---------------------------------------------------------------------------------

    def balance(self, who: str) -> int:
        """Native balance of ``who`` (wei) after every transaction and withdrawal."""
        total = 0
        for tx in self.txs:
            if tx.src == who:
                total -= tx.fee
            if tx.failed:
                continue
            total += tx.value * ((tx.dst == who) - (tx.src == who))
            for call in tx.internals:
                if not tx.undone(call):
                    total += call.value * ((call.dst == who) - (call.src == who))
        total += sum(w.gwei * GWEI for w in self.withdrawals if w.address == who)
        return total

    def token_balance(self, contract: str, who: str) -> int:
        """ERC-20 balance of ``who`` in ``contract`` (smallest unit)."""
        total = 0
        for tx in self.txs:
            if tx.failed:
                continue
            for t in tx.transfers:
                if t.token.contract == contract and t.token.standard == "erc20":
                    total += t.value * ((t.dst == who) - (t.src == who))
        return total

    # -- explorer lists ---------------------------------------------------------------------------

    def _common(self, tx: ChainTx) -> dict[str, Any]:
        return {
            "blockNumber": str(tx.block),
            "timeStamp": str(self.time_of(tx.block)),
            "hash": tx.hash,
        }

    def rows(self, action: str, who: str, flavor: str = "etherscan") -> list[dict[str, Any]]:
        """The rows of list ``action`` for address ``who``, ascending (block, position). Blockscout
        writes internal rows with ``transactionHash`` and a flat ``index`` (no trace hierarchy) and
        marks every call inside a reverted one as an error itself."""
        out: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
        for tx in sorted(self.txs, key=lambda t: (t.block, t.index)):
            if action == "txlist" and who in (tx.src, tx.dst):
                out.append(((tx.block, tx.index, 0), self._txlist_row(tx)))
            elif action == "txlistinternal":
                for n, call in enumerate(tx.internals):
                    if who in (call.src, call.dst):
                        row = self._internal_row(tx, call)
                        if flavor == "blockscout":
                            row["transactionHash"] = row.pop("hash")
                            del row["traceId"]
                            row["index"] = str(n)
                            row["callType"] = call.kind
                            undone = tx.undone(call)
                            row["isError"] = "1" if undone else "0"
                            row["errCode"] = "Reverted" if undone else ""
                        out.append(((tx.block, tx.index, n), row))
            elif action in ("tokentx", "tokennfttx", "token1155tx"):
                standard = {"tokentx": "erc20", "tokennfttx": "erc721", "token1155tx": "erc1155"}[action]
                for n, t in enumerate(tx.transfers):
                    if t.token.standard == standard and who in (t.src, t.dst) and not tx.failed:
                        out.append(((tx.block, tx.index, n), self._token_row(tx, t)))
        if action == "txsBeaconWithdrawal":
            for w in self.withdrawals:
                if w.address == who:
                    out.append(
                        (
                            (w.block, 10**6, w.index),
                            {
                                "withdrawalIndex": str(w.index),
                                "validatorIndex": str(w.validator),
                                "address": w.address,
                                "amount": str(w.gwei),
                                "blockNumber": str(w.block),
                                "timestamp": str(self.time_of(w.block)),
                            },
                        )
                    )
        out.sort(key=lambda item: item[0])
        return [row for _, row in out]

    def _txlist_row(self, tx: ChainTx) -> dict[str, Any]:
        selector = "0x" + hashlib.sha256(tx.function.encode()).hexdigest()[:8] if tx.function else "0x"
        return {
            **self._common(tx),
            "nonce": str(tx.index),
            "blockHash": "0x" + hashlib.sha256(f"block:{tx.block}".encode()).hexdigest(),
            "transactionIndex": str(tx.index),
            "from": tx.src,
            "to": tx.dst,
            "value": str(tx.value),
            "gas": str(tx.gas_used * 3 // 2),
            "gasPrice": str(tx.gas_price),
            "isError": "1" if tx.failed else "0",
            "txreceipt_status": "0" if tx.failed else "1",
            "input": selector + ("00" * 32 if tx.function else ""),
            "contractAddress": "",
            "cumulativeGasUsed": str(tx.gas_used * (tx.index + 1)),
            "gasUsed": str(tx.gas_used),
            "confirmations": "1000",
            "methodId": selector,
            "functionName": tx.function,
        }

    def _internal_row(self, tx: ChainTx, call: Internal) -> dict[str, Any]:
        return {
            **self._common(tx),
            "from": call.src,
            "to": call.dst,
            "value": str(call.value),
            "contractAddress": "",
            "input": "",
            "type": call.kind,
            "gas": "2300",
            "gasUsed": "0",
            "traceId": call.trace_id,
            "isError": "1" if call.error else "0",
            "errCode": "execution reverted" if call.error else "",
        }

    def _token_row(self, tx: ChainTx, t: TokenTransfer) -> dict[str, Any]:
        row: dict[str, Any] = {
            **self._common(tx),
            "nonce": str(tx.index),
            "blockHash": "0x" + hashlib.sha256(f"block:{tx.block}".encode()).hexdigest(),
            "from": t.src,
            "contractAddress": t.token.contract,
            "to": t.dst,
        }
        if t.token.standard == "erc20":
            row["value"] = str(t.value)
        elif t.token.standard == "erc721":
            row["tokenID"] = str(t.token_id)
        else:
            row["tokenID"] = str(t.token_id)
            row["tokenValue"] = str(t.value)
        row.update(
            {
                "tokenName": t.token.name,
                "tokenSymbol": t.token.symbol,
            }
        )
        if t.token.standard != "erc1155":
            row["tokenDecimal"] = t.token.decimals
        row.update(
            {
                "transactionIndex": str(tx.index),
                "gas": str(tx.gas_used * 3 // 2),
                "gasPrice": str(tx.gas_price),
                "gasUsed": str(tx.gas_used),
                "cumulativeGasUsed": str(tx.gas_used * (tx.index + 1)),
                "input": "deprecated",
                "confirmations": "1000",
            }
        )
        return row

    # -- the mempool (Blockscout's pendingtxlist and gettxinfo) ------------------------------------

    def pending_rows(self, who: str) -> list[dict[str, Any]]:
        """Blockscout's ``pendingtxlist`` rows of ``who``: no block, no time, no gas used yet."""
        return [
            {
                "hash": tx.hash,
                "nonce": str(tx.index),
                "from": tx.src,
                "to": tx.dst,
                "value": str(tx.value),
                "gas": str(tx.gas_used * 3 // 2),
                "gasPrice": str(tx.gas_price),
                "input": "0x",
                "contractAddress": "",
                "cumulativeGasUsed": "",
                "gasUsed": "",
            }
            for tx in self.pending
            if who in (tx.src, tx.dst)
        ]

    def tx_info(self, tx_hash: str) -> dict[str, Any] | None:
        """Blockscout's ``gettxinfo`` of a mined or pending transaction, ``None`` when unknown."""
        for tx in self.txs:
            if tx.hash == tx_hash:
                return {
                    "hash": tx.hash,
                    "blockNumber": str(tx.block),
                    "timeStamp": str(self.time_of(tx.block)),
                    "from": tx.src,
                    "to": tx.dst,
                    "value": str(tx.value),
                    "gasUsed": str(tx.gas_used),
                    "gasPrice": str(tx.gas_price),
                    "success": not tx.failed,
                    "confirmations": "12",
                }
        for tx in self.pending:
            if tx.hash == tx_hash:
                return {"hash": tx.hash, "blockNumber": "", "timeStamp": "", "from": tx.src, "to": tx.dst}
        return None

    def send(self, label: str, src: str, dst: str, **kw: Any) -> ChainTx:
        """Put a transaction in the mempool."""
        tx = ChainTx(label, -1, kw.pop("index", 0), src, dst, **kw)
        self.pending.append(tx)
        return tx

    def mine(self, label: str, block: int) -> ChainTx:
        """Include a pending transaction in ``block``."""
        tx = next(t for t in self.pending if t.label == label)
        self.pending.remove(tx)
        tx.block = block
        self.txs.append(tx)
        return tx

    def drop(self, label: str) -> None:
        """Evict a pending transaction (replaced by fee, or expired from the mempool)."""
        self.pending = [t for t in self.pending if t.label != label]

    # -- the scenario -----------------------------------------------------------------------------

    @classmethod
    def scenario(cls, *, filler_blocks: int = 12, per_block: int = 3) -> EvmChain:
        """The wallet the sandbox serves (addresses :data:`ADDRESS_A` and :data:`ADDRESS_B`).

        ETH deposits and payments, a contract call that moved ETH back internally, ERC-20 in and
        out, a swap, a batch payout with two identical transfers, an ERC-721 mint and an ERC-1155
        receipt, a reverted transaction, a spam airdrop, a token without decimals, an address
        poisoning zero-value transfer, transfers between the two own addresses, a zero-value self
        send, a multisig transaction another owner executed on the wallet's address, a swap that
        also received a spam token, a call that partly reverted (a payment inside the reverted branch
        listed as a success), beacon withdrawals, and ``filler_blocks`` blocks of ``per_block``
        small payments each (more rows than one small page holds, with pages that end inside a
        block).
        """
        chain = cls()
        a, b = ADDRESS_A, ADDRESS_B
        block = chain.first_block

        def add(label: str, src: str, dst: str, **kw: Any) -> ChainTx:
            tx = ChainTx(label, kw.pop("block", block), kw.pop("index", 0), src, dst, **kw)
            chain.txs.append(tx)
            return tx

        add("deposit-a", EXCHANGE, a, value=5 * ETH)
        block += 3
        add("deposit-b", EXCHANGE, b, value=ETH + 250_000_000_000_000)
        add(
            "usdc-in",
            EXCHANGE,
            USDC.contract,
            index=1,
            gas_used=52_000,
            function="transfer(address,uint256)",
            transfers=[TokenTransfer(USDC, EXCHANGE, a, 1_500_250_000)],
        )
        block += 5
        add("pay-friend", a, FRIEND, value=ETH // 2, gas_price=31 * GWEI + 7)
        block += 4
        add(
            "vault-withdraw",
            a,
            VAULT,
            gas_used=88_123,
            function="withdraw(uint256)",
            internals=[Internal(VAULT, a, 3 * ETH // 10, "0")],
        )
        add(
            "vault-deposit-refund",
            a,
            VAULT,
            index=1,
            value=ETH // 5,
            gas_used=120_456,
            function="depositWithRefund()",
            internals=[Internal(VAULT, FRIEND, 3 * ETH // 20, "0"), Internal(VAULT, a, ETH // 20, "1")],
        )
        block += 2
        add(
            "usdc-out",
            a,
            USDC.contract,
            gas_used=51_234,
            function="transfer(address,uint256)",
            transfers=[TokenTransfer(USDC, a, FRIEND, 200_000_000)],
        )
        block += 7
        add(
            "swap",
            a,
            ROUTER,
            gas_used=143_000,
            gas_price=25 * GWEI,
            function="swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
            transfers=[
                TokenTransfer(USDC, a, ROUTER, 300_000_000),
                TokenTransfer(WETH, ROUTER, a, 98_765_432_109_876_543),
            ],
        )
        block += 1
        add(
            "payroll",
            PAYROLL,
            USDC.contract,
            gas_used=70_000,
            function="batchTransfer(address[],uint256[])",
            transfers=[
                TokenTransfer(USDC, PAYROLL, a, 5_000_000),
                TokenTransfer(USDC, PAYROLL, a, 5_000_000),
            ],
        )
        block += 3
        add(
            "nft-mint",
            a,
            NFT.contract,
            value=ETH // 20,
            gas_used=97_000,
            function="mint(uint256)",
            transfers=[TokenTransfer(NFT, ZERO, a, 1, token_id=42)],
        )
        block += 2
        add(
            "items-in",
            FRIEND,
            MULTI.contract,
            gas_used=60_000,
            function="safeTransferFrom(address,address,uint256,uint256,bytes)",
            transfers=[TokenTransfer(MULTI, FRIEND, a, 3, token_id=7)],
        )
        block += 6
        add(
            "reverted-swap",
            a,
            REVERTER,
            value=ETH // 10,
            gas_used=45_678,
            failed=True,
            function="swapETHForExactTokens(uint256,address[],address,uint256)",
            internals=[Internal(REVERTER, a, ETH // 10, "0", error=True)],
        )
        block += 2
        add(
            "spam-airdrop",
            SPAMMER,
            SPAM.contract,
            gas_used=1_200_000,
            function="airdrop(address[],uint256)",
            transfers=[TokenTransfer(SPAM, SPAM.contract, a, 1_000_000 * ETH)],
        )
        add(
            "odd-token",
            SPAMMER,
            ODD.contract,
            index=1,
            gas_used=60_000,
            function="transfer(address,uint256)",
            transfers=[TokenTransfer(ODD, SPAMMER, a, 123_456_789)],
        )
        block += 1
        add(
            "poisoning",
            SPAMMER,
            USDC.contract,
            gas_used=40_000,
            function="transferFrom(address,address,uint256)",
            transfers=[TokenTransfer(USDC, a, LOOKALIKE, 0)],
        )
        block += 5
        add("b-to-a", b, a, value=7 * ETH // 10)
        add(
            "b-usdc-to-a",
            EXCHANGE,
            USDC.contract,
            index=1,
            gas_used=52_000,
            function="transfer(address,uint256)",
            transfers=[TokenTransfer(USDC, EXCHANGE, b, 150_000_000)],
        )
        block += 1
        add(
            "b-usdc-to-a-2",
            b,
            USDC.contract,
            gas_used=51_000,
            function="transfer(address,uint256)",
            transfers=[TokenTransfer(USDC, b, a, 100_000_000)],
        )
        block += 2
        add("cancel", a, a, gas_price=40 * GWEI)
        block += 1
        # the wallet's address run by someone else: another owner executes a multisig transaction
        add(
            "multisig-exec",
            FRIEND,
            a,
            gas_used=81_000,
            function="execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)",
        )
        add(
            "swap-with-spam",
            a,
            ROUTER,
            index=1,
            gas_used=160_000,
            function="swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
            transfers=[
                TokenTransfer(USDC, a, ROUTER, 50_000_000),
                TokenTransfer(WETH, ROUTER, a, 16_000_000_000_000_000),
                TokenTransfer(SPAM, SPAM.contract, a, 777 * ETH),
            ],
        )
        block += 1
        # a call that partly reverted: a callback into the wallet reverted, and the payment the
        # wallet made inside that callback is listed as a success although it was undone
        add(
            "partial-revert",
            a,
            VAULT,
            gas_used=99_000,
            function="multicall(bytes[])",
            internals=[
                Internal(VAULT, a, ETH // 50, "0"),
                Internal(VAULT, a, 0, "1", error=True),
                Internal(a, FRIEND, ETH // 40, "1_0"),
            ],
        )
        for i in range(filler_blocks):
            block += 2
            for j in range(per_block):
                if (i + j) % 2 == 0:
                    add(f"filler-{i}-{j}", EXCHANGE, a, index=j, value=10_000_000_000_000_000 + i * 1000 + j)
                else:
                    add(
                        f"filler-{i}-{j}",
                        a,
                        FRIEND,
                        index=j,
                        value=1_000_000_000_000_000 + j,
                        gas_price=(15 + i) * GWEI,
                    )
            if i % 3 == 0:
                add(
                    f"filler-usdc-{i}",
                    a,
                    USDC.contract,
                    index=per_block,
                    gas_used=50_000,
                    function="transfer(address,uint256)",
                    transfers=[TokenTransfer(USDC, a, FRIEND, 1_000_000 + i)],
                )
        base = 40_000_000
        for n, gwei in enumerate((18_734_221, 18_901_002, 19_003_117, 32_004_117_339)):
            block += 3
            chain.withdrawals.append(Withdrawal(base + n, 512_345, a, gwei, block))
        return chain

    @property
    def head(self) -> int:
        """The last block with something in it."""
        blocks = [tx.block for tx in self.txs] + [w.block for w in self.withdrawals]
        return max(blocks, default=self.first_block)

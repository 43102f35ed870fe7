"""One owner's three accounts whose histories share transfers: the Binance sandbox's small account,
a Bitcoin wallet and an Ethereum wallet, built deterministically on the three connectors' sandboxes.

Between them (times UTC, 2024):

* ``btc_out``  Binance withdraws 0.5 BTC (fee 0.0002) to the wallet: same txid on both sides (hash link);
* ``btc_in``   the wallet sends 0.2 BTC (on-chain fee 3,000 sat) to its Binance deposit address (hash);
* ``w1``/``w2`` Binance withdraws 0.30 then 0.25 BTC, its records without a txid; the wallet receives
  0.25 then 0.299 BTC 1.5 and 2 hours later: first-come pairing would give 0.30 -> 0.25 and leave
  0.25 alone; the assignment gives 0.30 -> 0.299 (fee 0.001) and 0.25 -> 0.25 (heuristic links);
* ``eth_out``  Binance withdraws 2 ETH without a txid; 1.995 ETH arrives in the Ethereum wallet 20
  minutes later: a heuristic link whose 0.005 ETH difference becomes an explicit fee leg;
* ``eth_in``   the Ethereum wallet sends 1.5 ETH to its Binance deposit address (hash link, gas fee);
* ``wrong``    the Ethereum wallet pays a friend 0.8 ETH; an hour later Binance credits 0.79 ETH from
  elsewhere, without a txid: the heuristic links them, wrongly (the user undoes it);
* ``sol``      25 SOL from a Launchpad allocation (which no API lists), then 10 SOL withdrawn: the
  history is incomplete in time (a missing early buy).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from txsync.connectors.binance.sandbox import Scenario, ScenarioAccount
from txsync.connectors.bitcoin.sandbox import ScenarioWallet, external_address
from txsync.connectors.bitcoin.sandbox._chain import Chain
from txsync.connectors.evm.sandbox import ADDRESS_A
from txsync.connectors.evm.sandbox._scenario import ETH, GWEI, ChainTx, EvmChain, address

#: Where the Bitcoin and Ethereum histories start.
START = datetime(2024, 3, 1, tzinfo=UTC)
BINANCE_HOT = address("binance-hot-wallet")
BINANCE_DEPOSIT_ETH = address("binance-deposit-eth")
FRIEND = address("a-friend")
ELSEWHERE = address("another-exchange")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _digest(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


@dataclass
class Story:
    """The three accounts' sandboxes' data, and the on-chain ids worth naming."""

    binance: ScenarioAccount
    wallet: ScenarioWallet
    evm: EvmChain
    hashes: dict[str, str] = field(default_factory=dict)
    deleted_deposit: dict[str, Any] = field(default_factory=dict)


class _Binance:
    """Rows added to the small scenario, the balances kept consistent with them."""

    def __init__(self, account: ScenarioAccount) -> None:
        self.account = account

    def _move(self, asset: str, amount: Decimal) -> None:
        spot = self.account.spot
        spot[asset] = spot.get(asset, Decimal(0)) + amount

    def withdraw(
        self, label: str, coin: str, amount: str, fee: str, at: datetime, tx_id: str, network: str, to: str
    ) -> None:
        self.account.withdrawals.append(
            {
                "id": _digest("story-wd", label)[:32],
                "amount": amount,
                "transactionFee": fee,
                "coin": coin,
                "status": 6,
                "address": to,
                "txId": tx_id,
                "applyTime": at.strftime("%Y-%m-%d %H:%M:%S"),
                "network": network,
                "transferType": 0,
                "info": "",
                "confirmNo": 12,
                "walletType": 0,
                "txKey": "",
                "completeTime": (at + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
        self._move(coin, -(Decimal(amount) + Decimal(fee)))

    def deposit(
        self, label: str, coin: str, amount: str, at: datetime, tx_id: str, network: str, to: str
    ) -> None:
        self.account.deposits.append(
            {
                "id": str(int(_digest("story-dep", label)[:15], 16)),
                "amount": amount,
                "coin": coin,
                "network": network,
                "status": 1,
                "address": to,
                "addressTag": "",
                "txId": tx_id,
                "insertTime": _ms(at),
                "completeTime": _ms(at) + 600_000,
                "transferType": 0,
                "confirmTimes": "12/12",
                "unlockConfirm": 0,
                "walletType": 0,
            }
        )
        self._move(coin, Decimal(amount))

    def finish(self) -> None:
        self.account.deposits.sort(key=lambda r: (r["insertTime"], r["id"]))
        self.account.withdrawals.sort(key=lambda r: (r["applyTime"], r["id"]))
        self.account.spot = {a: v for a, v in sorted(self.account.spot.items()) if v != 0}


def _bitcoin(story_hashes: dict[str, str], binance: _Binance) -> ScenarioWallet:
    chain = Chain(start_time=START)
    wallet = ScenarioWallet(chain)
    r0, r1, r2 = (wallet.mine(f"0/{i}") for i in range(3))
    c0 = wallet.mine("1/0")
    h = chain.start_height

    def at(height: int) -> datetime:
        return datetime.fromtimestamp(chain.block_time(height), UTC)

    hot = external_address("binance-hot")
    deposit_address = external_address("binance-deposit-btc")
    # Binance -> wallet, 0.5 BTC (Binance pays the network fee from its hot wallet)
    out = chain.send(
        [chain.fund(hot, 100_000_000)],
        [(r0, 50_000_000), (external_address("binance-change"), 49_990_000)],
        fee=10_000,
        height=h + 100,
    )
    story_hashes["btc_out"] = out
    binance.withdraw(
        "btc_out", "BTC", "0.50000000", "0.00020000", at(h + 100) - timedelta(minutes=20), out, "BTC", r0
    )
    # wallet -> Binance, 0.2 BTC, on-chain fee 3,000 sat
    back = chain.send(
        [(out, 0)], [(deposit_address, 20_000_000), (c0, 29_997_000)], fee=3_000, height=h + 300
    )
    story_hashes["btc_in"] = back
    binance.deposit(
        "btc_in", "BTC", "0.20000000", at(h + 300) + timedelta(minutes=15), back, "BTC", deposit_address
    )
    # two Binance withdrawals without a txid, and the wallet's two deposits (the assignment case)
    t = at(h + 500)
    binance.withdraw("w1", "BTC", "0.30000000", "0.00000000", t, "", "BTC", r1)
    binance.withdraw("w2", "BTC", "0.25000000", "0.00000000", t + timedelta(hours=1), "", "BTC", r1)
    d1 = chain.send(
        [chain.fund(hot, 60_000_000)], [(r1, 25_000_000), (hot, 34_990_000)], fee=10_000, height=h + 509
    )
    d2 = chain.send(
        [chain.fund(hot, 60_000_000)], [(r2, 29_900_000), (hot, 30_090_000)], fee=10_000, height=h + 512
    )
    story_hashes["d1"], story_hashes["d2"] = d1, d2
    return wallet


def _ethereum(story_hashes: dict[str, str], binance: _Binance) -> EvmChain:
    chain = EvmChain(genesis=START)
    a = ADDRESS_A
    per_hour = 3600 // 12

    def block(hours: float) -> int:
        return chain.first_block + int(hours * per_hour)

    def at(number: int) -> datetime:
        return datetime.fromtimestamp(chain.time_of(number), UTC)

    def add(label: str, src: str, dst: str, hours: float, value: int, **kw: Any) -> ChainTx:
        tx = ChainTx(label, block(hours), 0, src, dst, value=value, **kw)
        chain.txs.append(tx)
        return tx

    add("funding", ELSEWHERE, a, 24, 5 * ETH)
    # Binance -> wallet without a txid on Binance's side: 2 ETH withdrawn, 1.995 arrive
    received = add("eth-out", BINANCE_HOT, a, 4 * 24 + 10, 1_995 * ETH // 1000)
    binance.withdraw(
        "eth_out", "ETH", "2.00000000", "0.00000000", at(received.block) - timedelta(minutes=20), "", "ETH", a
    )
    story_hashes["eth_out_received"] = received.hash
    # wallet -> Binance, 1.5 ETH with its gas fee
    sent = add("eth-in", a, BINANCE_DEPOSIT_ETH, 9 * 24 + 10, 3 * ETH // 2, gas_price=30 * GWEI)
    story_hashes["eth_in"] = sent.hash
    binance.deposit(
        "eth_in",
        "ETH",
        "1.50000000",
        at(sent.block) + timedelta(minutes=12),
        sent.hash,
        "ETH",
        BINANCE_DEPOSIT_ETH,
    )
    # the wallet pays a friend; an hour later Binance credits a little less from elsewhere, no txid
    paid = add("pay-friend", a, FRIEND, 19 * 24 + 10, 8 * ETH // 10)
    story_hashes["wrong_out"] = paid.hash
    binance.deposit(
        "wrong_in", "ETH", "0.79000000", at(paid.block) + timedelta(hours=1), "", "ETH", BINANCE_DEPOSIT_ETH
    )
    return chain


def build() -> Story:
    """The story (deterministic: the same data every time)."""
    account = ScenarioAccount.generate(Scenario.small())
    binance = _Binance(account)
    hashes: dict[str, str] = {}
    wallet = _bitcoin(hashes, binance)
    chain = _ethereum(hashes, binance)
    # 25 SOL from a Launchpad allocation (no API lists them), 10 withdrawn on 2024-04-10
    binance._move("SOL", Decimal(25))
    binance.withdraw(
        "sol",
        "SOL",
        "10.00000000",
        "0.00000000",
        datetime(2024, 4, 10, 9, tzinfo=UTC),
        "5" + _digest("sol")[:63],
        "SOL",
        "So1" + _digest("sol-to")[:40],
    )
    binance.finish()
    # the deposit the user deletes: the scenario's last confirmed altcoin deposit
    deleted = [r for r in account.deposits if r["coin"] in ("ADA", "DOT", "LINK") and r["status"] == 1][-1]
    return Story(binance=account, wallet=wallet, evm=chain, hashes=hashes, deleted_deposit=deleted)

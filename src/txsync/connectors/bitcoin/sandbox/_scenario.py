"""The scenario wallet: the BIP84 test mnemonic's account ("abandon" x11 + "about", m/84'/0'/0').

Its history (heights from 800,000, one block every 10 minutes from 2023-08-01):

* a coinbase of a small pool paying 0.05 BTC to receive address 0/0 (with a witness commitment);
* deposits of 1 BTC to 0/1 and 0.5 BTC to 0/2;
* a payment of 0.3 BTC from 0/1 with change to 1/0;
* a self-transfer of 0/2's coins to 0/3 (fee only);
* 52 deposits to 0/4 (enough to need three pages of 25), then a payment from three of them with
  change to 1/1;
* a consolidation of 0/0, 1/0, 0/3 and two 0/4 coins into change address 1/2;
* a pending deposit of 0.02 BTC to 0/5 (unconfirmed).

External addresses are P2WPKH addresses of hashes, valid but nobody's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from embit import bip32, script  # type: ignore[import-untyped]
from embit.networks import NETWORKS  # type: ignore[import-untyped]

from ._chain import Chain

__all__ = ["BIP84_ZPUB", "ScenarioWallet", "external_address", "own_address"]

#: The BIP84 test vector's account key (mnemonic "abandon" x11 + "about").
BIP84_ZPUB = (
    "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtf"
    "SdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
)
_ACCOUNT = bip32.HDKey.from_string(BIP84_ZPUB)


@lru_cache(maxsize=1024)
def own_address(chain: int, index: int) -> str:
    """The scenario wallet's address at ``/chain/index`` (P2WPKH, mainnet)."""
    return str(script.p2wpkh(_ACCOUNT.derive([chain, index]).key).address(NETWORKS["main"]))


@lru_cache(maxsize=4096)
def external_address(label: str) -> str:
    """A valid P2WPKH address nobody in the scenario owns."""
    digest = hashlib.sha256(f"external:{label}".encode()).digest()[:20]
    return str(script.Script(b"\x00\x14" + digest).address(NETWORKS["main"]))


@dataclass
class ScenarioWallet:
    """The chain plus which of its addresses are the wallet's and the txids worth naming."""

    chain: Chain
    own: dict[str, str] = field(default_factory=dict)
    named: dict[str, str] = field(default_factory=dict)

    def mine(self, address_path: str) -> str:
        """The own address at ``"chain/index"``, registered as the wallet's."""
        chain, index = (int(part) for part in address_path.split("/"))
        address = own_address(chain, index)
        self.own[address] = address_path
        return address

    @property
    def tip(self) -> int:
        """The highest block height in use."""
        return max(h for h in self.chain.heights.values() if h is not None)

    def balance(self, *, include_mempool: bool = True) -> int:
        """The wallet's balance in satoshis as the addresses' stats report it."""
        return self.chain.balance(list(self.own), include_mempool=include_mempool)

    @classmethod
    def standard(cls, deposits_to_busy_address: int = 52) -> ScenarioWallet:
        """The scenario described in the module docstring."""
        chain = Chain()
        wallet = cls(chain)
        r = [wallet.mine(f"0/{i}") for i in range(6)]
        c = [wallet.mine(f"1/{i}") for i in range(3)]
        ext = external_address
        h = chain.start_height

        pool = chain.coinbase([(ext("pool"), 307_500_000), (r[0], 5_000_000), (None, 0)], height=h)
        wallet.named["coinbase"] = pool
        dep1 = chain.send(
            [chain.fund(ext("exchange-hot"), 150_000_000)],
            [(r[1], 100_000_000), (ext("exchange-change"), 49_990_000)],
            fee=10_000,
            height=h + 10,
        )
        dep2 = chain.send(
            [chain.fund(ext("friend"), 60_000_000)],
            [(ext("friend-change"), 9_995_500), (r[2], 50_000_000)],
            fee=4_500,
            height=h + 12,
        )
        wallet.named["deposit"] = dep1
        pay = chain.send(
            [(dep1, 0)],
            [(ext("shop"), 30_000_000), (c[0], 69_985_000)],
            fee=15_000,
            height=h + 20,
        )
        wallet.named["payment"] = pay
        self_transfer = chain.send([(dep2, 1)], [(r[3], 49_995_000)], fee=5_000, height=h + 30)
        wallet.named["self_transfer"] = self_transfer
        busy: list[str] = []
        for i in range(deposits_to_busy_address):
            busy.append(
                chain.send(
                    [chain.fund(ext(f"dca-{i}"), 1_000_000 + 2_000 * i)],
                    [(r[4], 500_000 + 1_000 * i), (ext(f"dca-change-{i}"), 499_000 + 1_000 * i)],
                    fee=1_000,
                    height=h + 40 + i // 3,
                )
            )
        spend = busy[:3]
        spend_in = sum(500_000 + 1_000 * i for i in range(3))
        wallet.named["payment_from_busy"] = chain.send(
            [(t, 0) for t in spend],
            [(ext("landlord"), 1_000_000), (c[1], spend_in - 1_000_000 - 2_500)],
            fee=2_500,
            height=h + 70,
        )
        consolidate = [(pool, 1), (pay, 1), (self_transfer, 0), (busy[3], 0), (busy[4], 0)]
        value = 5_000_000 + 69_985_000 + 49_995_000 + 503_000 + 504_000
        wallet.named["consolidation"] = chain.send(
            consolidate, [(c[2], value - 7_000)], fee=7_000, height=h + 120
        )
        wallet.named["pending"] = chain.send(
            [chain.fund(ext("payer"), 3_000_000)],
            [(r[5], 2_000_000), (ext("payer-change"), 998_000)],
            fee=2_000,
            height=None,
        )
        return wallet

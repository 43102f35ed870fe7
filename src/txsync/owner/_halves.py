"""Transfer halves: the deposit- and withdrawal-like movements of one account that may be one side of
a transfer between two accounts of the owner."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from txsync.merge import to_us
from txsync.models import LegRole, TransactionKind, TransactionStatus
from txsync.models.values import exact
from txsync.owner import ids
from txsync.store.records import LedgerTransaction

__all__ = ["CANDIDATE_KINDS", "REMOVED", "AssetKeyer", "Half", "halves_of"]

#: Kinds of transactions that may be half of a transfer between two accounts.
CANDIDATE_KINDS: frozenset[TransactionKind] = frozenset(
    {
        TransactionKind.DEPOSIT,
        TransactionKind.WITHDRAWAL,
        TransactionKind.FIAT_DEPOSIT,
        TransactionKind.FIAT_WITHDRAWAL,
        TransactionKind.TRANSFER,
    }
)

#: ``(connector id, ticker, time) -> asset key``: one name for one asset across connectors.
AssetKeyer = Callable[[str, str, datetime], str]

OUT, IN = "out", "in"

#: The status of a stored half whose transaction was removed for good (a manual entry's removal): the
#: next linking run looks again at what it was a candidate with, then drops it.
REMOVED = "removed"


@dataclass(frozen=True)
class Half:
    """One transaction's movement of one asset into (``in``) or out of (``out``) its account."""

    tx_id: str
    asset_key: str
    direction: str
    owner_id: str
    account_id: str
    asset: str
    ts: int  # microseconds since the epoch
    status: str
    #: The principal moved (positive); ``fee``: the fee legs of the asset (positive = paid).
    amount: Decimal
    fee: Decimal
    tx_hash: str | None = None
    out_index: str | None = None
    internal_id: str | None = None
    network: str | None = None
    addresses: frozenset[str] = frozenset()
    deleted: bool = False

    @property
    def node(self) -> tuple[str, str]:
        """The half's identity: (transaction id, asset key)."""
        return (self.tx_id, self.asset_key)

    @property
    def linkable(self) -> bool:
        """Whether the linker may use it (confirmed and not deleted)."""
        return not self.deleted and self.status == TransactionStatus.CONFIRMED.value

    def digest(self) -> str:
        """A fingerprint of what linking depends on (``deleted`` aside: tracked on its own)."""
        text = "\x1f".join(
            str(v)
            for v in (
                self.direction,
                self.owner_id,
                self.account_id,
                self.asset,
                self.ts,
                self.status,
                self.amount,
                self.fee,
                self.tx_hash,
                self.out_index,
                self.internal_id,
                self.network,
                ",".join(sorted(self.addresses)),
            )
        )
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    def with_deleted(self, deleted: bool) -> Half:
        """The same half, deleted or not."""
        return replace(self, deleted=deleted)


def halves_of(
    tx: LedgerTransaction, owner_id: str, connector_id: str, asset_key: AssetKeyer, *, any_kind: bool = False
) -> list[Half]:
    """The halves of ``tx``: one per asset whose principal legs net to a movement in or out.

    Only deposit, withdrawal and transfer kinds count (``any_kind``: every kind, for a link the user
    makes by hand); failed transactions and movements that net to zero inside the account (a move
    between two of its wallets or addresses) are no half: never a flow between accounts.
    """
    if tx.status == TransactionStatus.FAILED or (not any_kind and tx.kind not in CANDIDATE_KINDS):
        return []
    principal: dict[str, Decimal] = {}
    fees: dict[str, Decimal] = {}
    wallets: dict[str, list[str | None]] = {}
    with exact():
        for leg in tx.legs:
            if leg.role == LegRole.PRINCIPAL:
                principal[leg.asset] = principal.get(leg.asset, Decimal(0)) + leg.amount
                if leg.amount > 0:
                    wallets.setdefault(leg.asset, []).append(leg.wallet)
            elif leg.role == LegRole.FEE:
                fees[leg.asset] = fees.get(leg.asset, Decimal(0)) - leg.amount
    external = tx.external_ids
    tx_hash = ids.chain_hash(external)
    out_index = ids.output_index(external)
    internal = ids.internal_id(external)
    network = ids.network_of(external, connector_id)
    ts = to_us(tx.timestamp)
    found = []
    for asset, net in sorted(principal.items()):
        if net == 0:
            continue
        direction = OUT if net < 0 else IN
        addresses = ids.address_of(external, wallets.get(asset, ()) if direction == IN else ())
        found.append(
            Half(
                tx_id=tx.id,
                asset_key=asset_key(connector_id, asset, tx.timestamp),
                direction=direction,
                owner_id=owner_id,
                account_id=tx.account_id,
                asset=asset,
                ts=ts,
                status=tx.status.value,
                amount=abs(net),
                fee=fees.get(asset, Decimal(0)),
                tx_hash=tx_hash,
                out_index=out_index,
                internal_id=internal,
                network=network,
                addresses=addresses,
                deleted=tx.deleted,
            )
        )
    return found


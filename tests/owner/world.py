"""A small owner's ledger built by hand: accounts and their deposits and withdrawals, committed page by
page through the store as a sync would."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from txsync.errors import LinkError
from txsync.merge import PageBatch
from txsync.models import Leg, LegRole, NormalizedTransaction, RawTransaction, SourceRef, TransactionKind
from txsync.owner import Linker
from txsync.owner.ledger import OwnerLedger
from txsync.store import SqliteStore

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
_ids = itertools.count(1)


@dataclass
class World:
    """An owner's accounts in one store; ``clock`` is the store time of the next write."""

    store: SqliteStore
    owner: str = "alice"
    clock: datetime = T0
    connectors: dict[str, str] = field(default_factory=dict)

    def account(self, name: str, connector: str = "demo", owner: str | None = None) -> str:
        self.store.add_account(owner or self.owner, connector, account_id=name, now=T0)
        self.store.add_connection(name, connector, connection_id=f"con-{name}", now=T0)
        self.connectors[name] = connector
        return name

    def tick(self, minutes: int = 1) -> None:
        self.clock += timedelta(minutes=minutes)

    def commit(self, account: str, txs: list[NormalizedTransaction], raws: list[RawTransaction]) -> None:
        self.store.commit_page(
            PageBatch(
                connection_id=f"con-{account}",
                account_id=account,
                stream="moves",
                raws=raws,
                transactions=txs,
                cursor=next(_ids),
                fetched_at=self.clock,
            ),
            now=self.clock,
        )
        self.store.settle()
        self.clock += timedelta(seconds=1)  # the store's clock moves on

    def move(
        self,
        account: str,
        amount: str,
        asset: str = "BTC",
        *,
        at: datetime,
        fee: str | None = None,
        tx_hash: str | None = None,
        key: str | None = None,
        kind: TransactionKind | None = None,
        status: str = "confirmed",
        external: dict[str, str] | None = None,
        wallet: str | None = None,
    ) -> str:
        """A deposit (positive ``amount``) or withdrawal (negative) committed now; returns its id."""
        value = Decimal(amount)
        key = key or f"move:{next(_ids)}"
        legs = [Leg(asset=asset, amount=value, wallet=wallet)]
        if fee is not None:
            legs.append(Leg(asset=asset, amount=-Decimal(fee), role=LegRole.FEE))
        ext = dict(external or {})
        if tx_hash is not None:
            ext["tx_hash"] = tx_hash
        payload: dict[str, Any] = {
            "key": key,
            "amount": amount,
            "asset": asset,
            "at": at.isoformat(),
            "status": status,
            "hash": tx_hash,
            "fee": fee,
        }
        raw = RawTransaction(
            connection_id=f"con-{account}",
            account_id=account,
            stream="moves",
            source_id=key,
            payload=payload,
            fetched_at=self.clock,
        )
        tx = NormalizedTransaction(
            account_id=account,
            key=key,
            kind=kind or (TransactionKind.DEPOSIT if value > 0 else TransactionKind.WITHDRAWAL),
            timestamp=at,
            status=status,
            legs=legs,
            external_ids=ext,
            sources=[SourceRef(connection_id=f"con-{account}", stream="moves", source_id=key)],
        )
        self.commit(account, [tx], [raw])
        return tx.id

    def linker(self, **kw: Any) -> Linker:
        return Linker(self.store, **kw)

    def links(self) -> set[tuple[str, str, str]]:
        return {(x.withdrawal, x.deposit, x.method.value) for x in self.store.stored_links(self.owner)}

    def picture(self) -> tuple[Any, ...]:
        """Everything linking decided, comparable between two stores."""
        links = sorted(
            x.model_dump(mode="json").items().__repr__() for x in self.store.stored_links(self.owner)
        )
        notes = sorted((h.node, n) for h, n in self.store.stored_halves(owner_id=self.owner) if n)
        return tuple(links), tuple(notes)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def wipe(store: Any) -> None:
    """Forget everything the linker derived (not the user's decisions)."""
    from sqlalchemy import delete

    from txsync.store import schema as t

    with store._write() as conn:
        for table in (t.owner_links, t.owner_halves, t.owner_link_state):
            conn.execute(delete(table))


def assert_incremental_equals_full(world: World, owner: OwnerLedger) -> None:
    """One more incremental run; a second one does nothing; one full re-link from scratch gives the
    same links and notes."""
    owner.link()
    incremental = world.picture()
    again = owner.link()
    assert (again.changed, again.examined, again.links_added, again.links_removed) == (0, 0, 0, 0)
    wipe(world.store)
    owner.link(full=True)
    assert world.picture() == incremental


def user_step(
    world: World, owner: OwnerLedger, step: tuple[Any, ...], ids: list[str], decided: list[tuple[str, str]]
) -> bool:
    """The user's side of the property tests (delete, restore, unlink, link by hand, forget a
    decision); whether ``step`` was one of them."""
    kind = step[0]
    if kind in ("delete", "restore"):
        if ids:
            tx = ids[step[1] % len(ids)]
            (world.store.delete_transaction if kind == "delete" else world.store.restore_transaction)(tx)
    elif kind == "unlink":
        links = world.store.stored_links(world.owner)
        if links:
            x = links[step[1] % len(links)]
            owner.unlink_transactions(x.withdrawal, x.deposit)
            decided.append((x.withdrawal, x.deposit))
    elif kind == "manual":
        if ids:
            a, b = ids[step[1] % len(ids)], ids[step[2] % len(ids)]
            try:
                owner.link_transactions(a, b)
                decided.append((a, b))
            except LinkError:
                pass
    elif kind == "forget":
        if decided:
            owner.forget_decision(*decided[step[1] % len(decided)])
    else:
        return False
    return True

"""``OwnerLedger``: the owner layer's API for hosts (and the CLI): transfers, the user's link and unlink
decisions, balances explained, coverage gaps and account status."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from txsync.errors import LinkError, StoreError, UnknownConnectionError
from txsync.merge import to_us
from txsync.models import Balance, ConnectorKind, Leg, LegRole
from txsync.models.values import exact
from txsync.owner._halves import AssetKeyer
from txsync.owner.explain import AccountView, explain_account, explain_owner, scan
from txsync.owner.linker import Linker, LinkRules, default_asset_keyer
from txsync.owner.models import (
    AccountGap,
    AccountStatus,
    BalanceRow,
    LinkIssue,
    LinkMethod,
    LinkRun,
    TransferLink,
)
from txsync.store._links import OwnerTables

if TYPE_CHECKING:
    from txsync.engine import Engine

__all__ = ["OwnerLedger"]


def _now() -> datetime:
    return datetime.now(UTC)


class OwnerLedger:
    """One store's owners: their linked transfers, explained balances and gaps.

    ``store`` is a SQL store (:class:`~txsync.store.SqliteStore`); ``rules`` the linking limits;
    ``asset_key`` names one asset across connectors (default: the valuation's asset ids).
    """

    def __init__(
        self,
        store: Any,
        *,
        rules: LinkRules | None = None,
        asset_key: AssetKeyer | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        inner = getattr(store, "inner", store)
        if not isinstance(inner, OwnerTables):
            raise StoreError(f"{type(inner).__name__} keeps no owner layer: use a SQL store (SqliteStore)")
        self.store = store
        self.rules = rules or LinkRules()
        self.asset_key = asset_key or default_asset_keyer()
        self.clock = clock
        self.linker = Linker(store, rules=self.rules, asset_key=self.asset_key, clock=clock)

    # -- owners ---------------------------------------------------------------------------------------

    def owners(self) -> list[str]:
        """Every owner with an account."""
        return list(self.store.owner_ids())

    def resolve_owner(self, owner_id: str | None) -> str:
        """``owner_id``, or the store's only owner when ``None`` (:class:`LinkError` when ambiguous)."""
        owners = self.owners()
        if owner_id is None:
            if len(owners) == 1:
                return owners[0]
            raise LinkError(
                "no owner given and the store has "
                + (f"{len(owners)}: {', '.join(owners)}" if owners else "none")
            )
        if owner_id not in owners:
            raise LinkError(f"no owner {owner_id!r} in the store (owners: {', '.join(owners) or 'none'})")
        return owner_id

    # -- linking --------------------------------------------------------------------------------------

    def link(self, owner_id: str | None = None, *, full: bool = False) -> LinkRun:
        """Link the owner's transfers (incrementally: only what changed since the last run is read and
        re-examined; ``full``: everything, with the same result)."""
        return self.linker.run(self.resolve_owner(owner_id), full=full)

    def transfers(self, owner_id: str | None = None, *, refresh: bool = True) -> list[TransferLink]:
        """The owner's transfer links (brought up to date first unless ``refresh`` is false)."""
        owner = self.resolve_owner(owner_id)
        if refresh:
            self.linker.run(owner)
        return list(self.store.stored_links(owner))

    def link_lookup(self, owner_id: str | None = None) -> Callable[[Any], dict[str, Any] | None]:
        """The exports' link hook (:data:`txsync.exports.LinkLookup`): the stored link of a transaction
        (as in ``transfers --json``, plus its ``role`` and ``counterpart``), read once, never re-linked
        (an export only reads)."""
        by_tx: dict[str, dict[str, Any]] = {}
        owner = owner_id if owner_id is not None else self.resolve_owner(None)
        for link in self.store.stored_links(owner):
            data = link.as_json()
            by_tx.setdefault(link.withdrawal, {**data, "role": "withdrawal", "counterpart": link.deposit})
            by_tx.setdefault(link.deposit, {**data, "role": "deposit", "counterpart": link.withdrawal})
        return lambda tx: by_tx.get(tx.id)

    def issues(self, owner_id: str | None = None) -> list[LinkIssue]:
        """What the linker left for the user: ties, conflicts, oversized groups, inactive manual links."""
        owner = self.resolve_owner(owner_id)
        out: list[LinkIssue] = []
        for half, note in self.store.stored_halves(owner_id=owner):
            if not note:
                continue
            data = json.loads(note)
            out.append(
                LinkIssue(
                    kind=str(data.get("kind")),
                    owner_id=owner,
                    asset=half.asset,
                    transactions=(half.tx_id, *data.get("with", ())),
                    detail=str(data.get("detail", "")),
                )
            )
        links = {(x.withdrawal, x.deposit) for x in self.store.stored_links(owner)}
        for decision in self.store.link_decisions(owner):
            pair = (decision["withdrawal_id"], decision["deposit_id"])
            if decision["decision"] == "link" and pair not in links:
                out.append(
                    LinkIssue(
                        kind="inactive_manual_link",
                        owner_id=owner,
                        asset=str(decision.get("asset_key") or ""),
                        transactions=pair,
                        detail=(
                            "you linked these by hand, but one of them is deleted "
                            "or no longer moves the asset"
                        ),
                    )
                )
        return out

    def _pair(self, a: str, b: str, asset: str | None) -> tuple[str, str, str, str]:
        """(owner, withdrawal id, deposit id, asset key) of a pair the user names in either order."""
        try:
            first, second = self.store.get_transaction(a), self.store.get_transaction(b)
        except StoreError as exc:
            raise LinkError(f"cannot link: {exc}") from None
        owner = self.store.get_account(first.account_id).owner_id
        if self.store.get_account(second.account_id).owner_id != owner:
            raise LinkError("the two transactions belong to different owners")
        if first.account_id == second.account_id:
            raise LinkError("the two transactions are in the same account: a transfer joins two accounts")
        for w_id, d_id in ((a, b), (b, a)):
            found = self.linker.manual_pair(owner, w_id, d_id, None)
            if found is not None and (asset is None or asset in (found[0].asset, found[0].asset_key)):
                return owner, w_id, d_id, found[0].asset_key
        raise LinkError(
            "no asset leaves one of the two transactions and enters the other"
            + (f" (asked for {asset})" if asset else "")
            + "; deleted transactions cannot be linked"
        )

    def link_transactions(
        self, a: str, b: str, *, asset: str | None = None, note: str | None = None
    ) -> TransferLink:
        """Link two transactions by hand (either order): a withdrawal of one account and a deposit of
        another. The link survives every re-sync and re-link; ``asset`` picks one when they share
        several."""
        owner, w_id, d_id, key = self._pair(a, b, asset)
        for decision in self.store.link_decisions(owner):
            if decision["decision"] != "link" or (decision["withdrawal_id"], decision["deposit_id"]) == (
                w_id,
                d_id,
            ):
                continue
            if decision["withdrawal_id"] == w_id or decision["deposit_id"] == d_id:
                other = (
                    decision["deposit_id"] if decision["withdrawal_id"] == w_id else decision["withdrawal_id"]
                )
                raise LinkError(
                    f"{w_id if decision['withdrawal_id'] == w_id else d_id} is already linked by hand "
                    f"to {other}: unlink them first"
                )
        self.store.put_link_decision(
            owner, w_id, d_id, "link", asset_key=key, note=note, now_us=to_us(self.clock())
        )
        self.linker.run(owner, dirty_ids={w_id, d_id})
        made: list[TransferLink] = self.store.stored_links(owner, tx_ids=[w_id])
        for x in made:
            if x.deposit == d_id and x.method == LinkMethod.MANUAL:
                return x
        raise LinkError("the link could not be made (is one of the transactions deleted?)")

    def unlink_transactions(self, a: str, b: str, *, note: str | None = None) -> None:
        """Undo a link (automatic or manual) between two transactions, for good: no re-sync or re-link
        pairs them again. Works before any link exists too (a pair the linker must never make)."""
        owner: str | None = None
        pair: tuple[str, str] | None = None
        for w_id, d_id in ((a, b), (b, a)):
            for x in self.store.stored_links(None, tx_ids=[w_id]):
                if x.withdrawal == w_id and x.deposit == d_id:
                    owner, pair = x.owner_id, (w_id, d_id)
        if pair is None:
            owner, w_id, d_id, _ = self._pair(a, b, None)
            pair = (w_id, d_id)
        assert owner is not None
        self.store.put_link_decision(
            owner, pair[0], pair[1], "unlink", asset_key=None, note=note, now_us=to_us(self.clock())
        )
        self.linker.run(owner, dirty_ids=set(pair))

    def forget_decision(self, a: str, b: str) -> bool:
        """Drop the user's decision on a pair (either order): the linker decides again."""
        dropped = False
        owner: str | None = None
        for w_id, d_id in ((a, b), (b, a)):
            if self.store.drop_link_decision(w_id, d_id):
                dropped = True
        if dropped:
            try:
                owner = self.store.get_account(self.store.get_transaction(a).account_id).owner_id
            except StoreError:
                owner = None
            if owner is not None:
                self.linker.run(owner, dirty_ids={a, b})
        return dropped

    def transfer_legs(self, link: TransferLink) -> tuple[Leg, ...]:
        """The withdrawal's legs as the transfer reads them: its principal in the linked asset reduced
        to what arrived, and the difference as an explicit fee leg (``link.fee_leg``)."""
        tx = self.store.get_transaction(link.withdrawal)
        legs: list[Leg] = []
        left = link.fee_leg
        with exact():
            for leg in tx.legs:
                if left and leg.asset == link.asset and leg.role == LegRole.PRINCIPAL and leg.amount < 0:
                    cut = min(left, -leg.amount)
                    left -= cut
                    legs.append(
                        Leg(asset=leg.asset, amount=leg.amount + cut, role=leg.role, wallet=leg.wallet)
                    )
                    legs.append(Leg(asset=leg.asset, amount=-cut, role=LegRole.FEE, wallet=leg.wallet))
                else:
                    legs.append(leg)
        return tuple(legs)

    # -- gaps and status ------------------------------------------------------------------------------

    def gaps(self, account_id: str, *, include_resolved: bool = False) -> list[AccountGap]:
        """The coverage gaps of an account (declared-always and detected ones, with since when)."""
        self.store.get_account(account_id)
        return list(self.store.account_gaps(account_id, include_resolved=include_resolved))

    def account_status(self, account_id: str) -> AccountStatus:
        """An account's connections (state, last sync) and its coverage gaps."""
        account = self.store.get_account(account_id)
        connections = tuple(
            {
                "connection_id": c.id,
                "connector_id": c.connector_id,
                "state": c.state.value,
                "state_reason": c.state_reason,
                "last_sync_at": None if c.last_sync_at is None else c.last_sync_at.isoformat(),
                "last_success_at": None if c.last_success_at is None else c.last_success_at.isoformat(),
            }
            for c in self.store.list_connections(account_id)
        )
        snapshot = self.store.balance_snapshot(account_id)
        return AccountStatus(
            account_id=account.id,
            owner_id=account.owner_id,
            connector_id=account.connector_id,
            label=account.label,
            connections=connections,
            gaps=tuple(self.gaps(account_id)),
            balances_as_of=None if snapshot is None else snapshot[0],
        )

    # -- balances -------------------------------------------------------------------------------------

    def record_reported(
        self,
        account_id: str,
        balances: Sequence[Balance],
        *,
        as_of: datetime | None = None,
        connection_id: str | None = None,
    ) -> None:
        """Keep the balances a source reported for an account (what ``balances`` compares against)."""
        self.store.get_account(account_id)
        when = as_of or max((b.as_of for b in balances if b.as_of is not None), default=None) or self.clock()
        self.store.put_balance_snapshot(account_id, list(balances), when, connection_id)

    def refresh_reported_blocking(
        self, engine: Engine, account_id: str, connection_id: str | None = None
    ) -> list[Balance]:
        """:meth:`refresh_reported` for code that is not async (any thread without a running event
        loop; in a running loop's thread it raises :class:`~txsync.errors.EventLoopError`)."""
        from txsync.engine._guard import run_blocking

        return run_blocking(
            lambda: self.refresh_reported(engine, account_id, connection_id),
            "OwnerLedger.refresh_reported_blocking", "ledger.refresh_reported(...)",
        )

    async def refresh_reported(
        self, engine: Engine, account_id: str, connection_id: str | None = None
    ) -> list[Balance]:
        """Ask the account's source for its balances now (through ``engine``) and keep them."""
        connection = None
        if connection_id is not None:
            connection = self.store.get_connection(connection_id)
        else:
            for candidate in self.store.list_connections(account_id):
                if candidate.state == "manual":
                    continue  # the account's manual entries: no source to ask
                kind = engine.registry.get(candidate.connector_id).info.kind
                if kind != ConnectorKind.FILE:
                    connection = candidate
                    break
        if connection is None:
            raise UnknownConnectionError(f"account {account_id!r} has no connection that reports balances")
        balances = list(await engine.reported_balances(connection.id))
        self.record_reported(account_id, balances, as_of=engine.clock(), connection_id=connection.id)
        return balances

    def balances(self, *, owner_id: str | None = None, account_id: str | None = None) -> list[BalanceRow]:
        """Computed vs reported balances with their explanations: every account of the owner (and the
        owner's totals, ``scope="owner"``), or one account. Transfers are linked first."""
        if account_id is not None:
            owner = self.store.get_account(account_id).owner_id
        else:
            owner = self.resolve_owner(owner_id)
        self.linker.run(owner)
        accounts = [a for a in self.store.list_accounts(owner) if account_id is None or a.id == account_id]
        everyone = self.store.list_accounts(owner)
        result = scan(self.store, everyone, self.asset_key)
        halves = [h for h, _ in self.store.stored_halves(owner_id=owner)]
        links = self.store.stored_links(owner)
        now = self.clock()
        rows: list[BalanceRow] = []
        for account in accounts:
            view = AccountView(
                account, self.store.account_gaps(account.id), self.store.balance_snapshot(account.id)
            )
            rows.extend(
                explain_account(view, result, halves, links, self.rules.max_fee_ratio, self.asset_key, now)
            )
        if account_id is None:
            rows.extend(explain_owner(owner, rows, result))
        return rows


def fmt(value: Decimal | None) -> str:
    """A decimal for people: no exponent, no trailing zeros (``None``: ``-``)."""
    if value is None:
        return "-"
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text

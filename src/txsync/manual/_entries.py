"""Manual accounts and manual entries over a store (see :mod:`txsync.manual`)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from txsync import jsonutil
from txsync.errors import (
    ManualEntryError,
    ModelError,
    TxsyncError,
    UnknownConnectionError,
    UnknownEntryError,
)
from txsync.imports.records import MOVE_MATCH_WINDOW, MOVES, natural_kind
from txsync.merge import MATCH_WINDOW_META, PageBatch
from txsync.models import (
    Leg,
    LegRole,
    NormalizedTransaction,
    Origin,
    RawTransaction,
    SourceRef,
    TransactionKind,
    TransactionStatus,
)
from txsync.store.records import AccountRecord, ConnectionRecord, ConnectionState

__all__ = [
    "ENTRIES_STREAM",
    "MANUAL_CONNECTOR",
    "ManualEntryRecord",
    "ManualLedger",
    "manual_connection_id",
]

#: The connector id of manual accounts and of every account's manual connection (not a plugin: nothing
#: is ever synced from it).
MANUAL_CONNECTOR = "manual"
#: The stream of a manual connection that holds the entries (one raw per entry, as the user typed it).
ENTRIES_STREAM = "entries"
#: The match window of an entry that is not a deposit, withdrawal or transfer: a typed-in time is
#: rarely exact to the second.
TYPED_MATCH_WINDOW = 60
_MAX_TEXT = 2000


def manual_connection_id(account_id: str) -> str:
    """The id of the connection that holds an account's manual entries (one per account)."""
    digest = hashlib.sha256(account_id.encode()).hexdigest()[:32]
    return f"man_{digest}"


@dataclass(frozen=True)
class ManualEntryRecord:
    """A manual entry as stored: what the user typed, and the transaction it is part of.

    ``transaction_id`` is the entry's own (stable) transaction, or the synced transaction it merged
    into; ``origins`` are that transaction's (``("api", "manual")`` once merged with an API record).
    """

    entry_id: str
    account_id: str
    transaction_id: str | None
    timestamp: datetime
    kind: TransactionKind
    status: TransactionStatus
    legs: tuple[Leg, ...]
    description: str | None = None
    external_ids: Mapping[str, str] = field(default_factory=dict)
    value: Mapping[str, str] | None = None
    origins: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-ready data (amounts as decimal strings, times ISO 8601 UTC)."""
        return {
            "entry_id": self.entry_id,
            "account_id": self.account_id,
            "transaction_id": self.transaction_id,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "kind": self.kind.value,
            "status": self.status.value,
            "legs": [{"asset": leg.asset, "amount": str(leg.amount), "role": leg.role.value,
                      "wallet": leg.wallet} for leg in self.legs],
            "description": self.description,
            "external_ids": dict(self.external_ids),
            "value": None if self.value is None else dict(self.value),
            "origins": list(self.origins),
        }


def _legs(legs: Iterable[Leg | Mapping[str, Any]]) -> tuple[Leg, ...]:
    out: list[Leg] = []
    for leg in legs:
        if isinstance(leg, Leg):
            out.append(leg)
            continue
        if not isinstance(leg, Mapping):
            raise ManualEntryError(f"a leg must be a Leg or a mapping, not {type(leg).__name__}")
        extra = set(leg) - {"asset", "amount", "role", "wallet"}
        if extra:
            raise ManualEntryError(f"unknown leg field(s) {sorted(extra)}")
        out.append(Leg(**leg))
    if not out:
        raise ManualEntryError("an entry needs at least one leg")
    for leg in out:
        if leg.amount == 0:
            raise ManualEntryError(f"a leg of {leg.asset} moves nothing (amount 0)")
    return tuple(out)


def _infer(legs: tuple[Leg, ...]) -> TransactionKind:
    principal = [leg for leg in legs if leg.role == LegRole.PRINCIPAL]
    incoming = next((leg.asset for leg in principal if leg.amount > 0), None)
    outgoing = next((leg.asset for leg in principal if leg.amount < 0), None)
    if incoming is None and outgoing is None and any(
        leg.role in (LegRole.REWARD, LegRole.INTEREST) for leg in legs
    ):
        return TransactionKind.REWARD
    return natural_kind(incoming, outgoing)


def _text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ManualEntryError(f"{name} must be text")
    if len(value) > _MAX_TEXT:
        raise ManualEntryError(f"{name} is longer than {_MAX_TEXT} characters")
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in value):
        raise ManualEntryError(f"{name} holds control characters")
    return value


class ManualLedger:
    """Manual accounts and entries of a store (the engine's ``add_manual_account`` and ``*_entry``
    methods use one).

    ``tolerance`` is the engine's match tolerance; ``clock`` stamps what is created. With ``owner_id``
    (what a host serving one signed-in user uses), every account and entry id is checked to be that
    owner's: another owner's behaves exactly like one that does not exist.
    """

    def __init__(
        self, store: Any, *, tolerance: timedelta = timedelta(seconds=2),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC), owner_id: str | None = None,
    ) -> None:
        self.store = store
        self.tolerance = tolerance
        self.clock = clock
        self.owner_id = owner_id

    def _mine(self, account_id: str) -> AccountRecord:
        """The account, if this ledger may touch it (``UnknownConnectionError`` otherwise)."""
        account: AccountRecord = self.store.get_account(account_id)
        if self.owner_id is not None and account.owner_id != self.owner_id:
            raise UnknownConnectionError(f"no account {account_id!r}")
        return account

    # -- accounts -------------------------------------------------------------------------------------

    def add_manual_account(
        self, owner_id: str, label: str = "", *, account_id: str | None = None
    ) -> AccountRecord:
        """Create an account without a source (its entries are all it holds), with its manual
        connection. Never scheduled, never disabled, reconciled against nothing."""
        if not isinstance(owner_id, str) or not owner_id.strip():
            raise ManualEntryError("a manual account needs an owner")
        if self.owner_id is not None and owner_id != self.owner_id:
            raise ManualEntryError("a manual account of another owner cannot be created here")
        account: AccountRecord = self.store.add_account(
            owner_id, MANUAL_CONNECTOR, label=_text("label", label) or "", account_id=account_id,
            now=self.clock(),
        )
        try:
            self.connection(account.id)
        except BaseException:
            self.store.remove_account(account.id)
            raise
        return account

    def is_manual_account(self, account_id: str) -> bool:
        """Whether the account has no source other than its manual entries."""
        self._mine(account_id)
        return all(
            c.state == ConnectionState.MANUAL for c in self.store.list_connections(account_id)
        )

    def connection(self, account_id: str) -> ConnectionRecord:
        """The account's manual connection (created on first use)."""
        self._mine(account_id)
        cid = manual_connection_id(account_id)
        try:
            connection: ConnectionRecord = self.store.get_connection(cid)
        except UnknownConnectionError:
            connection = self.store.add_connection(
                account_id, MANUAL_CONNECTOR, label="manual entries", connection_id=cid, now=self.clock()
            )
        if connection.account_id != account_id:
            raise ManualEntryError(f"connection {cid!r} belongs to another account")
        if connection.state != ConnectionState.MANUAL:
            connection = self.store.set_connection_state(cid, ConnectionState.MANUAL)
        return connection

    # -- entries --------------------------------------------------------------------------------------

    def add_entry(
        self,
        account_id: str,
        *,
        timestamp: datetime | str,
        legs: Iterable[Leg | Mapping[str, Any]],
        kind: TransactionKind | str | None = None,
        status: TransactionStatus | str = TransactionStatus.CONFIRMED,
        description: str | None = None,
        external_ids: Mapping[str, str] | None = None,
        value: tuple[Decimal | str, str] | None = None,
        entry_id: str | None = None,
    ) -> ManualEntryRecord:
        """Add a manual entry to any account; returns it with the transaction it became or merged into.

        Validated like every transaction: Decimal amounts (never floats), an aware time (converted to
        UTC), legs with roles (``fee`` for fee legs), external ids such as ``{"tx_hash": ...}``;
        ``kind`` is inferred from the legs when omitted; ``value`` is the fiat value as (amount,
        currency). Raises :class:`~txsync.errors.ManualEntryError` (a ``ModelError``) on bad input,
        storing nothing.
        """
        self._mine(account_id)
        entry_id = entry_id or f"ent_{uuid.uuid4().hex}"
        if not isinstance(entry_id, str) or not entry_id.isascii() or not 1 <= len(entry_id) <= 200:
            raise ManualEntryError("an entry id is 1 to 200 ASCII characters")
        # Validated before anything is created (the manual connection of a synced account included).
        payload = _payload(timestamp, legs, kind, status, description, external_ids, value)
        raw, tx = _describe(account_id, manual_connection_id(account_id), entry_id, payload, self.clock())
        connection = self.connection(account_id)
        if self.store.manual_entries(connection.id, [entry_id]) or self._id_taken(tx.id):
            raise ManualEntryError(f"entry {entry_id!r} exists (or existed) already: edit it or use a new id")
        self.store.commit_page(self._batch(connection, raw, tx), tolerance=self.tolerance, now=self.clock())
        return self.entry(account_id, entry_id)

    def edit_entry(
        self,
        entry_id: str,
        *,
        account_id: str | None = None,
        timestamp: datetime | str | None = None,
        legs: Iterable[Leg | Mapping[str, Any]] | None = None,
        kind: TransactionKind | str | None = None,
        status: TransactionStatus | str | None = None,
        description: str | None = None,
        external_ids: Mapping[str, str] | None = None,
        value: tuple[Decimal | str, str] | None = None,
    ) -> ManualEntryRecord:
        """Change a manual entry (the fields given replace the entry's; the rest stay). The entry
        itself changes (this is not an override): its old version is removed and the new one merged
        again, in one database transaction, so it may now match a synced
        description (or stop matching one); its id stays, and so does its transaction's unless it now
        merges into a synced one. An entry that a synced description merged into (the transaction
        keeps the entry's id, and the user's edits of it) is changed in place: its description (kept
        as a provenance) changes, the synced one still supplies the legs (remove it to unmerge)."""
        account_id = account_id or self.find(entry_id, self.owner_id)
        connection = self.connection(account_id)
        found = self.store.manual_entries(connection.id, [entry_id])
        if not found:
            raise UnknownEntryError(f"no manual entry {entry_id!r} in account {account_id!r}")
        old = jsonutil.loads_stored(found[0][1])
        if kind is None and legs is not None:
            kind_arg: TransactionKind | str | None = None  # new legs: infer again unless typed
            if old.get("kind_typed"):
                kind_arg = old["kind"]
        else:
            kind_arg = kind if kind is not None else (old["kind"] if old.get("kind_typed") else None)
        payload = _payload(
            old["timestamp"] if timestamp is None else timestamp,
            [{"asset": a, "amount": x, "role": r, "wallet": w} for a, x, r, w in old["legs"]]
            if legs is None else legs,
            kind_arg,
            old["status"] if status is None else status,
            old.get("description") if description is None else description,
            old.get("external_ids") if external_ids is None else external_ids,
            (tuple(old["value"]) if old.get("value") else None) if value is None else value,
        )
        raw, tx = _describe(account_id, connection.id, entry_id, payload, self.clock())
        self.store.replace_manual_entry(
            self._batch(connection, raw, tx), entry_id, tolerance=self.tolerance, now=self.clock()
        )
        return self.entry(account_id, entry_id)

    def remove_entry(self, entry_id: str, *, account_id: str | None = None) -> str:
        """Remove a manual entry for good (not a tombstone): its description goes; a transaction it
        was all of is deleted, one merged with synced descriptions stays without it. Returns the
        transaction id it was part of."""
        account_id = account_id or self.find(entry_id, self.owner_id)
        connection = self.connection(account_id)
        result: str = self.store.remove_manual_entry(account_id, connection.id, entry_id)
        return result

    def entry(self, account_id: str, entry_id: str) -> ManualEntryRecord:
        """One manual entry of the account; :class:`~txsync.errors.UnknownEntryError` if none."""
        self._mine(account_id)
        found = self.store.manual_entries(manual_connection_id(account_id), [entry_id])
        if not found:
            raise UnknownEntryError(f"no manual entry {entry_id!r} in account {account_id!r}")
        return self._record(account_id, *found[0])

    def entries(self, account_id: str) -> list[ManualEntryRecord]:
        """The account's manual entries, in the order they were added."""
        self._mine(account_id)
        return [self._record(account_id, *row)
                for row in self.store.manual_entries(manual_connection_id(account_id))]

    def find(self, entry_id: str, owner_id: str | None = None) -> str:
        """The account holding the entry (among the owner's accounts, or every account)."""
        if self.owner_id is not None:
            owner_id = self.owner_id
        for account in self.store.list_accounts(owner_id):
            if self.store.manual_entries(manual_connection_id(account.id), [entry_id]):
                return str(account.id)
        raise UnknownEntryError(f"no manual entry {entry_id!r}")

    # -- helpers --------------------------------------------------------------------------------------

    def _id_taken(self, tx_id: str) -> bool:
        """Whether a transaction already has this id (a removed entry's, kept by a synced description)."""
        try:
            self.store.get_transaction(tx_id)
        except TxsyncError:
            return False
        return True

    def _batch(
        self, connection: ConnectionRecord, raw: RawTransaction, tx: NormalizedTransaction
    ) -> PageBatch:
        return PageBatch(
            connection_id=connection.id, account_id=connection.account_id, stream=ENTRIES_STREAM,
            raws=[raw], transactions=[tx], cursor=None, fetched_at=self.clock(),
        )

    def _record(self, account_id: str, entry_id: str, text: str, tx_id: str | None) -> ManualEntryRecord:
        payload = jsonutil.loads_stored(text)
        origins: tuple[str, ...] = ()
        if tx_id is not None:
            origins = tuple(self.store.get_transaction(tx_id).origins)
        return ManualEntryRecord(
            entry_id=entry_id, account_id=account_id, transaction_id=tx_id,
            timestamp=datetime.fromisoformat(payload["timestamp"]),
            kind=TransactionKind(payload["kind"]), status=TransactionStatus(payload["status"]),
            legs=tuple(Leg(asset=a, amount=Decimal(x), role=r, wallet=w) for a, x, r, w in payload["legs"]),
            description=payload.get("description"), external_ids=payload.get("external_ids") or {},
            value=None if not payload.get("value") else
            {"amount": payload["value"][0], "currency": payload["value"][1]},
            origins=origins,
        )


def _payload(
    timestamp: datetime | str,
    legs: Iterable[Leg | Mapping[str, Any]],
    kind: TransactionKind | str | None,
    status: TransactionStatus | str,
    description: str | None,
    external_ids: Mapping[str, str] | None,
    value: tuple[Decimal | str, str] | None,
) -> dict[str, Any]:
    """The entry as stored (its raw): validated, canonical."""
    try:
        checked = _legs(legs)
        typed = kind is not None
        kind_value = TransactionKind(kind) if kind is not None else _infer(checked)
        status_value = TransactionStatus(status)
    except ValueError as exc:  # a ModelError from a leg, or an unknown kind / status
        raise ManualEntryError(str(exc)) from None
    ids = dict(external_ids or {})
    for name, ext in ids.items():
        if not isinstance(name, str) or not isinstance(ext, str) or not name or not ext:
            raise ManualEntryError("external ids are non-empty text: {'tx_hash': '0x...'}")
        _text(f"external id {name!r}", ext)
    payload: dict[str, Any] = {
        "timestamp": timestamp if isinstance(timestamp, str) else timestamp.isoformat(),
        "kind": kind_value.value,
        "status": status_value.value,
        "legs": [[leg.asset, str(leg.amount), leg.role.value, leg.wallet] for leg in checked],
    }
    if typed:
        payload["kind_typed"] = True
    if _text("description", description):
        payload["description"] = description
    if ids:
        payload["external_ids"] = ids
    if value is not None:
        amount, currency = value
        try:
            money = Decimal(str(amount))
        except ArithmeticError:
            raise ManualEntryError(f"value {amount!r} is not a number") from None
        if isinstance(amount, float) or not money.is_finite() or not isinstance(currency, str) \
                or not currency:
            raise ManualEntryError("a value is (decimal amount, currency), never a float")
        payload["value"] = [str(money), currency]
    return payload


def _describe(
    account_id: str, connection_id: str, entry_id: str, payload: dict[str, Any], now: datetime
) -> tuple[RawTransaction, NormalizedTransaction]:
    """The entry's raw and its normalized description (origin ``manual``)."""
    kind = TransactionKind(payload["kind"])
    meta: dict[str, Any] = {
        MATCH_WINDOW_META: MOVE_MATCH_WINDOW if kind in MOVES else TYPED_MATCH_WINDOW,
    }
    if payload.get("value"):
        meta["value"] = {"amount": payload["value"][0], "currency": payload["value"][1]}
    try:
        tx = NormalizedTransaction(
            account_id=account_id, key=f"entry:{entry_id}", kind=kind, timestamp=payload["timestamp"],
            status=payload["status"],
            legs=[Leg(asset=a, amount=Decimal(x), role=r, wallet=w) for a, x, r, w in payload["legs"]],
            origin=Origin.MANUAL, external_ids=payload.get("external_ids") or {},
            sources=[SourceRef(connection_id=connection_id, stream=ENTRIES_STREAM, source_id=entry_id)],
            description=payload.get("description"), meta=meta,
        )
    except ModelError as exc:
        raise ManualEntryError(str(exc)) from None
    payload["timestamp"] = tx.timestamp.isoformat()  # canonical: UTC
    raw = RawTransaction(connection_id=connection_id, account_id=account_id, stream=ENTRIES_STREAM,
                         source_id=entry_id, payload=payload, fetched_at=now)
    return raw, tx

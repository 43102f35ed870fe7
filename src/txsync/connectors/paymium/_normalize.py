"""Paymium orders as records and normalized transactions.

An order carries ``account_operations``, the entries that actually moved the account's balances;
they are the ground truth. Each operation becomes one raw record (source id: the operation's uuid;
payload: ``{"order": <the order without its operations>, "operation": <the operation>}``), so every
transaction can name exactly the operations it was built from:

* ``lock`` / ``unlock`` operations (funds reserved for an open order and released) and every
  operation on the trading account (``is_trading_account``: the mirror of a lock) are internal and
  make no transaction;
* the other operations of a trade order are grouped into executions (one per fill: operations of
  the same second, a new execution starting when a currency's principal leg repeats) and each
  execution is one ``trade`` transaction keyed by the uuid of its first operation;
* the operations of a withdrawal, deposit or other transfer order make one transaction keyed by the
  uuid of its first operation;
* an operation whose name is not known, or an order of an unknown type, is kept as ``other`` with
  the ``unknown_type`` flag.

Operations named with ``fee`` are fee legs, a ``fee_incentive`` that credits the account a rebate
leg. Amounts are parsed exactly from JSON numbers (read as
``Decimal``) and from strings alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from txsync.errors import BadResponseError
from txsync.fields import Fields, check_identity, record_errors
from txsync.models import (
    Leg,
    LegRole,
    NormalizedTransaction,
    RawTransaction,
    SourceRef,
    TransactionKind,
    TransactionStatus,
    to_amount,
)

__all__ = [
    "CONFIRMED_OPERATIONS",
    "GUESSED_OPERATIONS",
    "INTERNAL_OPERATIONS",
    "KNOWN_OPERATIONS",
    "TRADE_TYPES",
    "TRANSFER_TYPES",
    "normalize_operations",
    "parse_amount",
    "parse_time",
    "withdrawal_status",
]

#: Trading orders.
TRADE_TYPES = frozenset({"LimitOrder", "MarketOrder"})
#: Orders ``/user/withdrawals`` lists: BTC and EUR withdrawals, e-mail transfers sent.
TRANSFER_TYPES = frozenset({"Transfer", "EmailTransfer"})
#: Credits the current API no longer lists (older versions did, through ``/user/orders``).
DEPOSIT_TYPES = frozenset({"BitcoinDeposit", "WireDeposit", "EmailDeposit"})
OTHER_KNOWN_TYPES = frozenset({"AdminOrder", "Payment"})

#: Reservations for open orders: not balance changes.
INTERNAL_OPERATIONS = frozenset({"lock", "unlock"})
#: Operation names confirmed by a public source (see docs/connectors/paymium.md): Paymium's API
#: documentation (``bitcoin_transfer``, ``account_operation``, ``lock``, ``email_transfer``,
#: ``merchant_currency_payment``) and public clients reading real accounts (``btc_purchase`` /
#: ``btc_sale`` on both legs of a fill, their ``_fee`` and ``_fee_incentive`` operations,
#: ``unlock``).
CONFIRMED_OPERATIONS = INTERNAL_OPERATIONS | frozenset(
    {
        "bitcoin_transfer",
        "account_operation",
        "email_transfer",
        "merchant_currency_payment",
        "btc_purchase",
        "btc_sale",
        "btc_purchase_fee",
        "btc_sale_fee",
        "btc_purchase_fee_incentive",
        "btc_sale_fee_incentive",
    }
)
#: Names no public source shows, read on the pattern of the confirmed ones (the fee of a transfer,
#: bank wires, deposits of the older API) and kept known so such operations are not reported as
#: unknown; the older guesses ``trade_btc`` / ``trade_currency`` / ``trade_fee`` are read too.
GUESSED_OPERATIONS = frozenset(
    {
        "bitcoin_transfer_fee",
        "wire_transfer",
        "wire_transfer_fee",
        "bitcoin_deposit",
        "wire_deposit",
        "trade_btc",
        "trade_currency",
        "trade_fee",
    }
)
#: Operation names this connector knows; anything else is kept as unknown (flag ``unknown_type``).
KNOWN_OPERATIONS = CONFIRMED_OPERATIONS | GUESSED_OPERATIONS
_FIAT = frozenset({"EUR"})
_FAILED_STATES = frozenset({"canceled", "cancelled", "expired", "rejected", "error"})
_DONE_STATES = frozenset({"executed", "filled"})


def parse_amount(value: Any, what: str) -> Decimal:
    """An exact ``Decimal`` from a JSON number (``int`` / ``Decimal``) or a decimal string, within the
    ledger's range (:func:`txsync.models.to_amount`); a :class:`BadResponseError` naming ``what``."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise BadResponseError(f"{what} is not an exact amount ({type(value).__name__})")
    if not isinstance(value, Decimal | int | str):
        raise BadResponseError(f"{what} has type {type(value).__name__}, expected a number")
    try:
        return to_amount(value)
    except ValueError as exc:
        raise BadResponseError(f"{what} is not a usable amount: {exc}") from None


#: ``created_at_int`` beyond this (year 10000) is no time.
_MAX_SECONDS = 253_402_300_800


def parse_time(entry: Mapping[str, Any], what: str) -> datetime:
    """``created_at`` (ISO 8601, UTC) of an order or operation, else ``created_at_int`` (seconds)."""
    text = entry.get("created_at")
    if isinstance(text, str) and text and len(text) <= 64:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    seconds = entry.get("created_at_int")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and 0 <= seconds < _MAX_SECONDS:
        return datetime.fromtimestamp(seconds, UTC)
    raise BadResponseError(f"{what} has no readable created_at")


def _second(op: Mapping[str, Any]) -> int:
    seconds = op.get("created_at_int")
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        return seconds
    return int(parse_time(op, "operation").timestamp())


def is_internal(op: Mapping[str, Any]) -> bool:
    """Whether an operation only reserves funds (lock/unlock) or mirrors one on the trading account."""
    return op.get("is_trading_account") is True or op.get("name") in INTERNAL_OPERATIONS


def _is_fee(op: Mapping[str, Any]) -> bool:
    return "fee" in str(op.get("name", ""))


def _is_rebate(op: Mapping[str, Any]) -> bool:
    """A fee incentive (``btc_sale_fee_incentive``): a rebate when it credits the account."""
    return "incentive" in str(op.get("name", ""))


def _slot(op: Mapping[str, Any]) -> str:
    return "rebate" if _is_rebate(op) else "fee" if _is_fee(op) else "principal"


def _asset(op: Mapping[str, Any]) -> str:
    currency = op.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        raise BadResponseError("an account operation has no currency")
    try:
        return check_identity(currency.strip(), max_length=20).upper()
    except ValueError as exc:
        raise BadResponseError(f"an account operation's currency {exc}") from None


@dataclass
class _Op:
    raw: RawTransaction
    order: Mapping[str, Any]
    op: Mapping[str, Any]

    @property
    def uuid(self) -> str:
        return self.raw.source_id

    def leg(self) -> Leg:
        amount = parse_amount(self.op.get("amount"), f"operation {self.uuid} amount")
        if _is_rebate(self.op):
            role = LegRole.REBATE if amount > 0 else LegRole.FEE
        else:
            role = LegRole.FEE if _is_fee(self.op) else LegRole.PRINCIPAL
        return Leg(asset=_asset(self.op), amount=amount, role=role)


@dataclass
class _Execution:
    second: int
    ops: list[_Op] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def accepts(self, op: _Op) -> bool:
        if _second(op.op) != self.second:
            return False
        return (_slot(op.op), _asset(op.op)) not in self.seen

    def add(self, op: _Op) -> None:
        self.seen.add((_slot(op.op), _asset(op.op)))
        self.ops.append(op)


def _executions(ops: Sequence[_Op]) -> list[_Execution]:
    groups: list[_Execution] = []
    for op in ops:
        if not groups or not groups[-1].accepts(op):
            groups.append(_Execution(_second(op.op)))
        groups[-1].add(op)
    return groups


def _status(order: Mapping[str, Any]) -> TransactionStatus:
    state = str(order.get("state", ""))
    if state in _DONE_STATES:
        return TransactionStatus.CONFIRMED
    if state in _FAILED_STATES:
        return TransactionStatus.FAILED
    return TransactionStatus.PENDING


def withdrawal_status(
    order: Mapping[str, Any], ops: Sequence[_Op]
) -> tuple[TransactionStatus, frozenset[str]]:
    """The ledger status of a withdrawal (``Transfer`` / ``EmailTransfer``) from what its account
    operations moved, the order's state aside.

    The rule: Paymium writes a withdrawal's operations (the amount, and the network or bank fee) when
    the withdrawal is *requested*, and ``/user`` reports the balance without them from then on; a
    cancellation writes the reverse operations. So a withdrawal whose operations debit the account
    is **confirmed** for the ledger (the balance moved), whatever its state: one not executed yet
    (``pending``, ``processing``, ``authorized``...) carries the flag ``pending_withdrawal`` (its
    txid comes later: the order is re-read until final), and a cancelled one whose refund cancels
    the debit out is **failed** (nothing moved). A cancelled one whose refund is not (yet) listed
    stays confirmed with the flag ``refund_not_listed``: the money is still gone.
    """
    state = str(order.get("state", ""))
    if state in _DONE_STATES:
        return TransactionStatus.CONFIRMED, frozenset()
    net: dict[str, Decimal] = {}
    for op in ops:
        leg = op.leg()
        net[leg.asset] = net.get(leg.asset, Decimal(0)) + leg.amount
    moved = any(amount != 0 for amount in net.values())
    if state in _FAILED_STATES:
        if moved:
            return TransactionStatus.CONFIRMED, frozenset({"refund_not_listed"})
        return TransactionStatus.FAILED, frozenset()
    return TransactionStatus.CONFIRMED, frozenset({"pending_withdrawal"})


def _external(order: Mapping[str, Any], ops: Sequence[_Op]) -> dict[str, str]:
    ids = {"order_uuid": str(order.get("uuid", ""))}
    for op in ops:
        reader = Fields(op.op, stream=op.raw.stream, record=op.uuid)
        for name in ("tx_hash", "address"):
            value = reader.optional_text(name, max_length=128)
            if value is not None and name not in ids:
                ids[name] = value
    return ids


def _transaction(
    account_id: str,
    key: str,
    kind: TransactionKind,
    ops: Sequence[_Op],
    *,
    status: TransactionStatus = TransactionStatus.CONFIRMED,
    flags: frozenset[str] = frozenset(),
    description: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> NormalizedTransaction:
    first = ops[0]
    sources: list[SourceRef] = [op.raw.ref for op in ops]
    return NormalizedTransaction(
        account_id=account_id,
        key=key,
        kind=kind,
        timestamp=parse_time(first.op, f"operation {first.uuid}"),
        status=status,
        legs=[op.leg() for op in ops],
        sources=sources,
        external_ids=_external(first.order, ops),
        flags=flags,
        description=description,
        meta=dict(meta or {}),
    )


def _unknown_operation(account_id: str, op: _Op) -> NormalizedTransaction:
    name = str(op.op.get("name"))  # checked by _check_operation
    return _transaction(
        account_id,
        f"op:{op.uuid}",
        TransactionKind.OTHER,
        [op],
        status=_status(op.order) if op.order.get("type") not in TRADE_TYPES else TransactionStatus.CONFIRMED,
        flags=frozenset({"unknown_type"}),
        description=f"unknown Paymium account operation {name!r} of a {op.order.get('type')} order",
        meta={"operation": name, "order_type": str(op.order.get("type"))},
    )


def _transfer_kind(order_type: str, ops: Sequence[_Op]) -> TransactionKind:
    principal = [op for op in ops if not _is_fee(op.op)] or list(ops)
    fiat = all(_asset(op.op) in _FIAT for op in principal)
    if order_type in TRANSFER_TYPES:
        return TransactionKind.FIAT_WITHDRAWAL if fiat else TransactionKind.WITHDRAWAL
    return TransactionKind.FIAT_DEPOSIT if fiat else TransactionKind.DEPOSIT


def _order_transactions(account_id: str, ops: Sequence[_Op]) -> Iterator[NormalizedTransaction]:
    order = ops[0].order
    order_type = str(order.get("type"))
    moving = [op for op in ops if not is_internal(op.op)]
    known = [op for op in moving if op.op.get("name") in KNOWN_OPERATIONS]
    for op in moving:
        if op.op.get("name") not in KNOWN_OPERATIONS:
            yield _unknown_operation(account_id, op)
    if not known:
        return
    if order_type in TRADE_TYPES:
        reader = Fields(order, stream=ops[0].raw.stream, record=str(order.get("uuid")))
        meta = {"order_type": order_type, "direction": reader.optional_text("direction", max_length=20) or ""}
        price = reader.optional_amount("price")
        if price is not None:
            meta["price"] = str(price)
        for execution in _executions(known):
            yield _transaction(
                account_id, f"trade:{execution.ops[0].uuid}", TransactionKind.TRADE, execution.ops, meta=meta
            )
        return
    meta = {"order_type": order_type}
    if order_type in TRANSFER_TYPES:
        status, flags = withdrawal_status(order, known)
        yield _transaction(
            account_id,
            f"withdrawal:{known[0].uuid}",
            _transfer_kind(order_type, known),
            known,
            status=status,
            flags=flags,
            meta={**meta, "state": str(order.get("state", ""))},
        )
        return
    if order_type in DEPOSIT_TYPES:
        yield _transaction(
            account_id,
            f"deposit:{known[0].uuid}",
            _transfer_kind(order_type, known),
            known,
            status=_status(order),
            meta=meta,
        )
        return
    if order_type in OTHER_KNOWN_TYPES:
        yield _transaction(
            account_id,
            f"credit:{known[0].uuid}",
            TransactionKind.OTHER,
            known,
            status=_status(order),
            description=f"Paymium {order_type}",
            meta=meta,
        )
        return
    yield _transaction(
        account_id,
        f"op:{known[0].uuid}",
        TransactionKind.OTHER,
        known,
        status=_status(order),
        flags=frozenset({"unknown_type"}),
        description=f"unknown Paymium order type {order_type!r}",
        meta=meta,
    )


def _check_operation(raw: RawTransaction, order: Mapping[str, Any], op: Mapping[str, Any]) -> None:
    """Read every field of one operation record that normalization relies on (typed errors)."""
    order_reader = Fields(order, stream=raw.stream, record=raw.source_id, path="order.")
    order_reader.text_id("uuid", max_length=64)
    order_reader.text("type", max_length=64)
    reader = Fields(op, stream=raw.stream, record=raw.source_id, path="operation.")
    if reader.text_id("uuid", max_length=64) != raw.source_id:
        raise reader.error("uuid", "is not the record's id")
    reader.text("name", max_length=64)
    parse_amount(op.get("amount"), "amount")
    _asset(op)
    parse_time(op, "operation")
    if "is_trading_account" in op and not isinstance(op["is_trading_account"], bool):
        raise reader.error("is_trading_account", "is not a boolean")


def normalize_operations(raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
    """Normalize the operation records of one page (see the module notes). A record that cannot be
    read is an :class:`~txsync.errors.InvalidRecordError` naming it; nothing of the page is kept."""
    by_order: dict[str, list[_Op]] = {}
    for raw in raws:
        with record_errors(raw.stream, raw.source_id):
            payload = Fields(raw.payload, stream=raw.stream, record=raw.source_id)
            order, op = payload.object("order"), payload.object("operation")
            _check_operation(raw, order.data, op.data)
        by_order.setdefault(str(order.data["uuid"]), []).append(_Op(raw, order.data, op.data))
    out: list[NormalizedTransaction] = []
    for uuid, ops in by_order.items():
        with record_errors(ops[0].raw.stream, f"order {uuid}"):
            out.extend(_order_transactions(ops[0].raw.account_id, ops))
    return out

"""Normalization of Esplora transactions from the wallet's own view.

A raw record of the ``transactions`` stream is one of:

* ``{"tx": <Esplora tx>, "own": {address: path}, "first_seen": iso?}`` - a transaction and which of
  its addresses belong to the wallet (``path`` is ``"0/5"`` / ``"1/2"`` for an account key, ``""``
  for a single address); ``first_seen`` is when txsync first saw it unconfirmed (Esplora gives
  unconfirmed transactions no time);
* ``{"missing": {"txid", "first_seen", "kind"}}`` - a transaction seen unconfirmed that the node no
  longer knows (replaced by fee or dropped from the mempool).

Every address of the wallet is one wallet: ``in_own`` (prevouts from own addresses) and ``out_own``
(outputs to own addresses) decide what happened, in satoshis, converted to BTC exactly at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from txsync.errors import BadResponseError
from txsync.models import (
    Leg,
    LegRole,
    NormalizedTransaction,
    RawTransaction,
    TransactionKind,
    TransactionStatus,
)

__all__ = ["ASSET", "Movement", "classify", "normalize_raw", "sats_to_btc"]

#: The asset symbol of every leg.
ASSET = "BTC"


def sats_to_btc(sats: int) -> Decimal:
    """Satoshis as an exact BTC ``Decimal`` with 8 places (``150000`` -> ``0.00150000``)."""
    return Decimal(sats).scaleb(-8)


@dataclass(frozen=True)
class Movement:
    """What a transaction did to the wallet, in satoshis: signed (principal, fee, role) legs."""

    kind: TransactionKind
    principal: int = 0
    fee: int = 0
    principal_role: LegRole = LegRole.PRINCIPAL
    flags: frozenset[str] = frozenset()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def net(self) -> int:
        """The wallet's balance change in satoshis."""
        return self.principal - self.fee


def _prevout(item: Mapping[str, Any]) -> Mapping[str, Any] | None:
    prevout = item.get("prevout")
    return prevout if isinstance(prevout, Mapping) else None


def classify(tx: Mapping[str, Any], own: Mapping[str, str] | set[str] | frozenset[str]) -> Movement:
    """The wallet's view of ``tx`` given its ``own`` addresses (see the module docstring)."""
    vin: list[Mapping[str, Any]] = list(tx["vin"])
    vout: list[Mapping[str, Any]] = list(tx["vout"])
    in_own = in_total = 0
    own_inputs = foreign_inputs = 0
    unknown_prevout = False
    coinbase = any(item.get("is_coinbase") is True for item in vin)
    for item in vin:
        prevout = _prevout(item)
        if prevout is None:
            if item.get("is_coinbase") is not True:
                unknown_prevout = True
            continue
        value = int(prevout["value"])
        in_total += value
        if prevout.get("scriptpubkey_address") in own:
            in_own += value
            own_inputs += 1
        else:
            foreign_inputs += 1
    out_total = sum(int(item["value"]) for item in vout)
    out_own = sum(int(item["value"]) for item in vout if item.get("scriptpubkey_address") in own)
    if "fee" in tx:
        fee = int(tx["fee"])
    elif not unknown_prevout and not coinbase:
        fee = max(0, in_total - out_total)
    else:
        fee = 0
    meta: dict[str, Any] = {"fee_sats": fee, "own_in_sats": in_own, "own_out_sats": out_own}
    flags: set[str] = {"unknown_prevout"} if unknown_prevout else set()

    if coinbase:
        return Movement(
            TransactionKind.MINING,
            principal=out_own,
            principal_role=LegRole.REWARD,
            flags=frozenset(flags),
            meta=meta,
        )
    if in_own == 0:
        if out_own == 0:
            flags.add("no_own_value")
            return Movement(TransactionKind.OTHER, flags=frozenset(flags), meta=meta)
        return Movement(TransactionKind.DEPOSIT, principal=out_own, flags=frozenset(flags), meta=meta)
    if foreign_inputs or unknown_prevout:
        # Several parties paid the fee (coinjoin, payjoin): ours is our share of the inputs.
        share = fee * in_own // in_total if in_total else 0
        flags.add("multi_party")
        net = out_own - in_own
        kind = TransactionKind.DEPOSIT if net > 0 else TransactionKind.WITHDRAWAL
        meta["fee_share_sats"] = share
        return Movement(kind, principal=net + share, fee=share, flags=frozenset(flags), meta=meta)
    external = in_own - out_own - fee  # what left the wallet for someone else
    if external <= 0:
        # Every output is ours: a self-transfer (a consolidation when several inputs become one).
        flags.add("self_transfer")
        if own_inputs > 1 and len(vout) == 1:
            flags.add("consolidation")
        # in_own - out_own is the fee, unless the instance's fee disagrees with the amounts.
        return Movement(
            TransactionKind.FEE, principal=0, fee=in_own - out_own, flags=frozenset(flags), meta=meta
        )
    return Movement(
        TransactionKind.WITHDRAWAL, principal=-external, fee=fee, flags=frozenset(flags), meta=meta
    )


def _legs(movement: Movement) -> list[Leg]:
    legs: list[Leg] = []
    if movement.principal or movement.kind in (TransactionKind.DEPOSIT, TransactionKind.MINING):
        legs.append(Leg(asset=ASSET, amount=sats_to_btc(movement.principal), role=movement.principal_role))
    if movement.fee:
        legs.append(Leg(asset=ASSET, amount=sats_to_btc(-movement.fee), role=LegRole.FEE))
    if not legs:
        legs.append(Leg(asset=ASSET, amount=sats_to_btc(0)))
    return legs


def _time(value: Any) -> datetime:
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def _from_missing(raw: RawTransaction, missing: Mapping[str, Any]) -> NormalizedTransaction:
    txid = str(missing["txid"])
    try:
        kind = TransactionKind(str(missing.get("kind", "other")))
    except ValueError:
        kind = TransactionKind.OTHER
    return NormalizedTransaction(
        account_id=raw.account_id,
        key=f"tx:{txid}",
        kind=kind,
        timestamp=_time(missing["first_seen"]),
        status=TransactionStatus.FAILED,
        legs=[Leg(asset=ASSET, amount=sats_to_btc(0))],
        external_ids={"txid": txid},
        sources=[raw.ref],
        flags=frozenset({"replaced"}),
        description="no longer known to the node: replaced (RBF) or dropped from the mempool",
    )


def _from_tx(raw: RawTransaction, payload: Mapping[str, Any]) -> NormalizedTransaction:
    tx = payload["tx"]
    own = payload.get("own") or {}
    movement = classify(tx, own)
    status = tx["status"]
    meta = dict(movement.meta)
    if status["confirmed"]:
        timestamp = _time(status["block_time"])
        state = TransactionStatus.CONFIRMED
        meta["block_height"] = status["block_height"]
    else:
        timestamp = _time(payload["first_seen"])
        state = TransactionStatus.PENDING
    return NormalizedTransaction(
        account_id=raw.account_id,
        key=f"tx:{tx['txid']}",
        kind=movement.kind,
        timestamp=timestamp,
        status=state,
        legs=_legs(movement),
        external_ids={"txid": tx["txid"]},
        sources=[raw.ref],
        flags=movement.flags,
        meta=meta,
    )


def normalize_raw(raw: RawTransaction) -> NormalizedTransaction:
    """One raw record of the ``transactions`` stream as a normalized transaction. A record of
    neither shape raises (wrap the call in :func:`txsync.fields.record_errors` for a typed error
    naming it): the stream checks every transaction's shape before storing it, so an unreadable
    record is never kept as if it were valid."""
    payload = raw.payload
    if isinstance(payload, Mapping) and isinstance(payload.get("missing"), Mapping):
        return _from_missing(raw, payload["missing"])
    if isinstance(payload, Mapping) and isinstance(payload.get("tx"), Mapping):
        return _from_tx(raw, payload)
    raise BadResponseError("a bitcoin record is neither a transaction nor a missing one")

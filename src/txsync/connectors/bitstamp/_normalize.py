"""Normalizing a page of Bitstamp ``user_transactions`` (plus the crypto rows kept beside them).

Every row becomes one transaction keyed ``utx:<id>``: the key does not depend on the row's type, so
a later, better classification of a row keeps the transaction (and the user's edits) it had.

* ``0`` deposit / ``1`` withdrawal: the single non-zero currency key, the fee in that currency as its
  own leg; crypto ones get the txid and address of their matched ``crypto-transactions`` row, or the
  flag ``crypto_match_ambiguous`` / ``crypto_unmatched`` (candidates in ``meta``).
* ``2`` market trade: base and quote legs from the per-currency keys, the fee in the quote currency,
  the rate from the pair key (``btc_eur``) in ``meta``.
* ``14`` sub-account, ``33`` settlement, ``35`` inter-account transfers, ``25`` / ``26`` staking
  in / out: transfers of the account's own assets.
* ``27`` staking reward, ``32`` referral reward: rewards.
* Anything else: kept as ``OTHER`` with the flag ``unknown_type``.

Legs come only from currency keys (:func:`~txsync.connectors.bitstamp._rows.row_keys`: a key the
currency list or one of the row's pair keys names). Any other key holding a value (``price``,
``trade_uti``, a currency listed after this connector's snapshot) is never an asset: the row keeps
its other legs, gets the flag ``unknown_keys`` and lists those keys and values in
``meta["unknown_keys"]``; the stream reports the coverage gap ``unknown_keys``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from txsync.connectors.bitstamp._matching import (
    CRYPTO_PREFIX,
    CryptoRow,
    Match,
    Movement,
    crypto_row,
    match_movements,
    movement_of,
)
from txsync.connectors.bitstamp._rows import (
    FIAT,
    STREAM,
    TYPE_NAMES,
    currency_amounts,
    fee_of,
    fields,
    pair_of,
    row_id,
    row_keys,
    row_time,
    type_of,
    unknown_keys,
)
from txsync.fields import record_errors
from txsync.models import Leg, LegRole, NormalizedTransaction, RawTransaction, TransactionKind

__all__ = ["CURRENCY_PREFIX", "normalize_page", "page_matches", "transaction_key"]

#: Source-id prefix of the currency-list entries a page keeps (``currency:zzq``).
CURRENCY_PREFIX = "currency:"

_TRANSFER_TYPES: Mapping[int, str] = {
    14: "sub-account transfer",
    25: "credited with staked assets",
    26: "sent to staking",
    33: "settlement transfer",
    35: "inter-account transfer",
}
_REWARD_TYPES: Mapping[int, tuple[TransactionKind, str]] = {
    27: (TransactionKind.REWARD, "staking reward"),
    32: (TransactionKind.REFERRAL, "referral reward"),
}


def transaction_key(user_id: int) -> str:
    """The transaction key of user transaction ``user_id``."""
    return f"utx:{user_id}"


def page_matches(
    rows: Iterable[Mapping[str, Any]], crypto: Sequence[CryptoRow], listed: frozenset[str] = frozenset()
) -> tuple[dict[int, Movement], dict[int, Match]]:
    """The crypto movements among ``rows`` and how each matches ``crypto``."""
    movements: dict[int, Movement] = {}
    for row in rows:
        with record_errors(STREAM, _name(row)):
            movement = movement_of(row, listed)
        if movement is not None:
            movements[movement.user_id] = movement
    return movements, match_movements(list(movements.values()), crypto)


def _name(row: Any) -> str | None:
    ident = row.get("id") if isinstance(row, Mapping) else None
    return str(ident)[:60] if isinstance(ident, int | str) and not isinstance(ident, bool) else None


def normalize_page(raws: Sequence[RawTransaction]) -> list[NormalizedTransaction]:
    """Normalize one page: every user transaction raw gives one transaction; crypto rows kept in the
    page only inform the deposits and withdrawals they match (they make no transaction), and the
    ``currency:<code>`` records (entries of Bitstamp's live currency list the stream kept for codes
    outside :data:`~txsync.connectors.bitstamp._rows.KNOWN_CURRENCIES`) make those codes currencies.
    A malformed row is an :class:`~txsync.errors.InvalidRecordError` naming it: nothing of the page
    is kept."""
    listed = frozenset(
        raw.source_id[len(CURRENCY_PREFIX) :] for raw in raws if raw.source_id.startswith(CURRENCY_PREFIX)
    )
    users = [
        raw for raw in raws if not raw.source_id.startswith((CRYPTO_PREFIX, CURRENCY_PREFIX))
    ]
    crypto: list[CryptoRow] = []
    for raw in raws:
        if raw.source_id.startswith(CURRENCY_PREFIX):
            continue
        with record_errors(STREAM, raw.source_id):
            row = crypto_row(raw.source_id, raw.payload)
        if row is not None:
            crypto.append(row)
    for raw in users:
        fields(raw.payload, raw.source_id)  # every user transaction is an object
    _, matches = page_matches((raw.payload for raw in users), crypto, listed)
    out = []
    for raw in users:
        with record_errors(STREAM, raw.source_id):
            out.append(_normalize_row(raw, matches, listed))
    return out


def _normalize_row(
    raw: RawTransaction, matches: Mapping[int, Match], listed: frozenset[str] = frozenset()
) -> NormalizedTransaction:
    row = raw.payload
    reader = fields(row, raw.source_id)
    ident = row_id(row)
    code = type_of(row)
    at = row_time(row, raw.source_id)
    amounts = currency_amounts(row, listed)
    fee = fee_of(row)
    external = {"transaction_id": str(ident)}
    order_id = reader.optional_text("order_id", allow_int=True, max_length=64)
    if order_id is not None:
        external["order_id"] = order_id
    type_name = TYPE_NAMES.get(code, "unknown")
    meta: dict[str, Any] = {"type": str(code), "type_name": type_name}
    flags: set[str] = set()
    description: str | None = None

    def principal_legs(role: LegRole = LegRole.PRINCIPAL) -> list[Leg]:
        return [Leg(asset=asset, amount=amount, role=role) for asset, amount in amounts.items()]

    def single_currency_fee(legs: list[Leg]) -> None:
        if not fee:
            return
        if len(amounts) == 1:
            legs.append(Leg(asset=next(iter(amounts)), amount=-abs(fee), role=LegRole.FEE))
        else:  # never guess which currency a fee was charged in
            flags.add("fee_currency_unknown")
            meta["fee"] = str(fee)

    legs: list[Leg]
    if code in (0, 1):
        legs = principal_legs()
        single_currency_fee(legs)
        fiat = len(amounts) == 1 and next(iter(amounts)) in FIAT
        if code == 0:
            kind = TransactionKind.FIAT_DEPOSIT if fiat else TransactionKind.DEPOSIT
        else:
            kind = TransactionKind.FIAT_WITHDRAWAL if fiat else TransactionKind.WITHDRAWAL
        if len(amounts) != 1:
            flags.add("unexpected_currencies")
        match = matches.get(ident)
        if match is not None:
            _apply_match(match, external, meta, flags)
    elif code == 2:
        kind = TransactionKind.TRADE
        legs = principal_legs()
        pair = pair_of(row, listed)
        if pair is None:
            flags.add("pair_unknown")
            if fee:
                flags.add("fee_currency_unknown")
                meta["fee"] = str(fee)
        else:
            base_amount = amounts.get(pair.base, Decimal(0))
            quote_amount = amounts.get(pair.quote, Decimal(0))
            meta.update(
                pair=f"{pair.base}/{pair.quote}",
                price=str(pair.rate),
                side="buy" if base_amount > 0 else "sell",
                cost=str(abs(quote_amount)),
            )
            if (base_amount > 0) == (quote_amount > 0):
                flags.add("inconsistent_trade_signs")
            if set(amounts) - {pair.base, pair.quote}:
                flags.add("unexpected_currencies")
            if fee:
                legs.append(Leg(asset=pair.quote, amount=-abs(fee), role=LegRole.FEE))
        if row.get("self_trade") in (True, "true", "True", 1):
            meta["self_trade"] = True
    elif code in _TRANSFER_TYPES:
        kind = TransactionKind.TRANSFER
        description = _TRANSFER_TYPES[code]
        legs = principal_legs()
        single_currency_fee(legs)
    elif code in _REWARD_TYPES:
        kind, description = _REWARD_TYPES[code]
        legs = principal_legs(LegRole.REWARD)
        single_currency_fee(legs)
    else:
        kind = TransactionKind.OTHER
        flags.add("unknown_type")
        description = f"unknown Bitstamp transaction type {code}"
        legs = principal_legs()
        single_currency_fee(legs)
    unknown = unknown_keys(row, listed)
    if unknown:
        flags.add("unknown_keys")
        meta["unknown_keys"] = unknown
    if not legs:  # a row that moved nothing: keep it, visibly, with a zero leg of a currency key
        asset = next((k.upper() for k in row_keys(row, listed).currencies), "UNKNOWN")
        legs = [Leg(asset=asset, amount=0)]
        flags.add("no_amount")
    return NormalizedTransaction(
        account_id=raw.account_id,
        key=transaction_key(ident),
        kind=kind,
        timestamp=at,
        legs=legs,
        sources=[raw.ref],
        external_ids=external,
        description=description,
        flags=frozenset(flags),
        meta=meta,
    )


def _apply_match(match: Match, external: dict[str, str], meta: dict[str, Any], flags: set[str]) -> None:
    if match.status == "matched" and match.crypto is not None:
        row = match.crypto
        if row.txid:
            external["tx_hash"] = row.txid
        if row.address:
            external["address"] = row.address
        if row.network:
            meta["network"] = row.network
        meta["crypto_transaction"] = row.source_id
    elif match.status == "ambiguous":
        flags.add("crypto_match_ambiguous")
        meta["crypto_candidates"] = [
            {"txid": c.txid, "address": c.address, "amount": str(c.amount), "datetime": c.at.isoformat()}
            for c in match.candidates
        ]
    else:
        flags.add("crypto_unmatched")

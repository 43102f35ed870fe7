"""Normalization of every Binance stream: pure functions from one raw record to transactions.

Conventions: legs are signed (in positive, out negative), fees are their own legs with
``LegRole.FEE`` in the asset they were charged in; ``wallet`` names where inside the account the
value moved (``spot``, ``funding``, ``margin``, ``futures:usdm``, or ``external:<method>`` for
money that came from outside, such as a bank card). Keys are ``<record type>:<id>``.

A trade against a fiat currency carries the fiat amount in ``meta["fiat_amount"]`` and
``meta["fiat_currency"]`` (also set on fiat payments and converts with a fiat side), so valuation
can price it from its own fiat leg.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from txsync.errors import BadResponseError, InvalidRecordError
from txsync.fields import Fields, check_identity, record_errors
from txsync.models import (
    Leg,
    LegRole,
    NormalizedTransaction,
    RawTransaction,
    TransactionKind,
    TransactionStatus,
)
from txsync.pagination import from_ms, to_ms

__all__ = [
    "FIAT",
    "FIAT_FINAL",
    "INTERNAL_TRANSFER",
    "NORMALIZERS",
    "WITHDRAW_LOCKED",
    "convert_id",
    "deposit_id",
    "earn_flexible_id",
    "earn_locked_id",
    "futures_income_id",
    "income",
    "margin_interest_id",
    "normalize_raws",
    "order_no",
    "parse_time",
    "reader",
    "time_ms",
    "time_of",
    "trade_id",
]

#: Fiat currencies Binance lists (quote assets of fiat markets and fiat wallet currencies).
FIAT = frozenset(
    {
        "EUR",
        "USD",
        "GBP",
        "TRY",
        "BRL",
        "AUD",
        "RUB",
        "UAH",
        "NGN",
        "ZAR",
        "PLN",
        "RON",
        "ARS",
        "JPY",
        "KZT",
        "IDR",
        "MXN",
        "CZK",
        "CHF",
        "SEK",
        "NOK",
        "DKK",
        "HUF",
        "INR",
        "VND",
        "COP",
        "PEN",
        "CLP",
        "PHP",
        "KES",
        "GHS",
        "UGX",
        "AED",
        "BHD",
        "SAR",
        "KWD",
        "QAR",
        "EGP",
        "MAD",
    }
)

Normalizer = Callable[[RawTransaction], Iterable[NormalizedTransaction]]

_ZERO = Decimal(0)


def parse_time(value: Any) -> datetime:
    """A Binance time: epoch milliseconds (int or digit string) or ``"YYYY-MM-DD HH:MM:SS"`` (UTC)."""
    if isinstance(value, bool):
        raise BadResponseError("a time field is a boolean")
    if isinstance(value, int):
        return _ms(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return _ms(int(value))
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return _ms(int(text))
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BadResponseError("a time field is neither epoch ms nor 'YYYY-MM-DD HH:MM:SS'") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    raise BadResponseError(f"a time field has type {type(value).__name__}")


def _ms(ms: int) -> datetime:
    if not 0 <= ms < _MAX_MS:
        raise BadResponseError("a time field is out of range")
    return from_ms(ms)


#: Epoch milliseconds of year 10000.
_MAX_MS = 253_402_300_800_000


def reader(raw: RawTransaction) -> Fields:
    """Typed reads of one raw record (errors name its stream, id and field)."""
    return Fields(raw.payload, stream=raw.stream, record=raw.source_id)


def time_of(row: Fields, name: str) -> datetime:
    """A time field of a Binance row (epoch ms or ``YYYY-MM-DD HH:MM:SS``), typed error if not."""
    return row.convert(name, parse_time, "a Binance time")


def time_ms(row: Mapping[str, Any], name: str, stream: str) -> int:
    """A row's time field in epoch milliseconds (for window checks)."""
    return to_ms(time_of(Fields(row, stream=stream), name))


def _fiat_meta(asset: str, amount: Decimal) -> dict[str, str]:
    return {"fiat_amount": str(abs(amount)), "fiat_currency": asset}


def _tx(
    raw: RawTransaction,
    key: str,
    kind: TransactionKind,
    at: datetime,
    legs: list[Leg],
    *,
    status: TransactionStatus = TransactionStatus.CONFIRMED,
    external: Mapping[str, Any] | None = None,
    flags: Iterable[str] = (),
    meta: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> NormalizedTransaction:
    legs = [leg for leg in legs if leg.amount != 0] or [Leg(asset=legs[0].asset, amount=0)]
    return NormalizedTransaction(
        account_id=raw.account_id,
        key=key,
        kind=kind,
        timestamp=at,
        status=status,
        legs=legs,
        sources=[raw.ref],
        external_ids={k: str(v) for k, v in (external or {}).items() if v not in (None, "")},
        flags=frozenset(flags),
        meta=dict(meta or {}),
        description=description,
    )


def _unknown(
    raw: RawTransaction,
    key: str,
    at: datetime,
    asset: str,
    *,
    status: TransactionStatus = TransactionStatus.CONFIRMED,
    flags: Iterable[str] = (),
    external: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> list[NormalizedTransaction]:
    """A record of a type this connector does not know: kept (kind ``other``, flag ``unknown_type``)
    with no balance effect, its amount and fields in ``meta``, for the report to name."""
    return [
        _tx(
            raw,
            key,
            TransactionKind.OTHER,
            at,
            [Leg(asset=asset, amount=0)],
            status=status,
            flags={*flags, "unknown_type"},
            external=external,
            meta=meta,
        )
    ]


# -- spot and margin trades ----------------------------------------------------------------------------


def trade_id(row: Mapping[str, Any], stream: str) -> str:
    """A trade's source id: ``SYMBOL:id``."""
    fields = Fields(row, stream=stream)
    return f"{fields.text('symbol', max_length=40)}:{fields.int_id('id')}"


def _trade(raw: RawTransaction, prefix: str, wallet: str) -> list[NormalizedTransaction]:
    row = reader(raw)
    symbol = row.text("symbol", max_length=40)
    base, quote = row.asset("baseAsset"), row.asset("quoteAsset")
    qty, price = row.amount("qty"), row.amount("price")
    quote_qty = row.amount("quoteQty") if row.has("quoteQty") else qty * price
    buyer = row.raw("isBuyer")
    ident = row.int_id("id")
    key = f"{prefix}:{symbol}:{ident}"
    at = time_of(row, "time")
    external = {"trade_id": ident, "order_id": row.optional_text("orderId", allow_int=True, max_length=40)}
    meta: dict[str, Any] = {"symbol": symbol, "price": str(price), "maker": row.raw("isMaker") is True}
    if not isinstance(buyer, bool):
        return [
            _tx(
                raw,
                key,
                TransactionKind.OTHER,
                at,
                [Leg(asset=base, amount=0, wallet=wallet)],
                external=external,
                flags={"unknown_type"},
                meta=meta,
                description="trade without a buyer/seller side",
            )
        ]
    sign = 1 if buyer else -1
    legs = [
        Leg(asset=base, amount=sign * qty, wallet=wallet),
        Leg(asset=quote, amount=-sign * quote_qty, wallet=wallet),
    ]
    commission = row.amount("commission", _ZERO)
    if commission:
        fee_asset = row.asset("commissionAsset")
        legs.append(Leg(asset=fee_asset, amount=-commission, role=LegRole.FEE, wallet=wallet))
    if quote in FIAT:
        meta.update(_fiat_meta(quote, quote_qty))
    elif base in FIAT:
        meta.update(_fiat_meta(base, qty))
    return [_tx(raw, key, TransactionKind.TRADE, at, legs, external=external, meta=meta)]


def normalize_trade(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A spot trade (``myTrades`` row plus ``baseAsset``/``quoteAsset`` from exchangeInfo)."""
    return _trade(raw, "trade", "spot")


def normalize_margin_trade(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A cross margin trade (same shape as a spot trade)."""
    return _trade(raw, "margin_trade", "margin")


# -- deposits and withdrawals ----------------------------------------------------------------------------

_DEPOSIT_STATUS = {
    1: TransactionStatus.CONFIRMED,
    0: TransactionStatus.PENDING,
    6: TransactionStatus.CONFIRMED,  # credited, cannot be withdrawn yet: flagged withdraw_locked
    8: TransactionStatus.PENDING,  # waiting for the user to confirm
    2: TransactionStatus.FAILED,
    7: TransactionStatus.FAILED,  # wrong deposit
}
_WITHDRAW_STATUS = {
    6: TransactionStatus.CONFIRMED,
    0: TransactionStatus.PENDING,  # email sent
    2: TransactionStatus.PENDING,  # awaiting approval
    4: TransactionStatus.PENDING,  # processing
    1: TransactionStatus.FAILED,  # cancelled
    3: TransactionStatus.FAILED,  # rejected
    5: TransactionStatus.FAILED,  # failure
}
_WALLET_TYPE = {0: "spot", 1: "funding"}


def _status(table: Mapping[int, TransactionStatus], row: Fields) -> tuple[TransactionStatus, set[str]]:
    """A numeric status: known ones mapped, an unknown number pending and flagged; a status that is
    not a number at all is a typed error."""
    code = row.integer("status", minimum=-(10**6), maximum=10**6)
    known = table.get(code)
    return (known, set()) if known is not None else (TransactionStatus.PENDING, {"unknown_status"})


def _wallet(row: Fields) -> str:
    return _WALLET_TYPE.get(row.integer("walletType", default=0, minimum=0, maximum=10**6), "spot")


#: Flag of a deposit credited to the balance that cannot be withdrawn yet (status 6).
WITHDRAW_LOCKED = "withdraw_locked"
#: Flag of an off-chain transfer between two Binance accounts (``transferType`` 1); the same name
#: the transfer linker reads (:data:`txsync.owner.ids.INTERNAL_FLAG`).
INTERNAL_TRANSFER = "internal_transfer"
#: How Binance writes an off-chain transfer's id in ``txId``: ``"Internal transfer 123"``,
#: ``"Off-chain transfer 7c1f..."``, or the bare id.
_INTERNAL_TEXT = re.compile(
    r"^\s*(?:internal|off-chain|offchain)\s+transfer\s*[:#]?\s*(\S+)\s*$", re.IGNORECASE
)


def _chain_ids(row: Fields) -> tuple[dict[str, str | None], set[str]]:
    """The external ids of a deposit or withdrawal, and its flags.

    An on-chain movement keeps ``txId`` as ``tx_hash``. An internal (off-chain, ``transferType``
    1) one has no chain transaction: its ``txId`` holds Binance's transfer id (``"Internal
    transfer 123"``), kept as ``internal_transfer_id`` (never as a hash), and the movement is
    flagged ``internal_transfer``. A memo / tag (``addressTag``) is kept as ``memo``.
    """
    internal = row.integer("transferType", default=0, minimum=0, maximum=10**6) == 1
    tx_id = row.optional_text("txId", max_length=200)
    ids: dict[str, str | None] = {
        "network": row.optional_text("network", max_length=40),
        "address": row.optional_text("address", max_length=200),
        "memo": row.optional_text("addressTag", allow_int=True, max_length=200),
    }
    if not internal:
        ids["tx_hash"] = tx_id
        return ids, set()
    if tx_id is not None:
        match = _INTERNAL_TEXT.match(tx_id)
        ids["internal_transfer_id"] = match.group(1) if match else tx_id.strip()
    return ids, {INTERNAL_TRANSFER}


def deposit_id(row: Mapping[str, Any], stream: str = "deposits") -> str:
    """The deposit id (older rows without one: ``coin:txId``)."""
    fields = Fields(row, stream=stream)
    if fields.has("id"):
        return fields.text_id("id", allow_int=True, max_length=64)
    return f"{fields.asset('coin')}:{fields.text('txId', max_length=200)}"


def normalize_deposit(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A crypto deposit: confirmed with status 1, and with 6 (credited to the balance but not
    withdrawable yet: flagged ``withdraw_locked``); 0/8 pending; 2/7 failed. See
    :func:`_chain_ids` for internal transfers and memos."""
    row = reader(raw)
    status, flags = _status(_DEPOSIT_STATUS, row)
    if row.integer("status", minimum=-(10**6), maximum=10**6) == 6:
        flags.add(WITHDRAW_LOCKED)
    external, more = _chain_ids(row)
    return [
        _tx(
            raw,
            f"deposit:{deposit_id(row.data, raw.stream)}",
            TransactionKind.DEPOSIT,
            time_of(row, "insertTime"),
            [Leg(asset=row.asset("coin"), amount=row.amount("amount"), wallet=_wallet(row))],
            status=status,
            flags=flags | more,
            external=external,
        )
    ]


def normalize_withdrawal(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A crypto withdrawal: completed (6) confirmed; 0/2/4 pending; 1/3/5 failed.

    ``amount`` is what left for the destination and ``transactionFee`` is charged on top: the
    balance falls by their sum (the statement's ``Withdraw`` row, remark "Withdraw fee is
    included", debits exactly that; see docs/connectors/binance.md). So the principal leg is
    ``-amount`` and the fee leg ``-transactionFee``.
    """
    row = reader(raw)
    status, flags = _status(_WITHDRAW_STATUS, row)
    external, more = _chain_ids(row)
    coin = row.asset("coin")
    wallet = _wallet(row)
    return [
        _tx(
            raw,
            f"withdrawal:{row.text_id('id', allow_int=True, max_length=64)}",
            TransactionKind.WITHDRAWAL,
            time_of(row, "applyTime"),
            [
                Leg(asset=coin, amount=-row.amount("amount"), wallet=wallet),
                Leg(asset=coin, amount=-row.amount("transactionFee", _ZERO), role=LegRole.FEE, wallet=wallet),
            ],
            status=status,
            flags=flags | more,
            external=external,
        )
    ]


# -- fiat -----------------------------------------------------------------------------------------------

_FIAT_STATUS = {
    "successful": TransactionStatus.CONFIRMED,
    "finished": TransactionStatus.CONFIRMED,
    "completed": TransactionStatus.CONFIRMED,
    "processing": TransactionStatus.PENDING,
    "refunding": TransactionStatus.PENDING,
    "failed": TransactionStatus.FAILED,
    "refunded": TransactionStatus.FAILED,
    "refund failed": TransactionStatus.FAILED,
    "expired": TransactionStatus.FAILED,
    "cancelled": TransactionStatus.FAILED,
}
#: Fiat statuses after which an order never changes again (lower case).
FIAT_FINAL = frozenset(k for k, v in _FIAT_STATUS.items() if v != TransactionStatus.PENDING)
#: Fiat payments paid from (or paid out to) the fiat balance held at Binance, not a card or bank.
_BALANCE_METHODS = frozenset({"cash balance", "fiat balance", "wallet balance"})


def _fiat_status(row: Fields) -> tuple[TransactionStatus, set[str]]:
    status = _FIAT_STATUS.get(row.text("status", max_length=40).lower())
    return (status, set()) if status is not None else (TransactionStatus.PENDING, {"unknown_status"})


def order_no(row: Mapping[str, Any], stream: str) -> str:
    """A fiat row's ``orderNo``."""
    return Fields(row, stream=stream).text_id("orderNo", allow_int=True, max_length=80)


def normalize_fiat_order(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A fiat deposit (``transactionType`` 0) or withdrawal (1): ``amount`` moves, ``totalFee`` is a
    fee leg on top (the connector adds ``transactionType`` to the row)."""
    row = reader(raw)
    status, flags = _fiat_status(row)
    currency = row.asset("fiatCurrency")
    amount, fee = row.amount("amount"), row.amount("totalFee", _ZERO)
    deposit = row.text("transactionType", allow_int=True, max_length=4) == "0"
    kind = TransactionKind.FIAT_DEPOSIT if deposit else TransactionKind.FIAT_WITHDRAWAL
    legs = [
        Leg(asset=currency, amount=amount if deposit else -amount, wallet="spot"),
        Leg(asset=currency, amount=-fee, role=LegRole.FEE, wallet="spot"),
    ]
    ident = order_no(row.data, raw.stream)
    method = row.label("method", max_length=64)
    return [
        _tx(
            raw,
            f"fiat_order:{ident}",
            kind,
            time_of(row, "createTime"),
            legs,
            status=status,
            flags=flags,
            external={"order_no": ident},
            meta={"method": method} if method else None,
        )
    ]


def normalize_fiat_payment(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """Crypto bought (``transactionType`` 0) or sold (1) with fiat.

    ``sourceAmount`` is the fiat amount (fee included), ``obtainAmount`` the crypto amount. Fiat
    paid by card or bank comes from outside the account: it enters through a leg in wallet
    ``external:<method>`` and leaves at once, so the account's fiat balance is unchanged while the
    trade still carries its fiat legs (and ``meta["fiat_amount"]``) for valuation.
    """
    row = reader(raw)
    status, flags = _fiat_status(row)
    fiat, crypto = row.asset("fiatCurrency"), row.asset("cryptoCurrency")
    source, obtain = row.amount("sourceAmount"), row.amount("obtainAmount")
    fee = row.amount("totalFee", _ZERO)
    method = row.text("paymentMethod", max_length=64, default="card")
    external_wallet = None if method.lower() in _BALANCE_METHODS else f"external:{method}"
    buy = row.text("transactionType", allow_int=True, max_length=4) == "0"
    legs: list[Leg] = []
    if buy:
        if external_wallet:
            legs.append(Leg(asset=fiat, amount=source, wallet=external_wallet))
        legs += [
            Leg(asset=fiat, amount=-(source - fee), wallet="spot"),
            Leg(asset=fiat, amount=-fee, role=LegRole.FEE, wallet="spot"),
            Leg(asset=crypto, amount=obtain, wallet="spot"),
        ]
    else:
        legs += [
            Leg(asset=crypto, amount=-obtain, wallet="spot"),
            Leg(asset=fiat, amount=source, wallet="spot"),
            Leg(asset=fiat, amount=-fee, role=LegRole.FEE, wallet="spot"),
        ]
        if external_wallet:
            legs.append(Leg(asset=fiat, amount=-(source - fee), wallet=external_wallet))
    price = row.optional_amount("price")
    meta = _fiat_meta(fiat, source) | {"payment_method": method, "price": "" if price is None else str(price)}
    ident = order_no(row.data, raw.stream)
    return [
        _tx(
            raw,
            f"fiat_payment:{ident}",
            TransactionKind.TRADE,
            time_of(row, "createTime"),
            legs,
            status=status,
            flags=flags,
            external={"order_no": ident},
            meta=meta,
        )
    ]


# -- convert, dust, liquid swap ------------------------------------------------------------------------

_CONVERT_STATUS = {
    "SUCCESS": TransactionStatus.CONFIRMED,
    "PROCESS": TransactionStatus.PENDING,
    "ACCEPT_SUCCESS": TransactionStatus.PENDING,
    "FAIL": TransactionStatus.FAILED,
}


def convert_id(row: Mapping[str, Any], stream: str = "convert") -> str:
    """A Convert trade's ``orderId``."""
    return Fields(row, stream=stream).text_id("orderId", allow_int=True, max_length=64)


def normalize_convert(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A Convert trade: ``fromAmount`` of ``fromAsset`` for ``toAmount`` of ``toAsset``."""
    row = reader(raw)
    state = row.text("orderStatus", max_length=40, default="SUCCESS")
    status = _CONVERT_STATUS.get(state, TransactionStatus.PENDING)
    flags = set() if state in _CONVERT_STATUS else {"unknown_status"}
    src, dst = row.asset("fromAsset"), row.asset("toAsset")
    out, got = row.amount("fromAmount"), row.amount("toAmount")
    ratio = row.optional_amount("ratio")
    meta: dict[str, Any] = {"ratio": "" if ratio is None else str(ratio)}
    if src in FIAT:
        meta.update(_fiat_meta(src, out))
    elif dst in FIAT:
        meta.update(_fiat_meta(dst, got))
    ident = convert_id(row.data, raw.stream)
    return [
        _tx(
            raw,
            f"convert:{ident}",
            TransactionKind.CONVERT,
            time_of(row, "createTime"),
            [Leg(asset=src, amount=-out, wallet="spot"), Leg(asset=dst, amount=got, wallet="spot")],
            status=status,
            flags=flags,
            external={
                "order_id": ident,
                "quote_id": row.optional_text("quoteId", allow_int=True, max_length=80),
            },
            meta=meta,
        )
    ]


def normalize_dust(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """One dust conversion: several small balances into BNB, the service charge as a BNB fee leg."""
    row = reader(raw)
    legs: list[Leg] = []
    for detail in row.objects("userAssetDribbletDetails", optional=True):
        legs.append(Leg(asset=detail.asset("fromAsset"), amount=-detail.amount("amount"), wallet="spot"))
    received, charge = row.amount("totalTransferedAmount"), row.amount("totalServiceChargeAmount", _ZERO)
    legs.append(Leg(asset="BNB", amount=received + charge, wallet="spot"))
    legs.append(Leg(asset="BNB", amount=-charge, role=LegRole.FEE, wallet="spot"))
    ident = row.int_id("transId")
    return [
        _tx(
            raw,
            f"dust:{ident}",
            TransactionKind.DUST_CONVERSION,
            time_of(row, "operateTime"),
            legs,
            external={"trans_id": ident},
        )
    ]


_SWAP_STATUS = {1: TransactionStatus.CONFIRMED, 0: TransactionStatus.PENDING, 2: TransactionStatus.FAILED}


def normalize_swap(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A Liquid Swap trade: ``quoteQty`` of ``quoteAsset`` swapped into ``baseQty`` of
    ``baseAsset``; ``fee`` is charged in the quote asset on top."""
    row = reader(raw)
    status, flags = _status(_SWAP_STATUS, row)
    quote, base = row.asset("quoteAsset"), row.asset("baseAsset")
    ident = row.int_id("swapId")
    price = row.optional_amount("price")
    return [
        _tx(
            raw,
            f"bswap:{ident}",
            TransactionKind.TRADE,
            time_of(row, "swapTime"),
            [
                Leg(asset=quote, amount=-row.amount("quoteQty"), wallet="spot"),
                Leg(asset=base, amount=row.amount("baseQty"), wallet="spot"),
                Leg(asset=quote, amount=-row.amount("fee", _ZERO), role=LegRole.FEE, wallet="spot"),
            ],
            status=status,
            flags=flags,
            external={"swap_id": ident},
            meta={"venue": "liquid_swap", "price": "" if price is None else str(price)},
        )
    ]


# -- rewards -------------------------------------------------------------------------------------------

#: Asset dividend ``enInfo`` text (lower case, matched as a substring) -> kind. First match wins.
_DIVIDEND_KINDS: tuple[tuple[str, TransactionKind], ...] = (
    ("airdrop", TransactionKind.AIRDROP),
    ("launchpool", TransactionKind.DISTRIBUTION),
    ("megadrop", TransactionKind.DISTRIBUTION),
    ("hodler", TransactionKind.AIRDROP),
    ("distribution", TransactionKind.DISTRIBUTION),
    ("bnb vault", TransactionKind.REWARD),
    ("staking", TransactionKind.REWARD),
    ("savings", TransactionKind.INTEREST),
    ("interest", TransactionKind.INTEREST),
    ("simple earn", TransactionKind.REWARD),
    ("commission", TransactionKind.REFERRAL),
    ("referral", TransactionKind.REFERRAL),
    ("rebate", TransactionKind.REFERRAL),
    ("mining", TransactionKind.MINING),
)


def normalize_dividend(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """An asset dividend (staking, savings, airdrop, launchpool, distribution...), by ``enInfo``."""
    row = reader(raw)
    info = row.label("enInfo", max_length=200) or ""
    kind = next((k for text, k in _DIVIDEND_KINDS if text in info.lower()), None)
    flags = set() if kind is not None else {"unknown_type"}
    direction = row.text("direction", allow_int=True, max_length=8, default="1")
    sign = -1 if direction in ("-1", "OUT") else 1
    role = LegRole.INTEREST if kind == TransactionKind.INTEREST else LegRole.REWARD
    return [
        _tx(
            raw,
            f"dividend:{row.int_id('id')}",
            kind or TransactionKind.OTHER,
            time_of(row, "divTime"),
            [Leg(asset=row.asset("asset"), amount=sign * row.amount("amount"), role=role, wallet="spot")],
            flags=flags,
            external={"tran_id": row.optional_text("tranId", allow_int=True, max_length=40)},
            description=info or None,
        )
    ]


_FLEXIBLE_TYPES = frozenset({"BONUS", "REALTIME", "REWARDS"})


def _composed(stream: str, *parts: str) -> str:
    ident = ":".join(parts)
    try:
        return check_identity(ident)
    except ValueError as exc:
        raise InvalidRecordError(f"a {stream} record: its id {exc}", stream=stream, field="id") from None


def earn_flexible_id(row: Mapping[str, Any], stream: str = "earn_flexible") -> str:
    """Flexible reward rows have no id: (time, asset, product, type) identifies them."""
    f = Fields(row, stream=stream)
    return _composed(
        stream,
        str(f.integer("time", minimum=0)),
        f.asset("asset"),
        f.text("projectId", max_length=64, allow_int=True, default="") if f.has("projectId") else "",
        f.text("type", max_length=32) if f.has("type") else "",
    )


def earn_locked_id(row: Mapping[str, Any], stream: str = "earn_locked") -> str:
    """Locked reward rows: (position, time, asset, type)."""
    f = Fields(row, stream=stream)
    return _composed(
        stream,
        f.text("positionId", max_length=64, allow_int=True) if f.has("positionId") else "",
        str(f.integer("time", minimum=0)),
        f.asset("asset"),
        f.text("type", max_length=32) if f.has("type") else "",
    )


def normalize_earn_flexible(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A Simple Earn flexible reward (interest)."""
    row = reader(raw)
    kind = row.text("type", max_length=32) if row.has("type") else ""
    kind_ok = kind in _FLEXIBLE_TYPES
    product = row.optional_text("projectId", allow_int=True, max_length=64)
    reward = Leg(asset=row.asset("asset"), amount=row.amount("rewards"), role=LegRole.INTEREST, wallet="spot")
    return [
        _tx(
            raw,
            f"earn_flexible:{earn_flexible_id(row.data, raw.stream)}",
            TransactionKind.INTEREST if kind_ok else TransactionKind.OTHER,
            time_of(row, "time"),
            [reward],
            flags=set() if kind_ok else {"unknown_type"},
            meta={"product": product, "type": kind or None},
        )
    ]


def normalize_earn_locked(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A Simple Earn locked reward."""
    row = reader(raw)
    return [
        _tx(
            raw,
            f"earn_locked:{earn_locked_id(row.data, raw.stream)}",
            TransactionKind.REWARD,
            time_of(row, "time"),
            [Leg(asset=row.asset("asset"), amount=row.amount("amount"), role=LegRole.REWARD, wallet="spot")],
            meta={
                "position": row.optional_text("positionId", allow_int=True, max_length=64),
                "lock_period": row.optional_text("lockPeriod", allow_int=True, max_length=16),
                "type": row.optional_text("type", max_length=32),
            },
        )
    ]


# -- futures and margin ----------------------------------------------------------------------------------

FUTURES_WALLET = "futures:usdm"
_INCOME: dict[str, tuple[TransactionKind, LegRole]] = {
    "REALIZED_PNL": (TransactionKind.REALIZED_PNL, LegRole.PNL),
    "FUNDING_FEE": (TransactionKind.FUNDING_FEE, LegRole.FUNDING),
    "COMMISSION": (TransactionKind.FEE, LegRole.FEE),
    "COMMISSION_REBATE": (TransactionKind.REFERRAL, LegRole.REBATE),
    "API_REBATE": (TransactionKind.REFERRAL, LegRole.REBATE),
    "REFERRAL_KICKBACK": (TransactionKind.REFERRAL, LegRole.REBATE),
    "INSURANCE_CLEAR": (TransactionKind.OTHER, LegRole.OTHER),
    "WELCOME_BONUS": (TransactionKind.REWARD, LegRole.REWARD),
    "DELIVERED_SETTELMENT": (TransactionKind.REALIZED_PNL, LegRole.PNL),  # (sic) COIN-M delivery
    "CONTEST_REWARD": (TransactionKind.REWARD, LegRole.REWARD),
}


def futures_income_id(row: Mapping[str, Any], stream: str = "futures_income") -> str:
    """An income row's identity: (tranId, incomeType, asset, symbol)."""
    f = Fields(row, stream=stream)
    return _composed(
        stream,
        f.text_id("tranId", allow_int=True, max_length=40),
        f.text("incomeType", max_length=40),
        f.asset("asset"),
        f.text("symbol", max_length=40) if f.has("symbol") else "",
    )


def income(raw: RawTransaction, wallet: str, prefix: str) -> list[NormalizedTransaction]:
    """A futures income row (USD-M ``/fapi/v1/income`` or COIN-M ``/dapi/v1/income``, one shape)
    in ``wallet``. ``TRANSFER`` moves value between spot and that wallet (two legs netting to
    zero); unknown income types are kept as OTHER with ``unknown_type``."""
    row = reader(raw)
    income_type, asset = row.text("incomeType", max_length=40), row.asset("asset")
    amount = row.amount("income")
    at = time_of(row, "time")
    key = f"{prefix}:{futures_income_id(row.data, raw.stream)}"
    external = {
        "tran_id": row.text_id("tranId", allow_int=True, max_length=40),
        "trade_id": row.optional_text("tradeId", allow_int=True, max_length=40),
    }
    meta = {"symbol": row.optional_text("symbol", max_length=40), "income_type": income_type}
    if income_type == "TRANSFER":
        legs = [
            Leg(asset=asset, amount=amount, wallet=wallet),
            Leg(asset=asset, amount=-amount, wallet="spot"),
        ]
        return [_tx(raw, key, TransactionKind.TRANSFER, at, legs, external=external, meta=meta)]
    known = _INCOME.get(income_type)
    kind, role = known or (TransactionKind.OTHER, LegRole.OTHER)
    return [
        _tx(
            raw,
            key,
            kind,
            at,
            [Leg(asset=asset, amount=amount, role=role, wallet=wallet)],
            external=external,
            meta=meta,
            flags=set() if known else {"unknown_type"},
        )
    ]


def normalize_futures_income(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """USD-M futures income (see :func:`income`)."""
    return income(raw, FUTURES_WALLET, "futures_income")


def margin_interest_id(row: Mapping[str, Any], stream: str = "margin_interest") -> str:
    """A margin interest row's ``txId``."""
    return Fields(row, stream=stream).text_id("txId", allow_int=True, max_length=40)


def normalize_margin_interest(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """Interest charged on a margin loan (a fee alone)."""
    row = reader(raw)
    ident = margin_interest_id(row.data, raw.stream)
    principal = row.optional_amount("principal")
    return [
        _tx(
            raw,
            f"margin_interest:{ident}",
            TransactionKind.FEE,
            time_of(row, "interestAccuredTime"),
            [
                Leg(
                    asset=row.asset("asset"),
                    amount=-row.amount("interest"),
                    role=LegRole.INTEREST,
                    wallet="margin",
                )
            ],
            external={"tx_id": ident},
            meta={"principal": "" if principal is None else str(principal)},
        )
    ]


#: Stream name -> normalizer of one raw record.
NORMALIZERS: dict[str, Normalizer] = {
    "trades": normalize_trade,
    "margin_trades": normalize_margin_trade,
    "deposits": normalize_deposit,
    "withdrawals": normalize_withdrawal,
    "fiat_orders": normalize_fiat_order,
    "fiat_payments": normalize_fiat_payment,
    "convert": normalize_convert,
    "dust": normalize_dust,
    "dividends": normalize_dividend,
    "earn_flexible": normalize_earn_flexible,
    "earn_locked": normalize_earn_locked,
    "liquidity_swaps": normalize_swap,
    "futures_income": normalize_futures_income,
    "margin_interest": normalize_margin_interest,
}


def normalize_raws(stream: str, raws: Iterable[RawTransaction]) -> list[NormalizedTransaction]:
    """Normalize the raws of one page of ``stream``. A record that cannot be read (a missing or
    mistyped field, an amount outside the ledger's range, a bad identity) is an
    :class:`~txsync.errors.InvalidRecordError` naming the stream, the record and the field: nothing
    of the page is kept, never a transaction standing for a record txsync did not understand."""
    normalizer = NORMALIZERS.get(stream)
    if normalizer is None:  # the issue-18 categories build on this module's helpers
        from ._categories import CATEGORY_NORMALIZERS
        from ._isolated import ISOLATED_NORMALIZERS
        from ._mining import MINING_NORMALIZERS
        from ._transfers import TRANSFER_NORMALIZERS

        later = {**CATEGORY_NORMALIZERS, **TRANSFER_NORMALIZERS, **ISOLATED_NORMALIZERS, **MINING_NORMALIZERS}
        normalizer = later[stream]
    out: list[NormalizedTransaction] = []
    for raw in raws:
        with record_errors(stream, raw.source_id):
            out.extend(normalizer(raw))
    return out

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

from collections.abc import Callable, Iterable, Mapping
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
    to_amount,
)
from txsync.pagination import from_ms

__all__ = [
    "FIAT",
    "NORMALIZERS",
    "dec",
    "normalize_raws",
    "parse_time",
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


def dec(row: Mapping[str, Any], name: str) -> Decimal:
    """An amount field of a Binance row as an exact ``Decimal`` (0 when absent or empty);
    :class:`BadResponseError` when it is not a number."""
    value = row.get(name)
    if value is None or value == "":
        return _ZERO
    try:
        return to_amount(value)
    except ValueError:
        raise BadResponseError(f"field {name} is not a decimal amount") from None


def parse_time(value: Any) -> datetime:
    """A Binance time: epoch milliseconds (int or digit string) or ``"YYYY-MM-DD HH:MM:SS"`` (UTC)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return from_ms(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return from_ms(int(value))
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return from_ms(int(text))
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BadResponseError("a time field is neither epoch ms nor 'YYYY-MM-DD HH:MM:SS'") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    raise BadResponseError(f"a time field has type {type(value).__name__}")


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


# -- spot and margin trades ----------------------------------------------------------------------------


def _trade(raw: RawTransaction, prefix: str, wallet: str) -> Iterable[NormalizedTransaction]:
    row = raw.payload
    symbol = str(row["symbol"])
    base, quote = str(row["baseAsset"]), str(row["quoteAsset"])
    qty, price = dec(row, "qty"), dec(row, "price")
    quote_qty = dec(row, "quoteQty") if row.get("quoteQty") not in (None, "") else qty * price
    buyer = row.get("isBuyer")
    key = f"{prefix}:{symbol}:{row['id']}"
    at = parse_time(row["time"])
    external = {"trade_id": row["id"], "order_id": row.get("orderId")}
    meta: dict[str, Any] = {"symbol": symbol, "price": str(price), "maker": bool(row.get("isMaker"))}
    if not isinstance(buyer, bool):
        yield _tx(
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
        return
    sign = 1 if buyer else -1
    legs = [
        Leg(asset=base, amount=sign * qty, wallet=wallet),
        Leg(asset=quote, amount=-sign * quote_qty, wallet=wallet),
    ]
    commission = dec(row, "commission")
    if commission:
        legs.append(
            Leg(asset=str(row["commissionAsset"]), amount=-commission, role=LegRole.FEE, wallet=wallet)
        )
    if quote in FIAT:
        meta.update(_fiat_meta(quote, quote_qty))
    elif base in FIAT:
        meta.update(_fiat_meta(base, qty))
    yield _tx(raw, key, TransactionKind.TRADE, at, legs, external=external, meta=meta)


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
    6: TransactionStatus.PENDING,  # credited but cannot be withdrawn yet
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


def _status(table: Mapping[int, TransactionStatus], value: Any) -> tuple[TransactionStatus, set[str]]:
    try:
        return table[int(value)], set()
    except (KeyError, TypeError, ValueError):
        return TransactionStatus.PENDING, {"unknown_status"}


def normalize_deposit(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A crypto deposit: credited only with status 1; 0/6/8 pending; 2/7 failed."""
    row = raw.payload
    status, flags = _status(_DEPOSIT_STATUS, row.get("status"))
    wallet = _WALLET_TYPE.get(int(row.get("walletType") or 0), "spot")
    yield _tx(
        raw,
        f"deposit:{row['id']}",
        TransactionKind.DEPOSIT,
        parse_time(row["insertTime"]),
        [Leg(asset=str(row["coin"]), amount=dec(row, "amount"), wallet=wallet)],
        status=status,
        flags=flags,
        external={"tx_hash": row.get("txId"), "network": row.get("network"), "address": row.get("address")},
    )


def normalize_withdrawal(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A crypto withdrawal with its fee leg: completed (6) confirmed; 0/2/4 pending; 1/3/5 failed."""
    row = raw.payload
    status, flags = _status(_WITHDRAW_STATUS, row.get("status"))
    coin = str(row["coin"])
    wallet = _WALLET_TYPE.get(int(row.get("walletType") or 0), "spot")
    yield _tx(
        raw,
        f"withdrawal:{row['id']}",
        TransactionKind.WITHDRAWAL,
        parse_time(row["applyTime"]),
        [
            Leg(asset=coin, amount=-dec(row, "amount"), wallet=wallet),
            Leg(asset=coin, amount=-dec(row, "transactionFee"), role=LegRole.FEE, wallet=wallet),
        ],
        status=status,
        flags=flags,
        external={"tx_hash": row.get("txId"), "network": row.get("network"), "address": row.get("address")},
    )


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
#: Fiat payments paid from (or paid out to) the fiat balance held at Binance, not a card or bank.
_BALANCE_METHODS = frozenset({"cash balance", "fiat balance", "wallet balance"})


def _fiat_status(value: Any) -> tuple[TransactionStatus, set[str]]:
    status = _FIAT_STATUS.get(str(value).strip().lower())
    return (status, set()) if status is not None else (TransactionStatus.PENDING, {"unknown_status"})


def normalize_fiat_order(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A fiat deposit (``transactionType`` 0) or withdrawal (1): ``amount`` moves, ``totalFee`` is a
    fee leg on top (the connector adds ``transactionType`` to the row)."""
    row = raw.payload
    status, flags = _fiat_status(row.get("status"))
    currency = str(row["fiatCurrency"])
    amount, fee = dec(row, "amount"), dec(row, "totalFee")
    deposit = str(row.get("transactionType")) == "0"
    kind = TransactionKind.FIAT_DEPOSIT if deposit else TransactionKind.FIAT_WITHDRAWAL
    legs = [
        Leg(asset=currency, amount=amount if deposit else -amount, wallet="spot"),
        Leg(asset=currency, amount=-fee, role=LegRole.FEE, wallet="spot"),
    ]
    yield _tx(
        raw,
        f"fiat_order:{row['orderNo']}",
        kind,
        parse_time(row["createTime"]),
        legs,
        status=status,
        flags=flags,
        external={"order_no": row["orderNo"]},
        meta={"method": row.get("method")} if row.get("method") else None,
    )


def normalize_fiat_payment(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """Crypto bought (``transactionType`` 0) or sold (1) with fiat.

    ``sourceAmount`` is the fiat amount (fee included), ``obtainAmount`` the crypto amount. Fiat
    paid by card or bank comes from outside the account: it enters through a leg in wallet
    ``external:<method>`` and leaves at once, so the account's fiat balance is unchanged while the
    trade still carries its fiat legs (and ``meta["fiat_amount"]``) for valuation.
    """
    row = raw.payload
    status, flags = _fiat_status(row.get("status"))
    fiat, crypto = str(row["fiatCurrency"]), str(row["cryptoCurrency"])
    source, obtain, fee = dec(row, "sourceAmount"), dec(row, "obtainAmount"), dec(row, "totalFee")
    method = str(row.get("paymentMethod") or "card")
    external_wallet = None if method.strip().lower() in _BALANCE_METHODS else f"external:{method}"
    buy = str(row.get("transactionType")) == "0"
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
    meta = _fiat_meta(fiat, source) | {"payment_method": method, "price": str(row.get("price", ""))}
    yield _tx(
        raw,
        f"fiat_payment:{row['orderNo']}",
        TransactionKind.TRADE,
        parse_time(row["createTime"]),
        legs,
        status=status,
        flags=flags,
        external={"order_no": row["orderNo"]},
        meta=meta,
    )


# -- convert, dust, liquid swap ------------------------------------------------------------------------

_CONVERT_STATUS = {
    "SUCCESS": TransactionStatus.CONFIRMED,
    "PROCESS": TransactionStatus.PENDING,
    "ACCEPT_SUCCESS": TransactionStatus.PENDING,
    "FAIL": TransactionStatus.FAILED,
}


def normalize_convert(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A Convert trade: ``fromAmount`` of ``fromAsset`` for ``toAmount`` of ``toAsset``."""
    row = raw.payload
    state = str(row.get("orderStatus", "SUCCESS"))
    status = _CONVERT_STATUS.get(state, TransactionStatus.PENDING)
    flags = set() if state in _CONVERT_STATUS else {"unknown_status"}
    src, dst = str(row["fromAsset"]), str(row["toAsset"])
    out, got = dec(row, "fromAmount"), dec(row, "toAmount")
    meta: dict[str, Any] = {"ratio": str(row.get("ratio", ""))}
    if src in FIAT:
        meta.update(_fiat_meta(src, out))
    elif dst in FIAT:
        meta.update(_fiat_meta(dst, got))
    yield _tx(
        raw,
        f"convert:{row['orderId']}",
        TransactionKind.CONVERT,
        parse_time(row["createTime"]),
        [Leg(asset=src, amount=-out, wallet="spot"), Leg(asset=dst, amount=got, wallet="spot")],
        status=status,
        flags=flags,
        external={"order_id": row["orderId"], "quote_id": row.get("quoteId")},
        meta=meta,
    )


def normalize_dust(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """One dust conversion: several small balances into BNB, the service charge as a BNB fee leg."""
    row = raw.payload
    legs: list[Leg] = []
    for detail in row.get("userAssetDribbletDetails") or ():
        legs.append(Leg(asset=str(detail["fromAsset"]), amount=-dec(detail, "amount"), wallet="spot"))
    received, charge = dec(row, "totalTransferedAmount"), dec(row, "totalServiceChargeAmount")
    legs.append(Leg(asset="BNB", amount=received + charge, wallet="spot"))
    legs.append(Leg(asset="BNB", amount=-charge, role=LegRole.FEE, wallet="spot"))
    yield _tx(
        raw,
        f"dust:{row['transId']}",
        TransactionKind.DUST_CONVERSION,
        parse_time(row["operateTime"]),
        legs,
        external={"trans_id": row["transId"]},
    )


_SWAP_STATUS = {1: TransactionStatus.CONFIRMED, 0: TransactionStatus.PENDING, 2: TransactionStatus.FAILED}


def normalize_swap(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A Liquid Swap trade: ``quoteQty`` of ``quoteAsset`` swapped into ``baseQty`` of
    ``baseAsset``; ``fee`` is charged in the quote asset on top."""
    row = raw.payload
    status, flags = _status(_SWAP_STATUS, row.get("status"))
    quote, base = str(row["quoteAsset"]), str(row["baseAsset"])
    yield _tx(
        raw,
        f"bswap:{row['swapId']}",
        TransactionKind.TRADE,
        parse_time(row["swapTime"]),
        [
            Leg(asset=quote, amount=-dec(row, "quoteQty"), wallet="spot"),
            Leg(asset=base, amount=dec(row, "baseQty"), wallet="spot"),
            Leg(asset=quote, amount=-dec(row, "fee"), role=LegRole.FEE, wallet="spot"),
        ],
        status=status,
        flags=flags,
        external={"swap_id": row["swapId"]},
        meta={"venue": "liquid_swap", "price": str(row.get("price", ""))},
    )


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
    row = raw.payload
    info = str(row.get("enInfo") or "")
    kind = next((k for text, k in _DIVIDEND_KINDS if text in info.lower()), None)
    flags = set() if kind is not None else {"unknown_type"}
    sign = -1 if str(row.get("direction", "1")) in ("-1", "OUT") else 1
    role = LegRole.INTEREST if kind == TransactionKind.INTEREST else LegRole.REWARD
    yield _tx(
        raw,
        f"dividend:{row['id']}",
        kind or TransactionKind.OTHER,
        parse_time(row["divTime"]),
        [Leg(asset=str(row["asset"]), amount=sign * dec(row, "amount"), role=role, wallet="spot")],
        flags=flags,
        external={"tran_id": row.get("tranId")},
        description=info or None,
    )


_FLEXIBLE_TYPES = frozenset({"BONUS", "REALTIME", "REWARDS"})


def earn_flexible_id(row: Mapping[str, Any]) -> str:
    """Flexible reward rows have no id: (time, asset, product, type) identifies them."""
    return f"{row['time']}:{row['asset']}:{row.get('projectId', '')}:{row.get('type', '')}"


def earn_locked_id(row: Mapping[str, Any]) -> str:
    """Locked reward rows: (position, time, asset, type)."""
    return f"{row.get('positionId', '')}:{row['time']}:{row['asset']}:{row.get('type', '')}"


def normalize_earn_flexible(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A Simple Earn flexible reward (interest)."""
    row = raw.payload
    kind_ok = str(row.get("type", "")) in _FLEXIBLE_TYPES
    yield _tx(
        raw,
        f"earn_flexible:{earn_flexible_id(row)}",
        TransactionKind.INTEREST if kind_ok else TransactionKind.OTHER,
        parse_time(row["time"]),
        [Leg(asset=str(row["asset"]), amount=dec(row, "rewards"), role=LegRole.INTEREST, wallet="spot")],
        flags=set() if kind_ok else {"unknown_type"},
        meta={"product": row.get("projectId"), "type": row.get("type")},
    )


def normalize_earn_locked(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A Simple Earn locked reward."""
    row = raw.payload
    yield _tx(
        raw,
        f"earn_locked:{earn_locked_id(row)}",
        TransactionKind.REWARD,
        parse_time(row["time"]),
        [Leg(asset=str(row["asset"]), amount=dec(row, "amount"), role=LegRole.REWARD, wallet="spot")],
        meta={
            "position": row.get("positionId"),
            "lock_period": row.get("lockPeriod"),
            "type": row.get("type"),
        },
    )


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
}


def futures_income_id(row: Mapping[str, Any]) -> str:
    """An income row's identity: (tranId, incomeType, asset, symbol)."""
    return f"{row['tranId']}:{row['incomeType']}:{row['asset']}:{row.get('symbol') or ''}"


def normalize_futures_income(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """USD-M futures income. ``TRANSFER`` moves value between spot and the futures wallet (two
    legs netting to zero); unknown income types are kept as OTHER with ``unknown_type``."""
    row = raw.payload
    income_type, asset = str(row["incomeType"]), str(row["asset"])
    amount = dec(row, "income")
    at = parse_time(row["time"])
    key = f"futures_income:{futures_income_id(row)}"
    external = {"tran_id": row.get("tranId"), "trade_id": row.get("tradeId")}
    meta = {"symbol": row.get("symbol") or None, "income_type": income_type}
    if income_type == "TRANSFER":
        legs = [
            Leg(asset=asset, amount=amount, wallet=FUTURES_WALLET),
            Leg(asset=asset, amount=-amount, wallet="spot"),
        ]
        yield _tx(raw, key, TransactionKind.TRANSFER, at, legs, external=external, meta=meta)
        return
    known = _INCOME.get(income_type)
    kind, role = known or (TransactionKind.OTHER, LegRole.OTHER)
    yield _tx(
        raw,
        key,
        kind,
        at,
        [Leg(asset=asset, amount=amount, role=role, wallet=FUTURES_WALLET)],
        external=external,
        meta=meta,
        flags=set() if known else {"unknown_type"},
    )


def normalize_margin_interest(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """Interest charged on a margin loan (a fee alone)."""
    row = raw.payload
    yield _tx(
        raw,
        f"margin_interest:{row['txId']}",
        TransactionKind.FEE,
        parse_time(row["interestAccuredTime"]),
        [Leg(asset=str(row["asset"]), amount=-dec(row, "interest"), role=LegRole.INTEREST, wallet="margin")],
        external={"tx_id": row["txId"]},
        meta={"principal": str(row.get("principal", ""))},
    )


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


def normalize_raws(stream: str, raws: Iterable[RawTransaction]) -> Iterable[NormalizedTransaction]:
    """Normalize the raws of one page of ``stream``. A record missing a field it needs is kept as
    OTHER with ``malformed`` rather than failing the page."""
    normalizer = NORMALIZERS[stream]
    for raw in raws:
        try:
            yield from normalizer(raw)
        except (KeyError, TypeError, BadResponseError, ValueError) as exc:
            payload = raw.payload if isinstance(raw.payload, dict) else {}
            asset = next(
                (str(payload[k]) for k in ("asset", "coin", "baseAsset", "fromAsset") if payload.get(k)),
                "UNKNOWN",
            )
            yield NormalizedTransaction(
                account_id=raw.account_id,
                key=f"{stream}:malformed:{raw.source_id}",
                kind=TransactionKind.OTHER,
                timestamp=raw.fetched_at,
                legs=[Leg(asset=asset, amount=0)],
                sources=[raw.ref],
                flags=frozenset({"unknown_type", "malformed"}),
                description=f"record not understood ({type(exc).__name__})",
            )

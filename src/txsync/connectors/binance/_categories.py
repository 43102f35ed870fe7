"""Normalization of the categories read since issue 18: COIN-M futures income, Binance Pay, P2P,
ETH staking, spot commission rebates, crypto loans, auto-invest and European options bills.

Same conventions as :mod:`._normalize` (signed legs, fees as their own legs, keys
``<record type>:<id>``). Rows without an id of their own (ETH staking, rebates) are identified by
what they hold, like the Simple Earn rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from txsync.fields import Fields
from txsync.models import (
    Leg,
    LegRole,
    NormalizedTransaction,
    RawTransaction,
    TransactionKind,
    TransactionStatus,
)

from ._normalize import _composed, _fiat_meta, _tx, _unknown, income, reader, time_of

__all__ = [
    "CATEGORY_NORMALIZERS",
    "COIN_FUTURES_WALLET",
    "OPTIONS_WALLET",
    "auto_invest_id",
    "eth_staking_id",
    "loan_id",
    "p2p_id",
    "pay_id",
    "rebate_id",
]

COIN_FUTURES_WALLET = "futures:coinm"
OPTIONS_WALLET = "options"
_ZERO = Decimal(0)


def _sign(value: Decimal) -> int:
    return -1 if value < 0 else 1


# -- COIN-M futures -----------------------------------------------------------------------------------


def normalize_coin_futures_income(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """COIN-M futures income (``/dapi/v1/income``): the USD-M shape, in wallet ``futures:coinm``;
    ``DELIVERED_SETTELMENT`` (a delivery contract's settlement) is realized PnL."""
    return income(raw, COIN_FUTURES_WALLET, "coin_futures_income")


# -- Binance Pay --------------------------------------------------------------------------------------

_PAY_WALLETS = {1: "funding", 2: "spot"}


def pay_id(row: Mapping[str, Any], stream: str = "pay") -> str:
    """A Pay transaction's ``transactionId``."""
    return Fields(row, stream=stream).text_id("transactionId", allow_int=True, max_length=64)


def normalize_pay(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A Binance Pay transaction: ``amount`` of ``currency`` is signed from the account's side
    (received > 0, paid < 0); a payment funded from several currencies lists them in
    ``fundsDetail``, each a leg with the payment's sign. Received: ``deposit``; paid:
    ``withdrawal`` (meta ``venue: binance_pay`` and the ``orderType``)."""
    row = reader(raw)
    amount = row.amount("amount")
    sign = _sign(amount)
    wallet = _PAY_WALLETS.get(row.integer("walletType", default=1, minimum=0, maximum=10**6), "funding")
    details = row.objects("fundsDetail", optional=True)
    legs = [
        Leg(asset=d.asset("currency"), amount=sign * abs(d.amount("amount")), wallet=wallet) for d in details
    ]
    if not legs:
        legs = [Leg(asset=row.asset("currency"), amount=amount, wallet=wallet)]
    ident = pay_id(row.data, raw.stream)
    order_type = row.text("orderType", max_length=40, default="PAY")
    return [
        _tx(
            raw,
            f"pay:{ident}",
            TransactionKind.WITHDRAWAL if sign < 0 else TransactionKind.DEPOSIT,
            time_of(row, "transactionTime"),
            legs,
            external={"pay_transaction_id": ident},
            meta={"venue": "binance_pay", "order_type": order_type},
        )
    ]


# -- P2P ---------------------------------------------------------------------------------------------

_P2P_STATUS = {
    "COMPLETED": TransactionStatus.CONFIRMED,
    "CANCELLED": TransactionStatus.FAILED,
    "CANCELLED_BY_SYSTEM": TransactionStatus.FAILED,
    "PENDING": TransactionStatus.PENDING,
    "TRADING": TransactionStatus.PENDING,
    "BUYER_PAYED": TransactionStatus.PENDING,
    "DISTRIBUTING": TransactionStatus.PENDING,
    "IN_APPEAL": TransactionStatus.PENDING,
}
#: P2P statuses after which an order never changes again.
P2P_FINAL = frozenset(k for k, v in _P2P_STATUS.items() if v != TransactionStatus.PENDING)


def p2p_id(row: Mapping[str, Any], stream: str = "p2p") -> str:
    """A P2P order's ``orderNumber``."""
    return Fields(row, stream=stream).text_id("orderNumber", allow_int=True, max_length=64)


def normalize_p2p(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A P2P (C2C) order: ``amount`` of crypto bought (``tradeType`` BUY) or sold (SELL) in the
    funding wallet for ``totalPrice`` of ``fiat`` paid outside Binance (bank, app): the fiat never
    touches the account, so it is ``meta["fiat_amount"]`` / ``meta["fiat_currency"]`` (valuation
    prices the trade from it), not a leg. ``commission`` is a fee leg in the crypto, on top."""
    row = reader(raw)
    state = row.text("orderStatus", max_length=40)
    status = _P2P_STATUS.get(state, TransactionStatus.PENDING)
    side = row.text("tradeType", max_length=8)
    if side not in ("BUY", "SELL"):
        flags = {"unknown_type"}
        sign = 0
    else:
        flags = set() if state in _P2P_STATUS else {"unknown_status"}
        sign = 1 if side == "BUY" else -1
    asset, fiat = row.asset("asset"), row.asset("fiat")
    total = row.amount("totalPrice")
    meta: dict[str, Any] = {"venue": "p2p", "side": side, "price": str(row.amount("unitPrice", _ZERO))}
    meta.update(_fiat_meta(fiat, total))
    ident = p2p_id(row.data, raw.stream)
    return [
        _tx(
            raw,
            f"p2p:{ident}",
            TransactionKind.TRADE if sign else TransactionKind.OTHER,
            time_of(row, "createTime"),
            [
                Leg(asset=asset, amount=sign * row.amount("amount"), wallet="funding"),
                Leg(asset=asset, amount=-row.amount("commission", _ZERO), role=LegRole.FEE, wallet="funding"),
            ],
            status=status,
            flags=flags,
            external={
                "order_number": ident,
                "adv_no": row.optional_text("advNo", allow_int=True, max_length=64),
            },
            meta=meta,
        )
    ]


# -- ETH staking -------------------------------------------------------------------------------------

_STAKING_STATUS = {
    "SUCCESS": TransactionStatus.CONFIRMED,
    "PENDING": TransactionStatus.PENDING,
    "FAILED": TransactionStatus.FAILED,
}


def eth_staking_id(row: Mapping[str, Any], stream: str = "eth_staking") -> str:
    """ETH staking rows have no id: (product, time, asset, amount) identifies them (``product``
    is added by the connector: ``staking``, ``redemption``, ``rewards``, ``wbeth_rewards``)."""
    f = Fields(row, stream=stream)
    product = f.text("product", max_length=20)
    if product == "wbeth_rewards":
        return _composed(
            stream, product, str(f.integer("time", minimum=0)), "WBETH", str(f.amount("amountInETH"))
        )
    return _composed(
        stream, product, str(f.integer("time", minimum=0)), f.asset("asset"), str(f.amount("amount"))
    )


def normalize_eth_staking(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """ETH staking: a stake (ETH out, WBETH/BETH in) or a redemption (WBETH out, ETH in) is a
    ``convert`` at ``conversionRatio``; a BETH reward distribution a ``reward``. WBETH rewards
    accrue inside WBETH's exchange rate (no balance moves): their rows are kept as raw records
    (the estimate in ETH) but make no transaction."""
    row = reader(raw)
    product = row.text("product", max_length=20)
    ident = eth_staking_id(row.data, raw.stream)
    at = time_of(row, "time")
    key = f"eth_staking:{ident}"
    if product in ("staking", "redemption"):
        state = row.text("status", max_length=20, default="SUCCESS")
        status = _STAKING_STATUS.get(state, TransactionStatus.PENDING)
        return [
            _tx(
                raw,
                key,
                TransactionKind.CONVERT,
                at,
                [
                    Leg(asset=row.asset("asset"), amount=-row.amount("amount"), wallet="spot"),
                    Leg(
                        asset=row.asset("distributeAsset"),
                        amount=row.amount("distributeAmount"),
                        wallet="spot",
                    ),
                ],
                status=status,
                flags=set() if state in _STAKING_STATUS else {"unknown_status"},
                meta={
                    "venue": "eth_staking",
                    "product": product,
                    "ratio": str(row.amount("conversionRatio", _ZERO)),
                },
            )
        ]
    if product == "rewards":
        state = row.text("status", max_length=20, default="SUCCESS")
        return [
            _tx(
                raw,
                key,
                TransactionKind.REWARD,
                at,
                [
                    Leg(
                        asset=row.asset("asset"),
                        amount=row.amount("amount"),
                        role=LegRole.REWARD,
                        wallet="spot",
                    )
                ],
                status=_STAKING_STATUS.get(state, TransactionStatus.PENDING),
                meta={"venue": "eth_staking", "product": product},
            )
        ]
    if product == "wbeth_rewards":
        row.amount("amountInETH")  # checked: a row that cannot be read fails its page
        return []  # accrued inside WBETH's exchange rate: no balance moved, nothing to record
    return [_tx(raw, key, TransactionKind.OTHER, at, [Leg(asset="ETH", amount=0)], flags={"unknown_type"})]


# -- spot commission rebates -------------------------------------------------------------------------

_REBATE_TYPES = {1: "commission_rebate", 2: "referral_kickback"}


def rebate_id(row: Mapping[str, Any], stream: str = "spot_rebates") -> str:
    """Rebate rows have no id: (time, asset, type, amount)."""
    f = Fields(row, stream=stream)
    return _composed(
        stream,
        str(f.integer("updateTime", minimum=0)),
        f.asset("asset"),
        str(f.integer("type", minimum=0, maximum=100)),
        str(f.amount("amount")),
    )


def normalize_rebate(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A spot commission rebate (``type`` 1) or referral kickback (2), paid into spot."""
    row = reader(raw)
    kind = _REBATE_TYPES.get(row.integer("type", minimum=0, maximum=100))
    return [
        _tx(
            raw,
            f"rebate:{rebate_id(row.data, raw.stream)}",
            TransactionKind.REFERRAL,
            time_of(row, "updateTime"),
            [Leg(asset=row.asset("asset"), amount=row.amount("amount"), role=LegRole.REBATE, wallet="spot")],
            flags=set() if kind else {"unknown_type"},
            meta={"rebate_type": kind},
        )
    ]


# -- crypto loans ------------------------------------------------------------------------------------

#: Loan flow type -> (sign of the spot leg, category).
_LOAN_TYPES: dict[str, tuple[int, str]] = {
    "borrowIn": (1, "loan"),
    "repayAmount": (-1, "loan_repayment"),
    "collateralSpent": (-1, "loan_collateral"),
    "addCollateral": (-1, "loan_collateral"),
    "collateralReturn": (1, "loan_collateral_return"),
    "removeCollateral": (1, "loan_collateral_return"),
    "collateralReturnAfterLiquidation": (1, "loan_collateral_return"),
}


def loan_id(row: Mapping[str, Any], stream: str = "loans") -> str:
    """A loan flow's ``tranId`` and ``type`` (one transfer id may carry several flows)."""
    f = Fields(row, stream=stream)
    return _composed(
        stream, f.text_id("tranId", allow_int=True, max_length=40), f.text("type", max_length=40)
    )


def normalize_loan(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A crypto loan flow (``/sapi/v1/loan/income``), kind ``other`` with ``meta["category"]``:
    the borrowed coin into spot (``borrowIn``, category ``loan``) and out (``repayAmount``,
    interest included, ``loan_repayment``); collateral out of spot while the loan runs
    (``loan_collateral``) and back (``loan_collateral_return``). Collateral held by a loan is in no
    balance Binance reports, so the ledger follows the spot balance. Amounts are unsigned: the
    type gives the sign."""
    row = reader(raw)
    flow = row.text("type", max_length=40)
    asset, amount = row.asset("asset"), abs(row.amount("amount"))
    known = _LOAN_TYPES.get(flow)
    key = f"loan:{loan_id(row.data, raw.stream)}"
    at = time_of(row, "timestamp")
    if known is None:
        return _unknown(raw, key, at, asset, meta={"loan_type": flow, "amount": str(amount)})
    sign, category = known
    return [
        _tx(
            raw,
            key,
            TransactionKind.OTHER,
            at,
            [Leg(asset=asset, amount=sign * amount, wallet="spot")],
            external={"tran_id": row.text_id("tranId", allow_int=True, max_length=40)},
            meta={"category": category, "loan_type": flow},
        )
    ]


# -- auto-invest -------------------------------------------------------------------------------------

_AUTO_INVEST_STATUS = {
    "SUCCESS": TransactionStatus.CONFIRMED,
    "PENDING": TransactionStatus.PENDING,
    "FAILED": TransactionStatus.FAILED,
}


def auto_invest_id(row: Mapping[str, Any], stream: str = "auto_invest") -> str:
    """An auto-invest transaction's ``id``."""
    return Fields(row, stream=stream).text_id("id", allow_int=True, max_length=64)


def normalize_auto_invest(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """An auto-invest purchase: ``sourceAssetAmount`` of ``sourceAsset`` spent for
    ``targetAssetAmount`` of ``targetAsset``, ``transactionFee`` (in ``transactionFeeUnit``)
    charged on top, all in spot (a ``trade``, meta ``venue: auto_invest``)."""
    row = reader(raw)
    state = row.text("transactionStatus", max_length=20)
    status = _AUTO_INVEST_STATUS.get(state, TransactionStatus.PENDING)
    source, target = row.asset("sourceAsset"), row.asset("targetAsset")
    legs = [
        Leg(asset=source, amount=-row.amount("sourceAssetAmount"), wallet="spot"),
        Leg(asset=target, amount=row.amount("targetAssetAmount"), wallet="spot"),
    ]
    fee = row.amount("transactionFee", _ZERO)
    if fee:
        legs.append(Leg(asset=row.asset("transactionFeeUnit"), amount=-fee, role=LegRole.FEE, wallet="spot"))
    ident = auto_invest_id(row.data, raw.stream)
    price = row.optional_amount("executionPrice")
    return [
        _tx(
            raw,
            f"auto_invest:{ident}",
            TransactionKind.TRADE,
            time_of(row, "transactionDateTime"),
            legs,
            status=status,
            flags=set() if state in _AUTO_INVEST_STATUS else {"unknown_status"},
            external={"plan_id": row.optional_text("planId", allow_int=True, max_length=40)},
            meta={"venue": "auto_invest", "price": "" if price is None else str(price)},
        )
    ]


# -- European options --------------------------------------------------------------------------------

_OPTION_BILLS: dict[str, tuple[TransactionKind, LegRole]] = {
    "FEE": (TransactionKind.FEE, LegRole.FEE),
    "CONTRACT": (TransactionKind.REALIZED_PNL, LegRole.PNL),
    "EXERCISE": (TransactionKind.REALIZED_PNL, LegRole.PNL),
}


def normalize_option_bill(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A European options funding flow (``/eapi/v1/bill``): ``amount`` signed (in > 0); premiums
    paid or received (``CONTRACT``) and exercises are realized PnL, ``FEE`` a fee, both in wallet
    ``options``; ``TRANSFER`` a move between spot and that wallet."""
    row = reader(raw)
    bill, asset, amount = row.text("type", max_length=40), row.asset("asset"), row.amount("amount")
    ident = row.int_id("id")
    key = f"option_bill:{ident}"
    at = time_of(row, "createDate")
    external = {"record_id": ident}
    if bill == "TRANSFER":
        legs = [
            Leg(asset=asset, amount=amount, wallet=OPTIONS_WALLET),
            Leg(asset=asset, amount=-amount, wallet="spot"),
        ]
        return [
            _tx(raw, key, TransactionKind.TRANSFER, at, legs, external=external, meta={"bill_type": bill})
        ]
    known = _OPTION_BILLS.get(bill)
    kind, role = known or (TransactionKind.OTHER, LegRole.OTHER)
    return [
        _tx(
            raw,
            key,
            kind,
            at,
            [Leg(asset=asset, amount=amount, role=role, wallet=OPTIONS_WALLET)],
            flags=set() if known else {"unknown_type"},
            external=external,
            meta={"bill_type": bill},
        )
    ]


#: Stream name -> normalizer, merged into :data:`._normalize.NORMALIZERS`.
CATEGORY_NORMALIZERS: dict[str, Callable[[RawTransaction], Iterable[NormalizedTransaction]]] = {
    "coin_futures_income": normalize_coin_futures_income,
    "pay": normalize_pay,
    "p2p": normalize_p2p,
    "eth_staking": normalize_eth_staking,
    "spot_rebates": normalize_rebate,
    "loans": normalize_loan,
    "auto_invest": normalize_auto_invest,
    "option_bills": normalize_option_bill,
}

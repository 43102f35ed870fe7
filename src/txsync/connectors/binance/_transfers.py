"""Normalization of the moves between wallets and accounts (issue 18, the former ``wallet_transfers``
gap): universal transfers between the account's own wallets and transfers to or from the master
account or other sub-accounts.

**How the ledger sees a universal transfer.** ``/sapi/v1/asset/transfer`` lists moves between the
wallets of this one Binance account (``MAIN_FUNDING``: spot to funding...). The wallets it names are
either reported by :meth:`Binance.balances` and moved only by these rows (spot, funding, cross and
isolated margin) or have a history of their own that already books every move in and out of them
*against spot*: USD-M futures (``futures_income`` ``TRANSFER`` rows), COIN-M futures
(``coin_futures_income``) and options (``option_bills`` ``TRANSFER`` bills). So:

* each side in a wallet of the first kind is a leg in that wallet;
* each side in a wallet of the second kind is a leg in **spot** instead, because the wallet's own
  stream already recorded the move as that wallet against spot: ``FUNDING_UMFUTURE`` is funding
  -x, spot +x, which with the futures income's futures +x, spot -x leaves exactly funding -x,
  futures +x (``meta["booked_by"]`` names the stream that booked the other part). A move between
  spot and such a wallet (``MAIN_UMFUTURE``), or between two such wallets, is wholly booked by
  those streams: its raw record is kept but it makes no transaction. Nothing counts twice, and the
  statement file's one event of the move merges with the one transaction that books it;
* the transaction is kind ``transfer``, flagged ``wallet_transfer``, its legs net to zero per asset:
  a move inside one account, never a flow in or out of it (the owner linker ignores it: it has no
  half). Failed transfers are kept with status ``failed`` and move nothing; pending ones are read
  again until final.

**Sub-account transfers** (``/sapi/v1/sub-account/transfer/subUserHistory``, a sub-account's key)
are real flows in and out of this account, whose counterpart is another Binance account of the same
person: a ``deposit`` (transfer in, ``type`` 1) or a ``withdrawal`` (out, ``type`` 2) of the spot
wallet (or the account type the row names), flagged ``internal_transfer`` with the transfer id as
``internal_transfer_id`` so the owner linker pairs it with the other account's side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from txsync.fields import Fields
from txsync.models import Leg, NormalizedTransaction, RawTransaction, TransactionKind, TransactionStatus

from ._categories import COIN_FUTURES_WALLET, OPTIONS_WALLET
from ._normalize import FUTURES_WALLET, INTERNAL_TRANSFER, _tx, _unknown, reader, time_of

__all__ = [
    "ACCOUNT_WALLETS",
    "ISOLATED_TYPES",
    "SUB_ACCOUNT_WALLETS",
    "TRANSFER_NORMALIZERS",
    "UNIVERSAL_TYPES",
    "WALLET_TRANSFER",
    "isolated_wallet",
    "sub_transfer_id",
    "transfer_sides",
    "universal_transfer_id",
]

#: Flag of a move between two wallets of one account (net zero: never a flow).
WALLET_TRANSFER = "wallet_transfer"

#: Universal transfer account name -> (ledger wallet, the stream that books its moves against spot).
ACCOUNT_WALLETS: dict[str, tuple[str, str | None]] = {
    "MAIN": ("spot", None),
    "FUNDING": ("funding", None),
    "MARGIN": ("margin", None),
    "ISOLATEDMARGIN": ("margin:isolated", None),
    "UMFUTURE": (FUTURES_WALLET, "futures_income"),
    "CMFUTURE": (COIN_FUTURES_WALLET, "coin_futures_income"),
    "OPTION": (OPTIONS_WALLET, "option_bills"),
    "PORTFOLIO_MARGIN": ("portfolio_margin", None),
}

#: The documented ``type`` values that need no symbol, each queried on its own.
UNIVERSAL_TYPES: tuple[str, ...] = (
    "MAIN_FUNDING",
    "FUNDING_MAIN",
    "MAIN_MARGIN",
    "MARGIN_MAIN",
    "MAIN_UMFUTURE",
    "UMFUTURE_MAIN",
    "MAIN_CMFUTURE",
    "CMFUTURE_MAIN",
    "MAIN_OPTION",
    "OPTION_MAIN",
    "FUNDING_MARGIN",
    "MARGIN_FUNDING",
    "FUNDING_UMFUTURE",
    "UMFUTURE_FUNDING",
    "FUNDING_CMFUTURE",
    "CMFUTURE_FUNDING",
    "FUNDING_OPTION",
    "OPTION_FUNDING",
    "MARGIN_UMFUTURE",
    "UMFUTURE_MARGIN",
    "MARGIN_CMFUTURE",
    "CMFUTURE_MARGIN",
    "MARGIN_OPTION",
    "OPTION_MARGIN",
    "UMFUTURE_OPTION",
    "OPTION_UMFUTURE",
    "MAIN_PORTFOLIO_MARGIN",
    "PORTFOLIO_MARGIN_MAIN",
)
#: The types that move to or from an isolated margin pair: queried per pair, with
#: ``fromSymbol`` (out of the pair) or ``toSymbol`` (into it).
ISOLATED_TYPES: tuple[tuple[str, str], ...] = (
    ("ISOLATEDMARGIN_MARGIN", "fromSymbol"),
    ("MARGIN_ISOLATEDMARGIN", "toSymbol"),
)

_TRANSFER_STATUS = {
    "CONFIRMED": TransactionStatus.CONFIRMED,
    "FAILED": TransactionStatus.FAILED,
    "PENDING": TransactionStatus.PENDING,
}


def isolated_wallet(symbol: str) -> str:
    """The ledger wallet of one isolated margin pair (``margin:isolated:BTCUSDT``)."""
    return f"margin:isolated:{symbol}"


def transfer_sides(transfer_type: str) -> tuple[str, str] | None:
    """``(from account, to account)`` of a universal transfer ``type``, or ``None`` when it does not
    join two known account names (``PORTFOLIO_MARGIN`` holds an underscore itself)."""
    for name in ACCOUNT_WALLETS:
        prefix = name + "_"
        if transfer_type.startswith(prefix) and transfer_type[len(prefix) :] in ACCOUNT_WALLETS:
            return name, transfer_type[len(prefix) :]
    return None


def universal_transfer_id(row: Mapping[str, Any], stream: str = "universal_transfers") -> str:
    """A universal transfer's ``tranId``."""
    return Fields(row, stream=stream).text_id("tranId", allow_int=True, max_length=40)


def _side(row: Fields, account: str, symbol_field: str) -> tuple[str, str | None]:
    """(ledger wallet a leg of this side goes to, the stream that books this side instead)."""
    wallet, booked_by = ACCOUNT_WALLETS[account]
    if account == "ISOLATEDMARGIN":
        symbol = row.optional_text(symbol_field, max_length=40)
        wallet = isolated_wallet(symbol) if symbol else wallet
    return ("spot", booked_by) if booked_by else (wallet, None)


def normalize_universal_transfer(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A universal transfer between two wallets of the account (see the module notes for the rule
    that keeps balances right and counts nothing twice)."""
    row = reader(raw)
    transfer_type = row.text("type", max_length=60)
    state = row.text("status", max_length=20)
    status = _TRANSFER_STATUS.get(state, TransactionStatus.PENDING)
    asset, amount = row.asset("asset"), abs(row.amount("amount"))
    ident = universal_transfer_id(row.data, raw.stream)
    key = f"universal_transfer:{ident}"
    at = time_of(row, "timestamp")
    sides = transfer_sides(transfer_type)
    meta: dict[str, Any] = {"transfer_type": transfer_type, "amount": str(amount)}
    if sides is None:
        return _unknown(raw, key, at, asset, status=status, external={"tran_id": ident}, meta=meta)
    (source, source_by), (target, target_by) = (
        _side(row, sides[0], "fromSymbol"),
        _side(row, sides[1], "toSymbol"),
    )
    booked = [name for name in (source_by, target_by) if name]
    if booked:
        meta["booked_by"] = ",".join(booked)
    meta["from"], meta["to"] = sides
    if source == target:
        return []  # wholly booked by the streams of the wallets it joins (see the module notes)
    legs = [Leg(asset=asset, amount=-amount, wallet=source), Leg(asset=asset, amount=amount, wallet=target)]
    flags = {WALLET_TRANSFER} if state in _TRANSFER_STATUS else {WALLET_TRANSFER, "unknown_status"}
    return [
        _tx(
            raw,
            key,
            TransactionKind.TRANSFER,
            at,
            legs,
            status=status,
            flags=flags,
            external={"tran_id": ident},
            meta=meta,
        )
    ]


# -- sub-account transfers ---------------------------------------------------------------------------

#: ``fromAccountType`` / ``toAccountType`` of a sub-account transfer -> the universal transfer
#: account name of that wallet (whose booking rule applies: a futures side is booked in spot).
SUB_ACCOUNT_WALLETS = {
    "SPOT": "MAIN",
    "USDT_FUTURE": "UMFUTURE",
    "COIN_FUTURE": "CMFUTURE",
    "MARGIN": "MARGIN",
    "ISOLATED_MARGIN": "ISOLATEDMARGIN",
}
_SUB_STATUS = {
    "SUCCESS": TransactionStatus.CONFIRMED,
    "FAILURE": TransactionStatus.FAILED,
    "FAILED": TransactionStatus.FAILED,
    "PROCESS": TransactionStatus.PENDING,
    "PROCESSING": TransactionStatus.PENDING,
}


def sub_transfer_id(row: Mapping[str, Any], stream: str = "sub_account_transfers") -> str:
    """A sub-account transfer's ``tranId``."""
    return Fields(row, stream=stream).text_id("tranId", allow_int=True, max_length=40)


def normalize_sub_transfer(raw: RawTransaction) -> Iterable[NormalizedTransaction]:
    """A transfer between this sub-account and its master or another sub-account: ``type`` 1 in
    (a ``deposit``), 2 out (a ``withdrawal``), of ``qty`` in the wallet of this account's side
    (``toAccountType`` in, ``fromAccountType`` out; spot when absent), flagged ``internal_transfer``
    with ``internal_transfer_id`` = ``tranId`` (the other account's record carries the same id).
    A futures side is booked in spot, like a universal transfer's: the futures income stream books
    the move into the futures wallet against spot."""
    row = reader(raw)
    direction = row.integer("type", minimum=0, maximum=100)
    asset, amount = row.asset("asset"), abs(row.amount("qty"))
    ident = sub_transfer_id(row.data, raw.stream)
    state = row.text("status", max_length=20, default="SUCCESS")
    status = _SUB_STATUS.get(state, TransactionStatus.PENDING)
    flags = {INTERNAL_TRANSFER} if state in _SUB_STATUS else {INTERNAL_TRANSFER, "unknown_status"}
    external = {
        "internal_transfer_id": ident,
        "counterparty": row.optional_text("counterParty", max_length=40),
        "email": row.optional_text("email", max_length=200),
    }
    at = time_of(row, "time")
    key = f"sub_transfer:{ident}"
    if direction not in (1, 2):
        return _unknown(
            raw, key, at, asset, status=status, flags=flags, external=external, meta={"amount": str(amount)}
        )
    incoming = direction == 1
    side = row.optional_text("toAccountType" if incoming else "fromAccountType", max_length=40) or "SPOT"
    wallet, booked_by = ACCOUNT_WALLETS[SUB_ACCOUNT_WALLETS.get(side, "MAIN")]
    meta = {"venue": "sub_account", "account_type": side}
    if booked_by:
        wallet, meta["booked_by"] = "spot", booked_by
    return [
        _tx(
            raw,
            key,
            TransactionKind.DEPOSIT if incoming else TransactionKind.WITHDRAWAL,
            at,
            [Leg(asset=asset, amount=amount if incoming else -amount, wallet=wallet)],
            status=status,
            flags=flags,
            external=external,
            meta=meta,
        )
    ]


#: Stream name -> normalizer (looked up by :func:`._normalize.normalize_raws`).
TRANSFER_NORMALIZERS: dict[str, Callable[[RawTransaction], Iterable[NormalizedTransaction]]] = {
    "universal_transfers": normalize_universal_transfer,
    "sub_account_transfers": normalize_sub_transfer,
}

"""Reading Bitstamp ``user_transactions`` rows: types, times, per-currency amounts, the pair key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from txsync.fields import Fields

__all__ = [
    "FIAT",
    "KNOWN_CURRENCIES",
    "META_KEYS",
    "STREAM",
    "TYPE_NAMES",
    "PairInfo",
    "RowKeys",
    "currency_amounts",
    "fee_of",
    "fields",
    "pair_of",
    "parse_datetime",
    "row_id",
    "row_keys",
    "row_time",
    "type_of",
    "unknown_keys",
    "unlisted_codes",
]

#: Bitstamp's fiat currencies (a deposit of one is a fiat deposit).
FIAT = frozenset({"EUR", "USD", "GBP"})

#: Documented ``type`` values of user transactions.
TYPE_NAMES: Mapping[int, str] = {
    0: "deposit",
    1: "withdrawal",
    2: "market_trade",
    14: "sub_account_transfer",
    25: "credited_with_staked_assets",
    26: "sent_to_staking",
    27: "staking_reward",
    32: "referral_reward",
    33: "settlement_transfer",
    35: "inter_account_transfer",
}

#: Row keys that are not currencies or pairs.
META_KEYS = frozenset(
    {"id", "datetime", "type", "fee", "order_id", "self_trade", "self_trade_order_id", "market", "tid"}
)


#: The currency codes Bitstamp lists (``/api/v2/currencies/``, a snapshot taken for this connector,
#: fiat and crypto, lower-case as the row keys spell them). A row key is read as an amount of a
#: currency only when this list or one of the row's own pair keys names it (see :func:`row_keys`).
KNOWN_CURRENCIES = frozenset(
    {
        # fiat
        "usd", "eur", "gbp", "chf", "pln", "jpy",
        # crypto
        "1inch", "aave", "ada", "algo", "alpha", "amp", "ankr", "ape", "apt", "arb", "audio", "avax",
        "axs", "bal", "band", "bat", "bch", "blur", "bonk", "btc", "cel", "chz", "comp", "crv", "cspr",
        "cvx", "dai", "dgld", "doge", "dot", "dydx", "egld", "enj", "ens", "eth", "eth2", "eth2r",
        "eurc", "eurcv", "eurr", "eurt", "fet", "flr", "floki", "ftm", "ftt", "gala", "gods", "grt",
        "gusd", "gyen", "hbar", "imx", "inj", "jasmy", "knc", "ldo", "link", "lmwr", "lrc", "ltc",
        "mana", "matic", "mkr", "mpl", "near", "ondo", "op", "pax", "paxg", "pepe", "perp", "pol",
        "pyusd", "pyth", "rgt", "rlusd", "rndr", "render", "sand", "sei", "sgb", "shib", "skl", "slp",
        "snx", "sol", "storj", "sui", "sushi", "sxp", "tao", "trx", "uma", "umbra", "uni", "usdc",
        "usdp", "usdt", "ust", "vchf", "veur", "wbtc", "wecan", "wif", "wld", "xdc", "xlm", "xrp",
        "yfi", "zrx",
    }
)  # fmt: skip

#: The stream whose rows these helpers read (named in errors).
STREAM = "user_transactions"
#: A currency key (``btc``, ``usdt``, ``1inch``) or one side of a pair key.
_CURRENCY = re.compile(r"[a-z0-9]{1,20}", re.ASCII)
#: Any other key a row may carry (a field Bitstamp added, such as ``price`` or ``trade_uti``):
#: printable ASCII identifiers only; anything else makes the row an error.
_OTHER_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", re.ASCII)


def fields(row: Any, record: str | None = None) -> Fields:
    """A reader of one ``user_transactions`` row (typed errors name the stream, row and field)."""
    return Fields(row, stream=STREAM, record=record)


def row_id(row: Mapping[str, Any]) -> int:
    """The row's integer id (an int or a string of ASCII digits); anything else is an
    :class:`~txsync.errors.InvalidRecordError`."""
    return fields(row).int_id("id")


def type_of(row: Mapping[str, Any]) -> int:
    """The row's type as an int (Bitstamp sends a string of a number); an unknown number is a type
    txsync does not know yet (kept, flagged), anything else is an
    :class:`~txsync.errors.InvalidRecordError`."""
    return fields(row, _record(row)).integer("type", minimum=0, maximum=10**6)


def _record(row: Mapping[str, Any]) -> str | None:
    value = row.get("id")
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None


def parse_datetime(value: Any) -> datetime:
    """Bitstamp's ``"2021-11-25 12:59:59.322000"`` (UTC, micro-seconds optional), or Unix seconds.

    Raises ``ValueError`` for anything else (read it through :meth:`Fields.convert`).
    """
    if isinstance(value, bool):
        raise ValueError("a datetime cannot be a boolean")
    if isinstance(value, int | Decimal):
        return datetime.fromtimestamp(int(value), UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 12:
            return datetime.fromtimestamp(int(text), UTC)
        for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    raise ValueError("unreadable Bitstamp datetime")


def row_time(row: Mapping[str, Any], record: str | None = None) -> datetime:
    """The row's ``datetime`` (a typed error naming the row when unreadable)."""
    return fields(row, record or _record(row)).convert("datetime", parse_datetime, "a Bitstamp datetime")


class RowKeys:
    """How the keys of one row read: currency keys (amounts), pair keys (rates), unknown keys."""

    __slots__ = ("currencies", "pairs", "unknown")

    def __init__(self, currencies: list[str], pairs: list[str], unknown: list[str]) -> None:
        self.currencies = currencies
        self.pairs = pairs
        self.unknown = unknown


def row_keys(row: Mapping[str, Any], listed: frozenset[str] = frozenset()) -> RowKeys:
    """Sort the row's keys (metadata aside) into currencies, pairs and unknown keys.

    * a **pair** key is ``<a>_<b>`` where both ``a`` and ``b`` are keys of the same row (Bitstamp
      writes one key per currency next to the pair's rate);
    * a **currency** key is a plain key (``btc``, ``1inch``) that :data:`KNOWN_CURRENCIES`, ``listed``
      (codes Bitstamp's live currency list gave, lower-case) or one of the row's pair keys names;
    * every other key is **unknown** (``price``, ``trade_uti``, a currency Bitstamp listed after
      the snapshot and that no pair names): never read as an asset, see :func:`unknown_keys`.

    A key that is not a printable ASCII identifier is an :class:`~txsync.errors.InvalidRecordError`.
    """
    reader = fields(row, _record(row))
    plain: list[str] = []
    pairs: list[str] = []
    other: list[str] = []
    names = set()
    for key in row:
        if key in META_KEYS:
            continue
        if not isinstance(key, str):
            raise reader.error(None, f"has a key of type {type(key).__name__}")
        if _CURRENCY.fullmatch(key):
            plain.append(key)
            names.add(key)
        elif _OTHER_KEY.fullmatch(key):
            other.append(key)
        else:
            raise reader.error(key[:40], "is not a currency or pair key txsync knows how to read")
    named = set(KNOWN_CURRENCIES) | listed
    unknown: list[str] = []
    for key in other:
        parts = key.split("_")
        if len(parts) == 2 and all(part in names for part in parts):
            pairs.append(key)
            named.update(parts)
        else:
            unknown.append(key)
    currencies = [key for key in plain if key in named]
    unknown.extend(key for key in plain if key not in named)
    return RowKeys(currencies, pairs, unknown)


def unlisted_codes(row: Mapping[str, Any]) -> set[str]:
    """The row's unknown keys shaped like a currency code (``zzq``) that hold an amount: coins
    Bitstamp may have listed after :data:`KNOWN_CURRENCIES` (its live list tells)."""
    values = unknown_keys(row)
    return {key for key in values if _CURRENCY.fullmatch(key)}


def currency_amounts(row: Mapping[str, Any], listed: frozenset[str] = frozenset()) -> dict[str, Decimal]:
    """Every currency key of the row (:func:`row_keys`) with a non-zero amount, as
    ``{"BTC": Decimal(...)}`` (signed).

    Each currency key must hold an amount (``null`` or ``""`` reads as zero), else the row is an
    :class:`~txsync.errors.InvalidRecordError`. Sorted by asset so the legs come out in a stable order.
    """
    reader = fields(row, _record(row))
    found: dict[str, Decimal] = {}
    for name in row_keys(row, listed).currencies:
        amount = reader.amount(name, default=Decimal(0))
        if amount == 0:
            continue
        found[name.upper()] = amount
    return dict(sorted(found.items()))


def unknown_keys(row: Mapping[str, Any], listed: frozenset[str] = frozenset()) -> dict[str, str]:
    """The row's unknown keys (:func:`row_keys`) that hold something (not ``0``, ``null`` or ``""``),
    as ``{key: value as text}`` (at most 64 characters each): kept in the transaction's ``meta`` and
    flagged, never turned into legs."""
    out: dict[str, str] = {}
    for key in row_keys(row, listed).unknown:
        value = row[key]
        if value is None or value == "" or isinstance(value, bool):
            continue
        if isinstance(value, int | Decimal | float | str):
            try:
                if Decimal(str(value)) == 0:
                    continue
            except ArithmeticError:
                pass
            out[key] = str(value)[:64]
        else:
            out[key] = f"<{type(value).__name__}>"
    return dict(sorted(out.items()))


def fee_of(row: Mapping[str, Any]) -> Decimal:
    """The row's ``fee`` (zero when absent)."""
    return fields(row, _record(row)).amount("fee", default=Decimal(0))


class PairInfo:
    """The traded pair of a trade row: base, quote and the rate from the pair key."""

    __slots__ = ("base", "key", "quote", "rate")

    def __init__(self, key: str, base: str, quote: str, rate: Decimal) -> None:
        self.key = key
        self.base = base
        self.quote = quote
        self.rate = rate


def pair_of(row: Mapping[str, Any], listed: frozenset[str] = frozenset()) -> PairInfo | None:
    """The pair key (``"btc_eur"``) whose two currencies both moved in the row and whose rate is
    non-zero; ``None`` when there is no such key or more than one (never guessed). Every pair key
    must hold a rate (or ``null``), else the row is an :class:`~txsync.errors.InvalidRecordError`."""
    reader = fields(row, _record(row))
    amounts = currency_amounts(row, listed)
    found: list[PairInfo] = []
    for name in row_keys(row, listed).pairs:
        rate = reader.amount(name, default=Decimal(0))
        if rate == 0:
            continue
        base, quote = name.split("_")
        if not amounts.get(base.upper()) or not amounts.get(quote.upper()):
            continue
        found.append(PairInfo(name, base.upper(), quote.upper(), rate))
    return found[0] if len(found) == 1 else None

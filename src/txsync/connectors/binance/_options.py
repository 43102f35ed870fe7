"""The connection options of the Binance connector, parsed and validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from txsync.errors import ConfigurationError

__all__ = ["BINANCE_API", "BINANCE_FAPI", "DEFAULT_ORIGIN", "Options"]

BINANCE_API = "https://api.binance.com"
BINANCE_FAPI = "https://fapi.binance.com"
BINANCE_DAPI = "https://dapi.binance.com"
BINANCE_EAPI = "https://eapi.binance.com"
#: Binance opened on 2017-07-14 (1500001200 s): no account has history before.
DEFAULT_ORIGIN = datetime(2017, 7, 14, 3, 0, tzinfo=UTC)
#: Simple Earn replaced the Savings products at the end of 2022; earlier rewards are a coverage gap.
DEFAULT_EARN_ORIGIN = datetime(2022, 12, 1, tzinfo=UTC)
_MARGIN = {"auto": None, "true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}
_DISCOVERY = ("guided", "thorough")
_RATE_LIMIT = ("on", "simulated", "off")


def _date(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise ConfigurationError(f"option {name} must be an ISO 8601 date, not {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _int(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"option {name} must be an integer, not {value!r}") from None
    if not low <= number <= high:
        raise ConfigurationError(f"option {name} must be between {low} and {high}, not {number}")
    return number


def _mining_accounts(value: Any) -> tuple[tuple[str, str], ...]:
    """``mining_accounts`` as (name, algorithm) pairs."""
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, (str, Mapping)) else value
    if not isinstance(items, (list, tuple)):
        raise ConfigurationError("option mining_accounts must be a list of pool account names")
    found: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, Mapping):
            name, algo = str(item.get("name", "")), str(item.get("algo", "sha256"))
        else:
            name, _, algo = str(item).partition("/")
            algo = algo or "sha256"
        name, algo = name.strip(), algo.strip().lower()
        if not name or len(name) > 64 or not name.isprintable() or "/" in name:
            raise ConfigurationError(f"mining_accounts: {item!r} is not a pool account name")
        if not algo.isalnum() or len(algo) > 20:
            raise ConfigurationError(f"mining_accounts: {algo!r} is not a mining algorithm")
        if (name, algo) not in found:
            found.append((name, algo))
    return tuple(found)


@dataclass(frozen=True)
class Options:
    """Parsed options (all optional):

    * ``origin`` - ISO date the history starts (default 2017-07-14, Binance's launch);
    * ``earn_origin`` - where the Simple Earn reward history starts (default 2022-12-01, or
      ``origin`` if later);
    * ``recv_window`` - ms a signed request stays valid (default 5000, at most 60000);
    * ``margin`` - ``"auto"`` (default: probe the cross margin account), ``true`` or ``false``;
    * ``pair_discovery`` - ``"guided"`` (default) or ``"thorough"`` (see the docs page);
    * ``extra_pairs`` - pairs to query in any case, ``["BCC/BTC", ...]`` (delisted pairs you know);
    * ``max_concurrency`` - pairs paged at once (default 8);
    * ``trades_page_size`` - ``myTrades`` page size (default and maximum 1000);
    * ``rate_limit`` - ``"on"`` (default): wait for Binance's budgets in real time; ``"simulated"``:
      the same accounting on a virtual clock that jumps instead of waiting (replaying recorded
      cassettes, where no server is there to protect); ``"off"``: no client-side limiting;
    * ``mining_accounts`` - Binance Pool accounts whose earnings to read: ``["name", "name/algo",
      {"name": ..., "algo": ...}]`` (``algo`` defaults to ``sha256``);
    * ``ip_label`` - names the egress IP whose budgets this connection shares (default ``"default"``);
    * ``base_url`` / ``futures_base_url`` / ``coin_futures_base_url`` / ``options_base_url`` - the
      API hosts (spot and SAPI, USD-M futures, COIN-M futures, European options).
    """

    origin: datetime = DEFAULT_ORIGIN
    earn_origin: datetime = DEFAULT_EARN_ORIGIN
    recv_window: int = 5000
    margin: bool | None = None
    pair_discovery: str = "guided"
    extra_pairs: tuple[tuple[str, str], ...] = ()
    max_concurrency: int = 8
    trades_page_size: int = 1000
    rate_limit: str = "on"
    ip_label: str = "default"
    mining_accounts: tuple[tuple[str, str], ...] = ()
    base_url: str = BINANCE_API
    futures_base_url: str = BINANCE_FAPI
    coin_futures_base_url: str = BINANCE_DAPI
    options_base_url: str = BINANCE_EAPI

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> Options:
        """Validate ``options`` (a connection's options mapping)."""
        origin = _date(options["origin"], "origin") if "origin" in options else DEFAULT_ORIGIN
        earn = (
            _date(options["earn_origin"], "earn_origin") if "earn_origin" in options else DEFAULT_EARN_ORIGIN
        )
        margin_raw = options.get("margin", "auto")
        if isinstance(margin_raw, bool):
            margin: bool | None = margin_raw
        elif str(margin_raw).lower() in _MARGIN:
            margin = _MARGIN[str(margin_raw).lower()]
        else:
            raise ConfigurationError(f"option margin must be auto, true or false, not {margin_raw!r}")
        discovery = str(options.get("pair_discovery", "guided"))
        if discovery not in _DISCOVERY:
            raise ConfigurationError(f"option pair_discovery must be one of {_DISCOVERY}, not {discovery!r}")
        rate_limit = str(options.get("rate_limit", "on"))
        if rate_limit not in _RATE_LIMIT:
            raise ConfigurationError(f"option rate_limit must be one of {_RATE_LIMIT}, not {rate_limit!r}")
        pairs: list[tuple[str, str]] = []
        for item in options.get("extra_pairs", ()) or ():
            base, sep, quote = str(item).upper().partition("/")
            if not sep or not base.isalnum() or not quote.isalnum():
                raise ConfigurationError(f"extra_pairs entries are BASE/QUOTE, not {item!r}")
            pairs.append((base, quote))
        return cls(
            mining_accounts=_mining_accounts(options.get("mining_accounts")),
            origin=origin,
            earn_origin=max(earn, origin),
            recv_window=_int(options.get("recv_window", 5000), "recv_window", 1, 60000),
            margin=margin,
            pair_discovery=discovery,
            extra_pairs=tuple(pairs),
            max_concurrency=_int(options.get("max_concurrency", 8), "max_concurrency", 1, 64),
            trades_page_size=_int(options.get("trades_page_size", 1000), "trades_page_size", 1, 1000),
            rate_limit=rate_limit,
            ip_label=str(options.get("ip_label", "default")),
            base_url=str(options.get("base_url", BINANCE_API)).rstrip("/"),
            futures_base_url=str(options.get("futures_base_url", BINANCE_FAPI)).rstrip("/"),
            coin_futures_base_url=str(options.get("coin_futures_base_url", BINANCE_DAPI)).rstrip("/"),
            options_base_url=str(options.get("options_base_url", BINANCE_EAPI)).rstrip("/"),
        )

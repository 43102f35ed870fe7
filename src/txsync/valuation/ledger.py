"""Valuing a stored ledger: passes over an owner's transactions kept in the store, and the sync hook.

:func:`value_owner` is one valuation pass of an owner on a SQL store (SQLite or PostgreSQL): the
owner's base currency (set with ``store.set_base_currency``, EUR by default), the store's persistent
price cache (``price_cache`` table: a second pass fetches nothing it already has, in this process or the
next) and its valuations (``valuations`` table: provenance included). Stored valuations still waiting
for a price are retried first on every pass; final ones whose transaction did not change are kept
without any work; new and changed transactions are valued.

:class:`ValuationSyncHook` runs such a pass after every sync (``Engine(..., valuation=ValuationSyncHook())``):
the synced account's transactions written by the sync, and every pending valuation of the owner. Its
counts go to the sync report (``report.valuation``).

:func:`values_in` re-expresses stored valuations in another currency by reference FX rates only (no
crypto price is fetched again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from txsync.errors import ConfigurationError, StoreError, UnknownConnectionError
from txsync.merge import to_us
from txsync.models import TransactionKind
from txsync.store.records import LedgerTransaction
from txsync.valuation._decimal import mul
from txsync.valuation.assets import AssetResolver, fiat
from txsync.valuation.cache import PriceCache
from txsync.valuation.policy import PricePolicy, ResolvedStatus
from txsync.valuation.prices import Granularity, PriceRequest
from txsync.valuation.results import TransactionValuation
from txsync.valuation.valuator import ValuationRun, Valuator

if TYPE_CHECKING:
    from txsync.connector import Connector
    from txsync.engine import Engine, SyncReport

__all__ = [
    "DEFAULT_BASE_CURRENCY",
    "BalanceValue",
    "ValuationSyncHook",
    "base_currency_of",
    "default_policy",
    "stored_value_lookup",
    "value_balances",
    "value_owner",
    "values_in",
]

log = logging.getLogger("txsync.valuation")

#: The base currency of an owner for whom none was set.
DEFAULT_BASE_CURRENCY = "EUR"

_ALL_KINDS = [kind.value for kind in TransactionKind]


def _sql_store(store: Any) -> Any:
    """The SQL store behind ``store`` (a store, or a wrapper of one such as an owner scope)."""
    from txsync.store._valuations import ValuationTables

    inner = getattr(store, "inner", getattr(store, "store", store))
    if not isinstance(inner, ValuationTables):
        raise ConfigurationError("valuations are kept by the SQL stores (SQLite, PostgreSQL) only")
    return inner


def base_currency_of(store: Any, owner_id: str) -> str:
    """The owner's base currency: the one set in the store, else :data:`DEFAULT_BASE_CURRENCY`."""
    return _sql_store(store).base_currency(owner_id) or DEFAULT_BASE_CURRENCY


def default_policy(engine: Engine | None = None) -> PricePolicy:
    """The default policy of the installed price sources (Binance klines, then CoinGecko; the ECB for
    FX) on the network, sharing the engine's rate limiters and retry policy when given."""
    from txsync.valuation.registry import build_policy
    from txsync.valuation.source import PriceSourceContext

    if engine is None:
        return build_policy()
    return build_policy(context=lambda _sid: PriceSourceContext(limiters=engine.limiters, retry=engine.retry))


def _owner_transactions(
    store: Any, owner_id: str, account_ids: Sequence[str] | None, since_us: int | None
) -> tuple[list[LedgerTransaction], dict[str, str]]:
    """The transactions a pass values, pending ones first, and each account's connector."""
    accounts = store.list_accounts(owner_id)
    if account_ids is not None:
        wanted = set(account_ids)
        chosen = [a for a in accounts if a.id in wanted]
    else:
        chosen = accounts
    connectors = {a.id: a.connector_id for a in accounts}
    pending_ids = store.pending_valuations(owner_id=owner_id)
    first: list[LedgerTransaction] = []
    for tx_id in pending_ids:
        try:
            tx = store.get_transaction(tx_id)
        except StoreError:  # the transaction is gone: nothing to retry
            log.debug("pending valuation of a transaction no longer stored: %s", tx_id)
            continue
        if not tx.deleted and tx.account_id in connectors:
            first.append(tx)
    seen = {tx.id for tx in first}
    rest: list[LedgerTransaction] = []
    for account in chosen:
        if since_us is None:
            items: Iterable[LedgerTransaction | None] = store.transactions(account_id=account.id)
        else:
            items = (tx for _, _, tx in store.ledger_written_since(account.id, since_us, _ALL_KINDS))
        for tx in items:
            if tx is not None and not tx.deleted and tx.id not in seen:
                seen.add(tx.id)
                rest.append(tx)
    return [*first, *rest], connectors


async def value_owner(
    store: Any,
    owner_id: str,
    policy: PricePolicy,
    *,
    account_ids: Sequence[str] | None = None,
    since: datetime | None = None,
    revalue: bool = False,
    assets: AssetResolver | None = None,
    clock: Callable[[], datetime] | None = None,
) -> ValuationRun:
    """One valuation pass of ``owner_id``'s ledger in their base currency, kept in the store.

    Every transaction of the owner's accounts (or of ``account_ids``) is valued, kept as stored, or
    retried when pending; with ``since``, only those written (created or changed) since then, plus
    every pending valuation of the owner. ``revalue`` values final valuations again (after adding a
    source or a mapping). The user's overrides always win. The run's report counts valued, pending,
    unpriceable and overridden transactions and the requests sent per source.
    """
    scoped = getattr(store, "owner_id", None)
    if scoped is not None and scoped != owner_id:  # an owner scope values its own owner only
        raise UnknownConnectionError(f"no owner {owner_id!r} here")
    sql = _sql_store(store)
    base = base_currency_of(sql, owner_id)
    since_us = None if since is None else to_us(since)
    # Reading the ledger is store work: off the event loop.
    txs, connectors = await asyncio.to_thread(_owner_transactions, sql, owner_id, account_ids, since_us)
    options: dict[str, Any] = {"base_currency": base, "assets": assets}
    if clock is not None:
        options["clock"] = clock
    valuator = Valuator(policy, sql.price_cache(), **options)
    # The stored valuations are read before and written after the pass, in worker threads: the pass
    # itself touches the database only through the price cache (a few short queries per round).
    staged = _Staged(await asyncio.to_thread(sql.load_valuations, [tx.id for tx in txs]))
    run = await valuator.run(txs, staged, connector_of=lambda a: connectors.get(a, ""), revalue=revalue)
    await asyncio.to_thread(sql.save_valuations, staged.saved)
    return run


class _Staged:
    """A :class:`~txsync.valuation.ValuationStore` over valuations read beforehand; what the pass
    saves is kept for one write afterwards."""

    def __init__(self, stored: Mapping[str, TransactionValuation]) -> None:
        self.stored = dict(stored)
        self.saved: list[TransactionValuation] = []

    def save(self, valuations: Iterable[TransactionValuation]) -> None:
        items = list(valuations)
        self.saved.extend(items)
        self.stored.update((v.transaction_id, v) for v in items)

    def load(self, transaction_ids: Iterable[str]) -> dict[str, TransactionValuation]:
        return {tid: self.stored[tid] for tid in transaction_ids if tid in self.stored}

    def pending(self, *, account_id: str | None = None) -> list[str]:
        return sorted(
            v.transaction_id
            for v in self.stored.values()
            if v.needs_retry and (account_id is None or v.account_id == account_id)
        )


async def values_in(
    store: Any, valuations: Iterable[TransactionValuation], currency: str, policy: PricePolicy
) -> list[TransactionValuation]:
    """``valuations`` in ``currency`` by the reference FX rate of each transaction's day: the
    policy's FX sources only (through the store's price cache), no crypto price fetched again."""
    sql = _sql_store(store)
    items = list(valuations)
    if not items:
        return []
    fiat(currency)  # a ConfigurationError for anything but a currency code
    valuator = Valuator(policy, sql.price_cache(), base_currency=items[0].currency)
    return await valuator.convert(items, currency)


class ValuationSyncHook:
    """Values what a sync wrote, and retries the owner's pending valuations, after every sync.

    ``policy`` builds the price policy of a pass from the engine (default: :func:`default_policy`,
    the installed sources on the network sharing the engine's limiters); ``enabled=False`` keeps the
    hook installed but idle. A pass that fails is a warning of the sync report, never an error.
    """

    def __init__(
        self,
        *,
        policy: Callable[[Engine], PricePolicy] | None = None,
        enabled: bool = True,
        assets: AssetResolver | None = None,
    ) -> None:
        self.policy = policy or default_policy
        self.enabled = enabled
        self.assets = assets

    async def after_sync(self, engine: Engine, report: SyncReport, connector: type[Connector]) -> None:
        """Value the account's transactions the sync wrote and the owner's pending ones."""
        if not self.enabled:
            return
        try:
            sql = _sql_store(engine.store)
        except ConfigurationError:
            return  # a store without the valuation tables
        owner = await asyncio.to_thread(sql.account_owner, report.account_id)
        wrote = report.total("new") + report.total("updated") + report.total("matched")
        if not wrote and not await asyncio.to_thread(sql.pending_valuations, owner_id=owner):
            report.valuation = {"skipped": "nothing new and nothing pending"}
            return
        policy = self.policy(engine)
        try:
            run = await value_owner(
                sql, owner, policy, account_ids=[report.account_id], since=report.started_at,
                assets=self.assets, clock=lambda: engine.clock().astimezone(UTC),
            )  # fmt: skip
        finally:
            await policy.aclose()
        report.valuation = run.report.to_dict()
        if run.report.pending:
            log.info("%s: %d transaction(s) pending valuation", report.connection_id, run.report.pending)


def stored_value_lookup(store: Any) -> Callable[[LedgerTransaction], Any] | None:
    """A :data:`txsync.exports.ValueLookup` over the store's valuations (``None`` for a store that
    keeps none): see :func:`txsync.cli.ledger.value_lookup`."""
    from txsync.exports import ExportValue, recorded_value

    try:
        sql = _sql_store(store)
    except ConfigurationError:
        return None
    currencies: dict[str, str] = {}

    def currency_of(account_id: str) -> str:
        found = currencies.get(account_id)
        if found is None:
            found = currencies[account_id] = base_currency_of(sql, sql.account_owner(account_id))
        return found

    def lookup(tx: LedgerTransaction) -> ExportValue | None:
        valuation = sql.valuation_of(tx.id)
        if tx.fiat_value is not None and (valuation is None or valuation.status.value != "override"):
            return recorded_value(tx)  # the user's word, before any pass saw it
        if valuation is None:
            recorded = recorded_value(tx)  # a file row's own value
            if recorded is not None:
                return recorded
            return ExportValue(None, currency_of(tx.account_id), "pending", "none", None,
                               details={"reason": "not valued yet (txsync value)"})
        data = valuation.value_json()
        details = {k: data[k] for k in ("pair", "candle_time", "rate", "fx_rate", "reason")}
        return ExportValue(valuation.amount, valuation.currency, valuation.status.value,
                           valuation.method.value, valuation.source, details=details)

    return lookup


@dataclass(frozen=True)
class BalanceValue:
    """What a balance of ``amount`` ``asset`` is worth in ``currency`` at ``at`` (``value`` ``None``
    when pending or unpriceable: ``reason`` says why)."""

    asset: str
    amount: Decimal
    currency: str
    status: str
    value: Decimal | None = None
    unit_price: Decimal | None = None
    at: datetime | None = None
    source: str | None = None
    pair: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (decimals as strings)."""
        return {
            "asset": self.asset, "amount": format(self.amount, "f"), "currency": self.currency,
            "status": self.status, "value": None if self.value is None else format(self.value, "f"),
            "unit_price": None if self.unit_price is None else format(self.unit_price, "f"),
            "at": self.at.isoformat() if self.at else None, "source": self.source, "pair": self.pair,
            "reason": self.reason,
        }  # fmt: skip


async def value_balances(
    balances: Mapping[str, Decimal],
    connector_id: str,
    policy: PricePolicy,
    cache: PriceCache,
    *,
    currency: str,
    at: datetime,
    assets: AssetResolver | None = None,
) -> list[BalanceValue]:
    """The value of each non-zero balance (a connector's tickers) in ``currency`` at the last closed
    minute before ``at``, through ``policy`` and ``cache`` (one batch): money is worth itself (by FX
    in another currency); an asset no mapping knows or no source prices is unpriceable, never 0."""
    resolver = assets or AssetResolver()
    quote = fiat(currency)
    moment = Granularity.MINUTE.floor(at) - Granularity.MINUTE.delta
    wanted: dict[str, PriceRequest] = {}
    out: list[BalanceValue] = []
    for ticker, amount in sorted(balances.items()):
        if amount == 0:
            continue
        resolution = resolver.resolve(connector_id, ticker, moment)
        if resolution.asset_id is None:
            out.append(BalanceValue(ticker, amount, currency, "unpriceable", reason=resolution.reason))
        elif resolution.asset_id == quote:
            out.append(BalanceValue(ticker, amount, currency, "valued", amount, Decimal(1), moment))
        else:
            wanted[ticker] = PriceRequest(resolution.asset_id, quote, moment)
            out.append(BalanceValue(ticker, amount, currency, "pending"))
    resolved = await policy.resolve(sorted(set(wanted.values())), cache) if wanted else {}
    done: list[BalanceValue] = []
    for item in out:
        request = wanted.get(item.asset)
        if request is None or item.status != "pending":
            done.append(item)
            continue
        price = resolved[request]
        if price.status is ResolvedStatus.FOUND and price.price is not None:
            primary = price.primary
            done.append(replace(
                item, status="valued", value=mul(item.amount, price.price), unit_price=price.price,
                at=moment, source=primary.source if primary else None, pair=primary.pair if primary else None,
            ))  # fmt: skip
        else:
            done.append(replace(item, status=price.status.value, at=moment, reason=price.reason))
    return done

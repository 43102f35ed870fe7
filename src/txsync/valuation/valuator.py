"""The :class:`Valuator`: transactions + price cache + policy + base currency -> valuations and a report.

It evaluates the rules (:mod:`txsync.valuation.rules`) over every transaction, gathers the prices they
still need, resolves them **in one batch per round** through the policy (each source turning the batch
into as few requests as its API allows, after the cache), and evaluates again until every transaction
is valued, pending or unpriceable (a few rounds: a trade's market price, then a fee in another asset,
then a conversion). Requests are therefore proportional to the distinct (asset, price window) pairs a
history needs, never to its number of transactions, and a second pass over a warm cache makes none.

:meth:`Valuator.run` keeps valuations between passes in a :class:`~txsync.valuation.ValuationStore`:
pending ones are retried first, valuations that are final and whose transaction did not change are
kept as they are, the rest are (re)valued and saved. Overrides always win, so re-valuing never undoes
one. :meth:`Valuator.convert` re-expresses valuations in another currency with reference FX rates only.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from txsync.store import LedgerTransaction
from txsync.valuation.assets import AssetResolution, AssetResolver, fiat
from txsync.valuation.cache import PriceCache
from txsync.valuation.policy import PricePolicy, ResolvedPrice, ResolvedStatus
from txsync.valuation.prices import PriceRequest
from txsync.valuation.results import TransactionValuation, ValuationStatus
from txsync.valuation.rules import DEFAULT_SPAM_FLAGS, RuleContext, fingerprint, value_transaction
from txsync.valuation.store import ValuationStore

__all__ = ["ValuationReport", "ValuationRun", "Valuator"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ValuationReport:
    """What a valuation pass did."""

    currency: str
    transactions: int = 0
    valued: int = 0
    pending: int = 0
    unpriceable: int = 0
    overridden: int = 0
    #: Stored valuations kept as they were (final, transaction unchanged): :meth:`Valuator.run` only.
    kept: int = 0
    #: Legs still waiting for a price, and legs with none, across the transactions valued.
    legs_pending: int = 0
    legs_unpriceable: int = 0
    #: Requests sent per source id, and the rate-limit weight they cost.
    requests: dict[str, int] = field(default_factory=dict)
    weight: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    #: Distinct prices resolved through the policy, and the rounds it took.
    prices: int = 0
    rounds: int = 0
    #: ``"connector:ticker"`` -> legs whose asset no mapping knows.
    unknown_assets: dict[str, int] = field(default_factory=dict)
    #: The most frequent reasons for unpriceable transactions.
    unpriceable_reasons: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0

    @property
    def total_requests(self) -> int:
        """Requests sent to all sources."""
        return sum(self.requests.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "currency": self.currency,
            "transactions": self.transactions,
            "valued": self.valued,
            "pending": self.pending,
            "unpriceable": self.unpriceable,
            "overridden": self.overridden,
            "kept": self.kept,
            "legs_pending": self.legs_pending,
            "legs_unpriceable": self.legs_unpriceable,
            "requests": dict(self.requests),
            "weight": dict(self.weight),
            "rate_limited": self.rate_limited,
            "prices": self.prices,
            "rounds": self.rounds,
            "unknown_assets": dict(self.unknown_assets),
            "unpriceable_reasons": dict(self.unpriceable_reasons),
            "duration_seconds": round(self.duration_seconds, 3),
        }


@dataclass
class ValuationRun:
    """The valuations of a pass (those computed, and those kept as stored) and its report."""

    valuations: list[TransactionValuation]
    report: ValuationReport

    def by_id(self) -> dict[str, TransactionValuation]:
        """The valuations keyed by transaction id."""
        return {v.transaction_id: v for v in self.valuations}


ConnectorOf = Callable[[str], str] | Mapping[str, str]


class Valuator:
    """Values ledger transactions in ``base_currency`` (see the module notes).

    ``policy`` orders the price sources; ``cache`` is consulted before any request and keeps what they
    return; ``assets`` maps connectors' tickers to asset ids (the built-in mappings by default);
    ``spam_flags`` are the transaction flags that mark spam; ``clock`` stamps the valuations.
    """

    def __init__(
        self,
        policy: PricePolicy,
        cache: PriceCache,
        *,
        base_currency: str = "EUR",
        assets: AssetResolver | None = None,
        spam_flags: frozenset[str] = DEFAULT_SPAM_FLAGS,
        clock: Callable[[], datetime] = _utcnow,
        max_rounds: int = 8,
    ) -> None:
        self.policy = policy
        self.cache = cache
        self.base_currency = fiat(base_currency)[5:]
        self.assets = assets or AssetResolver()
        self.spam_flags = spam_flags
        self.clock = clock
        self.max_rounds = max_rounds

    # -- one pass ----------------------------------------------------------------------------------

    async def value(
        self, transactions: Iterable[LedgerTransaction], *, connector_of: ConnectorOf
    ) -> ValuationRun:
        """Value every transaction (no store involved). ``connector_of`` names each account's
        connector (a mapping or a function of the account id), which decides its asset mapping."""
        started = time.perf_counter()
        before = {sid: (s.requests, s.weight, s.rate_limited) for sid, s in self.policy.stats().items()}
        txs = list(transactions)
        base_id = fiat(self.base_currency)
        prices: dict[PriceRequest, ResolvedPrice] = {}
        ranks: dict[tuple[str, datetime], tuple[int, ...] | None] = {}
        resolutions: dict[tuple[str, str, datetime], AssetResolution] = {}
        connectors = self._connectors(connector_of)
        now = self.clock()
        give_up = False

        def price(asset_id: str, at: datetime) -> ResolvedPrice | None:
            request = PriceRequest(asset_id, base_id, at)
            found = prices.get(request)
            if found is None and give_up:
                return ResolvedPrice(
                    request, ResolvedStatus.PENDING, reason=f"not resolved within {self.max_rounds} rounds"
                )
            return found

        def rank(asset_id: str, at: datetime) -> tuple[int, ...] | None:
            key = (asset_id, at)
            if key not in ranks:
                ranks[key] = self.policy.rank(asset_id, base_id, at)
            return ranks[key]

        contexts: dict[str, RuleContext] = {}

        def context_for(tx: LedgerTransaction) -> RuleContext:
            connector_id = connectors(tx.account_id)
            ctx = contexts.get(connector_id)
            if ctx is None:

                def resolve(ticker: str, at: datetime, cid: str = connector_id) -> AssetResolution:
                    key = (cid, ticker, at)
                    found = resolutions.get(key)
                    if found is None:
                        found = resolutions[key] = self.assets.resolve(cid, ticker, at)
                    return found

                ctx = contexts[connector_id] = RuleContext(
                    base_currency=self.base_currency,
                    resolve_asset=resolve,
                    price=price,
                    rank=rank,
                    spam_flags=self.spam_flags,
                    connector_id=connector_id,
                    now=now,
                )
            return ctx

        results: dict[str, TransactionValuation] = {}
        todo = txs
        rounds = 0
        while todo:
            needs: set[PriceRequest] = set()
            waiting: list[LedgerTransaction] = []
            for tx in todo:
                outcome = value_transaction(tx, context_for(tx))
                if isinstance(outcome, TransactionValuation):
                    results[tx.id] = outcome
                else:
                    needs |= outcome
                    waiting.append(tx)
            todo = waiting
            if not todo:
                break
            wanted = needs - prices.keys()
            if not wanted or rounds >= self.max_rounds:
                give_up = True
                continue
            rounds += 1
            prices.update(await self.policy.resolve(sorted(wanted), self.cache))
        valuations = [results[tx.id] for tx in txs]
        report = self._report(valuations, txs, connectors, resolutions, prices, rounds)
        for sid, stats in self.policy.stats().items():
            requests, weight, limited = before.get(sid, (0, 0, 0))
            if stats.requests - requests:
                report.requests[sid] = stats.requests - requests
                report.weight[sid] = stats.weight - weight
            report.rate_limited += stats.rate_limited - limited
        report.duration_seconds = time.perf_counter() - started
        return ValuationRun(valuations, report)

    @staticmethod
    def _connectors(connector_of: ConnectorOf) -> Callable[[str], str]:
        if isinstance(connector_of, Mapping):
            mapping = connector_of

            def lookup(account_id: str) -> str:
                return mapping.get(account_id, "")

            return lookup
        return connector_of

    def _report(
        self,
        valuations: Sequence[TransactionValuation],
        txs: Sequence[LedgerTransaction],
        connectors: Callable[[str], str],
        resolutions: Mapping[tuple[str, str, datetime], AssetResolution],
        prices: Mapping[PriceRequest, ResolvedPrice],
        rounds: int,
    ) -> ValuationReport:
        report = ValuationReport(
            self.base_currency, transactions=len(valuations), prices=len(prices), rounds=rounds
        )
        reasons: Counter[str] = Counter()
        for valuation in valuations:
            if valuation.status is ValuationStatus.VALUED:
                report.valued += 1
            elif valuation.status is ValuationStatus.PENDING:
                report.pending += 1
            elif valuation.status is ValuationStatus.OVERRIDE:
                report.overridden += 1
            else:
                report.unpriceable += 1
                reasons[(valuation.reason or "no reason given")[:200]] += 1
            for valued_leg in valuation.legs:
                report.legs_pending += valued_leg.status is ValuationStatus.PENDING
                report.legs_unpriceable += valued_leg.status is ValuationStatus.UNPRICEABLE
        unknown: Counter[str] = Counter()
        for tx in txs:
            connector_id = connectors(tx.account_id)
            for leg in tx.legs:
                resolution = resolutions.get((connector_id, leg.asset, tx.timestamp))
                if resolution is not None and not resolution.known:
                    unknown[f"{connector_id}:{leg.asset}"] += 1
        report.unknown_assets = dict(sorted(unknown.items()))
        report.unpriceable_reasons = dict(reasons.most_common(10))
        return report

    # -- passes kept in a store ---------------------------------------------------------------------

    async def run(
        self,
        transactions: Iterable[LedgerTransaction],
        store: ValuationStore,
        *,
        connector_of: ConnectorOf,
        revalue: bool = False,
    ) -> ValuationRun:
        """A pass that keeps its results in ``store`` (see the module notes). Pending valuations are
        retried first; final ones whose transaction is unchanged are kept without any work, unless
        ``revalue`` (after adding a source or an asset mapping: unpriceable ones may have a price now).
        """
        txs = list(transactions)
        stored = store.load(tx.id for tx in txs)
        connectors = self._connectors(connector_of)
        retry: list[LedgerTransaction] = []
        fresh: list[LedgerTransaction] = []
        kept: list[TransactionValuation] = []
        for tx in txs:
            previous = stored.get(tx.id)
            if previous is None or revalue:
                fresh.append(tx)
            elif previous.needs_retry:
                retry.append(tx)
            elif previous.fingerprint != fingerprint(tx, self.base_currency, connectors(tx.account_id)):
                fresh.append(tx)
            else:
                kept.append(previous)
        result = await self.value([*retry, *fresh], connector_of=connectors)
        store.save(result.valuations)
        report = result.report
        report.kept = len(kept)
        for valuation in kept:
            report.transactions += 1
            if valuation.status is ValuationStatus.OVERRIDE:
                report.overridden += 1
            elif valuation.status is ValuationStatus.VALUED:
                report.valued += 1
            else:
                report.unpriceable += 1
        by_id = {v.transaction_id: v for v in (*result.valuations, *kept)}
        return ValuationRun([by_id[tx.id] for tx in txs], report)

    # -- other currencies ---------------------------------------------------------------------------

    async def convert(
        self, valuations: Iterable[TransactionValuation], currency: str
    ) -> list[TransactionValuation]:
        """The valuations in ``currency``, by the reference FX rate of each transaction's day: FX
        sources only, no crypto price is fetched again."""
        target = fiat(currency)
        items = list(valuations)
        wanted = {
            PriceRequest(fiat(v.currency), target, v.timestamp) for v in items if fiat(v.currency) != target
        }
        fx_only = PricePolicy((), self.policy.fx, max_hops=self.policy.max_hops)
        rates = await fx_only.resolve(sorted(wanted), self.cache)
        converted: list[TransactionValuation] = []
        code = target[5:]
        for valuation in items:
            if fiat(valuation.currency) == target:
                converted.append(valuation)
                continue
            rate = rates[PriceRequest(fiat(valuation.currency), target, valuation.timestamp)]
            if rate.status is ResolvedStatus.FOUND:
                converted.append(valuation.converted(code, rate))
                continue
            status = valuation.status
            if status is ValuationStatus.VALUED:
                status = (
                    ValuationStatus.PENDING
                    if rate.status is ResolvedStatus.PENDING
                    else ValuationStatus.UNPRICEABLE
                )
            converted.append(
                replace(
                    valuation,
                    currency=code,
                    amount=None,
                    status=status,
                    reason=f"no {valuation.currency} -> {code} rate: {rate.reason}",
                    legs=tuple(
                        replace(leg, currency=code, amount=None, unit_price=None) for leg in valuation.legs
                    ),
                )
            )
        return converted

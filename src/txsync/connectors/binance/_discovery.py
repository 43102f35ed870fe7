"""Which pairs to ask ``myTrades`` for: candidate assets, per-asset residuals, and the planner.

There is no endpoint listing the pairs a user traded, and each ``myTrades`` call costs 20 of the
6000 spot weight per minute whether it finds anything or not. The planner therefore spends calls
only where the account's own data says a trade must be missing:

* **Candidates** (``AssetTally``): every asset any other stream of this sync mentions, every asset
  with a balance, the assets of trades already found and the candidates persisted in the trades
  cursor by earlier syncs.
* **Residuals**: for each asset, the reported balance minus the balance at the previous sync,
  minus the confirmed movements the other streams reported in this sync, minus the trades found so
  far. An asset whose residual is zero is *settled*: every movement of it is explained, so no
  further pair of it needs asking (a pair's trades would show in the residual of both its assets).
* **Rounds**: each round asks the sure guesses (an unsettled asset with a single live pair) or,
  when there are none, one guess: an unsettled asset's most likely pair not asked yet, a pair
  whose other asset is also an unsettled candidate, pairs with trades in earlier syncs first, then
  the quote this account's assets most likely trade against (the pairs found so far against each
  quote, with the quote's share of the exchange's markets as the prior, times how often guessing
  that quote was right). One uncertain guess a round: its outcome informs the next. Assets that
  are quotes of many markets (``hubs``: USDT, BTC, BNB...) only pick pairs once the other assets
  are settled or out of pairs. A non-hub asset that still does not settle then tries its pairs
  with non-candidate assets (cheap: a few markets each). The rounds end when nothing is left to
  ask; the set of candidates grows with each trade found, so they iterate until it stops growing.
* **Hub sweep**: a hub still unexplained after the rounds hides an asset bought and sold back
  entirely in one of its markets: its markets are asked, 8 a round, one hub at a time (the hub with
  the fewest markets first, whose finds may settle the others through their commissions), unless a
  pair that cannot be read (delisted) may account for its residual.

The ``thorough`` mode also expands hubs to every market they quote (the literal "base or quote is
a candidate" rule), which finds trades of assets bought and sold back entirely in one pair, at the
cost of asking most of the exchange.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from txsync.models import NormalizedTransaction, TransactionStatus

__all__ = [
    "HUB_MIN_MARKETS",
    "KNOWN_DELISTED",
    "AssetTally",
    "PairPlanner",
    "Symbol",
    "confirmed_flows",
]

#: Uncertain guesses of one round (every sure one goes too): each guess's outcome teaches which
#: quotes this account trades against, and its finds settle hubs, before the next guess is made.
ROUND_WIDTH = 1
#: Markets of an unexplained hub asked in one round of its sweep.
SWEEP_WIDTH = 8
#: Weight of the exchange's listing in the estimate of this account's quote mix, in pairs found:
#: before any find the quotes rank by their share of the markets, after a few by this account's.
LISTING_PRIOR = 2
#: An asset quoting at least this many markets is a hub.
HUB_MIN_MARKETS = 8

#: Pairs Binance removed entirely (absent from exchangeInfo; ``myTrades`` answers -1121): still
#: candidates, so an account that traded them gets the coverage gap noted.
KNOWN_DELISTED: tuple[tuple[str, str], ...] = (
    ("BCC", "BTC"),
    ("BCC", "ETH"),
    ("BCC", "BNB"),
    ("BCC", "USDT"),
    ("VEN", "BTC"),
    ("VEN", "ETH"),
    ("VEN", "BNB"),
    ("VEN", "USDT"),
    ("HSR", "BTC"),
    ("HSR", "ETH"),
)

_ZERO = Decimal(0)
_REMOVED = frozenset(KNOWN_DELISTED)


@dataclass(frozen=True, slots=True)
class Symbol:
    """One market: ``symbol`` = ``base`` + ``quote``; ``status`` as exchangeInfo gives it
    (``TRADING``, ``BREAK``...; ``DELISTED`` for a known pair exchangeInfo no longer lists)."""

    symbol: str
    base: str
    quote: str
    status: str = "TRADING"
    margin: bool = False

    def other(self, asset: str) -> str:
        """The asset of this pair that is not ``asset``."""
        return self.quote if asset == self.base else self.base


#: Wallets whose balances pair discovery does not reconcile against (legs there are left out).
OFF_BALANCE_WALLETS = ("futures", "options", "loan")


def confirmed_flows(transactions: Iterable[NormalizedTransaction]) -> dict[str, Decimal]:
    """Net movement per asset of the confirmed transactions, outside the futures, options and
    loan-collateral wallets (which the spot, funding and margin balances do not include)."""
    totals: dict[str, Decimal] = {}
    for tx in transactions:
        if tx.status != TransactionStatus.CONFIRMED:
            continue
        for leg in tx.legs:
            if leg.wallet is not None and leg.wallet.startswith(OFF_BALANCE_WALLETS):
                continue
            totals[leg.asset] = totals.get(leg.asset, _ZERO) + leg.amount
    return totals


def _add(into: dict[str, Decimal], flows: Mapping[str, Decimal], sign: int = 1) -> None:
    for asset, amount in flows.items():
        into[asset] = into.get(asset, _ZERO) + sign * amount


@dataclass
class AssetTally:
    """What the non-trade streams of one sync revealed: assets mentioned and confirmed flows.

    Shared by the streams of one connector instance (the engine runs them in order, the trades
    stream after all of them).
    """

    #: Every asset known: mentioned by records of this sync or kept in the streams' cursors.
    assets: set[str] = field(default_factory=set)
    #: Assets mentioned by records read in this sync.
    fresh: set[str] = field(default_factory=set)
    flows: dict[str, Decimal] = field(default_factory=dict)

    def observe(self, transactions: Sequence[NormalizedTransaction]) -> set[str]:
        """Take in one page's transactions; returns the assets they mention."""
        mentioned = {leg.asset for tx in transactions for leg in tx.legs}
        self.assets |= mentioned
        self.fresh |= mentioned
        _add(self.flows, confirmed_flows(transactions))
        return mentioned


class PairPlanner:
    """Decides, round after round, which pairs to ask ``myTrades`` for (see the module notes).

    ``residual`` is updated by :meth:`found` as trades come in; ``asked`` holds every pair already
    asked in this sync (or completed before a resume).
    """

    def __init__(
        self,
        symbols: Iterable[Symbol],
        candidates: Iterable[str],
        residual: Mapping[str, Decimal],
        *,
        known: Iterable[str] = (),
        forced: Iterable[str] = (),
        asked: Iterable[str] = (),
        thorough: bool = False,
    ) -> None:
        self.symbols: dict[str, Symbol] = {}
        for sym in symbols:
            self.symbols.setdefault(sym.symbol, sym)
        self.by_asset: dict[str, list[Symbol]] = {}
        quotes: dict[str, int] = {}
        for sym in self.symbols.values():
            self.by_asset.setdefault(sym.base, []).append(sym)
            self.by_asset.setdefault(sym.quote, []).append(sym)
            quotes[sym.quote] = quotes.get(sym.quote, 0) + 1
        self.popularity = quotes
        self.markets_quoted = sum(quotes.values()) or 1
        self.hubs = {asset for asset, count in quotes.items() if count >= HUB_MIN_MARKETS}
        self.candidates = set(candidates)
        self.residual: dict[str, Decimal] = {a: v for a, v in residual.items() if v != 0}
        self.known = {s for s in known if s in self.symbols}
        self.forced = {s for s in forced if s in self.symbols}
        self.asked: set[str] = set(asked)
        self.unreadable: set[str] = set()
        self.thorough = thorough
        #: Live pairs each asset had at its last pick (fewer: a surer guess).
        self.choices: dict[str, int] = {}
        #: Per quote asset, (pairs asked for a non-hub asset that had trades, that had none).
        self.outcomes: dict[str, list[int]] = {}

    # -- state ----------------------------------------------------------------------------------------

    def unsettled(self, asset: str) -> bool:
        """Whether ``asset`` still has movements no stream explains."""
        return self.residual.get(asset, _ZERO) != 0

    def found(self, flows: Mapping[str, Decimal]) -> None:
        """Trades found: their assets become candidates and explain part of the residuals."""
        for asset, amount in flows.items():
            self.candidates.add(asset)
            left = self.residual.get(asset, _ZERO) - amount
            if left:
                self.residual[asset] = left
            else:
                self.residual.pop(asset, None)

    def outcome(self, symbol: str, traded: bool) -> None:
        """A pair was read to its end: whether it had trades teaches which quotes this account's
        assets trade against (a quote that keeps missing is guessed later)."""
        sym = self.symbols.get(symbol)
        if sym is not None and sym.base not in self.hubs:
            tally = self.outcomes.setdefault(sym.quote, [0, 0])
            tally[0 if traded else 1] += 1

    def unreadable_pair(self, symbol: str) -> None:
        """A pair answered -1121: the residual of its non-hub asset (the delisted coin) can no
        longer be closed by asking; hubs keep driving their own pairs."""
        sym = self.symbols.get(symbol)
        if sym is not None:
            self.unreadable |= {a for a in (sym.base, sym.quote) if a not in self.hubs}

    def gap_explained(self, hub: str) -> bool:
        """Whether a pair of ``hub`` that cannot be read (delisted) may account for its residual."""
        return any(s.other(hub) in self.unreadable for s in self.by_asset.get(hub, ()))

    def unexplained(self) -> dict[str, Decimal]:
        """Candidates whose residual is not zero (after every round)."""
        return {a: v for a, v in sorted(self.residual.items()) if a in self.candidates and v != 0}

    # -- choosing ---------------------------------------------------------------------------------------

    def _rank(self, sym: Symbol, asset: str) -> tuple[int, int, float, str]:
        other = sym.other(asset)
        known = 0 if sym.symbol in self.known else 1
        listed = 0 if sym.status != "DELISTED" else 1
        hits, misses = self.outcomes.get(other, (0, 0))
        # how many of this account's alts trade against ``other`` (pairs found, plus the listing's
        # share as a prior), times how often guessing it was right for this account so far
        share = self.popularity.get(other, 0) / self.markets_quoted
        likely = (hits + LISTING_PRIOR * share) * (hits + 1) / (hits + misses + 2)
        return (known, listed, -likely, sym.symbol)

    def _spread(self, sym: Symbol, hub: str) -> tuple[int, int, str]:
        """Order of a hub's markets when all are asked: listed ones first, then the coins listed
        in the most markets (the most traded coins)."""
        listed = 0 if sym.status != "DELISTED" else 1
        return (listed, -len(self.by_asset.get(sym.other(hub), ())), sym.symbol)

    def _open(self, asset: str) -> list[Symbol]:
        return [s for s in self.by_asset.get(asset, ()) if s.symbol not in self.asked]

    def _sweepable(self, hub: str) -> list[Symbol]:
        """The markets of ``hub`` not asked yet, except pairs removed from Binance (unreadable,
        and no sign of a trade in them)."""
        return [s for s in self._open(hub) if not (s.status == "DELISTED" and (s.base, s.quote) in _REMOVED)]

    def _live(self, asset: str) -> bool:
        return asset in self.candidates and (self.unsettled(asset) or asset in self.unreadable)

    def _pick(self, asset: str, *, expand: bool) -> Symbol | None:
        options = self._open(asset)
        paired = [s for s in options if self._live(s.other(asset))]
        self.choices[asset] = len(paired)
        if paired:
            return min(paired, key=lambda s: self._rank(s, asset))
        if expand:
            loose = [s for s in options if s.other(asset) not in self.candidates]
            if loose:
                return min(loose, key=lambda s: self._rank(s, asset))
        return None

    def next_round(self, width: int = 64) -> list[Symbol]:
        """The pairs to ask next (at most ``width`` when expanding hubs), marked asked; empty when
        done."""
        picks: dict[str, Symbol] = {}
        for name in sorted(self.forced - self.asked):
            picks[name] = self.symbols[name]
        movers = sorted(a for a in self.candidates if self.unsettled(a) and a not in self.unreadable)
        if not picks:
            sure: list[tuple[int, str, Symbol]] = []
            for asset in (a for a in movers if a not in self.hubs):
                pick = self._pick(asset, expand=False)
                if pick is not None:
                    sure.append((self.choices[asset], asset, pick))
            # the surest guesses first (an asset with one live pair cannot miss), a few at a time:
            # what they find settles hubs and spares the other assets' guesses against them
            sure.sort(key=lambda item: (item[0], item[1]))
            for _, _, pick in sure[: max(ROUND_WIDTH, sum(1 for n, _, _ in sure if n == 1))]:
                picks.setdefault(pick.symbol, pick)
        if not picks:
            for asset in (a for a in movers if a in self.hubs):
                pick = self._pick(asset, expand=False)
                if pick is not None:
                    picks.setdefault(pick.symbol, pick)
        if not picks:
            for asset in (a for a in movers if a not in self.hubs):
                pick = self._pick(asset, expand=True)
                if pick is not None:
                    picks.setdefault(pick.symbol, pick)
        if not picks:
            # a hub still unexplained hides an asset traded in one of its markets and never seen
            # anywhere else (bought and sold back entirely): ask its markets (the most widely listed
            # coins first), unless a pair that cannot be read (delisted) already accounts for it;
            # thorough mode asks in any case, the markets of every such hub together
            spread: list[tuple[tuple[int, int, str], Symbol]] = []
            hubs = [a for a in movers if a in self.hubs and (self.thorough or not self.gap_explained(a))]
            if not self.thorough:
                # one hub at a time, the one with the fewest markets first: it is the cheapest to
                # exhaust, and what its hidden pairs bring (their commissions, paid in another hub)
                # may settle the other hubs without asking theirs
                hubs = [a for a in hubs if self._sweepable(a)]
                hubs = sorted(hubs, key=lambda a: (len(self.by_asset[a]), a))[:1]
            for asset in hubs:
                for sym in self._sweepable(asset):
                    spread.append((self._spread(sym, asset), sym))
            limit = width if self.thorough else min(width, SWEEP_WIDTH)
            for _, sym in sorted(spread, key=lambda item: item[0]):
                if len(picks) >= limit:
                    break
                picks.setdefault(sym.symbol, sym)
        self.asked |= set(picks)
        return [picks[name] for name in sorted(picks)]

"""Pair discovery: the planner alone, then whole syncs against the sandbox."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from connectors.binance.binance_rig import make_rig
from txsync.connectors.binance._discovery import PairPlanner, Symbol
from txsync.connectors.binance.sandbox import BinanceSandbox, Scenario, ScenarioAccount
from txsync.engine import SyncMode

HUBS = ("USDT", "BTC", "BNB")


def market(extra: tuple[str, ...] = ()) -> list[Symbol]:
    """Alts A..J listed against USDT and BTC (and some BNB), plus fillers making the quotes hubs."""
    symbols = [Symbol(f"{a}{q}", a, q) for a in "ABCDEFGHIJ" for q in ("USDT", "BTC")]
    symbols += [Symbol(f"{a}BNB", a, "BNB") for a in "ABCDEFGH"]
    symbols += [
        Symbol("BTCUSDT", "BTC", "USDT"),
        Symbol("BNBUSDT", "BNB", "USDT"),
        Symbol("BNBBTC", "BNB", "BTC"),
    ]
    symbols += [Symbol(f"{name}USDT", name, "USDT") for name in extra]
    return symbols


def test_settled_assets_ask_nothing() -> None:
    planner = PairPlanner(market(), {"A", "USDT"}, {})
    assert planner.next_round() == []


def test_an_unsettled_alt_asks_its_most_popular_live_pair_first() -> None:
    planner = PairPlanner(
        market(), {"A", "USDT", "BTC"}, {"A": Decimal(5), "USDT": Decimal(-10), "BTC": Decimal(1)}
    )
    first = planner.next_round()
    assert [s.symbol for s in first] == ["AUSDT"]
    planner.found({"A": Decimal(5), "USDT": Decimal(-10)})
    assert not planner.unsettled("A") and not planner.unsettled("USDT")
    # BTC alone is unsettled and no delisted pair explains it: an asset bought and sold back
    # entirely, seen nowhere else, may hide in any of its markets - all are asked, once.
    expanded: set[str] = set()
    while batch := planner.next_round():
        assert len(batch) <= 8  # a few at a time: a find settles the hub and ends the search
        expanded |= {s.symbol for s in batch}
    assert expanded == {s.symbol for s in market() if "BTC" in (s.base, s.quote)}
    assert planner.unexplained() == {"BTC": Decimal(1)}


def test_hubs_wait_for_the_alts() -> None:
    planner = PairPlanner(
        market(), {"A", "USDT", "BTC"}, {"A": Decimal(1), "USDT": Decimal(-1), "BTC": Decimal(2)}
    )
    assert [s.symbol for s in planner.next_round()] == ["AUSDT"]  # not BTCUSDT yet
    planner.found({})  # AUSDT had no trade
    assert [s.symbol for s in planner.next_round()] == ["ABTC"]
    planner.found({"A": Decimal(1), "BTC": Decimal(-1)})
    assert [s.symbol for s in planner.next_round()] == ["BTCUSDT"]


def test_trades_reveal_new_assets_and_the_set_grows() -> None:
    """X is in no other stream: a trade found in XUSDT makes it a candidate, and since X's balance
    is zero, its residual pulls in the pair where it was sold."""
    planner = PairPlanner(
        [*market(("X",)), Symbol("XBTC", "X", "BTC")],
        {"USDT", "BTC", "A"},
        {"USDT": Decimal(-10), "BTC": Decimal(1), "A": Decimal(0)},
    )
    planner.asked.add("BTCUSDT")
    planner.forced = {"XUSDT"}  # say the user named it (extra_pairs)
    assert [s.symbol for s in planner.next_round()] == ["XUSDT"]
    planner.found({"X": Decimal(5), "USDT": Decimal(-10)})
    assert "X" in planner.candidates and planner.residual["X"] == Decimal(-5)
    assert [s.symbol for s in planner.next_round()] == ["XBTC"]


def test_an_alt_whose_partners_are_settled_expands_to_other_markets() -> None:
    """USDT is settled (a trade of A against it would show), BTC and BNB are no candidates."""
    planner = PairPlanner(market(), {"A", "USDT"}, {"A": Decimal(3)})
    assert [s.symbol for s in planner.next_round()] == ["ABTC"]
    planner.found({})
    assert [s.symbol for s in planner.next_round()] == ["ABNB"]
    planner.found({})
    assert planner.next_round() == []
    assert planner.unexplained() == {"A": Decimal(3)}


def test_an_unexplained_hub_is_expanded_unless_a_delisted_pair_explains_it() -> None:
    usdt_markets = {s.symbol for s in market() if "USDT" in (s.base, s.quote)}
    guided = PairPlanner(market(), {"USDT"}, {"USDT": Decimal(7)})
    asked: set[str] = set()
    while batch := guided.next_round():
        asked |= {s.symbol for s in batch}
    assert asked == usdt_markets
    symbols = [*market(), Symbol("BCCUSDT", "BCC", "USDT", "DELISTED")]
    for thorough in (False, True):
        planner = PairPlanner(
            symbols, {"USDT", "BCC"}, {"USDT": Decimal(7), "BCC": Decimal(-1)}, thorough=thorough
        )
        assert [s.symbol for s in planner.next_round()] == ["BCCUSDT"]
        planner.unreadable_pair("BCCUSDT")  # BCC's trades cannot be read: USDT's residual may be them
        assert {s.symbol for s in planner.next_round()} == (usdt_markets if thorough else set())


def test_a_sold_out_asset_is_found_in_default_mode() -> None:
    """Z bought and sold back entirely against ETH, in no other stream, nothing left: only ETH's
    residual shows it; the default mode asks ETH's markets (the widely listed coins first) and
    stops once ETH is explained."""
    symbols = [*market(), *(Symbol(f"{a}ETH", a, "ETH") for a in "ABCDEFGHIJ"), Symbol("ZETH", "Z", "ETH")]
    symbols += [Symbol(f"Z{q}", "Z", q) for q in ("USDT", "BTC", "BNB", "EUR", "TRY")]  # widely listed
    planner = PairPlanner(symbols, {"ETH"}, {"ETH": Decimal("0.2")})
    first = [s.symbol for s in planner.next_round()]
    assert "ZETH" in first  # six markets: the most widely listed coin goes first
    planner.found({"ETH": Decimal("0.2"), "Z": Decimal(0)})
    assert planner.next_round() == [] and planner.unexplained() == {}


def test_unexplained_hubs_are_swept_one_at_a_time_the_smallest_first() -> None:
    """Z bought and sold back against ETH with its commissions paid in BNB: ETH and BNB are both
    unexplained. ETH (fewer markets) is swept alone first; once Z's trades are found they settle
    BNB too (the commissions), and none of BNB's markets is asked."""
    symbols = [*market(), *(Symbol(f"{a}ETH", a, "ETH") for a in "ABCDEFGHIJ"), Symbol("ZETH", "Z", "ETH")]
    symbols += [Symbol(f"Z{q}", "Z", q) for q in ("USDT", "BTC", "BNB", "EUR", "TRY")]
    symbols += [Symbol(f"{a}BNB", a, "BNB") for a in "KLMNOPQRSTUVW"]  # BNB: more markets than ETH
    planner = PairPlanner(symbols, {"ETH", "BNB"}, {"ETH": Decimal("0.2"), "BNB": Decimal("-0.001")})
    first = planner.next_round()
    assert first and all("ETH" in (s.base, s.quote) for s in first)  # the old planner mixed in BNB's
    assert "ZETH" in {s.symbol for s in first}
    planner.found({"ETH": Decimal("0.2"), "Z": Decimal(0), "BNB": Decimal("-0.001")})
    assert planner.next_round() == [] and planner.unexplained() == {}


def test_a_hub_sweep_moves_to_the_next_hub_once_the_first_is_exhausted() -> None:
    """A hub whose markets are all asked and still unexplained hands over to the next one (in
    thorough mode every hub's markets go together, as before)."""
    symbols = [*market(), *(Symbol(f"{a}ETH", a, "ETH") for a in "ABCDEFGH")]  # 8: a hub
    planner = PairPlanner(symbols, {"ETH", "BNB"}, {"ETH": Decimal("0.2"), "BNB": Decimal("-1")})
    rounds = []
    while batch := planner.next_round():
        rounds.append({s.symbol for s in batch})
    eth = {f"{a}ETH" for a in "ABCDEFGH"}
    assert rounds[0] == eth and set().union(*rounds[1:]) == {
        s.symbol for s in market() if "BNB" in (s.base, s.quote)
    }
    thorough = PairPlanner(
        symbols, {"ETH", "BNB"}, {"ETH": Decimal("0.2"), "BNB": Decimal("-1")}, thorough=True
    )
    assert eth <= {s.symbol for s in thorough.next_round()}


def test_a_delisted_pair_makes_its_coin_unreadable_not_the_hub() -> None:
    symbols = [*market(), Symbol("BCCBTC", "BCC", "BTC", "DELISTED")]
    planner = PairPlanner(symbols, {"BCC", "BTC"}, {"BCC": Decimal(-2), "BTC": Decimal(1)})
    assert [s.symbol for s in planner.next_round()] == ["BCCBTC"]
    planner.unreadable_pair("BCCBTC")
    assert planner.unreadable == {"BCC"}
    assert planner.next_round() == []


# -- whole syncs ---------------------------------------------------------------------------------------


def _spy(sandbox: BinanceSandbox) -> tuple[list[str], Any]:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/myTrades":
            asked.append(str(request.url.params["symbol"]))
        return sandbox.handle(request)

    return asked, lambda: httpx.MockTransport(handle)


def test_full_sync_of_the_scenario_asks_few_pairs_and_finds_every_trade() -> None:
    account = ScenarioAccount.generate()
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    asked, transport = _spy(sandbox)
    rig = make_rig(transport, options={"rate_limit": "off"})
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors
    listed = account.listing.markets
    traded = {s for s in account.traded_symbols if s in listed}
    assert len(listed) > 2000 and len(traded) >= 45
    assert traded <= set(asked)  # every readable traded pair found
    assert len(asked) <= 1.4 * len(traded) + 4  # never the whole exchange
    trades = next(s for s in report.streams if s.stream == "trades")
    assert trades.raws == sum(len(account.trades[s]) for s in traded)
    gaps = {g.gap_id: g.detail for g in report.coverage_gaps}
    assert "BCCBTC" in gaps["delisted_pairs"] or any("BCCBTC" in g.detail for g in report.coverage_gaps)
    # An incremental sync with nothing new asks no myTrades at all.
    asked.clear()
    again = asyncio.run(rig.engine.sync(rig.connection.id))
    assert again.ok and again.total("new") == 0 and asked == []


def test_alts_traded_against_btc_bnb_eth_are_found_with_few_wrong_guesses() -> None:
    """The hub-alts scenario (no alt against USDT): the planner learns this account's quotes from
    its finds. 9 pairs asked without trades (the 4-wide rounds ranked by the number of markets
    asked 15); every readable traded pair found, each asked once."""
    account = ScenarioAccount.generate(Scenario.hub_alts())
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    asked, transport = _spy(sandbox)
    rig = make_rig(transport, options={"rate_limit": "off"})
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors
    traded = {s for s in account.traded_symbols if s in account.listing.markets}
    assert traded <= set(asked) and len(asked) == len(set(asked))
    wasted = set(asked) - traded
    assert len(wasted) <= 10, sorted(wasted)


def test_incremental_sync_asks_only_pairs_whose_assets_moved() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    asked, transport = _spy(sandbox)
    rig = make_rig(transport)
    assert asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL)).ok
    # A new trade in an alt/USDT pair happens: balances move, nothing else does.
    markets = account.listing.markets
    symbol = next(
        s
        for s in account.traded_symbols
        if s in markets and markets[s].quote == "USDT" and markets[s].base not in ("BTC", "ETH", "BNB")
    )
    base = markets[symbol].base
    last = account.trades[symbol][-1]
    account.trades[symbol].append(dict(last, id=last["id"] + 5, isBuyer=True, commissionAsset=base))
    qty, quote_qty, fee = (Decimal(last[k]) for k in ("qty", "quoteQty", "commission"))
    account.spot[base] += qty - fee
    account.spot["USDT"] -= quote_qty
    asked.clear()
    report = asyncio.run(rig.engine.sync(rig.connection.id))
    assert report.ok and report.total("new") == 1
    assert asked == [symbol]


# -- issue 18: narrow rounds, learned quotes, removed pairs never asked -----------------------------


def test_rounds_are_narrow_and_the_surest_guesses_go_first() -> None:
    from txsync.connectors.binance._discovery import ROUND_WIDTH

    alts = "ABCDEFGHIJ"
    residual = {a: Decimal(1) for a in alts} | {"USDT": Decimal(-5), "BTC": Decimal(-5)}
    symbols = [*market(), Symbol("ZBNB", "Z", "BNB")]  # Z has a single live market: a sure guess
    planner = PairPlanner(
        symbols, {*alts, "Z", "USDT", "BTC", "BNB"}, residual | {"Z": Decimal(2), "BNB": Decimal(-1)}
    )
    first = [s.symbol for s in planner.next_round()]
    assert len(first) == ROUND_WIDTH  # not all ten alts at once: finds settle hubs between rounds
    assert "ZBNB" in first  # one live pair: asked in the first round whatever its popularity


def test_a_quote_that_keeps_missing_is_guessed_later() -> None:
    alts = "ABCDEFGH"
    residual = {a: Decimal(1) for a in alts} | {"USDT": Decimal(-5), "BTC": Decimal(-5), "BNB": Decimal(-5)}
    planner = PairPlanner(market(), {*alts, "USDT", "BTC", "BNB"}, residual)
    first = planner.next_round()
    assert {s.quote for s in first} == {"USDT"}
    for sym in first:  # every USDT guess missed
        planner.outcome(sym.symbol, False)
    second = planner.next_round()
    assert {s.quote for s in second} == {"BTC"}  # BTC's markets are fewer, but USDT keeps missing
    planner.outcome(second[0].symbol, True)
    assert planner.outcomes == {"USDT": [0, len(first)], "BTC": [1, 0]}


def test_the_quote_this_account_trades_against_beats_the_listing_once_found() -> None:
    """One alt found against BNB (8 markets) outweighs USDT's larger listing (12 markets, never
    guessed yet): the next alt guesses its BNB pair first (the old rule, markets x hit rate, guessed
    USDT: 12 x 1/2 against 8 x 2/3)."""
    alts = "ABCDEFGH"
    residual = {a: Decimal(1) for a in alts} | {"USDT": Decimal(-5), "BTC": Decimal(-5), "BNB": Decimal(-5)}
    planner = PairPlanner(market(), {*alts, "USDT", "BTC", "BNB"}, residual)
    planner.asked.add("ABNB")
    planner.outcome("ABNB", True)
    planner.found({"A": Decimal(1), "BNB": Decimal(-1)})
    picks = planner.next_round()
    assert len(picks) == 1  # one uncertain guess a round: its outcome informs the next
    assert picks[0].quote == "BNB"


def test_pairs_binance_removed_are_never_requested_but_their_gap_is_noted() -> None:
    account = ScenarioAccount.generate(Scenario.small())
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/myTrades":
            asked.append(str(request.url.params["symbol"]))
        return sandbox.handle(request)

    rig = make_rig(
        lambda: httpx.MockTransport(handle),
        options={"origin": "2024-01-01", "rate_limit": "off", "extra_pairs": []},
    )
    # an unexplained VEN balance: its markets were all removed from Binance
    account.spot["VEN"] = Decimal(3)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors
    assert not any(name.startswith("VEN") for name in asked)
    gaps = {g.gap_id: g.detail for g in report.coverage_gaps}
    assert "VEN" in gaps["delisted_pairs"] and "removed from Binance" in gaps["delisted_pairs"]


def test_a_full_sync_finds_the_pairs_of_sold_out_assets() -> None:
    from dataclasses import replace

    account = ScenarioAccount.generate(replace(Scenario.small(), sold_out=1))
    [sold] = [s for s, rows in account.trades.items() if s.endswith("ETH") and len(rows) == 2]
    assert account.spot.get(sold[:-3], 0) == 0
    sandbox = BinanceSandbox(account=account, enforce_limits=False)
    asked, transport = _spy(sandbox)
    rig = make_rig(transport)
    report = asyncio.run(rig.engine.sync(rig.connection.id, SyncMode.FULL))
    assert report.ok, report.errors
    assert sold in asked
    assert "unreconciled_assets" not in {g.gap_id for g in report.coverage_gaps}

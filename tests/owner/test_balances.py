"""Balances explained per account and per owner: deleted and pending transactions, a running balance
that goes negative (a missing acquisition), unlinked transfers elsewhere, coverage gaps with their
remedies, assets the source cannot report, accounts never reported."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from tests.owner.world import T0, World, hours

from txsync.connectors.binance import Binance
from txsync.connectors.evm import EvmWallet
from txsync.engine.report import GapReport
from txsync.merge import to_us
from txsync.models import Balance
from txsync.owner import ExplanationKind as K
from txsync.owner.gaps import gap_rows
from txsync.owner.ledger import OwnerLedger
from txsync.store import SqliteStore

NFT = "eip155:1/erc721:0x" + "ab" * 20 + "/7"


def report(owner: OwnerLedger, account: str, **assets: str) -> None:
    owner.record_reported(account, [Balance(asset=a, amount=Decimal(v)) for a, v in assets.items()], as_of=T0)


@pytest.fixture
def world() -> World:
    w = World(SqliteStore(":memory:"))
    w.account("binance", "binance")
    w.account("wallet", "bitcoin")
    w.account("evm", "evm")
    refused = [  # a key refused these products' history (Binance notes their gaps then)
        GapReport(gap_id=gap, title="", remedy="", detail="this key cannot read it")
        for gap in ("eth2_staking", "p2p", "loans", "coin_m_futures")
    ]
    w.store.record_account_gaps("binance", "binance", gap_rows(Binance.info, refused, "con-binance"), to_us(T0))
    w.store.record_account_gaps("evm", "evm", gap_rows(EvmWallet.info, [], "con-evm"), to_us(T0))
    return w


def row(rows: list, account: str | None, asset: str):  # type: ignore[no-untyped-def]
    return next(r for r in rows if r.account_id == account and asset in r.asset)


def kinds(r) -> list[K]:  # type: ignore[no-untyped-def]
    return [e.kind for e in r.explanations]


def test_a_deleted_deposit_is_explained(world: World) -> None:
    owner = OwnerLedger(world.store)
    world.move("binance", "10", "ETH", at=T0)
    gone = world.move("binance", "1", "ETH", at=T0 + hours(5))
    world.store.delete_transaction(gone)
    report(owner, "binance", ETH="11")
    r = row(owner.balances(account_id="binance"), "binance", "ETH")
    assert (r.computed, r.reported, r.difference, r.status) == (
        Decimal(10),
        Decimal(11),
        Decimal(-1),
        "mismatch",
    )
    first = r.explanations[0]
    assert first.kind == K.DELETED and first.accounts_for_difference and first.transactions == (gone,)
    assert first.amount == Decimal(-1) and "restoring them" in first.detail
    assert r.as_json()["explanations"][0]["kind"] == "deleted"
    # every declared gap of the account follows, with its remedy
    gaps = [e for e in r.explanations if e.kind == K.COVERAGE_GAP]
    assert {e.gap_id for e in gaps} >= {"p2p", "loans", "coin_m_futures", "eth2_staking"}
    assert all(e.remedy for e in gaps)
    assert gaps[0].gap_id == "eth2_staking"  # the gap naming this asset comes first


def test_a_missing_early_buy_is_found_by_replaying_the_running_balance(world: World) -> None:
    owner = OwnerLedger(world.store)
    first_out = world.move("binance", "-4", "SOL", at=T0 + hours(24))
    world.move("binance", "-6", "SOL", at=T0 + hours(48))
    world.move("binance", "3", "SOL", at=T0 + hours(72))
    report(owner, "binance", SOL="18")  # 25 bought through P2P, which no API lists
    r = row(owner.balances(account_id="binance"), "binance", "SOL")
    assert (r.computed, r.difference) == (Decimal(-7), Decimal(-25))
    missing = next(e for e in r.explanations if e.kind == K.MISSING_ACQUISITION)
    assert missing.amount == Decimal(-10) and missing.at == T0 + hours(48)
    assert missing.data["missing_at_least"] == "10" and missing.transactions[0] == first_out
    assert "at least 10 SOL is missing before" in missing.detail
    assert "p2p" in {e.gap_id for e in r.explanations}


def test_a_negative_running_balance_shows_even_when_the_balances_agree(world: World) -> None:
    owner = OwnerLedger(world.store)
    world.move("binance", "-1", "BNB", at=T0)
    world.move("binance", "1", "BNB", at=T0 + hours(1))
    report(owner, "binance")
    [r] = [x for x in owner.balances(account_id="binance") if x.asset == "BNB"]
    assert r.status == "ok" and kinds(r) == [K.MISSING_ACQUISITION]


def test_pending_transactions_the_source_already_counts(world: World) -> None:
    owner = OwnerLedger(world.store)
    world.move("wallet", "1", at=T0)
    pending = world.move("wallet", "0.02", at=T0 + hours(1), status="pending")
    report(owner, "wallet", BTC="1.02")
    r = row(owner.balances(account_id="wallet"), "wallet", "BTC")
    assert r.difference == Decimal("-0.02")
    assert r.explanations[0].kind == K.PENDING and r.explanations[0].accounts_for_difference
    assert r.explanations[0].transactions == (pending,)


def test_an_unlinked_withdrawal_elsewhere_explains_a_missing_deposit(world: World) -> None:
    owner = OwnerLedger(world.store)
    world.move("evm", "2", "ETH", at=T0)
    sent = world.move("binance", "-1", "ETH", at=T0 + hours(100))  # its deposit is not in the evm history
    world.move("binance", "5", "ETH", at=T0)
    report(owner, "evm", ETH="3")
    report(owner, "binance", ETH="4")
    rows = owner.balances(owner_id="alice")
    r = row(rows, "evm", "ETH")
    assert r.difference == Decimal(-1)
    found = next(e for e in r.explanations if e.kind == K.UNLINKED_TRANSFER)
    assert found.transactions == (sent,) and found.accounts_for_difference and "binance" in found.detail
    total = row(rows, None, "ETH")
    assert (total.scope, total.computed, total.reported, total.difference) == (
        "owner",
        Decimal(6),
        Decimal(7),
        Decimal(-1),
    )
    assert total.asset_key == "coin:ethereum"
    assert any(e.kind == K.UNLINKED_TRANSFER and e.data["account_id"] == "evm" for e in total.explanations)


def test_nfts_are_not_reported_never_a_mismatch(world: World) -> None:
    owner = OwnerLedger(world.store)
    world.move("evm", "1", NFT, at=T0)
    world.move("evm", "1", "ETH", at=T0)
    report(owner, "evm", ETH="1")
    rows = owner.balances(account_id="evm")
    nft = row(rows, "evm", NFT)
    assert (nft.reported, nft.difference, nft.status) == (None, None, "not_reported")
    assert kinds(nft) == [K.NOT_REPORTED] and nft.explanations[0].gap_id == "nft_balances"
    assert row(rows, "evm", "ETH").status == "ok"
    assert nft.as_json()["reported"] is None and nft.as_json()["difference"] is None


def test_an_account_never_reported(world: World) -> None:
    world.move("wallet", "1", at=T0)
    [r] = OwnerLedger(world.store).balances(account_id="wallet")
    assert (r.reported, r.status, kinds(r)) == (None, "no_report", [K.NO_REPORT])


def test_gaps_are_kept_per_account_with_since_and_detected_details(world: World) -> None:
    owner = OwnerLedger(world.store)
    later = to_us(T0 + timedelta(days=3))
    noted = [GapReport(gap_id="l1_data_fees", title="x", remedy="y", detail="chain 10", stream="normal")]
    world.store.record_account_gaps("evm", "evm", gap_rows(EvmWallet.info, noted, "con-evm"), later)
    gaps = {g.gap_id: g for g in owner.gaps("evm")}
    assert gaps["nft_balances"].always and gaps["nft_balances"].since == T0
    assert gaps["l1_data_fees"].detail == "chain 10" and not gaps["l1_data_fees"].always
    assert gaps["l1_data_fees"].since == T0 + timedelta(days=3)
    # a complete full sync that no longer notes a detected gap resolves it; always-gaps stay
    world.store.record_account_gaps(
        "evm", "evm", gap_rows(EvmWallet.info, [], "con-evm"), later + 1, resolve_others_of="con-evm"
    )
    assert "l1_data_fees" not in {g.gap_id for g in owner.gaps("evm")}
    assert "l1_data_fees" in {g.gap_id for g in owner.gaps("evm", include_resolved=True)}
    status = owner.account_status("evm").as_json()
    assert {g["gap_id"] for g in status["gaps"]} == {"nft_balances", "rebasing_tokens"}
    assert set(status["gaps"][0]) >= {"gap_id", "title", "remedy", "detail", "since"}

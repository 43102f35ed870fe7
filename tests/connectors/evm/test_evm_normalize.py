"""Normalization of explorer rows: exact amounts, fees, reverted and own transfers, odd tokens, and
hostile rows that never crash."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txsync.connectors.evm._chains import KNOWN_CHAINS, chain_info
from txsync.connectors.evm._normalize import Normalizer, base_key, check_row, scaled, spam_reasons
from txsync.errors import InvalidRecordError
from txsync.fields import record_errors
from txsync.models import LegRole, NormalizedTransaction, RawTransaction, TransactionKind

ME = "0x" + "a1" * 20
ME2 = "0x" + "b2" * 20
THEM = "0x" + "c3" * 20
TOKEN = "0x" + "d4" * 20
HASH = "0x" + "e5" * 32
T = "1700000000"


def raws(stream: str, *rows: Any) -> list[RawTransaction]:
    return [
        RawTransaction(
            connection_id="c",
            account_id="a",
            stream=stream,
            source_id=f"s{n}",
            payload=row,
            fetched_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
        for n, row in enumerate(rows)
    ]


def normalizer(chain: int = 1) -> Normalizer:
    info = chain_info(chain)
    assert info is not None
    return Normalizer(info, [ME, ME2])


def normal_row(**kw: Any) -> dict[str, Any]:
    row = {
        "blockNumber": "100",
        "timeStamp": T,
        "hash": HASH,
        "from": ME,
        "to": THEM,
        "value": "0",
        "gas": "30000",
        "gasPrice": "1000000000",
        "gasUsed": "21000",
        "isError": "0",
        "txreceipt_status": "1",
        "input": "0x",
        "contractAddress": "",
        "functionName": "",
        "methodId": "0x",
    }
    row.update(kw)
    return row


def token_row(**kw: Any) -> dict[str, Any]:
    row = {
        "blockNumber": "100",
        "timeStamp": T,
        "hash": HASH,
        "from": THEM,
        "to": ME,
        "value": "1",
        "contractAddress": TOKEN,
        "tokenName": "Tether USD",
        "tokenSymbol": "USDT",
        "tokenDecimal": "6",
    }
    row.update(kw)
    return row


def one(txs: Any) -> NormalizedTransaction:
    out = list(txs)
    assert len(out) == 1
    return out[0]


def test_scaled_is_exact_for_any_number_of_digits() -> None:
    huge = 2**256 - 1
    assert (
        str(scaled(huge, 18))
        == "115792089237316195423570985008687907853269984665640564039457.584007913129639935"
    )
    assert scaled(1, 255) == Decimal("1E-255")
    assert scaled(0, 6) == 0
    assert scaled(37451082560000003241, 18) == Decimal("37.451082560000003241")


def test_reference_row_examples() -> None:
    """The rows of the reference: a plain txlist row and a USDT tokentx row."""
    tx = one(
        normalizer().normal(raws("normal", normal_row(value="37451082560000003241", gasPrice="58471444665")))
    )
    assert tx.kind is TransactionKind.WITHDRAWAL
    assert [(leg.amount, leg.role) for leg in tx.legs] == [
        (Decimal("-0.001227900337965000"), LegRole.FEE),
        (Decimal("-37.451082560000003241"), LegRole.PRINCIPAL),
    ]
    assert tx.key == f"tx:1:{HASH}" and tx.timestamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    usdt = one(normalizer().erc20(raws("erc20", token_row(value="1166000000"))))
    assert usdt.legs[0].amount == Decimal("1166") and usdt.legs[0].asset == f"eip155:1/erc20:{TOKEN}"
    assert usdt.key == tx.key, "every list describes the hash under the same key"


def test_no_fee_when_someone_else_sent_it() -> None:
    tx = one(normalizer().normal(raws("normal", normal_row(**{"from": THEM, "to": ME, "value": "5"}))))
    assert tx.kind is TransactionKind.DEPOSIT and [leg.role for leg in tx.legs] == [LegRole.PRINCIPAL]


def test_l1_fee_is_added_when_listed() -> None:
    tx = one(normalizer(10).normal(raws("normal", normal_row(L1FeesPaid="1000"))))
    assert tx.legs[0].amount == Decimal("-0.000021000000001000")


@pytest.mark.parametrize(("flag_field", "value"), [("isError", "1"), ("txreceipt_status", "0")])
def test_reverted_is_fee_only(flag_field: str, value: str) -> None:
    tx = one(normalizer().normal(raws("normal", normal_row(value="10", **{flag_field: value}))))
    assert tx.kind is TransactionKind.FEE and "reverted" in tx.flags
    assert [leg.role for leg in tx.legs] == [LegRole.FEE]


def test_reverted_incoming_moves_nothing() -> None:
    tx = one(
        normalizer().normal(
            raws("normal", normal_row(**{"from": THEM, "to": ME, "value": "10", "isError": "1"}))
        )
    )
    assert tx.net() == {} and "reverted" in tx.flags


def test_own_addresses_and_self_send() -> None:
    own = one(normalizer().normal(raws("normal", normal_row(to=ME2, value="7"))))
    assert own.kind is TransactionKind.TRANSFER and "internal_transfer" in own.flags
    assert own.net() == {"ETH": Decimal("-0.000021")}
    self_send = one(normalizer().normal(raws("normal", normal_row(to=ME, value="7"))))
    assert self_send.kind is TransactionKind.FEE and "self_transfer" in self_send.flags
    assert [leg.role for leg in self_send.legs] == [LegRole.FEE]


def test_contract_creation_and_calls() -> None:
    created = one(
        normalizer().normal(raws("normal", normal_row(to="", contractAddress=THEM, input="0x6080")))
    )
    assert "contract_creation" in created.flags and created.kind is TransactionKind.OTHER
    call = one(
        normalizer().normal(
            raws("normal", normal_row(input="0xa9059cbb00", functionName="transfer(address,uint256)"))
        )
    )
    assert call.description == "contract call transfer(address,uint256)"


def test_internal_rows_of_one_hash_make_one_part_and_reverted_traces_move_nothing() -> None:
    rows = [
        {
            "blockNumber": "5",
            "timeStamp": T,
            "hash": HASH,
            "from": THEM,
            "to": ME,
            "value": "3",
            "traceId": "0",
            "isError": "0",
        },
        {
            "blockNumber": "5",
            "timeStamp": T,
            "hash": HASH,
            "from": THEM,
            "to": ME2,
            "value": "4",
            "traceId": "1",
            "isError": "0",
        },
        {
            "blockNumber": "5",
            "timeStamp": T,
            "hash": HASH,
            "from": THEM,
            "to": ME,
            "value": "9",
            "traceId": "2",
            "isError": "1",
        },
    ]
    tx = one(normalizer().internal(raws("internal", *rows)))
    assert sum(leg.amount for leg in tx.legs) == Decimal("7E-18") and len(tx.sources) == 3
    assert tx.meta["reverted_traces"] == [{"trace": "2", "from": THEM, "to": ME, "value": "9"}]
    alone = one(normalizer().internal(raws("internal", rows[2])))
    assert alone.kind is TransactionKind.OTHER and alone.net() == {} and "reverted_trace" in alone.flags
    assert alone.meta["reverted_traces"] == [{"trace": "2", "from": THEM, "to": ME, "value": "9"}]


def internal_row(trace: str, value: str, error: str = "0", src: str = THEM, dst: str = ME) -> dict[str, Any]:
    return {
        "blockNumber": "5", "timeStamp": T, "hash": HASH, "from": src, "to": dst, "value": value,
        "traceId": trace, "isError": error, "type": "call",
    }  # fmt: skip


def test_traces_inside_a_reverted_call_move_nothing_whatever_their_own_flag() -> None:
    rows = [
        internal_row("0", "5"),  # a sibling call that succeeded: it moved
        internal_row("1", "0", error="1", src=THEM, dst=TOKEN),  # the call that reverted
        internal_row("1_0", "7"),  # inside it: listed as a success, undone by the revert
        internal_row("1_0_2", "11", dst=ME2),  # deeper still
        internal_row("10", "13"),  # "10" is not below "1"
    ]
    tx = one(normalizer().internal(raws("internal", *rows)))
    assert sorted(leg.amount for leg in tx.legs) == [Decimal("5E-18"), Decimal("1.3E-17")]
    assert "reverted_trace" in tx.flags
    assert [t["trace"] for t in tx.meta["reverted_traces"]] == ["1_0", "1_0_2"]


def test_an_internal_transfer_of_a_reverted_call_alone_is_kept_and_moves_nothing() -> None:
    (tx,) = normalizer().internal(raws("internal", internal_row("0", "0", "1", dst=TOKEN), internal_row("0_1", "8")))
    assert tx.net() == {} and tx.description == "reverted internal transfer: nothing moved"
    assert tx.meta["reverted_traces"] == [{"trace": "0_1", "from": THEM, "to": ME, "value": "8"}]


def test_a_zero_value_call_or_creation_by_someone_else_is_not_spam() -> None:
    call = one(normalizer().normal(raws("normal", normal_row(**{
        "from": THEM, "to": ME, "input": "0x6a761202" + "00" * 64, "functionName": "execTransaction(...)",
    }))))  # fmt: skip
    assert call.flags == {"incoming_call"} and call.kind is TransactionKind.OTHER
    created = one(normalizer().normal(raws("normal", normal_row(**{
        "from": THEM, "to": "", "contractAddress": ME, "input": "0x60806040",
    }))))  # fmt: skip
    assert not any("spam" in f for f in created.flags) and "contract_creation" in created.flags
    plain = one(normalizer().normal(raws("normal", normal_row(**{"from": THEM, "to": ME}))))
    assert plain.flags == {"zero_value"}


def transfer_row(contract: str, value: str, name: str = "Token", src: str = THEM, dst: str = ME) -> dict[str, Any]:
    return {
        "blockNumber": "5", "timeStamp": T, "hash": HASH, "from": src, "to": dst, "value": value,
        "contractAddress": contract, "tokenName": name, "tokenSymbol": "TKN", "tokenDecimal": "6",
    }  # fmt: skip


def test_spam_is_judged_per_token_transfer_and_never_marks_the_sibling_transfers() -> None:
    spam_contract = "0x" + "ee" * 20
    swap = one(normalizer().erc20(raws(
        "erc20",
        transfer_row(TOKEN, "1000000", src=ME, dst=THEM),
        transfer_row(TOKEN, "0", src=ME, dst=THEM),  # a poisoning zero transfer riding along
        transfer_row(spam_contract, "5000000", name="Claim rewards at bonus.xyz"),
    )))  # fmt: skip
    spam_asset = f"eip155:1/erc20:{spam_contract}"
    assert "spam_suspect" not in swap.flags and "zero_value" not in swap.flags
    assert swap.flags == {f"spam_asset:{spam_asset}"}
    assert swap.kind is TransactionKind.TRADE
    assert swap.meta["tokens"][spam_asset]["flags"] == ["spam_suspect"]
    assert swap.meta["tokens"][f"eip155:1/erc20:{TOKEN}"]["flags"] == ["spam_suspect", "zero_value"]
    airdrop = one(normalizer().erc20(raws("erc20", transfer_row(spam_contract, "5000000", name="Visit bonus.xyz"))))
    assert airdrop.flags == {"spam_suspect", f"spam_asset:{spam_asset}"}
    assert airdrop.kind is TransactionKind.AIRDROP


@pytest.mark.parametrize(
    ("decimals", "flag", "amount"),
    [
        ("", "unknown_decimals", Decimal(1500)),
        (None, "unknown_decimals", Decimal(1500)),
        ("abc", "unknown_decimals", Decimal(1500)),
        ("300", "unknown_decimals", Decimal(1500)),
        ("-3", "unknown_decimals", Decimal(1500)),
        ("36", None, scaled(1500, 36)),
        ("40", "odd_decimals", scaled(1500, 40)),
        ("60", "odd_decimals", scaled(1500, 60)),
        # more decimals than the ledger holds exactly: booked in the token's smallest unit
        ("61", "base_units", Decimal(1500)),
        ("77", "base_units", Decimal(1500)),
        ("255", "base_units", Decimal(1500)),
        ("0", None, Decimal(1500)),
    ],
)
def test_odd_decimals_are_flagged_never_fatal(decimals: Any, flag: str | None, amount: Decimal) -> None:
    tx = one(normalizer().erc20(raws("erc20", token_row(value="1500", tokenDecimal=decimals))))
    assert tx.legs[0].amount == amount
    if flag:
        assert flag in tx.flags


@pytest.mark.parametrize(
    ("name", "symbol", "spam"),
    [
        ("Tether USD", "USDT", False),
        ("Visit https://claim.xyz", "GIFT", True),
        ("$ AaveReward.com", "AAVE", True),
        ("Claim your airdrop", "X", True),
        ("Uniswap", "UNI", False),
        (None, None, False),
        ("t.me/scam", "S", True),
    ],
)
def test_spam_names(name: Any, symbol: Any, spam: bool) -> None:
    assert ("spam_suspect" in spam_reasons(name, symbol)) is spam


def test_zero_value_token_transfer_is_kept_and_flagged() -> None:
    tx = one(normalizer().erc20(raws("erc20", token_row(**{"from": ME, "to": THEM, "value": "0"}))))
    assert {"zero_value", "spam_suspect"} <= tx.flags and tx.net() == {}
    assert tx.legs[0].amount == 0 and not tx.legs[0].amount.is_signed()


def test_nfts_are_one_leg_per_token() -> None:
    nft = {
        "blockNumber": "1",
        "timeStamp": T,
        "hash": HASH,
        "from": THEM,
        "to": ME,
        "contractAddress": TOKEN,
        "tokenID": "115792089237316195423570985008687907853269984665640564039457584007913129639935",
        "tokenName": "Apes",
        "tokenSymbol": "APE",
        "tokenDecimal": "0",
    }
    tx = one(normalizer().nft(raws("erc721", nft), "erc721"))
    assert tx.legs[0].amount == 1 and tx.legs[0].asset.startswith(f"eip155:1/erc721:{TOKEN}/1157920892")
    assert len(tx.legs[0].asset) <= 200
    multi = one(normalizer().nft(raws("erc1155", {**nft, "tokenID": "7", "tokenValue": "12"}), "erc1155"))
    assert (multi.legs[0].asset, multi.legs[0].amount) == (f"eip155:1/erc1155:{TOKEN}/7", Decimal(12))


def test_unparsable_rows_are_typed_errors_never_kept_as_valid() -> None:
    with pytest.raises(InvalidRecordError, match="without a readable sender or value") as caught:
        list(normalizer().normal(raws("normal", normal_row(**{"from": None}))))
    assert caught.value.stream == "normal"
    with pytest.raises(InvalidRecordError, match="unreadable beacon withdrawal"):
        list(normalizer().beacon(raws("beacon_withdrawals", {"withdrawalIndex": "x"})))
    with pytest.raises(InvalidRecordError, match="readable time"):
        list(normalizer().normal(raws("normal", normal_row(timeStamp=str(10**40)))))


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("hash", "0x12", "not a 0x transaction hash"),
        ("hash", "0x" + "a" * 63 + "\u202e", "holds control or invisible characters"),
        ("hash", None, "is missing"),
        ("blockNumber", "-1", "outside 0.."),
        ("timeStamp", str(10**20), "not a time in epoch seconds"),
        ("from", "0xzz", "not a 0x address"),
        ("value", str(2**256), "outside 0.."),
        ("value", "1e18", "not an integer"),
        ("value", "\u0661", "not an integer"),
        ("isError", "2", "not 0 or 1"),
        ("functionName", ["x"], "not a string"),
        ("gasPrice", [], "not an integer"),
    ],
)
def test_explorer_rows_are_checked_when_they_arrive(field: str, value: Any, problem: str) -> None:
    row = {**normal_row(), field: value}
    with pytest.raises(InvalidRecordError, match=re.escape(problem)) as caught:
        check_row("normal", row)
    assert caught.value.field == field and caught.value.stream == "normal"
    assert check_row("normal", normal_row()) == normal_row()


def test_row_keys() -> None:
    assert base_key("normal")(normal_row()) == HASH
    assert base_key("internal")({"hash": HASH, "traceId": "0_1"}) == f"{HASH}:0_1"
    assert base_key("erc20")(token_row(logIndex="17")) == f"{HASH}:17:"
    assert base_key("beacon_withdrawals")({"withdrawalIndex": "9"}) == "withdrawal:9"


def test_known_chains() -> None:
    assert {c: KNOWN_CHAINS[c].native_symbol for c in (1, 56, 137, 42161, 10, 8453, 43114)} == {
        1: "ETH",
        56: "BNB",
        137: "POL",
        42161: "ETH",
        10: "ETH",
        8453: "ETH",
        43114: "AVAX",
    }
    assert chain_info(999) is None
    custom = chain_info(999, "FOO", 8)
    assert custom is not None and (custom.native_symbol, custom.native_decimals) == ("FOO", 8)
    tx = one(
        Normalizer(custom, [ME]).normal(raws("normal", normal_row(**{"from": THEM, "to": ME, "value": "1"})))
    )
    assert tx.legs[0].amount == Decimal("1E-8") and tx.legs[0].asset == "FOO"


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**80), 10**80),
    st.text(max_size=30),
    st.sampled_from(["", "0", "1", "18", "255", "256", ME, ME2, THEM, TOKEN, HASH, "0x", "1e5", "-1", " 7 "]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_keys = st.sampled_from(
    [
        "blockNumber",
        "timeStamp",
        "timestamp",
        "hash",
        "from",
        "to",
        "value",
        "gasUsed",
        "gasPrice",
        "isError",
        "txreceipt_status",
        "input",
        "contractAddress",
        "tokenDecimal",
        "tokenName",
        "tokenSymbol",
        "tokenID",
        "tokenValue",
        "traceId",
        "withdrawalIndex",
        "amount",
        "address",
        "functionName",
        "L1FeesPaid",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.one_of(st.dictionaries(_keys, _values, max_size=12), _values), min_size=1, max_size=4),
    stream=st.sampled_from(["normal", "internal", "erc20", "erc721", "erc1155", "beacon_withdrawals"]),
)
def test_hostile_rows_give_typed_errors_or_well_formed_transactions(rows: list[Any], stream: str) -> None:
    n = normalizer()
    group = raws(stream, *rows)
    make = {
        "normal": n.normal,
        "internal": n.internal,
        "erc20": n.erc20,
        "beacon_withdrawals": n.beacon,
        "erc721": lambda r: n.nft(r, "erc721"),
        "erc1155": lambda r: n.nft(r, "erc1155"),
    }[stream]
    failure: InvalidRecordError | None = None
    txs: list[NormalizedTransaction] = []
    try:
        for row in rows:
            check_row(stream, row)  # what the stream does when a page arrives
        with record_errors(stream, None):
            txs = list(make(group))
    except InvalidRecordError as exc:
        failure = exc
    assert failure is None or failure.stream == stream
    for tx in txs:
        assert tx.legs and all(isinstance(leg.amount, Decimal) for leg in tx.legs)
        assert tx.timestamp.tzinfo is not None

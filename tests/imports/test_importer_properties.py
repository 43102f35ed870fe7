"""Properties of the importers on hostile input (hypothesis): a file is either refused as a whole with a
typed error, or every row of it imports (pass 2 never fails on what pass 1 accepted); identities do
not depend on the order of the rows in the file."""

from __future__ import annotations

import asyncio
import csv
import io
import random
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.files import KOINLY_HEADER, TEMPLATE_HEADER
from txsync.connector import ConnectorContext
from txsync.connectors.koinly_csv import KoinlyUniversal
from txsync.connectors.txsync_template import TxsyncTemplate
from txsync.errors import ConfigurationError, FileImportError
from txsync.imports import FileImporter
from txsync.models import Credential, NormalizedTransaction, RawTransaction
from txsync.models.values import exact

T = datetime(2021, 1, 1, tzinfo=UTC)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

hostile_text = st.sampled_from(["", " ", "1e400", "NaN", "-inf", "1,5", "١٢", "0x1f", "--1", "\x00", "\u202e",
                                '"', "a\nb", "9" * 50, "0." + "0" * 40 + "1", "2021-02-30 10:00:00"])
amounts = st.one_of(
    st.decimals(min_value=0, max_value=10**12, allow_nan=False, allow_infinity=False, places=8).map(str),
    st.sampled_from(["", "0", "1E-8", "+3", ".5"]),
    hostile_text,
)
currencies = st.one_of(st.sampled_from(["BTC", "ETH", "EUR", "USDT", "ID:42", ""]), hostile_text)
dates = st.one_of(
    st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.sampled_from(["2021-03-04 12:34 UTC", "2021-03-04T12:00:00Z", "2021-03-04 14:00:00+02:00"]),
    hostile_text,
)
labels = st.one_of(st.sampled_from(["", "staking", "swap", "gift", "Lottery", "margin fee"]), hostile_text)
free_text = st.one_of(st.text(max_size=30), hostile_text)


async def _import(cls: type[FileImporter], text: str) -> list[NormalizedTransaction]:
    context = ConnectorContext(connection_id="c", account_id="a", credential=Credential(connector_id=cls.info.id),
                               options={"text": text, "page_size": 3})
    out: list[NormalizedTransaction] = []
    async with cls(context) as importer:
        await importer.verify()
        [stream] = importer.streams()
        async for page in stream.pages(None):
            raws = [RawTransaction(connection_id="c", account_id="a", stream=stream.name, source_id=r.source_id,
                                   payload=r.payload, fetched_at=T) for r in page.records]
            out.extend(stream.normalize(raws))
    return out


def _outcome(cls: type[FileImporter], text: str) -> list[NormalizedTransaction] | None:
    try:
        txs = asyncio.run(_import(cls, text))
    except (FileImportError, ConfigurationError):
        return None  # refused as a whole, with a typed error
    for tx in txs:
        assert tx.legs and all(isinstance(leg.amount, Decimal) for leg in tx.legs)
        with exact():  # whatever was accepted sums exactly
            sum((leg.amount for leg in tx.legs), Decimal(0))
    return txs


def _csv(header: str, rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return header + out.getvalue()


valid_dates = st.one_of(
    st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.sampled_from(["2021-03-04 12:34 UTC", "2021-03-04T12:00:00Z", "2021-03-04 14:00:00+02:00"]),
)
valid_amounts = st.one_of(
    st.decimals(min_value=Decimal("0.00000001"), max_value=10**12, allow_nan=False, allow_infinity=False,
                places=8).map(str),
    st.sampled_from(["1E-8", "+3", ".5", "0.00100000"]),
)
side = st.tuples(valid_amounts, st.sampled_from(["BTC", "ETH", "EUR", "ID:42"]))
sides = st.one_of(st.just(("", "")), side)
koinly_rows = st.lists(
    st.tuples(valid_dates, sides, side, sides, st.sampled_from(["", "staking", "swap", "gift", "Lottery"]),
              st.text(st.characters(whitelist_categories=("L", "N", "P", "Zs")), max_size=20)).map(lambda r: [r[0], *r[1], *r[2], *r[3], "", "", r[4], r[5], ""]),
    min_size=1, max_size=8)
damage = st.one_of(st.none(), st.tuples(st.integers(0, 7), st.integers(0, 11), hostile_text))


@SETTINGS
@given(koinly_rows, damage, st.randoms(use_true_random=False))
def test_koinly_files_are_refused_whole_or_imported_whole(cells: list[list[str]], hurt: tuple[int, int, str] | None,
                                                          rng: random.Random) -> None:
    if hurt is not None:
        row, column, value = hurt
        cells[row % len(cells)][column] = value
    text = _csv(KOINLY_HEADER, cells)
    txs = _outcome(KoinlyUniversal, text)
    if txs is None:
        return
    assert len(txs) == len(cells)
    shuffled = [list(c) for c in cells]
    rng.shuffle(shuffled)
    again = _outcome(KoinlyUniversal, _csv(KOINLY_HEADER, shuffled))
    assert again is not None and sorted(t.key for t in again) == sorted(t.key for t in txs)


@SETTINGS
@given(st.lists(st.tuples(dates, st.sampled_from(["", "a", "b"]), st.sampled_from(["", "trade", "deposit", "nope"]),
                          currencies, amounts, st.sampled_from(["", "fee", "reward", "bad"])), min_size=1, max_size=8))
def test_template_files_are_refused_whole_or_imported_whole(rows: list[tuple[str, ...]]) -> None:
    cells = [[d, tx, kind, asset, amount, role, "", "", "", "", "", ""] for d, tx, kind, asset, amount, role in rows]
    _outcome(TxsyncTemplate, _csv(TEMPLATE_HEADER, cells))


@SETTINGS
@given(st.integers(min_value=0, max_value=400), st.sampled_from(["", ",", ",,", '"', "\n", "\x00", "\xff"]))
def test_cut_or_damaged_files_are_refused_or_read_whole(cut: int, junk: str) -> None:
    text = KOINLY_HEADER + "".join(f"2021-03-0{1 + i} 12:00:00,,,{i + 1}.25,BTC,,,,,,,\n" for i in range(8))
    damaged = text[: len(KOINLY_HEADER) + cut] + junk
    txs = _outcome(KoinlyUniversal, damaged)
    if txs is not None:  # accepted: only whole rows were there
        assert all(tx.legs[0].amount in {Decimal(i + 1) + Decimal("0.25") for i in range(8)} for tx in txs)



"""The contract kit catches broken connectors and leaky cassettes.

Each test breaks one thing in the Demo Exchange connector (or writes a bad cassette) and runs the
kit's check for it directly against the sandbox: the check must fail with an ``AssertionError``
that says what is wrong. The last tests prove the vcrpy configuration itself: signed requests
replay, unmatched requests fail, secrets are scrubbed, and a replay needs neither the sandbox nor
the network.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr.errors

from txsync.connector import ConnectorInfo, CredentialField, Cursor, Page, Stream
from txsync.connectors.demo import DemoExchange, DepositsStream, TradesStream
from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoAccount, DemoSandbox
from txsync.models import (
    Credential,
    Leg,
    NormalizedTransaction,
    Origin,
    RawTransaction,
    SourceRef,
    TransactionKind,
    TransactionStatus,
)
from txsync.testing import (
    PLACEHOLDER,
    CommittedPage,
    ContractHarness,
    Scrubber,
    cassette_vcr,
    check_cassettes_clean,
    check_connector_info,
    check_normalized_page,
    check_page_order,
    compare_cursors,
    record_source,
)
from txsync.testing.cassettes import RecordSource

CREDENTIAL = Credential(connector_id="demo", secrets={"api_key": DEMO_KEY, "api_secret": DEMO_SECRET})
#: A short history (origin 2023) keeps the sandbox scenarios fast: 3 trade pages, 10 deposit windows.
OPTIONS = {"origin": "2023-01-01"}
ACCOUNT = DemoAccount.generate()
CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "demo"


def harness(connector: type[DemoExchange] = DemoExchange) -> ContractHarness:
    """The kit's harness wired to a fresh sandbox per engine run (no cassette)."""
    sandbox = DemoSandbox(account=ACCOUNT)
    return ContractHarness(
        connector, CREDENTIAL, options=OPTIONS, transport=lambda: DemoSandbox(account=ACCOUNT).transport(),
        clock=sandbox.clock,
    )


def raws_of(rows: Sequence[dict[str, Any]], stream: str = "trades") -> list[RawTransaction]:
    return [
        RawTransaction(
            connection_id="con_contract", account_id="acc_contract", stream=stream, source_id=str(row["id"]),
            payload=row, fetched_at=datetime(2023, 10, 2, tzinfo=UTC),
        )
        for row in rows
    ]


def with_trades(stream: type[TradesStream]) -> type[DemoExchange]:
    """A Demo Exchange whose trades stream is ``stream``."""

    class Broken(DemoExchange):
        def streams(self) -> Sequence[Stream]:
            return [stream(self), DepositsStream(self)]

    return Broken


# -- (b) page order ----------------------------------------------------------------------------------


class BackwardsTrades(TradesStream):
    """Pages after the first carry cursors that go backwards."""

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        inner = TradesStream.pages(self, cursor)

        async def backwards() -> AsyncIterator[Page]:
            index = 0
            async for page in inner:
                yield page if index == 0 else Page(page.records, 1000 - index, page.label)
                index += 1

        return backwards()


class StuckTrades(TradesStream):
    """Every page carries the same cursor."""

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        inner = TradesStream.pages(self, cursor)

        async def stuck() -> AsyncIterator[Page]:
            async for page in inner:
                yield Page(page.records, 1001, page.label)

        return stuck()


async def test_a_cursor_going_backwards_fails_the_order_check() -> None:
    with pytest.raises(AssertionError, match=r"stream 'trades': the cursor goes backwards from page 1 to page 2"):
        await harness(with_trades(BackwardsTrades)).check_full_sync()


async def test_a_cursor_that_does_not_move_fails_the_order_check() -> None:
    with pytest.raises(AssertionError, match="has the same cursor as page 1"):
        await harness(with_trades(StuckTrades)).check_full_sync()


def test_page_order_rules() -> None:
    def page(stream: str, cursor: Cursor) -> CommittedPage:
        return CommittedPage(stream, cursor, [], [])

    windows = [{"start": 1}, {"start": 1, "end": 9, "inner": 50}, {"start": 1, "end": 9, "inner": 100}, {"start": 10}]
    assert check_page_order([page("d", c) for c in windows]) == {"d": 4}
    assert check_page_order([page("t", 5), page("d", {"start": 1}), page("t", 6)]) == {"t": 2, "d": 1}
    check_page_order([page("t", "tok-b"), page("t", "tok-a")])  # opaque tokens: only "must differ"
    with pytest.raises(AssertionError, match="backwards"):
        check_page_order([page("d", c) for c in reversed(windows)])
    with pytest.raises(AssertionError, match="not JSON-serializable"):
        check_page_order([page("t", 1.5)])
    assert compare_cursors({"A": 10, "B": 1}, {"B": 2}) is None  # a partition finished: not comparable
    assert compare_cursors([1, 2], [1, 2, 0]) == 1
    assert compare_cursors(True, 2) is None


# -- (f) normalization -------------------------------------------------------------------------------


class SourcelessTrades(TradesStream):
    """Drops the sources of every transaction."""

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        for tx in super().normalize(raws):
            yield tx.model_copy(update={"sources": ()})


class ForeignSourceTrades(TradesStream):
    """Names a raw record that is not in the page."""

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        for tx in super().normalize(raws):
            ref = SourceRef(connection_id="con_contract", stream="trades", source_id="not-in-this-page")
            yield tx.model_copy(update={"sources": (ref,)})


class SloppyTrades(TradesStream):
    """Builds transactions without validation: float amounts and naive timestamps slip through."""

    flaw = "float"

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        for raw in raws:
            row = raw.payload
            amount: Any = float(row["qty"]) if self.flaw == "float" else Decimal(row["qty"])
            at = datetime(2023, 1, 1) if self.flaw == "naive" else datetime(2023, 1, 1, tzinfo=UTC)
            yield NormalizedTransaction.model_construct(
                account_id=raw.account_id, key=f"trade:{row['id']}", kind=TransactionKind.TRADE,
                timestamp=at, status=TransactionStatus.CONFIRMED, legs=(Leg.model_construct(asset=row["base"], amount=amount),),
                origin=Origin.API, external_ids={}, sources=(raw.ref,), description=None, flags=frozenset(), meta={},
            )


class RandomKeyTrades(TradesStream):
    """Keys transactions with a random value: ids change at every normalization."""

    def normalize(self, raws: Sequence[RawTransaction]) -> Iterable[NormalizedTransaction]:
        for tx in super().normalize(raws):
            yield tx.model_copy(update={"key": f"trade:{uuid.uuid4().hex}"})


async def normalize_check(stream: type[TradesStream], **kw: Any) -> None:
    async with harness().open_connector(verify=False) as one, harness().open_connector(verify=False) as two:
        check_normalized_page(
            [stream(one), stream(two)], raws_of(ACCOUNT.trades[:5]), account_id="acc_contract", **kw  # type: ignore[arg-type]
        )


async def test_the_demo_normalizer_passes_the_normalization_check() -> None:
    await normalize_check(TradesStream)


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (SourcelessTrades, "has no sources"),
        (ForeignSourceTrades, "which is not a raw record of this page"),
        (RandomKeyTrades, "other transaction ids"),
    ],
)
async def test_broken_normalizers_fail_the_normalization_check(stream: type[TradesStream], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        await normalize_check(stream)


@pytest.mark.parametrize(("flaw", "message"), [("float", "must be Decimal"), ("naive", "not an aware UTC datetime")])
async def test_unvalidated_transactions_fail_the_normalization_check(flaw: str, message: str) -> None:
    stream = type("Sloppy", (SloppyTrades,), {"flaw": flaw})
    with pytest.raises(AssertionError, match=message):
        await normalize_check(stream)


async def test_a_normalizer_dropping_sources_also_fails_the_full_sync() -> None:
    with pytest.raises(AssertionError, match=r"stream 'trades' reported errors: .*without sources"):
        await harness(with_trades(SourcelessTrades)).check_full_sync()


async def test_normalization_differing_from_what_was_committed_is_caught() -> None:
    h = harness()
    run = await h.check_full_sync()
    page = next(p for p in run.pages if p.stream == "trades")
    page.transactions[0] = page.transactions[0].model_copy(update={"description": "edited"})
    with pytest.raises(AssertionError, match=r"what the sync committed .* describes"):
        await h.check_normalization(run)


# -- (c) resume, (d) second sync, (e) future cursor -----------------------------------------------------


class SkipOnResumeTrades(TradesStream):
    """Resuming from a stored cursor skips 150 trade ids: history is lost at every restart."""

    def pages(self, cursor: Cursor) -> AsyncIterator[Page]:
        return TradesStream.pages(self, None if cursor is None else cursor + 150)


class FutureBlindDeposits(DepositsStream):
    """``cursor_from_time`` ignores the time and starts at the origin."""

    def cursor_from_time(self, since: datetime) -> Cursor:
        return self._paginator().cursor_at(self.connector.origin)


class FutureBlind(DemoExchange):
    def streams(self) -> Sequence[Stream]:
        return [TradesStream(self), FutureBlindDeposits(self)]


async def test_the_demo_connector_passes_the_scenarios_against_its_sandbox() -> None:
    h = harness()
    summary = await h.check_resume_from_every_checkpoint(independent=2)
    assert summary.kills >= summary.pages > 10 and len(summary.independent) == 2
    await h.check_second_sync_adds_nothing()
    assert await h.check_future_cursor_yields_nothing() == {"deposits": 0}


async def test_losing_data_on_resume_fails_the_resume_check() -> None:
    with pytest.raises(AssertionError, match=r"the ledger after \d+ kills and resumes: \d+ transactions instead of"):
        await harness(with_trades(SkipOnResumeTrades)).check_resume_from_every_checkpoint(independent=0)


async def test_unstable_keys_fail_the_second_sync_check() -> None:
    # the merge keeps each raw's transaction, so a changed key shows up as updates in a full re-sync
    with pytest.raises(AssertionError, match=r"a second \(full\) sync added 0 and updated [1-9]\d* transactions"):
        await harness(with_trades(RandomKeyTrades)).check_second_sync_adds_nothing()


async def test_a_cursor_from_the_future_that_yields_records_fails() -> None:
    with pytest.raises(AssertionError, match=r"stream 'deposits': a cursor from 2024-10-01.* yielded"):
        await harness(FutureBlind).check_future_cursor_yields_nothing()


# -- (a) info and credential -------------------------------------------------------------------------


def demo_info(**changes: Any) -> ConnectorInfo:
    return DemoExchange.info.model_copy(update=changes)


def test_info_and_credential_problems_are_caught() -> None:
    check_connector_info(DemoExchange, CREDENTIAL, ["trades", "deposits"])
    public_secret = type("PublicSecret", (DemoExchange,), {"info": demo_info(credential_fields=(
        CredentialField(name="api_key", label="API key", secret=True),
        CredentialField(name="api_secret", label="API secret", secret=False),
    ))})
    with pytest.raises(AssertionError, match="'api_secret' looks secret but is declared secret=False"):
        check_connector_info(public_secret, CREDENTIAL)
    with pytest.raises(AssertionError, match="lacks the required field 'api_secret'"):
        check_connector_info(DemoExchange, Credential(connector_id="demo", secrets={"api_key": DEMO_KEY}))
    with pytest.raises(AssertionError, match="is for 'other'"):
        check_connector_info(DemoExchange, Credential(connector_id="other", secrets=CREDENTIAL.secrets))
    with pytest.raises(AssertionError, match="shorter than 8 characters"):
        check_connector_info(DemoExchange, Credential(connector_id="demo", secrets={"api_key": "k", "api_secret": "s"}))
    with pytest.raises(AssertionError, match=r"not returned: \['deposits'\]"):
        check_connector_info(DemoExchange, CREDENTIAL, ["trades"])
    with pytest.raises(AssertionError, match="several streams named"):
        check_connector_info(DemoExchange, CREDENTIAL, ["trades", "trades", "deposits"])


# -- (g) cassettes -----------------------------------------------------------------------------------


def cassette(uri: str, headers: dict[str, list[str]], body: str = "{}") -> str:
    import yaml  # type: ignore[import-untyped]

    text: str = yaml.safe_dump({"version": 1, "interactions": [{
        "request": {"method": "GET", "uri": uri, "body": "", "headers": headers},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": body}},
    }]})
    return text


def test_the_recorded_demo_cassettes_are_clean() -> None:
    # the contract's four scenarios (and any other cassette of the demo, such as the main job's)
    assert check_cassettes_clean(CASSETTES, CREDENTIAL.secret_values()) >= 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (cassette("https://x.test/a", {}, body=f'{{"echo": "{DEMO_SECRET}"}}'), "contains secret #2"),
        (cassette(f"https://x.test/a?k={DEMO_KEY.replace('-', '%2D')}", {}), "contains secret #1"),
        (cassette(f"https://x.test/a?signature={'ab' * 32}", {}), r"'signature' is not scrubbed \(a 64-hex"),
        (cassette("https://x.test/a?timestamp=1696204800000", {}), "'timestamp' is not scrubbed"),
        (cassette("https://x.test/a", {"X-DEMO-APIKEY": ["some-key"]}), "header 'X-DEMO-APIKEY' is not scrubbed"),
        (cassette("https://x.test/a", {"X-Trace": ["cd" * 32]}), "header 'X-Trace' holds a 64-hex value"),
        # names nobody listed, recognised as sensitive by txsync.http.is_sensitive_name
        (cassette("https://x.test/a", {"OK-ACCESS-SIGN": ["c2lnbg=="]}), "header 'OK-ACCESS-SIGN' is not scrubbed"),
        (cassette("https://x.test/a?access_token=t0k3n", {}), "'access_token' is not scrubbed"),
        (
            cassette("https://x.test/a", {}).replace("body: ''", 'body: \'{"q": {"passphrase": "pw"}}\''),
            "body field 'passphrase' is not scrubbed",
        ),
    ],
)
def test_a_leaky_cassette_fails_the_cassette_check(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "leaky.yaml").write_text(text)
    with pytest.raises(AssertionError, match=message) as caught:
        check_cassettes_clean(tmp_path, CREDENTIAL.secret_values())
    assert DEMO_SECRET not in str(caught.value) and DEMO_KEY not in str(caught.value)


def test_no_cassette_at_all_fails(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="no cassette under"):
        check_cassettes_clean(tmp_path, CREDENTIAL.secret_values())


# -- the vcrpy configuration -------------------------------------------------------------------------


def test_record_source_reads_the_environment() -> None:
    assert record_source({}) is RecordSource.REPLAY
    assert record_source({"TXSYNC_RECORD": "1"}) is RecordSource.SANDBOX
    assert record_source({"TXSYNC_RECORD": "live"}) is RecordSource.LIVE
    with pytest.raises(ValueError, match="not understood"):
        record_source({"TXSYNC_RECORD": "maybe"})


def test_scrubber_cleans_requests_and_responses() -> None:
    from vcr.request import Request

    scrubber = Scrubber(secrets=[DEMO_SECRET], headers=["X-Custom-Sig"], params=["token"])
    request = Request(
        "POST",
        f"https://api.demo-exchange.test/v1/x?b=2&ApiKey=k123&Signature={'ef' * 32}&a=1&note={DEMO_SECRET}",
        f"nonce=99&amount=1.5&secret={DEMO_SECRET}".encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Custom-Sig": "sig-value-0123456789", "Accept": "*/*"},
    )
    clean = scrubber.request(request)
    assert clean.uri == f"https://api.demo-exchange.test/v1/x?b=2&ApiKey={PLACEHOLDER}&Signature={PLACEHOLDER}&a=1&note={PLACEHOLDER}"
    assert clean.body == f"nonce={PLACEHOLDER}&amount=1.5&secret={PLACEHOLDER}".encode()
    assert clean.headers["X-Custom-Sig"] == PLACEHOLDER and clean.headers["Accept"] == "*/*"
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Date": ["Mon"], "Content-Type": ["application/json"], "Content-Length": ["99"]},
        "body": {"string": b'{"amount":1.10,"sig":"sig-value-0123456789"}'},
    }
    cleaned = scrubber.response(response)
    assert cleaned is not None and "Date" not in cleaned["headers"]
    assert cleaned["body"]["string"] == f'{{\n  "amount": 1.10,\n  "sig": "{PLACEHOLDER}"\n}}'.encode()
    assert cleaned["headers"]["Content-Length"] == [str(len(cleaned["body"]["string"]))]
    assert scrubber.response({"status": {"code": 429}, "headers": {}, "body": {"string": b""}}) is None


def test_scrubber_recognises_sensitive_names_nobody_listed() -> None:
    from vcr.request import Request

    request = Request(
        "POST",
        "https://x.test/v1/x?access_token=abc&pageToken=p2&startTime=1",
        b'{"passphrase": "pw", "nested": {"api_secret": "s"}, "amount": 1}',
        {"Content-Type": "application/json", "OK-ACCESS-SIGN": "c2ln", "X-Auth-Nonce": "n-1", "Accept": "*/*"},
    )
    clean = Scrubber().request(request)
    # paging tokens and ordinary parameters stay: requests for different pages must still differ
    assert clean.uri == f"https://x.test/v1/x?access_token={PLACEHOLDER}&pageToken=p2&startTime=1"
    assert clean.body == b'{"passphrase":"REDACTED","nested":{"api_secret":"REDACTED"},"amount":1}'
    assert clean.headers["OK-ACCESS-SIGN"] == PLACEHOLDER and clean.headers["X-Auth-Nonce"] == PLACEHOLDER
    assert clean.headers["Accept"] == "*/*"


async def test_signed_requests_replay_and_unmatched_requests_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Record one signed request from the sandbox, replay it signed at another time, and fail on
    a request that is not in the cassette."""
    from txsync.http import HmacQueryAuth

    monkeypatch.delenv("TXSYNC_RECORD", raising=False)

    async def get(transport: httpx.AsyncBaseTransport, stamp: int, path: str = "/v1/key") -> httpx.Response:
        auth = HmacQueryAuth(DEMO_KEY, DEMO_SECRET, key_header="X-DEMO-APIKEY", clock=lambda: stamp)
        async with httpx.AsyncClient(base_url="https://api.demo-exchange.test", transport=transport, auth=auth) as c:
            return await c.get(path, params={"b": 1, "a": 2})

    recorder = cassette_vcr(tmp_path, "new_episodes", secrets=CREDENTIAL.secret_values())
    with recorder.use_cassette("signed.yaml"):
        assert (await get(DemoSandbox().transport(), 1_700_000_000_000)).status_code == 200
    text = (tmp_path / "signed.yaml").read_text()
    assert "timestamp=REDACTED&signature=REDACTED" in text and DEMO_KEY not in text
    replayer = cassette_vcr(tmp_path, secrets=CREDENTIAL.secret_values())  # the default: replay only
    with replayer.use_cassette("signed.yaml"):
        for stamp in (1_800_000_000_000, 1_900_000_000_000):  # repeats play back too
            response = await get(httpx.MockTransport(lambda _r: httpx.Response(500)), stamp)
            assert response.json()["canRead"] is True
        with pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException):
            await get(httpx.MockTransport(lambda _r: httpx.Response(500)), 1, path="/v1/balances")


def test_scrubber_keeps_a_truncated_json_body_as_is() -> None:
    """A truncated JSON body (a broken transfer) is recorded byte for byte, never a crash."""
    from txsync.testing.cassettes import Scrubber

    scrubber = Scrubber(secrets=["s3cr3t-value"])
    body = b'{"rows": [{"id": "dep-0001", "ass'
    assert scrubber.body(body, "application/json") == body

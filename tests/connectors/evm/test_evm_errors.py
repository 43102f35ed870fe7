"""Bad paths: every documented explorer error mapped onto txsync.errors, and what the engine does."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from txsync.connector import ConnectorContext
from txsync.connectors.evm import EvmWallet
from txsync.connectors.evm._api import next_utc_midnight
from txsync.connectors.evm.sandbox import (
    EVM_API_KEY,
    EVM_PAID_API_KEY,
    SANDBOX_OPTIONS,
    EtherscanSandbox,
    EvmChain,
    sandbox_credential,
    sandbox_harness,
)
from txsync.errors import BadRequestError, ConfigurationError
from txsync.http import RetryPolicy
from txsync.store.records import ConnectionState


def small(**kw: object) -> EtherscanSandbox:
    """The scenario without its filler blocks (fewer requests, same variety)."""
    return EtherscanSandbox(chain=EvmChain.scenario(filler_blocks=0), **kw)  # type: ignore[arg-type]


WRONG_KEY = "wrongkeyZZZZ1111222233334444555566667777"


def run_sync(harness, **kw):  # type: ignore[no-untyped-def]
    store = harness.new_store()
    return asyncio.run(harness.sync(store, **kw)).report, store


def test_invalid_key_disables_the_connection() -> None:
    sandbox = small()
    report, _ = run_sync(sandbox_harness(sandbox, credential=sandbox_credential(key=WRONG_KEY)))
    assert report.state is ConnectionState.DISABLED
    assert "AuthError" in report.errors[0] and "Invalid API Key" in report.errors[0]
    assert WRONG_KEY not in report.model_dump_json()
    assert sandbox.requests == 1, "no retry storm"


def test_per_second_limit_waits_and_succeeds() -> None:
    """The sandbox answers "Max rate limit reached" from the 4th call of a second; the connector waits
    one second (RateLimitedError, retryable) and goes on."""
    now = [EtherscanSandbox().start.timestamp()]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    sandbox = small(clock=lambda: now[0], tick_ms=0)
    retry = RetryPolicy(attempts=4, max_wait=60, sleep=sleep)
    report, store = run_sync(sandbox_harness(sandbox, retry=retry))
    assert report.ok, report.errors
    assert sleeps and set(sleeps) == {1.0}
    assert sum(s.requests for s in report.streams) > 3
    assert any(True for _ in store.transactions(account_id="acc_contract"))


def test_rate_limit_that_never_ends_stops_the_sync() -> None:
    sandbox = small(tick_ms=0)  # the clock never moves: every 4th+ call is refused
    report, _ = run_sync(sandbox_harness(sandbox))
    assert not report.ok
    assert any("RateLimitedError" in e for e in report.errors)
    assert report.state is ConnectionState.ACTIVE


def test_daily_limit_stops_the_sync_until_next_utc_midnight() -> None:
    sandbox = small(daily_limit=4)
    report, _ = run_sync(sandbox_harness(sandbox))
    assert report.banned_until == datetime(2025, 3, 2, tzinfo=UTC)
    assert any("BannedError" in e and "daily" in e for e in report.errors)
    assert sandbox.requests == 5, "stopped at the first refusal, nothing retried"
    assert report.state is ConnectionState.ACTIVE


def test_next_utc_midnight() -> None:
    assert next_utc_midnight(datetime(2025, 3, 1, 23, 59, 59, tzinfo=UTC)) == datetime(2025, 3, 2, tzinfo=UTC)
    assert next_utc_midnight(datetime(2025, 3, 1, tzinfo=UTC)) == datetime(2025, 3, 2, tzinfo=UTC)


@pytest.mark.parametrize("chain_id", [56, 8453, 10, 43114])
def test_free_key_on_a_paid_only_chain_is_a_configuration_error(chain_id: int) -> None:
    report, _ = run_sync(sandbox_harness(small(), options={"chain_id": chain_id}))
    assert len(report.errors) == 1
    assert report.errors[0].startswith("ConfigurationError") and "paid explorer plan" in report.errors[0]
    assert report.state is ConnectionState.ACTIVE


def test_paid_key_serves_a_paid_only_chain() -> None:
    harness = sandbox_harness(
        small(), options={"chain_id": 8453}, credential=sandbox_credential(key=EVM_PAID_API_KEY)
    )
    report, _ = run_sync(harness)
    assert report.ok, report.errors
    assert report.total("raws") == 0  # an empty chain: every list is "No transactions found"


def test_missing_chain_id_is_a_configuration_error() -> None:
    """Telling the connector the Etherscan URL is a Blockscout instance drops ``chainid``."""
    report, _ = run_sync(sandbox_harness(small(), options={"explorer": "blockscout"}))
    assert report.errors and "does not serve this chain id" in report.errors[0]


def test_unknown_chain_needs_its_native_symbol() -> None:
    report, _ = run_sync(sandbox_harness(small(), options={"chain_id": 777_777}))
    assert report.errors and "native_symbol" in report.errors[0]
    report, _ = run_sync(sandbox_harness(small(), options={"chain_id": 777_777, "native_symbol": "XYZ"}))
    assert report.errors and "does not serve this chain id" in report.errors[0]


@pytest.mark.parametrize(
    ("options", "credential", "text"),
    [
        ({}, sandbox_credential(addresses="0x1234"), "not an EVM address"),
        ({}, sandbox_credential(addresses=" , "), "at least one"),
        ({}, sandbox_credential(key=None), "needs an API key"),
        ({"page_size": 0}, None, "page_size"),
        ({"base_url": "ftp://x"}, None, "base_url"),
        ({"explorer": "bitquery"}, None, "explorer"),
        ({"token_balances": "maybe?"}, None, None),
        ({"native_symbol": "  "}, None, "native_symbol"),
    ],
)
def test_bad_configuration_is_refused_up_front(options, credential, text) -> None:  # type: ignore[no-untyped-def]
    context = ConnectorContext(
        connection_id="c",
        account_id="a",
        credential=credential or sandbox_credential(),
        options={**SANDBOX_OPTIONS, **options},
    )
    if text is None:  # a lenient boolean: anything that is not "true" is false
        assert EvmWallet(context).token_balances is False
        return
    with pytest.raises(ConfigurationError, match=text):
        EvmWallet(context)


@pytest.mark.parametrize("fault", ["truncated", "query_timeout", "http429", "http502", "timeout", "rate"])
def test_transient_failures_are_retried(fault: str) -> None:
    sandbox = small(faults={2: fault})
    report, _ = run_sync(sandbox_harness(sandbox))
    assert report.ok, report.errors
    assert report.total("retries") >= 1


def test_malformed_answers_fail_their_stream_only() -> None:
    """An HTML page with status 200 (twice: the retry gets one too) is a typed BadResponseError; the
    other streams still run."""
    sandbox = small(faults={2: "malformed", 3: "malformed"})
    report, _ = run_sync(sandbox_harness(sandbox))
    normal = next(s for s in report.streams if s.stream == "normal")
    assert normal.errors and "MalformedBodyError" in normal.errors[0]
    assert all(s.completed for s in report.streams if s.stream != "normal")


def test_an_answer_without_the_envelope_is_a_bad_response() -> None:
    sandbox = small(faults={2: "not_envelope"})
    report, _ = run_sync(sandbox_harness(sandbox))
    normal = next(s for s in report.streams if s.stream == "normal")
    assert normal.errors and "BadResponseError" in normal.errors[0] and "envelope" in normal.errors[0]


def test_result_window_too_large_is_a_bad_request() -> None:
    harness = sandbox_harness(small())

    async def scenario() -> None:
        async with harness.open_connector(verify=False) as connector:
            assert isinstance(connector, EvmWallet)
            with pytest.raises(BadRequestError, match="Result window is too large"):
                await connector.api.rows("txlist", connector.addresses[0], 0, None, 2, 10_000)

    asyncio.run(scenario())


def test_no_transactions_found_is_an_empty_list() -> None:
    fresh = "0x" + "ab" * 20
    sandbox = small()
    report, store = run_sync(sandbox_harness(sandbox, credential=sandbox_credential(addresses=fresh)))
    assert report.ok, report.errors
    assert list(store.transactions(account_id="acc_contract")) == []
    # verify + one request per list (beacon withdrawals included on Ethereum)
    assert sandbox.requests == 1 + 6


def test_the_key_never_reaches_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox = small(faults={2: "http429", 3: "query_timeout", 4: "malformed"})
    harness = sandbox_harness(sandbox)
    report, _ = run_sync(harness)

    async def reprs() -> str:
        async with harness.open_connector(verify=False) as connector:
            assert isinstance(connector, EvmWallet)
            return f"{connector!r} {connector.api!r} {connector.http!r} {connector.context!r}"

    text = caplog.text + report.model_dump_json() + asyncio.run(reprs())
    assert EVM_API_KEY not in text


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("Invalid API Key", "AuthError"),
        ("Missing/Invalid API Key", "AuthError"),
        ("Too many invalid api key attempts, please try again later", "RateLimitedError"),
        ("Max rate limit reached, please use API Key for higher rate limit", "RateLimitedError"),
        ("Max calls per sec rate limit reached (3/sec)", "RateLimitedError"),
        ("Max daily rate limit reached. 100000 (100%) of 100000 day/limit", "BannedError"),
        (
            "Free API access is not supported for this chain. Please upgrade your api plan",
            "ConfigurationError",
        ),
        ("Missing or unsupported chainid parameter (required for v2 api)", "ConfigurationError"),
        ("Query Timeout occured. Please select a smaller result dataset", "TransientError"),
        ("Error! Invalid address format", "BadRequestError"),
    ],
)
def test_every_documented_message_has_its_type(result: str, expected: str) -> None:
    import httpx

    from txsync.connectors.evm._api import explorer_error_mapper

    mapper = explorer_error_mapper([EVM_API_KEY], lambda: datetime(2025, 3, 1, 13, tzinfo=UTC))
    error = mapper(httpx.Response(200), {"status": "0", "message": "NOTOK", "result": result})
    assert type(error).__name__ == expected
    assert (
        mapper(httpx.Response(200), {"status": "0", "message": "No transactions found", "result": []}) is None
    )
    assert mapper(httpx.Response(200), {"status": "1", "message": "OK", "result": []}) is None


def test_a_banned_key_fails_fast_on_the_next_sync() -> None:
    """After a daily-limit answer the shared limiter holds the key back until midnight; the next
    sync of the same engine stops at once with BannedError instead of waiting for hours."""
    from txsync.connector import LimiterRegistry
    from txsync.engine import Engine
    from txsync.testing.harness import NO_SLEEP_RETRY

    sandbox = small(daily_limit=2)
    harness = sandbox_harness(sandbox, options={"calls_per_second": 3})
    store = harness.new_store()
    engine = Engine(
        store,
        registry=harness.registry,
        credentials=harness.credentials,
        transport_for=lambda _c: sandbox.transport(),
        clock=lambda: sandbox.now,
        retry=NO_SLEEP_RETRY,
        limiters=LimiterRegistry(),
    )
    first = asyncio.run(engine.sync(harness.connection_id))
    assert first.banned_until == datetime(2025, 3, 2, tzinfo=UTC)
    sent = sandbox.requests
    second = asyncio.run(engine.sync(harness.connection_id))
    assert second.banned_until is not None
    assert abs((second.banned_until - datetime(2025, 3, 2, tzinfo=UTC)).total_seconds()) < 60
    assert any("BannedError" in e for e in second.errors)
    assert sandbox.requests == sent, "no request while the key is banned"

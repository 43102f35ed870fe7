"""The sentinel test: a credential with distinctive secret values, driven through every public entry
point of the engine and every built-in connector's own verify / streams / balances, against servers
that echo the key in bodies, reason phrases, headers, redirect URLs, malformed status and header
lines, and connections closed without an answer. The secret must appear in no exception message, no
chained exception (nor the httpx request one holds), no log record at DEBUG, no report, nothing
stored; and a key that was refused leaves nothing behind (no account, connection or credential)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpers.echo_servers import CONNECTORS, KEY, MODES, SECRET, Seen, credential, options, registry
from helpers.hostile import hostile
from helpers.leaks import exception_texts, found_in, needles
from txsync.connector import ConnectorContext
from txsync.engine import Engine, SyncReport
from txsync.errors import TxsyncError
from txsync.http import HttpLimits, RetryPolicy
from txsync.store import SqliteStore


async def _no_sleep(_: float) -> None:
    return None


#: One retry is enough to show retried errors are redacted too.
NO_SLEEP_RETRY = RetryPolicy(attempts=2, sleep=_no_sleep)

SEEN = Seen()


def secrets_of(where: str) -> tuple[str, ...]:
    """The credential's own secrets (the EVM one holds only an API key; the servers echo both)."""
    return needles(KEY) if "evm/" in where else needles(KEY, SECRET)


def check(where: str, texts: list[str]) -> None:
    SEEN.texts += len(texts)
    SEEN.entry_points.add(where.split(" ", 1)[0])
    hits = found_in(texts, secrets_of(where))
    assert not hits, f"{where}: the secret leaked in {hits[:3]}"


async def expect_error(where: str, call: Callable[[], Awaitable[Any]]) -> BaseException | None:
    """Run ``call``; if it raises, check every text of the exception. Returns the exception."""
    try:
        await call()
    except Exception as exc:
        SEEN.exceptions += 1
        check(where, exception_texts(exc))
        return exc
    return None


def check_report(where: str, report: SyncReport, store: SqliteStore) -> None:
    SEEN.reports += 1
    saved = store.last_sync_run(report.connection_id) or ""
    state = store.get_connection(report.connection_id).state_reason or ""
    check(where, [report.model_dump_json(), repr(report), saved, state])


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = [caplog.text]
    for record in caplog.records:
        texts += [record.getMessage(), record.exc_text or "", str(vars(record))]
    return texts


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("connector_id", sorted(CONNECTORS))
async def test_no_entry_point_leaks_an_echoed_secret(
    connector_id: str, mode: str, store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with hostile(MODES[mode]) as server:
        opts = options(connector_id, server.base_url)
        engine = Engine(
            store, registry=registry(), retry=NO_SLEEP_RETRY, http_limits=HttpLimits(deadline=10),
            clock=lambda: datetime.now(UTC),
        )
        existing = engine.connect("owner", credential(connector_id), options=opts, verify=False)
        blobs = len(store.sealed_blobs())
        tag = f"{connector_id}/{mode}"

        await expect_error(f"check_credential {tag}", lambda: engine.check_credential(credential(connector_id), options=opts))
        refused = [
            await expect_error(
                f"connect_verified {tag}", lambda: engine.connect_verified("owner", credential(connector_id), options=opts)
            ),
            await expect_error(
                f"connect {tag}",
                lambda: asyncio.to_thread(engine.connect, "owner", credential(connector_id), options=opts),
            ),
        ]
        if all(isinstance(exc, TxsyncError) for exc in refused):
            # a refused key leaves nothing: no account, no connection, no credential
            assert [c.id for c in store.list_connections()] == [existing.id]
            assert len(store.sealed_blobs()) == blobs
        await expect_error(
            f"replace_credential_verified {tag}",
            lambda: engine.replace_credential_verified(existing.id, credential(connector_id)),
        )
        await expect_error(
            f"replace_credential {tag}",
            lambda: asyncio.to_thread(engine.replace_credential, existing.id, credential(connector_id)),
        )
        await expect_error(f"reported_balances {tag}", lambda: engine.reported_balances(existing.id))
        report = await engine.sync(existing.id)
        assert not report.ok
        check_report(f"sync {tag}", report, store)
        engine.resume(existing.id)  # a disabling error leaves it disabled; sync it again below
        due = await engine.sync_due(datetime.now(UTC) + timedelta(days=400))
        assert [r.connection_id for r in due] == [existing.id]
        check_report(f"sync_due {tag}", due[0], store)
        engine.resume(existing.id)
        blocking = await asyncio.to_thread(engine.sync_blocking, existing.id)
        check_report(f"sync_blocking {tag}", blocking, store)

        # the connector's own public methods, as a host or a test kit would call them
        context = ConnectorContext(
            connection_id="con_direct", account_id="acc_direct", credential=credential(connector_id),
            options=opts, retry=NO_SLEEP_RETRY,
        )
        async with CONNECTORS[connector_id](context) as connector:
            await expect_error(f"connector.verify {tag}", connector.verify)
            await expect_error(f"connector.balances {tag}", connector.balances)
            for stream in connector.streams():
                await expect_error(f"stream.pages {tag} {stream.name}", lambda s=stream: anext(s.pages(None)))
        assert server.requests, "the server was never asked: the test would prove nothing"
    check(f"logs {tag}", log_texts(caplog))


async def test_the_echoes_do_reach_the_client() -> None:
    """The servers above do put the secret where the client reads it (else the test is empty): a
    plain httpx client sees it in the error or the response."""
    import httpx

    seen: list[str] = []
    for name, handler in sorted(MODES.items()):
        async with hostile(handler) as server, httpx.AsyncClient() as client:
            try:
                response = await client.get(f"{server.base_url}/x?apikey={KEY}", headers={"X-Key": KEY})
                seen.append(f"{name}: {response.reason_phrase} {response.headers} {response.text}")
            except httpx.HTTPError as exc:
                seen.append(f"{name}: {exc} {exc.request.url}")
    assert all(KEY in line for line in seen), [line[:120] for line in seen if KEY not in line]

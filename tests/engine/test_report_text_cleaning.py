"""Text from servers and connectors is cleaned where the engine builds its report (issue 11).

The HTTP error mapper cleans the messages it copies from error bodies, but server text reaches a
sync report by other ways too: the permission details of a key check (the whole answer), a
third-party connector's own exception messages, a noted coverage gap's detail, the reason a
connection is disabled. A lone surrogate anywhere there used to make the report's JSON (and so
``Engine.sync``) raise, and control or bidi characters would reach a host's UI and logs. The engine
cleans every text of the report, and the stored disabling reason, in one place.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from helpers.demo import demo_credential
from txsync.connector import Stream
from txsync.connectors.demo import DemoExchange
from txsync.connectors.demo.connector import DepositsStream, TradesStream
from txsync.engine import Engine
from txsync.errors import AuthError, ConnectorError
from txsync.models import Permissions
from txsync.registry import Registry
from txsync.store import ConnectionState
from txsync.testing.demo_sandbox import DemoSandbox
from txsync.testing.harness import NO_SLEEP_RETRY

HOSTILE = "bad \ud800 text\x00 \u202eevil\u200b \x1b[31mred"


def _printable(text: str) -> bool:
    return all(ch.isprintable() for ch in text)


def _texts(report: Any) -> list[str]:
    out = [*report.errors, *report.warnings, report.state_reason or ""]
    out += [e for s in report.streams for e in s.errors]
    out += [f"{g.title} {g.detail} {g.remedy}" for g in report.coverage_gaps]
    if report.permissions is not None:
        out += [f"{k} {v}" for k, v in report.permissions.details.items()]
    return out


def _engine(store: Any, sandbox: DemoSandbox, connector: type[DemoExchange], handle: Any = None) -> Engine:
    registry = Registry(entry_points=[])
    registry.register(connector)
    transport = httpx.MockTransport(handle or sandbox.handle)
    return Engine(store, registry=registry, transport_for=lambda _c: transport, clock=sandbox.clock,
                  retry=NO_SLEEP_RETRY)


async def test_a_key_answer_with_lone_surrogates_never_breaks_the_report(store: Any) -> None:
    """The key check's answer is kept as the permission details: its keys and values are server text."""
    sandbox = DemoSandbox()

    def handle(request: httpx.Request) -> httpx.Response:
        response = sandbox.handle(request)
        if request.url.path == "/v1/key":
            body = json.loads(response.content)
            body["label\\ud800"] = "placeholder"
            raw = json.dumps(body).replace("placeholder", "\\ud800\\u0000\\u202eevil")
            return httpx.Response(200, content=raw.encode(), headers=dict(response.headers))
        return response

    engine = _engine(store, sandbox, DemoExchange, handle)
    connection = engine.connect("alice", demo_credential(), verify=False)
    report = await engine.sync(connection.id)  # raised PydanticSerializationError
    assert report.ok, report.errors
    json.loads(report.model_dump_json())
    assert report.permissions is not None
    assert any("evil" in str(v) for v in report.permissions.details.values())
    assert all(_printable(text) for text in _texts(report))
    assert store.last_sync_run(connection.id) is not None


class _HostileStream(TradesStream):
    """A third-party connector's stream failing with server text in its own exception."""

    async def pages(self, cursor: Any) -> Any:  # type: ignore[override]
        raise ConnectorError(f"the server said: {HOSTILE}")
        yield  # pragma: no cover


class _BuggyStream(DepositsStream):
    async def pages(self, cursor: Any) -> Any:  # type: ignore[override]
        raise RuntimeError(f"unexpected answer {HOSTILE}")
        yield  # pragma: no cover


class _HostileConnector(DemoExchange):
    def streams(self) -> Sequence[Stream]:
        self.context.note_gap("staking_rewards", f"the server lists {HOSTILE}")
        return [_HostileStream(self), _BuggyStream(self)]


async def test_connector_errors_and_gap_details_are_cleaned(store: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="txsync")
    sandbox = DemoSandbox()
    engine = _engine(store, sandbox, _HostileConnector)
    connection = engine.connect("alice", demo_credential(), verify=False)
    report = await engine.sync(connection.id)
    assert not report.ok
    trades, deposits = report.streams
    assert trades.errors[0].startswith("ConnectorError: the server said: bad") and "evil" in trades.errors[0]
    assert deposits.errors[0].startswith("connector error: RuntimeError") and "red" in deposits.errors[0]
    assert "evil" in report.coverage_gaps[0].detail
    assert all(_printable(text) for text in _texts(report))
    stored = store.last_sync_run(connection.id)
    assert stored is not None and "\\ud800" not in stored and "\\u202e" not in stored
    # the log lines too: a lone surrogate cannot be written by a UTF-8 log handler at all
    logged = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert logged and all(_printable(line) for line in logged)


class _RefusingConnector(DemoExchange):
    async def verify(self) -> Permissions:
        raise AuthError(f"key refused: {HOSTILE}")


async def test_a_disabling_reason_with_server_text_is_cleaned_before_it_is_stored(store: Any) -> None:
    """The reason is stored with the connection: a lone surrogate cannot even be encoded for the
    database (the sync raised ``UnicodeEncodeError``)."""
    sandbox = DemoSandbox()
    engine = _engine(store, sandbox, _RefusingConnector)
    connection = engine.connect("alice", demo_credential(), verify=False)
    report = await engine.sync(connection.id)
    assert not report.ok and report.state == ConnectionState.DISABLED
    assert report.errors[0].startswith("AuthError: key refused: bad") and "evil" in report.errors[0]
    assert all(_printable(text) for text in _texts(report))
    stored = store.get_connection(connection.id)
    assert stored.state == ConnectionState.DISABLED and stored.state_reason is not None
    assert "evil" in stored.state_reason and _printable(stored.state_reason)

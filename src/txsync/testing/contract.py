"""``ConnectorContract``: the test class every connector's cassette tests subclass.

A subclass names the connector, a test credential, connection options and the cassette directory,
and says how to record (the sandbox transport) and what time it is::

    class TestAcmeContract(ConnectorContract):
        connector_class = AcmeExchange
        credential = Credential(connector_id="acme", secrets={"api_key": KEY, "api_secret": SECRET})
        options = {"origin": "2020-01-01"}
        cassette_dir = Path(__file__).parent / "cassettes" / "acme"

        def recording_transport(self) -> httpx.AsyncBaseTransport | None:
            return AcmeSandbox().transport()

        def now(self) -> datetime:
            return NOW  # the sandbox's clock, from acme's sandbox package

pytest then runs the contract against the cassettes (one per scenario, see :data:`SCENARIOS`):
replay only, never the network. ``TXSYNC_RECORD=1 pytest ...`` records them from the sandbox;
``TXSYNC_RECORD=live`` from the live API with keys from ``TXSYNC_LIVE_<CONNECTOR>_<FIELD>``
environment variables (see :meth:`ConnectorContract.live_credential`). The fixtures it needs come
from the ``txsync.testing.plugin`` pytest plugin, registered when txsync is installed.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx

from txsync.testing._extra import missing_extra

try:
    import pytest
except ModuleNotFoundError as _exc:  # pragma: no cover - exercised in a subprocess
    raise missing_extra(_exc, "txsync.testing.ConnectorContract") from _exc

from txsync.connector import Connector, Cursor
from txsync.http import RetryPolicy
from txsync.models import Credential
from txsync.store.base import Store
from txsync.testing.cassettes import (
    RECORD_ENV,
    RecordSource,
    cassette_vcr,
    offline_transport,
    record_source,
)
from txsync.testing.checks import check_cassettes_clean, check_connector_info, compare_cursors
from txsync.testing.harness import NO_SLEEP_RETRY, ContractHarness

__all__ = ["SCENARIOS", "ConnectorContract"]

T = TypeVar("T")

#: The cassettes of a connector, one per scenario: ``<cassette_dir>/<scenario>.yaml``.
SCENARIOS: tuple[str, ...] = ("full_sync", "resume", "second_sync", "future_cursor", "completeness")

#: Cassettes (re)recorded by this process: recorded afresh on first use, then extended.
_RECORDED: set[Path] = set()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _env_name(connector_id: str, field: str) -> str:
    return "TXSYNC_LIVE_" + re.sub(r"[^A-Z0-9]+", "_", f"{connector_id}_{field}".upper())


class ConnectorContract:
    """Base class of a connector's contract tests (pytest collects subclasses named ``Test*``).

    Set these class attributes:

    * ``connector_class`` - the :class:`~txsync.connector.Connector` subclass under test;
    * ``credential`` - a test :class:`~txsync.models.Credential` (the sandbox's); its secrets must
      be long and distinctive: the kit proves they never appear in a cassette;
    * ``options`` - the connection's options;
    * ``cassette_dir`` - where the scenario cassettes live (``cassettes/<connector>/``);
    * optionally ``scrub_headers`` / ``scrub_params`` (extra request headers and query or body
      fields to scrub), ``drop_response_headers``, ``future_offset``, ``independent_resumes``;
    * for the completeness check: ``balance_gaps`` (assets whose computed balance may differ from the
      reported one, each with the declared coverage gap that explains it), ``same_event_identities``
      (streams whose records of one page may share an identity), ``balances_include_pending``;

    and override these hooks:

    * :meth:`recording_transport` - the transport to *record* through (the sandbox);
    * :meth:`now` - the clock, frozen at one instant per recording (stored in the cassette and
      reused on replay, so time windows are requested exactly as recorded);
    * :meth:`live_credential` / :meth:`live_options` - for recording against the live API;
    * :meth:`compare_cursors` - if the stream cursors are ordered in a way the kit cannot see;
    * :meth:`sandbox_records` - how many records of each stream the sandbox holds for the account.

    Every test method is synchronous (it runs its scenario with :func:`asyncio.run`), so the kit
    works whatever the host's pytest-asyncio mode. The checks behind them are public in
    :mod:`txsync.testing.checks` and :class:`~txsync.testing.ContractHarness`.
    """

    connector_class: ClassVar[type[Connector]]
    credential: ClassVar[Credential]
    options: ClassVar[Mapping[str, Any]] = {}
    cassette_dir: ClassVar[str | os.PathLike[str]]
    #: Request headers to scrub on top of the defaults (API keys, signatures, nonces, timestamps).
    scrub_headers: ClassVar[Sequence[str]] = ()
    #: Query parameters and form/JSON body fields to scrub on top of the defaults.
    scrub_params: ClassVar[Sequence[str]] = ()
    #: Response headers to drop on top of ``Date`` and ``Set-Cookie`` (values that vary).
    drop_response_headers: ClassVar[Sequence[str]] = ()
    #: How far in the future the "cursor from the future" scenario starts.
    future_offset: ClassVar[timedelta] = timedelta(days=365)
    #: Checkpoints that are also resumed from on a store of their own, run to the end in one go.
    independent_resumes: ClassVar[int] = 3
    #: Assets (``fnmatch`` patterns) whose computed balance may differ from what the source reports,
    #: each with the id of the declared coverage gap that explains it (``{"BNB": "dust_beyond_100"}``).
    balance_gaps: ClassVar[Mapping[str, str]] = {}
    #: Streams whose records of one page may share a source id (or transactions a key) because they
    #: describe one event, with why (``{"ledger": "the two rows of a trade share its refid"}``).
    same_event_identities: ClassVar[Mapping[str, str]] = {}
    #: Whether the source's balances count pending transactions (a wallet's mempool): the computed
    #: balances include them then.
    balances_include_pending: ClassVar[bool] = False

    # -- hooks --------------------------------------------------------------------------------------

    def recording_transport(self) -> httpx.AsyncBaseTransport | None:
        """The transport cassettes are recorded through with ``TXSYNC_RECORD=1`` (the sandbox's
        ``httpx.MockTransport``); called once per engine run. ``None`` means the network."""
        return None

    def now(self) -> datetime:
        """The current time while recording from the sandbox (the sandbox's clock).

        Replays use the instant stored in the cassette instead; live recordings the real time.
        """
        return datetime.now(UTC)

    def sandbox_records(self) -> Mapping[str, int] | None:
        """How many distinct records of each stream the sandbox holds for the test account: what a full
        sync must store (``{"trades": 247, "deposits": 15}``). Asked only when recording from the
        sandbox; the counts are kept in the ``completeness`` cassette. Return ``None`` only if the
        source cannot tell (the record count check is then skipped, said in the test output)."""
        raise NotImplementedError(
            f"{type(self).__name__} must override sandbox_records(): count the sandbox's records per stream"
        )

    def live_credential(self) -> Credential | None:
        """The credential for ``TXSYNC_RECORD=live``: by default from environment variables
        ``TXSYNC_LIVE_<CONNECTOR ID>_<FIELD>`` (e.g. ``TXSYNC_LIVE_DEMO_API_KEY``), ``None`` if a
        required one is missing."""
        info = self.connector_class.info
        public: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for spec in info.credential_fields:
            value = os.environ.get(_env_name(info.id, spec.name))
            if value is None:
                if spec.required:
                    return None
                continue
            (secrets if spec.secret else public)[spec.name] = value
        return Credential(connector_id=info.id, public=public, secrets=secrets)

    def live_options(self) -> Mapping[str, Any]:
        """The connection options for ``TXSYNC_RECORD=live`` (by default :attr:`options`)."""
        return self.options

    def retry_policy(self) -> RetryPolicy:
        """The retry policy of every run (by default: production retries without sleeping)."""
        return NO_SLEEP_RETRY

    def compare_cursors(self, stream: str, before: Cursor, after: Cursor) -> int | None:
        """Order two consecutive cursors of ``stream``: < 0 backwards, 0 equal, > 0 forward,
        ``None`` unknown (see :func:`txsync.testing.checks.compare_cursors`)."""
        return compare_cursors(before, after)

    # -- machinery ----------------------------------------------------------------------------------

    def _require_config(self) -> None:
        missing = [
            name for name in ("connector_class", "credential", "cassette_dir") if not hasattr(self, name)
        ]
        if missing:
            pytest.fail(f"{type(self).__name__} must set {', '.join(missing)} (see ConnectorContract)")

    @property
    def cassette_path(self) -> Path:
        """The cassette directory as a ``Path``."""
        return Path(os.fspath(self.cassette_dir))

    def secrets(self) -> list[str]:
        """Every secret to scrub and to look for: the test credential's and the live one's."""
        values = list(self.credential.secret_values())
        if record_source() is RecordSource.LIVE:
            live = self.live_credential()
            if live is not None:
                values.extend(live.secret_values())
        return values

    def harness(
        self,
        *,
        transport: Callable[[], httpx.AsyncBaseTransport | None] | None = None,
        clock: Callable[[], datetime] | None = None,
        store_factory: Callable[[], Store] | None = None,
        credential: Credential | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> ContractHarness:
        """A :class:`ContractHarness` for this connector (offline transport unless told otherwise)."""
        return ContractHarness(
            self.connector_class,
            credential or self.credential,
            options=self.options if options is None else options,
            transport=transport or offline_transport,
            clock=clock or self.now,
            store_factory=store_factory,
            retry=self.retry_policy(),
            compare=self.compare_cursors,
        )

    @contextmanager
    def cassette(
        self, scenario: str, store_factory: Callable[[], Store] | None = None
    ) -> Iterator[ContractHarness]:
        """Run a scenario inside its cassette and yield the harness wired to it.

        Replay (the default): the cassette must exist, requests are answered from it only, and the
        transport refuses anything else. Recording: the cassette is recorded afresh on its first
        use in the process, through :meth:`recording_transport` (sandbox) or the network (live).
        """
        self._require_config()
        source = record_source()
        directory = self.cassette_path
        path = directory / f"{scenario}.yaml"
        credential, options = self.credential, self.options
        transport: Callable[[], httpx.AsyncBaseTransport | None]
        if source is RecordSource.REPLAY:
            if not path.is_file():
                pytest.fail(
                    f"cassette {path} is missing: record it from the sandbox with "
                    f"{RECORD_ENV}=1 pytest {type(self).__module__.replace('.', '/')}.py"
                )
            transport = offline_transport
        elif source is RecordSource.SANDBOX:
            transport = self.recording_transport
        else:
            live = self.live_credential()
            if live is None:
                info = self.connector_class.info
                names = [_env_name(info.id, f.name) for f in info.credential_fields if f.required]
                pytest.skip(f"recording {info.id} against the live API needs {', '.join(names)}")
            assert live is not None
            credential, options = live, self.live_options()

            def network() -> httpx.AsyncBaseTransport | None:
                return None

            transport = network
        if source is not RecordSource.REPLAY and path not in _RECORDED:
            path.unlink(missing_ok=True)
            _RECORDED.add(path)
        recorder = cassette_vcr(
            directory,
            "none" if source is RecordSource.REPLAY else "new_episodes",
            secrets=self.secrets(),
            scrub_headers=self.scrub_headers,
            scrub_params=self.scrub_params,
            drop_response_headers=self.drop_response_headers,
        )
        with recorder.use_cassette(path.name) as tape:
            frozen = self._instant(tape, source)
            self._tape = tape
            yield self.harness(
                transport=transport,
                clock=lambda: frozen,
                store_factory=store_factory,
                credential=credential,
                options=options,
            )

    def _instant(self, tape: Any, source: RecordSource) -> datetime:
        """The scenario's frozen "now": stored in the cassette when recording, read back on replay."""
        from vcr.errors import MissingMetadataError

        if source is RecordSource.REPLAY:
            try:
                stored = tape.get_metadata("recorded_at", None)
            except MissingMetadataError:
                stored = None
            return datetime.fromisoformat(stored) if isinstance(stored, str) else self.now()
        now = self.now() if source is RecordSource.SANDBOX else datetime.now(UTC)
        tape.get_metadata("connector", self.connector_class.info.id)
        tape.get_metadata("recorded_from", source.value)
        stored = tape.get_metadata("recorded_at", now.isoformat())
        return datetime.fromisoformat(str(stored))

    # -- the contract -------------------------------------------------------------------------------

    def test_info_and_credential_schema(self) -> None:
        """(a) ``info`` is valid, stream names match ``streams()``, secret fields are declared secret,
        coverage gaps have remedies, and the test credential has every required field."""
        self._require_config()
        names = _run(self.harness().stream_names())
        check_connector_info(self.connector_class, self.credential, names)

    def test_full_sync_completes_in_cursor_order(self, txsync_store_factory: Callable[[], Store]) -> None:
        """(b) A full sync from the cassette completes without error, and each stream's pages come
        in cursor order (never backwards, never the same cursor twice in a row)."""
        with self.cassette("full_sync", txsync_store_factory) as harness:
            _run(harness.check_full_sync())

    def test_resume_from_every_checkpoint(self, txsync_store_factory: Callable[[], Store]) -> None:
        """(c) Killing the sync after any checkpoint and resuming with a fresh engine gives the
        ledger (and cursors) of one uninterrupted sync."""
        with self.cassette("resume", txsync_store_factory) as harness:
            _run(harness.check_resume_from_every_checkpoint(self.independent_resumes))

    def test_second_sync_adds_nothing(self, txsync_store_factory: Callable[[], Store]) -> None:
        """(d) After a sync, a second sync (incremental, full or since-latest) adds and updates nothing."""
        with self.cassette("second_sync", txsync_store_factory) as harness:
            _run(harness.check_second_sync_adds_nothing())

    def test_cursor_from_the_future_yields_nothing(self, txsync_store_factory: Callable[[], Store]) -> None:
        """(e) Streams that can start from a time yield no record from a cursor a year ahead."""
        with self.cassette("future_cursor", txsync_store_factory) as harness:
            _run(harness.check_future_cursor_yields_nothing(self.future_offset))

    def test_normalized_transactions_are_well_formed(self, txsync_store_factory: Callable[[], Store]) -> None:
        """(f) Every normalized transaction of the full sync is well-formed, and normalizing the same
        raws again gives the same transactions (ids included)."""
        with self.cassette("full_sync", txsync_store_factory) as harness:

            async def scenario() -> None:
                run = await harness.check_full_sync()
                await harness.check_normalization(run)

            _run(scenario())

    def test_full_sync_is_complete(self, txsync_store_factory: Callable[[], Store]) -> None:
        """(i) A full sync is complete: no two records of one page share an identity (unless the stream
        declares they describe one event), every stream stores as many records as the sandbox holds
        (counted when recording, kept in ``completeness.yaml``), and the computed balances equal what the
        source reports, declared gaps excepted (``balance_gaps``)."""
        with self.cassette("full_sync", txsync_store_factory) as harness:
            run = _run(harness.check_full_sync())
        with self.cassette("completeness", txsync_store_factory) as harness:
            expected = self._expected_records(self._tape)
            reported = _run(harness.reported_balances())
        _run(
            harness.check_completeness(
                run, reported, expected, balance_gaps=self.balance_gaps,
                same_event=self.same_event_identities, include_pending=self.balances_include_pending,
            )
        )
        if expected is None:
            pytest.skip("record counts not checked: sandbox_records() cannot tell (the rest was checked)")

    def _expected_records(self, tape: Any) -> dict[str, int] | None:
        from vcr.errors import MissingMetadataError

        source = record_source()
        if source is RecordSource.SANDBOX:
            counts = self.sandbox_records()
            value = None if counts is None else {str(k): int(v) for k, v in sorted(counts.items())}
            tape.get_metadata("records", value)
            return value
        if source is RecordSource.LIVE:
            return None
        try:
            stored = tape.get_metadata("records", None)
        except MissingMetadataError:
            pytest.fail(
                f"{self.cassette_path / 'completeness.yaml'} has no record counts: re-record it from the "
                f"sandbox ({RECORD_ENV}=1)"
            )
        return None if stored is None else {str(k): int(v) for k, v in dict(stored).items()}

    def test_replay_needs_neither_the_sandbox_nor_the_network(
        self, monkeypatch: pytest.MonkeyPatch, txsync_store_factory: Callable[[], Store]
    ) -> None:
        """(h) With the sandbox and every socket made unreachable, the full sync still replays from
        its cassette (skipped while recording)."""
        if record_source() is not RecordSource.REPLAY:
            pytest.skip("recording run")
        import socket

        def unreachable(*_args: object, **_kw: object) -> Any:
            raise AssertionError("the replay reached the sandbox or the network")

        monkeypatch.setattr(self, "recording_transport", unreachable)
        monkeypatch.setattr(socket.socket, "connect", unreachable)
        with self.cassette("full_sync", txsync_store_factory) as harness:

            async def scenario() -> None:
                run = await harness.check_full_sync()
                await harness.check_normalization(run)

            _run(scenario())

    def test_cassettes_hold_no_secret(self) -> None:
        """(g) No cassette holds a secret of the test credential or an unscrubbed key, signature,
        nonce or timestamp. (Defined last: when recording, it scans what the others wrote.)"""
        self._require_config()
        check_cassettes_clean(
            self.cassette_path,
            self.secrets(),
            scrub_headers=self.scrub_headers,
            scrub_params=self.scrub_params,
        )

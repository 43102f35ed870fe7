"""The sync engine: runs a connection's streams and checkpoints every page.

Each page's raws, merged transactions and advanced cursor are committed in ONE store transaction, so
a sync killed anywhere resumes from the last committed page with nothing lost and nothing doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import httpx

from txsync.connector import (
    Connector,
    ConnectorContext,
    LimiterRegistry,
    RequestStats,
    Stream,
)
from txsync.engine._gc import ingest_gc
from txsync.engine._guard import (
    guarded,
    guarded_blocking,
    redact_report,
    report_text,
    run_blocking,
    secret_scope,
    store_work_off_loop,
)
from txsync.engine.budget import StreamBudget, bounded_pages
from txsync.engine.credentials import CredentialProvider, InMemoryCredentials
from txsync.engine.progress import ProgressCallback, ProgressEvent, ProgressQueue, Reporter
from txsync.engine.report import GapReport, StreamReport, SyncMode, SyncReport
from txsync.errors import (
    AuthError,
    BannedError,
    ConfigurationError,
    ConnectionStateError,
    LeaseLostError,
    ModelError,
    PermissionDeniedError,
    RateLimitedError,
    RateLimiterUnavailableError,
    StoreError,
    TxsyncError,
    VaultError,
)
from txsync.http import HttpLimits, SecretSet, use_limits
from txsync.http import redact as _redact
from txsync.http.redis_limiter import default_limiters
from txsync.manual import ManualEntryRecord, ManualLedger
from txsync.merge import MergeCounts, PageBatch
from txsync.models import (
    Balance,
    ConnectorKind,
    Credential,
    NormalizedTransaction,
    Origin,
    Permissions,
    RawTransaction,
)
from txsync.schedule import SchedulePolicy
from txsync.store.base import Store
from txsync.store.leases import Lease
from txsync.store.records import AccountRecord, ConnectionRecord, ConnectionState

__all__ = ["ConnectorResolver", "Engine", "ReadOnlyPolicy", "SyncHook"]

log = logging.getLogger("txsync.engine")
_T = TypeVar("_T")


class ConnectorResolver(Protocol):
    """Finds a connector class by id (the plugin registry)."""

    def get(self, connector_id: str) -> type[Connector]:
        """The connector class registered as ``connector_id``."""
        ...


class SyncHook(Protocol):
    """Work run after every sync (the owner layer's transfer linking and gap list, by default).

    ``after_sync`` may add warnings to the report; an exception it raises is reported as a warning,
    never raised from :meth:`Engine.sync`.
    """

    async def after_sync(self, engine: Engine, report: SyncReport, connector: type[Connector]) -> None:
        """Called once the sync's pages are committed, before the report is saved."""
        ...


def _default_hooks() -> list[SyncHook]:
    from txsync.owner.hook import OwnerSyncHook

    return [OwnerSyncHook()]


class ReadOnlyPolicy:
    """Which key rights the engine accepts. Keys that can move funds out are always refused.

    It fails closed: when the source reports permissions (``Permissions.reported``) but leaves a right
    unknown (``None``: the answer lacked the flag, after an API change or through a proxy), the key
    is refused as if it held that right. Sources that cannot report rights at all are accepted with
    a warning (their documentation names the minimal rights to grant).
    """

    def __init__(self, *, allow_trading: bool = False) -> None:
        self.allow_trading = allow_trading

    def check(self, permissions: Permissions, connector_id: str) -> list[str]:
        """Raise :class:`PermissionDeniedError` for a refused key; return warnings otherwise."""
        if not permissions.can_read:
            raise PermissionDeniedError(f"the {connector_id} key cannot read the account history")
        if permissions.can_withdraw:
            raise PermissionDeniedError(
                f"the {connector_id} key can withdraw funds: create a read-only key and replace it"
            )
        if permissions.can_transfer:
            raise PermissionDeniedError(
                f"the {connector_id} key can transfer funds: create a read-only key and replace it"
            )
        if permissions.reported:
            unknown = [
                right
                for right, value in (
                    ("withdraw", permissions.can_withdraw),
                    ("transfer funds", permissions.can_transfer),
                    ("trade", False if self.allow_trading else permissions.can_trade),
                )
                if value is None
            ]
            if unknown:
                raise PermissionDeniedError(
                    f"{connector_id} did not say whether the key can {' or '.join(unknown)}: it is refused "
                    "as if it could (check the key's rights on the exchange; create a read-only key)"
                )
        if permissions.can_trade and not self.allow_trading:
            raise PermissionDeniedError(
                f"the {connector_id} key can trade: create a read-only key (or allow trading keys explicitly)"
            )
        warnings = []
        if permissions.reported and permissions.ip_restricted is False:
            warnings.append(f"the {connector_id} key has no IP restriction: restrict it to your server's IP")
        if not permissions.reported:
            warnings.append(f"{connector_id} does not report key permissions: make sure the key is read-only")
        return warnings


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _default_credentials(store: Store) -> CredentialProvider:
    """The vault with the local KMS for a store in a file or on a database server (whose master key
    comes from the environment: see :func:`txsync.vault.local_kms`); process memory for an in-memory
    SQLite store. The KMS is opened when first needed, so a missing key is an error of the call that
    needs it (a connect, a sync), not of building the engine."""
    if not hasattr(store, "sealed_blobs") or str(getattr(store, "path", "")) == ":memory:":
        return InMemoryCredentials()
    return _LazyVault(store)


class _LazyVault:
    """:class:`~txsync.vault.VaultCredentials` with the local KMS, opened on first use."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._vault: CredentialProvider | None = None

    def _get(self) -> CredentialProvider:
        if self._vault is None:
            from txsync.vault import VaultCredentials, local_kms

            self._vault = VaultCredentials(self._store, local_kms(self._store))
        return self._vault

    def put(self, connection: ConnectionRecord, credential: Credential) -> None:
        """Seal and store ``credential``."""
        self._get().put(connection, credential)

    def open(self, connection: ConnectionRecord) -> Credential:
        """Open the stored credential of ``connection``."""
        return self._get().open(connection)

    def drop(self, connection_id: str) -> None:
        """Forget a connection's credential."""
        self._get().drop(connection_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)

    def __repr__(self) -> str:
        return "VaultCredentials(local KMS, opened on first use)"


class Engine:
    """Syncs connections into a store.

    ``credentials`` supplies each connection's credential just in time: by default the vault
    (:class:`~txsync.vault.VaultCredentials` with the local KMS) for a store in a file, process memory
    only for an in-memory store;
    ``transport_for`` replaces the network for a connection (cassettes, mock transports);
    ``limiters`` holds the rate limiters connectors share by key (IP, account, API key): by default
    in-process ones, or limiters shared by every worker through Redis when ``TXSYNC_LIMITER_URL`` is
    set (see :func:`txsync.http.open_limiters`, :class:`txsync.http.RedisLimiterRegistry`);
    ``match_tolerance`` is how far apart in time a file row and an API record of one event may be;
    ``retry`` (a :class:`txsync.http.RetryPolicy`) is handed to connectors for their HTTP clients;
    ``http_limits`` (a :class:`txsync.http.HttpLimits`: deadline per request attempt, response size
    limit) applies to every HTTP client a connector builds during a sync or a key check;
    ``stream_budget`` (a :class:`~txsync.engine.StreamBudget`) bounds the pages and the time one
    stream may use in one sync;
    ``progress`` hears the progress events of every sync (see :mod:`txsync.engine.progress`).
    ``hooks`` run after every sync (default: :class:`~txsync.owner.hook.OwnerSyncHook`, which links
    the owner's transfers incrementally and records the account's coverage gaps; ``[]`` for none);
    ``valuation`` (a :class:`~txsync.valuation.ValuationSyncHook`) values what each sync wrote and
    retries the owner's pending valuations after the other hooks (off unless given).

    Leases: a sync first takes its connection's lease in the store (see :mod:`txsync.store.leases`),
    so two syncs of one connection never run at once, in one process or on many machines. It renews
    the lease every ``lease_ttl / 3`` while it runs (and at page commits) and releases it when done;
    a crashed worker's lease expires after ``lease_ttl``. When another sync holds the lease, the sync
    waits up to ``lease_wait`` for it (default: not at all), then returns a report whose ``skipped``
    says whose lease it is and until when, having changed nothing. ``lease_holder`` names this
    engine in those reports (default ``host:pid``).

    Secrets: a connection's key is opened just in time, held only in objects that never show it
    (:class:`~txsync.models.Credential`, :class:`~txsync.http.SecretSet`) and dropped when the work
    is done. No exception leaving a public method carries it: messages and chained exceptions are
    redacted, and the local variables of the frames it went through are cleared.
    """

    def __init__(
        self,
        store: Store,
        *,
        registry: ConnectorResolver | None = None,
        credentials: CredentialProvider | None = None,
        transport_for: Callable[[ConnectionRecord], httpx.AsyncBaseTransport | None] | None = None,
        limiters: LimiterRegistry | None = None,
        clock: Callable[[], datetime] = _utcnow,
        schedule: SchedulePolicy | None = None,
        permissions: ReadOnlyPolicy | None = None,
        match_tolerance: timedelta = timedelta(seconds=2),
        retry: Any = None,
        http_limits: HttpLimits | None = None,
        stream_budget: StreamBudget | None = None,
        progress: ProgressCallback | None = None,
        hooks: Sequence[SyncHook] | None = None,
        valuation: SyncHook | None = None,
        lease_ttl: timedelta = timedelta(minutes=2),
        lease_wait: timedelta = timedelta(0),
        lease_holder: str | None = None,
    ) -> None:
        if lease_ttl <= timedelta(0) or lease_wait < timedelta(0):
            raise ConfigurationError("lease_ttl must be positive and lease_wait not negative")
        self.store = store
        self.lease_ttl = lease_ttl
        self.lease_wait = lease_wait
        self.lease_holder = (lease_holder or f"{socket.gethostname()}:{os.getpid()}")[:160]
        self.hooks: list[SyncHook] = _default_hooks() if hooks is None else list(hooks)
        if valuation is not None:  # after the owner layer's hook: transfers are linked first
            self.hooks.append(valuation)
        self._registry = registry
        self.credentials: CredentialProvider = credentials or _default_credentials(store)
        self.transport_for = transport_for
        self.limiters = limiters if limiters is not None else default_limiters()
        self.clock = clock
        self.schedule = schedule or SchedulePolicy()
        self.permissions = permissions or ReadOnlyPolicy()
        self.match_tolerance = match_tolerance
        self.retry = retry
        self.http_limits = http_limits
        self.stream_budget = stream_budget if stream_budget is not None else StreamBudget()
        self.progress = progress

    @property
    def registry(self) -> ConnectorResolver:
        """The connector resolver (the default plugin registry unless one was given)."""
        if self._registry is None:
            from txsync.registry import default_registry

            self._registry = default_registry()
        return self._registry

    # -- connections --------------------------------------------------------------------------------

    @guarded_blocking
    def connect(
        self,
        owner_id: str,
        credential: Credential,
        *,
        account_id: str | None = None,
        label: str = "",
        options: dict[str, Any] | None = None,
        connection_id: str | None = None,
        verify: bool = True,
    ) -> ConnectionRecord:
        """Create a connection (and its account unless ``account_id`` names an existing one).

        By default the key is verified first: this is the blocking twin of :meth:`connect_verified`
        (a key the source rejects, or one the read-only policy refuses, raises and nothing at all is
        stored; the policy's warnings are logged). It works from any thread without a running event
        loop; inside a running loop's thread it raises :class:`~txsync.errors.EventLoopError`: use
        ``await engine.connect_verified(...)`` there. ``verify=False`` stores the key unchecked
        (offline tests and tools only).
        """
        if verify:
            connection, warnings = run_blocking(
                lambda: self.connect_verified(
                    owner_id, credential, account_id=account_id, label=label, options=options,
                    connection_id=connection_id,
                ),
                "Engine.connect (which verifies the key)",
                "engine.connect_verified(...)",
            )
            for warning in warnings:
                log.warning("connection %s: %s", connection.id, warning)
            return connection
        return self._save_connection(
            owner_id, credential, account_id=account_id, label=label, options=options,
            connection_id=connection_id,
        )

    def _save_connection(
        self,
        owner_id: str,
        credential: Credential,
        *,
        account_id: str | None,
        label: str,
        options: dict[str, Any] | None,
        connection_id: str | None,
    ) -> ConnectionRecord:
        connector_id = credential.connector_id
        self.registry.get(connector_id)  # unknown or broken connector: fail before storing anything
        new_account: str | None = None
        connection: ConnectionRecord | None = None
        try:
            if account_id is None:
                account_id = new_account = self.store.add_account(
                    owner_id, connector_id, label=label, now=self.clock()
                ).id
            connection = self.store.add_connection(
                account_id, connector_id, label=label, options=options, connection_id=connection_id,
                now=self.clock(),
            )
            self.credentials.put(connection, credential)
        except BaseException:
            # Stopped half-way (Ctrl-C, a vault or store failure): nothing half-made stays behind.
            self._undo_connection(connection, new_account)
            raise
        return connection

    def _undo_connection(self, connection: ConnectionRecord | None, account_id: str | None) -> None:
        with contextlib.suppress(Exception):
            if connection is not None:
                self.store.remove_connection(connection.id)
            if account_id is not None:
                self.store.remove_account(account_id)

    @guarded
    async def check_credential(
        self, credential: Credential, *, options: dict[str, Any] | None = None
    ) -> tuple[Permissions, list[str]]:
        """Ask the source what ``credential`` may do and apply the read-only policy, storing nothing.

        Returns the permissions and the policy's warnings; raises :class:`AuthError` for a rejected key
        and :class:`PermissionDeniedError` for one that can withdraw or transfer (or trade, unless the
        host allows trading keys), or whose rights the source left unknown.
        """
        connector_cls = self.registry.get(credential.connector_id)
        probe = ConnectionRecord(
            id="con_unsaved", account_id="acc_unsaved", connector_id=credential.connector_id,
            options=dict(options or {}), created_at=self.clock(),
        )
        secrets = SecretSet(credential.secret_values())
        with secret_scope(secrets), use_limits(self.http_limits):
            context = self._context(probe, credential)
            try:
                async with connector_cls(context) as connector:
                    permissions = await connector.verify()
            finally:
                context.credential = None  # type: ignore[assignment]
            permissions = _redacted_permissions(permissions, secrets)
            return permissions, self.permissions.check(permissions, credential.connector_id)

    @guarded
    async def connect_verified(
        self,
        owner_id: str,
        credential: Credential,
        *,
        account_id: str | None = None,
        label: str = "",
        options: dict[str, Any] | None = None,
        connection_id: str | None = None,
    ) -> tuple[ConnectionRecord, list[str]]:
        """Verify the key (:meth:`check_credential`), then create the connection: a key the source
        rejects or the policy refuses is never saved (no account, no connection, no credential).
        Returns the connection and the policy's warnings (no IP restriction, rights not reported)."""
        _, warnings = await self.check_credential(credential, options=options)
        connection = self._save_connection(
            owner_id, credential, account_id=account_id, label=label, options=options,
            connection_id=connection_id,
        )
        return connection, warnings

    @guarded
    async def replace_credential_verified(
        self, connection_id: str, credential: Credential
    ) -> tuple[ConnectionRecord, list[str]]:
        """:meth:`replace_credential` after :meth:`check_credential` (the old key stays if refused)."""
        connection = self.store.get_connection(connection_id)
        _, warnings = await self.check_credential(credential, options=dict(connection.options))
        return self._replace_credential(connection_id, credential), warnings

    @guarded_blocking
    def replace_credential(
        self, connection_id: str, credential: Credential, *, verify: bool = True
    ) -> ConnectionRecord:
        """Give a connection a new key. Its account, transactions and the user's edits stay; a
        connection disabled for an auth or permission failure becomes active again.

        Like :meth:`connect`, the key is verified first by default (the blocking twin of
        :meth:`replace_credential_verified`; a refused key raises and the old one stays);
        ``verify=False`` stores it unchecked.
        """
        if verify:
            connection, warnings = run_blocking(
                lambda: self.replace_credential_verified(connection_id, credential),
                "Engine.replace_credential (which verifies the key)",
                "engine.replace_credential_verified(...)",
            )
            for warning in warnings:
                log.warning("connection %s: %s", connection_id, warning)
            return connection
        return self._replace_credential(connection_id, credential)

    def _replace_credential(self, connection_id: str, credential: Credential) -> ConnectionRecord:
        connection = self.store.get_connection(connection_id)
        self.credentials.put(connection, credential)
        if connection.state == ConnectionState.DISABLED:
            connection = self.store.set_connection_state(connection_id, ConnectionState.ACTIVE)
        return connection

    def pause(self, connection_id: str) -> ConnectionRecord:
        """Stop all syncing of a connection until :meth:`resume`."""
        return self.store.set_connection_state(connection_id, ConnectionState.PAUSED, "paused by the user")

    def resume(self, connection_id: str) -> ConnectionRecord:
        """Make a paused (or disabled) connection active again."""
        if self.store.get_connection(connection_id).state == ConnectionState.MANUAL:
            raise ConnectionStateError(f"connection {connection_id} holds manual entries: it never syncs")
        return self.store.set_connection_state(connection_id, ConnectionState.ACTIVE)

    # -- manual accounts and entries (txsync.manual) -------------------------------------------------

    @property
    def manual(self) -> ManualLedger:
        """The manual accounts and entries of this engine's store (:class:`txsync.manual.ManualLedger`:
        ``add_manual_account``, ``add_entry``, ``edit_entry``, ``remove_entry``, ``entries``), merged
        with synced data under this engine's match tolerance."""
        return ManualLedger(self.store, tolerance=self.match_tolerance, clock=self.clock)

    def manual_for(self, owner_id: str) -> ManualLedger:
        """:attr:`manual` limited to one owner (what a host serving a signed-in user uses): another
        owner's account or entry id behaves exactly like one that does not exist."""
        return ManualLedger(self.store, tolerance=self.match_tolerance, clock=self.clock, owner_id=owner_id)

    def add_manual_account(self, owner_id: str, label: str = "") -> AccountRecord:
        """Create an account without a source (a cold wallet typed in, an OTC desk, a closed
        exchange): never scheduled, never disabled, reconciled against nothing. Connect a key to it
        later (``connect(..., account_id=...)``): the first sync merges with its entries."""
        return self.manual.add_manual_account(owner_id, label)

    def add_entry(self, account_id: str, **fields: Any) -> ManualEntryRecord:
        """Add a manual entry to any account (see :meth:`txsync.manual.ManualLedger.add_entry`)."""
        return self.manual.add_entry(account_id, **fields)

    def edit_entry(self, entry_id: str, **fields: Any) -> ManualEntryRecord:
        """Change a manual entry (see :meth:`txsync.manual.ManualLedger.edit_entry`)."""
        return self.manual.edit_entry(entry_id, **fields)

    def remove_entry(self, entry_id: str, *, account_id: str | None = None) -> str:
        """Remove a manual entry for good (see :meth:`txsync.manual.ManualLedger.remove_entry`)."""
        return self.manual.remove_entry(entry_id, account_id=account_id)

    def entries(self, account_id: str) -> list[ManualEntryRecord]:
        """The manual entries of an account."""
        return self.manual.entries(account_id)

    def remove_connection(self, connection_id: str) -> None:
        """Remove a connection on the user's request: its key is destroyed (the credential provider
        forgets it, the store deletes its sealed blobs), its cursors and raw records go; the account
        and its ledger stay (see :meth:`remove_account` to erase those too). The connection holding an
        account's manual entries is refused (its entries would stay in the ledger but could no longer
        be edited or removed): remove the entries, or the account."""
        if self.store.get_connection(connection_id).state == ConnectionState.MANUAL:
            raise ConnectionStateError(
                f"connection {connection_id} holds the account's manual entries: remove them "
                "(txsync entries remove) or the whole account (txsync remove ... --account)"
            )
        self.credentials.drop(connection_id)
        self.store.remove_connection(connection_id)

    def remove_account(self, account_id: str) -> None:
        """Erase an account on the user's request: every connection's key, its ledger and the user's
        edits of it (the right to erasure)."""
        for connection in self.store.list_connections(account_id):
            self.credentials.drop(connection.id)
        self.store.remove_account(account_id)

    @guarded_blocking
    def check_credential_blocking(
        self, credential: Credential, *, options: dict[str, Any] | None = None
    ) -> tuple[Permissions, list[str]]:
        """:meth:`check_credential` for code that is not async (any thread without a running event
        loop, such as a FastAPI sync route's worker thread; inside a running loop's thread it raises
        :class:`~txsync.errors.EventLoopError`)."""
        return run_blocking(
            lambda: self.check_credential(credential, options=options),
            "Engine.check_credential_blocking", "engine.check_credential(...)",
        )

    @guarded_blocking
    def reported_balances_blocking(self, connection_id: str) -> Sequence[Balance]:
        """:meth:`reported_balances` for code that is not async (see :meth:`sync_blocking`)."""
        return run_blocking(
            lambda: self.reported_balances(connection_id),
            "Engine.reported_balances_blocking", "engine.reported_balances(...)",
        )

    @guarded
    async def reported_balances(self, connection_id: str) -> Sequence[Balance]:
        """The balances the source reports now for a connection (for reconciliation)."""
        connection = self.store.get_connection(connection_id)
        connector_cls = self.registry.get(connection.connector_id)
        context = self._context(connection)
        try:
            with secret_scope(SecretSet(context.credential.secret_values())), use_limits(self.http_limits):
                async with connector_cls(context) as connector:
                    return await connector.balances()
        finally:
            context.credential = None  # type: ignore[assignment]

    def _context(
        self, connection: ConnectionRecord, credential: Credential | None = None
    ) -> ConnectorContext:
        return ConnectorContext(
            connection_id=connection.id,
            account_id=connection.account_id,
            credential=credential if credential is not None else self.credentials.open(connection),
            options=dict(connection.options),
            transport=self.transport_for(connection) if self.transport_for else None,
            stats=RequestStats(),
            clock=self.clock,
            limiters=self.limiters,
            retry=self.retry,
        )

    # -- syncing ------------------------------------------------------------------------------------

    @guarded_blocking
    def sync_blocking(
        self, connection_id: str, mode: SyncMode = SyncMode.INCREMENTAL, *,
        streams: Sequence[str] | None = None, progress: ProgressCallback | None = None,
    ) -> SyncReport:
        """:meth:`sync` for code that is not async (any thread without a running event loop, such as a
        FastAPI sync route's worker thread; inside a running loop's thread it raises
        :class:`~txsync.errors.EventLoopError`)."""
        return run_blocking(
            lambda: self.sync(connection_id, mode, streams=streams, progress=progress),
            "Engine.sync_blocking", "engine.sync(...)",
        )

    @guarded_blocking
    def sync_due_blocking(
        self, now: datetime | None = None, *, progress: ProgressCallback | None = None
    ) -> list[SyncReport]:
        """:meth:`sync_due` for code that is not async (see :meth:`sync_blocking`)."""
        return run_blocking(
            lambda: self.sync_due(now, progress=progress), "Engine.sync_due_blocking", "engine.sync_due(...)"
        )

    @guarded
    async def sync_due(
        self, now: datetime | None = None, *, progress: ProgressCallback | None = None
    ) -> list[SyncReport]:
        """Sync every connection the scheduling policy says is due, one after the other.

        One connection never stops the others: a paused or disabled one is skipped; one that cannot
        start (its connector uninstalled, its key missing) gets a failed report saying why.
        """
        reports = []
        for connection in self.store.connections_due(now or self.clock(), self.schedule):
            try:
                reports.append(await self.sync(connection.id, progress=progress))
            except ConnectionStateError:
                continue
            except TxsyncError as exc:
                reports.append(self._not_started(connection, exc))
        return reports

    def _not_started(self, connection: ConnectionRecord, exc: TxsyncError) -> SyncReport:
        now = self.clock()
        report = SyncReport(
            connection_id=connection.id, account_id=connection.account_id,
            connector_id=connection.connector_id, mode=SyncMode.INCREMENTAL, started_at=now,
            finished_at=now, state=connection.state, state_reason=connection.state_reason,
        )
        report.errors.append(report_text(f"{type(exc).__name__}: {exc}", SecretSet()))
        return report

    async def sync_events(
        self, connection_id: str, mode: SyncMode = SyncMode.INCREMENTAL, *,
        streams: Sequence[str] | None = None,
    ) -> AsyncIterator[ProgressEvent]:
        """Run :meth:`sync` and yield its progress events as they happen, the last one being
        :class:`~txsync.engine.progress.SyncFinished` with the report. An error :meth:`sync` raises
        (a paused connection...) is raised here. Closing the iterator early (leave the loop inside
        ``async with contextlib.aclosing(engine.sync_events(...))``) cancels the sync: what was
        committed stays, the next sync resumes after it."""
        queue = ProgressQueue()
        task = asyncio.ensure_future(self.sync(connection_id, mode, streams=streams, progress=queue))
        task.add_done_callback(lambda _t: queue.close())
        try:
            async for event in queue:
                yield event
            await task  # raises what the sync raised
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    @guarded
    async def sync(
        self,
        connection_id: str,
        mode: SyncMode = SyncMode.INCREMENTAL,
        *,
        streams: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> SyncReport:
        """Sync one connection and return the report.

        Connector failures do not raise: they are in the report (and an auth or permission failure
        disables the connection); so does a missing or unopenable credential. Raises
        :class:`ConnectionStateError` for a paused or disabled connection and
        :class:`~txsync.errors.PluginError` for an unknown connector. ``progress`` hears the sync's
        progress events (with the engine's own listener, if any).
        """
        mode = SyncMode(mode)
        connection = await _off_loop(self.store.get_connection, connection_id)
        if connection.state == ConnectionState.PAUSED:
            raise ConnectionStateError(f"connection {connection_id} is paused: resume it to sync")
        if connection.state == ConnectionState.DISABLED:
            raise ConnectionStateError(
                f"connection {connection_id} is disabled ({connection.state_reason}): "
                "replace its credential or resume it"
            )
        if connection.state == ConnectionState.MANUAL:
            raise ConnectionStateError(
                f"connection {connection_id} holds the account's manual entries: there is nothing to sync"
            )
        connector_cls = self.registry.get(connection.connector_id)
        lease, held = await self._take_lease(connection_id)
        if held is not None:
            return self._skipped(connection, mode, held)
        try:
            async with self._renewing(lease):
                return await self._sync_leased(connection, connector_cls, mode, streams, progress)
        finally:
            if lease is not None:
                await _off_loop(_release, self.store, lease)

    async def _take_lease(self, connection_id: str) -> tuple[Lease | None, Lease | None]:
        """``(lease, None)`` once taken, ``(None, holder's lease)`` if still held after ``lease_wait``;
        ``(None, None)`` for a store without leases."""
        acquire = getattr(self.store, "acquire_lease", None)
        if acquire is None:
            return None, None
        holder = f"{self.lease_holder}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + self.lease_wait.total_seconds()
        while True:
            lease, current = await _off_loop(acquire, connection_id, holder, self.lease_ttl)
            if lease is not None:
                return lease, None
            left = deadline - time.monotonic()
            if current is not None and left <= 0:
                return None, current
            # Held (or released just now): look again soon, never past the wait.
            await asyncio.sleep(max(0.0, min(left, 0.25)) if current is not None else 0.01)

    def _skipped(self, connection: ConnectionRecord, mode: SyncMode, held: Lease) -> SyncReport:
        now = self.clock()
        until = held.expires_at
        log.info("connection %s: sync skipped, leased by %s until %s", connection.id, held.holder, until)
        return SyncReport(
            connection_id=connection.id, account_id=connection.account_id,
            connector_id=connection.connector_id, mode=mode, started_at=now, finished_at=now,
            state=connection.state, state_reason=connection.state_reason,
            skipped=f"leased by {held.holder} until {until.isoformat()}", leased_by=held.holder,
            leased_until=until,
        )

    @contextlib.asynccontextmanager
    async def _renewing(self, lease: Lease | None) -> AsyncIterator[None]:
        """Keep ``lease`` alive while the body runs: a heartbeat every ``lease_ttl / 3`` and a renewal
        at page commits when one is due (a sync that lost its lease stops at its next page)."""
        if lease is None:
            yield
            return
        keeper = _LeaseKeeper(self.store, lease, self.lease_ttl)
        token = _KEEPER.set(keeper)
        beat = asyncio.ensure_future(keeper.heartbeat())
        try:
            yield
        finally:
            beat.cancel()
            with contextlib.suppress(BaseException):
                await beat
            _KEEPER.reset(token)

    async def _sync_leased(
        self,
        connection: ConnectionRecord,
        connector_cls: type[Connector],
        mode: SyncMode,
        streams: Sequence[str] | None,
        progress: ProgressCallback | None,
    ) -> SyncReport:
        connection_id = connection.id
        started = self.clock()
        await _off_loop(self.store.mark_sync, connection_id, attempted_at=started)
        report = SyncReport(
            connection_id=connection_id, account_id=connection.account_id,
            connector_id=connection.connector_id, mode=mode, started_at=started,
        )
        reporter = Reporter(connection_id, [p for p in (self.progress, progress) if p is not None])
        reporter.sync_started(report)
        try:
            context = self._context(connection)
        except (VaultError, ConfigurationError) as exc:
            # No key stored, or one that cannot be opened (missing or retired master key, a tampered
            # blob): nothing is synced, the connection stays as it is, the report says why.
            what = "credential cannot be opened" if isinstance(exc, VaultError) else "no usable credential"
            report.errors.append(report_text(f"{type(exc).__name__}: {what}: {exc}", SecretSet()))
            report.finished_at = self.clock()
            report.state, report.state_reason = connection.state, connection.state_reason
            await _off_loop(
                self.store.mark_sync, connection_id, attempted_at=started, finished_at=report.finished_at,
                success=False,
            )
            await _off_loop(
                self.store.save_sync_run, connection_id, started, report.finished_at, False,
                report.model_dump_json(),
            )
            log.error("connection %s: credential cannot be opened (%s)", connection_id, type(exc).__name__)
            reporter.sync_finished(report)
            return report
        secrets = SecretSet(context.credential.secret_values())
        try:
            with ingest_gc(), secret_scope(secrets), use_limits(self.http_limits), reporter.listening():
                await self._run(connector_cls, context, connection, mode, streams, report, secrets, reporter)
        finally:
            # Drop the plaintext credential as soon as the sync is over.
            context.credential = None  # type: ignore[assignment]
            settle = getattr(self.store, "settle", None)
            if settle is not None:
                await _off_loop(settle)
        info = connector_cls.info
        for noted in context.gaps:
            try:
                gap = info.gap(noted.gap_id)
            except KeyError:
                report.warnings.append(f"connector noted an undeclared coverage gap {noted.gap_id!r}")
                continue
            report.coverage_gaps.append(
                GapReport(gap_id=gap.id, title=gap.title, remedy=gap.remedy, detail=noted.detail,
                          stream=noted.stream, always=gap.always)
            )
        noted_ids = {gap.gap_id for gap in report.coverage_gaps}
        for gap in info.coverage_gaps:
            if gap.always and gap.id not in noted_ids:
                report.coverage_gaps.append(
                    GapReport(gap_id=gap.id, title=gap.title, remedy=gap.remedy, always=True)
                )
        redact_report(report, secrets)  # the hooks (which may store gap details) see clean text
        await self._after_sync(report, connector_cls, secrets)
        report.finished_at = self.clock()
        current = await _off_loop(self.store.get_connection, connection_id)
        report.state, report.state_reason = current.state, current.state_reason
        redact_report(report, secrets)
        await _off_loop(
            self.store.mark_sync, connection_id, attempted_at=started, finished_at=report.finished_at,
            success=report.ok,
        )
        await _off_loop(
            self.store.save_sync_run, connection_id, started, report.finished_at, report.ok,
            report.model_dump_json(),
        )
        reporter.sync_finished(report)
        return report

    async def _after_sync(
        self, report: SyncReport, connector_cls: type[Connector], secrets: SecretSet
    ) -> None:
        for hook in self.hooks:
            try:
                await hook.after_sync(self, report, connector_cls)
            except Exception as exc:  # a hook must never lose the sync's report
                message = _redact(f"{type(hook).__name__} failed: {type(exc).__name__}: {exc}", secrets)
                report.warnings.append(message)
                log.error("connection %s: %s", report.connection_id, report_text(message, secrets))

    async def _run(
        self,
        connector_cls: type[Connector],
        context: ConnectorContext,
        connection: ConnectionRecord,
        mode: SyncMode,
        only: Sequence[str] | None,
        report: SyncReport,
        secrets: SecretSet,
        reporter: Reporter,
    ) -> None:
        origin = Origin.FILE if connector_cls.info.kind == ConnectorKind.FILE else Origin.API
        try:
            async with connector_cls(context) as connector:
                permissions = await connector.verify()
                report.permissions = permissions
                report.warnings.extend(self.permissions.check(permissions, connector_cls.info.id))
                for stream in connector.streams():
                    if only is not None and stream.name not in only:
                        continue
                    await self._sync_stream(
                        stream, context, connection, mode, origin, report, secrets, reporter
                    )
        except (AuthError, PermissionDeniedError) as exc:
            reason = report_text(str(exc), secrets)  # stored with the connection: clean server text
            report.errors.append(f"{type(exc).__name__}: {reason}")
            self.store.set_connection_state(connection.id, ConnectionState.DISABLED, reason)
            log.warning("connection %s disabled: %s", connection.id, reason)
        except BannedError as exc:
            report.banned_until = exc.until
            report.errors.append(f"BannedError: {_redact(str(exc), secrets)}")
        except RateLimitedError as exc:
            report.errors.append(f"RateLimitedError: {_redact(str(exc), secrets)}; sync again later")
        except TxsyncError as exc:  # verify() failing transiently, a bad response...
            report.errors.append(f"{type(exc).__name__}: {_redact(str(exc), secrets)}")
        except Exception as exc:  # a connector bug (constructor, verify, streams()): reported, not raised
            message = _redact(f"{type(exc).__name__}: {exc}", secrets)
            report.errors.append(f"connector error: {message}")
            log.error("connection %s failed: %s", connection.id, report_text(message, secrets))

    async def _sync_stream(
        self,
        stream: Stream,
        context: ConnectorContext,
        connection: ConnectionRecord,
        mode: SyncMode,
        origin: Origin,
        report: SyncReport,
        secrets: SecretSet,
        reporter: Reporter,
    ) -> None:
        sr = StreamReport(stream=stream.name)
        report.streams.append(sr)
        before = context.stats.snapshot()
        reporter.stream_started(stream.name, before)
        began = time.perf_counter()
        try:
            cursor = await _off_loop(self._start_cursor, stream, connection, mode)
            async for page in bounded_pages(stream.pages(cursor), self.stream_budget, stream.name):
                fetched = self.clock()
                # Normalizing and committing run off the event loop (one hop per page): an async host
                # keeps serving while a sync writes, and SQLite's writes overlap the next page's fetch.
                raws, counts = await _off_loop(self._ingest_page, stream, connection, origin, page, fetched)
                sr.pages += 1
                sr.raws += len(raws)
                sr.raws_new += counts.raws_new
                sr.raws_updated += counts.raws_updated
                sr.new += counts.new
                sr.updated += counts.updated
                sr.unchanged += counts.unchanged
                sr.matched += counts.matched
                sr.unknown += counts.unknown
                reporter.page(sr, context.stats)
            sr.completed = True
        except (AuthError, PermissionDeniedError, BannedError, RateLimitedError, RateLimiterUnavailableError):
            raise  # stop the whole sync
        except StoreError:
            raise
        except TxsyncError as exc:
            sr.errors.append(f"{type(exc).__name__}: {_redact(str(exc), secrets)}")
        except Exception as exc:  # a connector bug must not take the host down, nor hide
            message = _redact(f"{type(exc).__name__}: {exc}", secrets)
            sr.errors.append(f"connector error: {message}")
            # logged as cleaned as the report holds it: server text may carry lone surrogates, which a
            # UTF-8 log handler cannot write, and control characters that forge log lines
            log.error("stream %s of connection %s failed: %s", stream.name, connection.id,
                      report_text(message, secrets))
        finally:
            after = context.stats
            sr.requests = after.requests - before.requests
            sr.weight = after.weight - before.weight
            sr.retries = after.retries - before.retries
            sr.rate_limited = after.rate_limited - before.rate_limited
            sr.duration_seconds = round(time.perf_counter() - began, 6)
            reporter.stream_finished(sr)

    def _ingest_page(
        self, stream: Stream, connection: ConnectionRecord, origin: Origin, page: Any, fetched: datetime
    ) -> tuple[list[RawTransaction], MergeCounts]:
        """Wrap a page's records as raws, normalize them and commit the page (one store transaction)."""
        raws = [
            RawTransaction(
                connection_id=connection.id, account_id=connection.account_id, stream=stream.name,
                source_id=str(rec.source_id), payload=rec.payload, fetched_at=fetched,
            )
            for rec in page.records
        ]
        normalized = list(stream.normalize(raws))
        _check_normalized(normalized, connection.account_id, origin, stream.name)
        _LeaseKeeper.check_current()
        counts = self.store.commit_page(
            PageBatch(
                connection_id=connection.id, account_id=connection.account_id, stream=stream.name,
                raws=raws, transactions=normalized, cursor=page.cursor, fetched_at=fetched,
            ),
            tolerance=self.match_tolerance,
            now=fetched,
        )
        return raws, counts

    def _start_cursor(self, stream: Stream, connection: ConnectionRecord, mode: SyncMode) -> Any:
        stored = self.store.get_cursor(connection.id, stream.name)
        if mode == SyncMode.FULL:
            return stream.cursor_for_full_sync(stored)
        if mode == SyncMode.SINCE_LATEST:
            latest = self.store.latest_timestamp(connection.account_id)
            if latest is not None:
                from_time = stream.cursor_from_time(latest)
                if from_time is not None:
                    return from_time
        return stored


_KEEPER: contextvars.ContextVar[_LeaseKeeper | None] = contextvars.ContextVar("txsync_lease", default=None)


class _LeaseKeeper:
    """Renews one sync's lease: from the heartbeat task and from the page commits (worker threads)."""

    def __init__(self, store: Any, lease: Lease, ttl: timedelta) -> None:
        self._store = store
        self._lease = lease
        self._ttl = ttl
        self._every = ttl.total_seconds() / 3
        self._renewed = time.monotonic()
        self._lost: LeaseLostError | None = None
        self._lock = threading.Lock()

    def renew(self) -> None:
        """Extend the lease now; :class:`LeaseLostError` once it is lost."""
        with self._lock:
            if self._lost is not None:
                raise LeaseLostError(str(self._lost))
            try:
                self._lease = self._store.renew_lease(self._lease, self._ttl)
            except LeaseLostError as exc:
                self._lost = exc
                raise
            self._renewed = time.monotonic()

    def check(self) -> None:
        """Raise :class:`LeaseLostError` if the lease was lost; renew it if a renewal is due."""
        if self._lost is not None:
            raise LeaseLostError(str(self._lost))
        if time.monotonic() - self._renewed >= self._every:
            self.renew()

    async def heartbeat(self) -> None:
        """Renew every ``ttl / 3`` until cancelled or lost (a failing store is tried again next beat)."""
        while True:
            await asyncio.sleep(self._every)
            try:
                await _off_loop(self.renew)
            except LeaseLostError as exc:
                log.error("%s", exc)
                return
            except Exception as exc:
                log.warning("sync lease of %s not renewed: %s", self._lease.connection_id, type(exc).__name__)

    @staticmethod
    def check_current() -> None:
        """:meth:`check` for the sync running in this context (nothing without a lease): called before
        each page commit, so a sync that lost its lease commits nothing more."""
        keeper = _KEEPER.get()
        if keeper is not None:
            keeper.check()


def _release(store: Any, lease: Lease) -> None:
    try:
        store.release_lease(lease)
    except Exception as exc:  # it expires by itself
        log.warning("sync lease of %s not released: %s", lease.connection_id, type(exc).__name__)


def _redacted_permissions(permissions: Permissions, secrets: SecretSet) -> Permissions:
    """``permissions`` with the source's details redacted (a hostile answer may echo the key)."""
    if not permissions.details:
        return permissions
    details = {
        key: secrets.redact(value) if isinstance(value, str) else value
        for key, value in permissions.details.items()
    }
    return permissions.model_copy(update={"details": details})


async def _off_loop(fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
    """Run blocking store (or normalization) work in a worker thread, never on a host's event loop
    (on a blocking twin's private loop, where nothing else runs, it runs in place)."""
    if store_work_off_loop():
        return await asyncio.to_thread(fn, *args, **kwargs)
    return fn(*args, **kwargs)


def _check_normalized(
    normalized: Sequence[NormalizedTransaction], account_id: str, origin: Origin, stream: str
) -> None:
    for tx in normalized:
        if tx.account_id != account_id:
            raise ModelError(f"stream {stream} normalized a transaction into another account")
        if tx.origin != origin:
            raise ModelError(f"stream {stream} produced origin {tx.origin}, expected {origin}")
        if not tx.sources:
            raise ModelError(f"stream {stream} produced transaction {tx.key!r} without sources")

"""Sync leases: at most one sync of a connection at a time, across processes and machines.

A lease is a row of ``sync_leases`` (one per connection) naming its holder, a random token and an
expiry on the wall clock. Taking one is ONE atomic statement on either database (an insert that, on
conflict, takes the row over only if it has expired, ``RETURNING`` the token), so two workers racing
for a connection never both win, on SQLite (the write lock) as on PostgreSQL (the primary key's
unique index). The holder renews the lease while it syncs; a worker that dies simply stops renewing,
and its lease can be taken once it has expired. Renewing and releasing need the token: a holder that
stalled past its expiry while another worker took over learns it (:class:`~txsync.errors.LeaseLostError`)
instead of extending or dropping the other's lease.

The wall clock is used on purpose (never a sync's injectable clock): an expiry must mean the same
moment to every worker.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from txsync.errors import LeaseLostError, StoreError
from txsync.merge import duration_us, from_us, to_us
from txsync.store import schema as t

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy import Connection

__all__ = ["Lease", "SyncLeases"]

#: Longest lease a store grants (a bound on how long a crashed worker can block a connection).
MAX_LEASE = timedelta(days=1)


class Lease(BaseModel):
    """A lease on one connection: who holds it and until when (aware UTC)."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    holder: str
    token: str
    acquired_at: datetime
    expires_at: datetime

    def __repr__(self) -> str:  # the token is a capability: keep it out of logs
        return (
            f"Lease(connection_id={self.connection_id!r}, holder={self.holder!r}, "
            f"expires_at={self.expires_at.isoformat()!r})"
        )

    __str__ = __repr__


def _wall_now() -> datetime:
    return datetime.now(UTC)


def _check_ttl(ttl: timedelta) -> int:
    if not timedelta(0) < ttl <= MAX_LEASE:
        raise StoreError(f"a lease lasts more than 0 s and at most {MAX_LEASE}, not {ttl}")
    return duration_us(ttl)


def _lease(row: Any) -> Lease:
    return Lease(
        connection_id=row.connection_id, holder=row.holder, token=row.token,
        acquired_at=from_us(row.acquired_at), expires_at=from_us(row.expires_at),
    )


class SyncLeases:
    """The lease methods of :class:`~txsync.store.SqlStore` (both dialects)."""

    if TYPE_CHECKING:

        def _write(self) -> AbstractContextManager[Connection]: ...
        def _read(self) -> AbstractContextManager[Connection]: ...

    def acquire_lease(
        self, connection_id: str, holder: str, ttl: timedelta, *, now: datetime | None = None
    ) -> tuple[Lease | None, Lease | None]:
        """Try to take the lease on ``connection_id`` for ``ttl``: ``(lease, None)`` when taken, or
        ``(None, current)`` when another holder's unexpired lease stands (``current`` says whose and
        until when; it may be ``None`` if that lease ended in between: try again).

        A lease held by the same ``holder`` is not re-entered either: a holder names one sync.
        """
        ttl_us = _check_ttl(ttl)
        if not holder or len(holder) > 200:
            raise StoreError("a lease holder is a name of 1 to 200 characters")
        now_us = to_us(now or _wall_now())
        token = secrets.token_hex(16)
        leases = t.sync_leases
        values = {
            "connection_id": connection_id, "holder": holder, "token": token,
            "acquired_at": now_us, "expires_at": now_us + ttl_us,
        }
        with self._write() as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            stmt = insert(leases).values(**values)
            upsert = stmt.on_conflict_do_update(
                index_elements=["connection_id"],
                set_={k: stmt.excluded[k] for k in ("holder", "token", "acquired_at", "expires_at")},
                where=leases.c.expires_at <= now_us,
            ).returning(leases.c.token)
            won = conn.execute(upsert).scalar()
        if won == token:
            return Lease(
                connection_id=connection_id, holder=holder, token=token, acquired_at=from_us(now_us),
                expires_at=from_us(now_us + ttl_us),
            ), None
        return None, self.get_lease(connection_id, now=from_us(now_us))

    def renew_lease(self, lease: Lease, ttl: timedelta, *, now: datetime | None = None) -> Lease:
        """Extend a held lease to ``now + ttl``. :class:`~txsync.errors.LeaseLostError` if it is no
        longer held under this token (it expired and another worker took it, or it was released)."""
        ttl_us = _check_ttl(ttl)
        expires_us = to_us(now or _wall_now()) + ttl_us
        leases = t.sync_leases
        with self._write() as conn:
            changed = conn.execute(
                update(leases)
                .where(leases.c.connection_id == lease.connection_id, leases.c.token == lease.token)
                .values(expires_at=expires_us)
            ).rowcount
        if not changed:
            current = self.get_lease(lease.connection_id, now=now)
            by = f"; now held by {current.holder} until {current.expires_at.isoformat()}" if current else ""
            raise LeaseLostError(
                f"the sync lease of connection {lease.connection_id} held by {lease.holder} was lost{by}"
            )
        return lease.model_copy(update={"expires_at": from_us(expires_us)})

    def release_lease(self, lease: Lease) -> bool:
        """Give a lease up (False when it was no longer held under this token)."""
        leases = t.sync_leases
        with self._write() as conn:
            return bool(
                conn.execute(
                    delete(leases).where(
                        leases.c.connection_id == lease.connection_id, leases.c.token == lease.token
                    )
                ).rowcount
            )

    def get_lease(self, connection_id: str, *, now: datetime | None = None) -> Lease | None:
        """The unexpired lease on ``connection_id``, if any."""
        now_us = to_us(now or _wall_now())
        leases = t.sync_leases
        with self._read() as conn:
            row = conn.execute(
                select(leases).where(leases.c.connection_id == connection_id, leases.c.expires_at > now_us)
            ).first()
        return None if row is None else _lease(row)


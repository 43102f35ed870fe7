"""Sync leases in the store (both backends): one holder at a time, expiry, renewal and release by
token only, a lost lease raising, bad arguments refused with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from txsync.errors import LeaseLostError, StoreError
from txsync.store import Lease

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


def _connection(store: Any) -> str:
    account = store.add_account("owner", "demo", account_id="acc-lease")
    return str(store.add_connection(account.id, connection_id="con-lease").id)


def test_one_holder_at_a_time_until_the_lease_expires(store: Any) -> None:
    con = _connection(store)
    lease, held = store.acquire_lease(con, "worker-a", TTL, now=T0)
    assert isinstance(lease, Lease) and held is None
    assert lease.holder == "worker-a" and lease.expires_at == T0 + TTL

    # Another holder, or the same one again (a holder names one sync), is refused while it stands.
    for other in ("worker-b", "worker-a"):
        refused, current = store.acquire_lease(con, other, TTL, now=T0 + timedelta(seconds=29))
        assert refused is None
        assert current is not None and current.holder == "worker-a" and current.expires_at == T0 + TTL
    assert store.get_lease(con, now=T0 + timedelta(seconds=10)).token == lease.token

    # Expired (its worker crashed): anyone takes it over, with a new token.
    taken, held = store.acquire_lease(con, "worker-b", TTL, now=T0 + TTL)
    assert taken is not None and held is None and taken.holder == "worker-b" and taken.token != lease.token
    assert store.get_lease(con, now=T0 + TTL).holder == "worker-b"


def test_renewal_extends_and_a_lost_lease_raises(store: Any) -> None:
    con = _connection(store)
    lease, _ = store.acquire_lease(con, "worker-a", TTL, now=T0)
    renewed = store.renew_lease(lease, TTL, now=T0 + timedelta(seconds=20))
    assert renewed.expires_at == T0 + timedelta(seconds=50) and renewed.token == lease.token
    refused, _ = store.acquire_lease(con, "worker-b", TTL, now=T0 + timedelta(seconds=40))
    assert refused is None  # still held thanks to the renewal

    # Worker A stalls past its expiry; B takes over; A's renewal and release must not touch B's lease.
    taken, _ = store.acquire_lease(con, "worker-b", TTL, now=T0 + timedelta(seconds=50))
    assert taken is not None
    with pytest.raises(LeaseLostError, match="now held by worker-b"):
        store.renew_lease(renewed, TTL, now=T0 + timedelta(seconds=51))
    assert store.release_lease(renewed) is False
    assert store.get_lease(con, now=T0 + timedelta(seconds=52)).holder == "worker-b"

    assert store.release_lease(taken) is True
    assert store.get_lease(con, now=T0 + timedelta(seconds=52)) is None
    again, _ = store.acquire_lease(con, "worker-c", TTL, now=T0 + timedelta(seconds=52))
    assert again is not None


def test_leases_are_per_connection_and_go_with_the_connection(store: Any) -> None:
    con = _connection(store)
    other = store.add_connection("acc-lease", connection_id="con-other").id
    a, _ = store.acquire_lease(con, "worker-a", TTL, now=T0)
    b, _ = store.acquire_lease(other, "worker-b", TTL, now=T0)
    assert a is not None and b is not None
    store.remove_connection(con)
    assert store.get_lease(con, now=T0) is None
    assert store.get_lease(other, now=T0) is not None


def test_bad_arguments_are_refused_and_write_nothing(store: Any) -> None:
    con = _connection(store)
    for ttl in (timedelta(0), timedelta(seconds=-1), timedelta(days=2)):
        with pytest.raises(StoreError, match="a lease lasts"):
            store.acquire_lease(con, "worker-a", ttl, now=T0)
    for holder in ("", "x" * 201):
        with pytest.raises(StoreError, match="holder"):
            store.acquire_lease(con, holder, TTL, now=T0)
    assert store.get_lease(con, now=T0) is None


def test_a_lease_shows_no_token() -> None:
    lease = Lease(connection_id="c", holder="h", token="secret-token-value", acquired_at=T0, expires_at=T0)
    assert "secret-token-value" not in repr(lease) and "secret-token-value" not in str(lease)

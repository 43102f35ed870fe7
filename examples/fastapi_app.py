"""txsync inside a FastAPI web application: each signed-in user connects accounts, syncs them, pages
through the ledger, deletes and labels transactions, and checks balances.

    .venv/bin/python examples/fastapi_app.py        # a scripted session through FastAPI's TestClient

It runs offline against the Demo Exchange sandbox (no network, no keys). ``create_app`` is the part a
host copies; ``main`` plays a user's session and prints what each request answered. Needs the
``examples`` extra (``pip install -e '.[examples]'``; the ``test`` extra includes it).

Rules a host follows, each shown below:

* every id that comes from a request goes through ``store.for_owner(user)``: another user's connection
  or transaction answers 404 exactly like one that does not exist;
* the routes that only touch the store are plain ``def`` routes (FastAPI runs them in its thread pool);
  the routes that talk to an exchange are ``async`` and await the engine, which itself runs every store
  call off the event loop;
* a refused key (one that can trade or withdraw) or a rejected one stores nothing and answers 4xx with
  txsync's message, which never contains the secret.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from txsync.connectors.demo import DemoExchange
from txsync.connectors.demo.sandbox import DEMO_KEY, DEMO_SECRET, DemoSandbox
from txsync.engine import Engine, SyncMode
from txsync.errors import (
    AuthError,
    ConnectionStateError,
    PermissionDeniedError,
    StoreError,
    UnknownConnectionError,
)
from txsync.models import Credential
from txsync.owner import OwnerLedger
from txsync.registry import Registry
from txsync.store import ConnectionRecord, SqliteStore
from txsync.store.scope import OwnerScope


class ConnectRequest(BaseModel):
    """The body of ``POST /users/{user}/connections``: a connector and its key."""

    connector_id: str
    secrets: dict[str, str]
    label: str = ""


class EditRequest(BaseModel):
    """The body of ``PATCH /users/{user}/transactions/{tx}``: the user's label and note."""

    label: str | None = None
    note: str | None = None


def create_app(
    db: Path,
    *,
    registry: Registry | None = None,
    transport_for: Callable[[ConnectionRecord], httpx.AsyncBaseTransport | None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The web application over the store at ``db``.

    A real host passes nothing but ``db`` (the installed connectors, the real network, the wall clock);
    ``main`` passes the Demo Exchange and its sandbox. Keys are sealed by the vault (a master key file is
    created next to the database on the first connect; see docs/security.md).
    """
    store = SqliteStore(db)
    options: dict[str, Any] = {"registry": registry, "transport_for": transport_for}
    if clock is not None:
        options["clock"] = clock
    engine = Engine(store, **options)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="txsync host example", lifespan=lifespan)

    def scope(user: str) -> OwnerScope:
        return store.for_owner(user)

    def owned_connection(user: str, connection_id: str) -> ConnectionRecord:
        try:
            return scope(user).get_connection(connection_id)
        except UnknownConnectionError:
            raise HTTPException(404, f"no connection {connection_id!r}") from None

    @app.post("/users/{user}/connections", status_code=201)
    async def connect(user: str, body: ConnectRequest) -> dict[str, Any]:
        credential = Credential(connector_id=body.connector_id, secrets=body.secrets)
        try:
            connection, warnings = await engine.connect_verified(user, credential, label=body.label)
        except AuthError as exc:
            raise HTTPException(401, str(exc)) from None
        except PermissionDeniedError as exc:
            raise HTTPException(403, str(exc)) from None
        return {"connection_id": connection.id, "account_id": connection.account_id, "warnings": warnings}

    @app.get("/users/{user}/connections")
    def connections(user: str) -> list[dict[str, Any]]:
        """The user's connections: connector, label, state (active, paused, disabled with the reason)."""
        return [c.model_dump(mode="json") for c in scope(user).connections()]

    @app.post("/users/{user}/connections/{connection_id}/sync")
    async def sync(user: str, connection_id: str, full: bool = False) -> dict[str, Any]:
        """Sync and return the report; then record the balances the exchange reports, for the checks."""
        connection = owned_connection(user, connection_id)
        try:
            report = await engine.sync(connection.id, SyncMode.FULL if full else SyncMode.INCREMENTAL)
        except ConnectionStateError as exc:
            raise HTTPException(409, str(exc)) from None
        if report.ok:
            reported = await engine.reported_balances(connection.id)
            OwnerLedger(store).record_reported(connection.account_id, reported)
        return report.model_dump(mode="json")

    @app.get("/users/{user}/connections/{connection_id}/sync-events")
    async def sync_events(user: str, connection_id: str) -> StreamingResponse:
        """The same sync, its progress streamed as one JSON object per line (a page forwards them)."""
        connection = owned_connection(user, connection_id)

        async def lines() -> AsyncIterator[str]:
            async for event in engine.sync_events(connection.id):
                yield json.dumps(event.to_json()) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.get("/users/{user}/ledger")
    def ledger(user: str, limit: int = 50, after: str | None = None) -> dict[str, Any]:
        """One page of the user's ledger, newest first; ``next`` is the ``after`` of the next page."""
        try:
            page = scope(user).ledger_page(limit=limit, after=after, order="desc")
        except StoreError as exc:  # a limit out of range, a cursor this store did not make
            raise HTTPException(400, str(exc)) from None
        return {
            "items": [tx.model_dump(mode="json") for tx in page.items],
            "next": page.next_cursor,
        }

    @app.delete("/users/{user}/transactions/{tx_id}", status_code=204)
    def delete(user: str, tx_id: str) -> None:
        """Delete a transaction for good: no later sync, full or not, brings it back."""
        try:
            scope(user).delete_transaction(tx_id, reason="deleted by the user")
        except StoreError:
            raise HTTPException(404, f"no transaction {tx_id!r}") from None

    @app.patch("/users/{user}/transactions/{tx_id}")
    def edit(user: str, tx_id: str, body: EditRequest) -> dict[str, Any]:
        """Label or annotate a transaction: the edit survives every re-sync."""
        owned = scope(user)
        try:
            owned.set_override(tx_id, label=body.label, note=body.note)
            return owned.get_transaction(tx_id).model_dump(mode="json")
        except StoreError:
            raise HTTPException(404, f"no transaction {tx_id!r}") from None

    @app.get("/users/{user}/balances")
    def balances(user: str) -> list[dict[str, Any]]:
        """Computed against reported balances per account, each mismatch explained."""
        if not scope(user).accounts():
            return []
        return [row.as_json() for row in OwnerLedger(store).balances(owner_id=user)]

    return app


def demo_app(db: Path) -> FastAPI:
    """The application wired to the Demo Exchange sandbox (offline, deterministic)."""
    sandbox = DemoSandbox()
    registry = Registry(entry_points=[])
    registry.register(DemoExchange)
    return create_app(
        db, registry=registry, transport_for=lambda _c: sandbox.transport(), clock=sandbox.clock
    )


def run(db: Path) -> dict[str, Any]:
    """A user's session through the HTTP API; returns what each step answered."""
    from fastapi.testclient import TestClient

    out: dict[str, Any] = {}
    with TestClient(demo_app(db)) as client:
        bad = client.post("/users/alice/connections", json={
            "connector_id": "demo", "secrets": {"api_key": "not-the-key", "api_secret": DEMO_SECRET}})
        out["bad_key"] = (bad.status_code, bad.json()["detail"])
        out["stored_after_bad_key"] = client.get("/users/alice/connections").json()
        made = client.post("/users/alice/connections", json={
            "connector_id": "demo", "secrets": {"api_key": DEMO_KEY, "api_secret": DEMO_SECRET},
            "label": "Demo"})
        out["connect"] = made.status_code
        out["states"] = [c["state"] for c in client.get("/users/alice/connections").json()]
        connection_id = made.json()["connection_id"]

        events = client.get(f"/users/alice/connections/{connection_id}/sync-events")
        kinds = [json.loads(line)["kind"] for line in events.text.splitlines()]
        out["events"] = {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)}
        report = client.post(f"/users/alice/connections/{connection_id}/sync").json()
        out["resync_new"] = sum(stream["new"] for stream in report["streams"])

        first = client.get("/users/alice/ledger", params={"limit": 100}).json()
        second = client.get("/users/alice/ledger", params={"limit": 100, "after": first["next"]}).json()
        out["pages"] = [len(first["items"]), len(second["items"])]
        # The user deletes the newest settled transaction and labels the one before it.
        deleted, labelled = [tx for tx in first["items"] if tx["status"] == "confirmed"][:2]
        out["delete"] = client.delete(f"/users/alice/transactions/{deleted['id']}").status_code
        out["label"] = client.patch(f"/users/alice/transactions/{labelled['id']}",
                                    json={"label": "first buy"}).json()["label"]
        full = client.post(f"/users/alice/connections/{connection_id}/sync", params={"full": True}).json()
        out["full_resync_new"] = sum(stream["new"] for stream in full["streams"])
        after = client.get("/users/alice/ledger", params={"limit": 100}).json()["items"]
        out["deleted_stays_deleted"] = deleted["id"] not in {tx["id"] for tx in after}
        out["label_kept"] = next(tx["label"] for tx in after if tx["id"] == labelled["id"])
        out["mismatches"] = {row["asset"]: [e["kind"] for e in row["explanations"]]
                             for row in client.get("/users/alice/balances").json()
                             if row["scope"] == "account" and row["status"] == "mismatch"}

        # Another user sees none of it: alice's ids answer 404 as unknown ones do.
        out["other_user"] = [
            client.get("/users/bob/ledger").json()["items"],
            client.post(f"/users/bob/connections/{connection_id}/sync").status_code,
            client.delete(f"/users/bob/transactions/{labelled['id']}").status_code,
        ]
        out["bad_cursor"] = client.get("/users/alice/ledger", params={"after": "garbage"}).status_code
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, default=None, help="the SQLite file (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.db or Path(tmp) / "host.sqlite3")
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()

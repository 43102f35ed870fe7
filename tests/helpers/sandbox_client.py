"""A process syncing one connection against a served sandbox: ``python -m helpers.sandbox_client
SANDBOX_JSON DB_PATH`` (the JSON ``txsync --json sandbox serve`` printed); prints the sync's counts."""

from __future__ import annotations

import json
import sys


def main() -> None:
    from txsync.connectors.demo import DemoExchange
    from txsync.engine import Engine
    from txsync.models import Credential
    from txsync.registry import Registry
    from txsync.store import SqliteStore

    served = json.loads(sys.argv[1])
    registry = Registry(entry_points=[])
    registry.register(DemoExchange)
    store = SqliteStore(sys.argv[2])
    engine = Engine(store, registry=registry, hooks=[])
    fields = served["accounts"][0]["credential"]
    credential = Credential(connector_id=served["connector"], secrets=fields)
    connection = engine.connect("owner", credential, options=served["options"], verify=False)
    report = engine.sync_blocking(connection.id)
    print(json.dumps({
        "ok": report.ok, "errors": report.errors + [e for s in report.streams for e in s.errors],
        "requests": report.total("requests"), "weight": report.total("weight"),
        "new": report.total("new"), "rate_limited": report.total("rate_limited"),
    }))
    store.close()


if __name__ == "__main__":
    main()

"""Fail fast when a service the CI test run needs is unreachable (TCP connect to each URL's host:port)."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

SERVICES = {
    "TXSYNC_TEST_POSTGRES_URL": 5432,
    "TXSYNC_TEST_REDIS_URL": 6379,
    "TXSYNC_TEST_AMQP_URL": 5672,
}


def main() -> int:
    failed = []
    for variable, default_port in SERVICES.items():
        url = os.environ.get(variable)
        if not url:
            failed.append(f"{variable} is not set")
            continue
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or default_port
        try:
            with socket.create_connection((host, port), timeout=5):
                pass
        except OSError as exc:
            failed.append(f"{variable}: {host}:{port} unreachable ({exc})")
        else:
            print(f"{variable}: {host}:{port} reachable")
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

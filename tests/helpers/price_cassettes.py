"""Recording and replaying the price sources' cassettes (``cassettes/prices/<source>/``).

``TXSYNC_RECORD=1`` records through :class:`~txsync.valuation.sources.sandboxes.PriceSandboxes`;
otherwise the cassette is replayed and any request not in it fails (never the network).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from txsync.testing.cassettes import RecordSource, cassette_vcr, offline_transport, record_source
from txsync.valuation.sources.coingecko.sandbox import DEMO_KEY, PRO_KEY
from txsync.valuation.sources.sandboxes import PriceSandboxes

PRICES = Path(__file__).resolve().parents[2] / "cassettes" / "prices"
#: Every secret the price cassettes must never hold.
SECRETS = (DEMO_KEY, PRO_KEY)


@contextmanager
def price_cassette(folder: str, name: str, sandboxes: PriceSandboxes) -> Iterator[httpx.AsyncBaseTransport]:
    """The transport to use inside cassette ``cassettes/prices/<folder>/<name>.yaml``."""
    source = record_source()
    if source is RecordSource.LIVE:
        pytest.skip("price cassettes are recorded from the sandboxes")
    directory = PRICES / folder
    path = directory / f"{name}.yaml"
    recording = source is RecordSource.SANDBOX
    if recording:
        directory.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
    elif not path.is_file():
        pytest.fail(f"{path} is missing: record it with TXSYNC_RECORD=1 pytest tests/valuation")
    recorder = cassette_vcr(directory, "new_episodes" if recording else "none", secrets=SECRETS)
    with recorder.use_cassette(path.name):
        yield sandboxes.transport() if recording else offline_transport()

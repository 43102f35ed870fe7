"""Testing support for txsync and its connector plugins.

* :class:`ConnectorContract` - the contract test class a connector's tests subclass (cassettes under
  ``cassettes/<connector>/``, recorded from its sandbox, replayed offline).
* :class:`ContractHarness` - runs the contract scenarios against any transport.
* :mod:`txsync.testing.checks` - the checks themselves, as plain functions.
* :mod:`txsync.testing.cassettes` - the vcrpy configuration (scrubbing, matching, readable YAML).
* The Demo Exchange, a complete small connector and its sandbox, lives in :mod:`txsync.connectors.demo`
  (re-exported here as :mod:`txsync.testing.demo_connector` and :mod:`txsync.testing.demo_sandbox`).
* :mod:`txsync.testing.plugin` - the pytest plugin (fixtures), registered as ``txsync``.

Names are imported lazily. The contract suite and the cassette helpers need the kit's extra,
``pip install 'txsync[testing]'`` (pytest, vcrpy, PyYAML); without it, importing them raises an
``ImportError`` that says so. The Demo Exchange and :class:`ContractHarness` need no extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from txsync.testing.cassettes import (
        PLACEHOLDER,
        RECORD_ENV,
        RecordSource,
        Scrubber,
        cassette_vcr,
        find_cassette_leaks,
        offline_transport,
        record_source,
    )
    from txsync.testing.checks import (
        CommittedPage,
        check_cassettes_clean,
        check_connector_info,
        check_ledgers_equal,
        check_normalized_page,
        check_page_order,
        check_sync_report,
        compare_cursors,
    )
    from txsync.testing.contract import SCENARIOS, ConnectorContract
    from txsync.testing.harness import (
        NO_SLEEP_RETRY,
        ContractHarness,
        RecordingStore,
        ResumeSummary,
        SimulatedCrash,
        SyncRun,
    )

__all__ = [
    "NO_SLEEP_RETRY",
    "PLACEHOLDER",
    "RECORD_ENV",
    "SCENARIOS",
    "CommittedPage",
    "ConnectorContract",
    "ContractHarness",
    "RecordSource",
    "RecordingStore",
    "ResumeSummary",
    "Scrubber",
    "SimulatedCrash",
    "SyncRun",
    "cassette_vcr",
    "check_cassettes_clean",
    "check_connector_info",
    "check_ledgers_equal",
    "check_normalized_page",
    "check_page_order",
    "check_sync_report",
    "compare_cursors",
    "find_cassette_leaks",
    "offline_transport",
    "record_source",
]

_HOMES = {
    "txsync.testing.cassettes": (
        "PLACEHOLDER", "RECORD_ENV", "RecordSource", "Scrubber", "cassette_vcr", "find_cassette_leaks",
        "offline_transport", "record_source",
    ),
    "txsync.testing.checks": (
        "CommittedPage", "check_cassettes_clean", "check_connector_info", "check_ledgers_equal",
        "check_normalized_page", "check_page_order", "check_sync_report", "compare_cursors",
    ),
    "txsync.testing.contract": ("SCENARIOS", "ConnectorContract"),
    "txsync.testing.harness": (
        "NO_SLEEP_RETRY", "ContractHarness", "RecordingStore", "ResumeSummary", "SimulatedCrash", "SyncRun",
    ),
}
_WHERE = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'txsync.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

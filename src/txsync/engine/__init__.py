"""The sync engine: checkpointed, resumable syncs with dedup-merge, states, scheduling, reports."""

from txsync.engine.budget import StreamBudget
from txsync.engine.credentials import CredentialProvider, InMemoryCredentials
from txsync.engine.progress import (
    PageCommitted,
    ProgressCallback,
    ProgressEvent,
    ProgressQueue,
    RateLimitWait,
    StreamFinished,
    StreamStarted,
    SyncFinished,
    SyncStarted,
)
from txsync.engine.report import GapReport, StreamReport, SyncMode, SyncReport
from txsync.engine.sync import ConnectorResolver, Engine, ReadOnlyPolicy, SyncHook

__all__ = [
    "ConnectorResolver",
    "CredentialProvider",
    "Engine",
    "GapReport",
    "InMemoryCredentials",
    "PageCommitted",
    "ProgressCallback",
    "ProgressEvent",
    "ProgressQueue",
    "RateLimitWait",
    "ReadOnlyPolicy",
    "StreamBudget",
    "StreamFinished",
    "StreamReport",
    "StreamStarted",
    "SyncFinished",
    "SyncHook",
    "SyncMode",
    "SyncReport",
    "SyncStarted",
]

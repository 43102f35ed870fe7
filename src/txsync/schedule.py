"""When connections are due for a sync: weekly while their owner is active, quarterly otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["SchedulePolicy"]


@dataclass(frozen=True)
class SchedulePolicy:
    """Sync intervals by owner activity.

    An owner is *active* if they were seen (``Store.touch_owner``) within ``active_window``. Active
    owners' connections are due ``active_interval`` after their last sync attempt, inactive owners'
    after ``inactive_interval``. A connection never synced is due at once; a paused or disabled one
    never (until resumed or re-enabled). A connection whose last sync finished but failed is due
    again ``failed_retry`` after that attempt (sooner than a full interval; job engines add their own
    backoff on top, see :mod:`txsync.jobs`). A manual sync is always allowed unless paused.
    """

    active_interval: timedelta = timedelta(days=7)
    inactive_interval: timedelta = timedelta(days=91)
    active_window: timedelta = timedelta(days=30)
    failed_retry: timedelta = timedelta(hours=6)

    def __post_init__(self) -> None:
        for name in ("active_interval", "inactive_interval", "active_window", "failed_retry"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"SchedulePolicy.{name} must be positive")

    def is_active(self, last_active_at: datetime | None, now: datetime) -> bool:
        """Whether an owner last seen at ``last_active_at`` counts as active at ``now``."""
        return last_active_at is not None and now - last_active_at <= self.active_window

    def interval(self, owner_active: bool) -> timedelta:
        """The sync interval for an owner of that activity."""
        return self.active_interval if owner_active else self.inactive_interval

"""Pure time decisions for delivery: which scheduled slot a digest run belongs to, and when a
failed delivery is tried again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# How far back to look for the latest scheduled time: a day covers most crontabs, a year
# covers every one that fires at all.
_LOOKBACK = (timedelta(days=1), timedelta(days=32), timedelta(days=366))


def latest_slot(schedule: str, timezone: str, now: datetime) -> datetime | None:
    """The latest time at or before ``now`` the crontab fires (UTC), or None if never."""
    # Imported here: only a watcher with digests asks, and a run --once without them need
    # not wait for APScheduler.
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(schedule, timezone=ZoneInfo(timezone))
    for back in _LOOKBACK:
        start = now - back
        fire: datetime | None = trigger.get_next_fire_time(None, start)
        latest: datetime | None = None
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if latest is not None:
            return latest.astimezone(ZoneInfo("UTC"))
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter; past ``max_attempts`` a delivery fails."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    jitter: float = 0.2  # either way: deliveries that failed together do not retry together
    max_attempts: int = 15  # what that adds up to: docs/digests.md, Delivery
    lease: timedelta = timedelta(minutes=5)  # a "sending" row older than this was abandoned

    def delay(self, attempts: int, rng: random.Random,
              retry_after: float | None = None) -> timedelta:
        """Wait before attempt ``attempts + 1``; a peer's Retry-After is honoured if longer."""
        raw = min(self.cap.total_seconds(),
                  self.base.total_seconds() * 2 ** max(0, attempts - 1))
        wait = raw * (1 + rng.uniform(-self.jitter, self.jitter))
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap.total_seconds()))
        return timedelta(seconds=wait)

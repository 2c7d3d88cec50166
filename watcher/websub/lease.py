"""Pure decisions about a subscription: what it needs next, and the polling it allows.

Leases are renewed once ``RENEW_AFTER`` of them has passed, so a renewal that fails has
the rest of the lease to be retried before pushes stop. A request the hub has not verified
within ``VERIFY_WAIT`` counts as failed (hubs verify at once or retry over hours; past that
the spec has them abandon it). Failures back off from ``RETRY_FIRST`` up to
``RETRY_LONGEST``; a denial waits ``AFTER_DENIAL`` (the hub said no on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from watcher.polling import PollDecision
from watcher.websub.model import Subscription

LEASE_ASKED = timedelta(days=7)  # hub.lease_seconds we ask for; the hub decides
RENEW_AFTER = 0.85  # of the granted lease
VERIFY_WAIT = timedelta(hours=1)
RETRY_FIRST = timedelta(minutes=5)
RETRY_LONGEST = timedelta(days=1)
AFTER_DENIAL = timedelta(days=1)
LEAVING_KEPT = timedelta(hours=1)  # an unsubscribe waits this long for its verification

Step = Literal["subscribe", "unsubscribe", "unverified", "expire", "forget", "new_callback"]


@dataclass(frozen=True)
class Wanted:
    """What the config wants for a subscription's feed."""

    wanted: bool  # the feed is configured, enabled, websub not off, public_url set
    callback: str | None = None  # the URL it would be given now (public_url may change)


def renew_at(sub: Subscription) -> datetime | None:
    if sub.lease_end is None or sub.verified_at is None:
        return None
    return sub.verified_at + (sub.lease_end - sub.verified_at) * RENEW_AFTER


def retry_delay(failures: int) -> timedelta:
    return min(RETRY_FIRST * (1 << min(max(failures - 1, 0), 16)), RETRY_LONGEST)


def next_step(sub: Subscription, wanted: Wanted, now: datetime) -> Step | None:
    """What the daemon does for ``sub`` this round; None: nothing yet."""
    asked = sub.requested_at  # a request awaiting its verification, sent then
    if sub.state == "leaving" or not wanted.wanted:
        if sub.state != "leaving":
            # Nobody wants the pushes: tell the hub if it may still send them.
            return "unsubscribe" if sub.active(now) or asked is not None else "forget"
        if asked is not None:
            return "forget" if now - asked >= LEAVING_KEPT else None
        return "unsubscribe" if sub.lease_end is not None and sub.lease_end > now else "forget"
    if wanted.callback is not None and wanted.callback != sub.callback:
        return "new_callback"  # http.public_url changed: the hub must be given the new URL
    if sub.state == "active" and sub.lease_end is not None and sub.lease_end <= now:
        return "expire"  # even with a renewal under way: polling must resume meanwhile
    if asked is not None:
        return "unverified" if now - asked >= VERIFY_WAIT else None
    retry_due = sub.next_attempt is None or sub.next_attempt <= now
    if sub.state == "active":
        renew = renew_at(sub)
        return "subscribe" if renew is not None and renew <= now and retry_due else None
    return "subscribe" if retry_due else None


def pushed_interval(decided: PollDecision, max_interval: timedelta) -> PollDecision:
    """While pushes are expected, polling is only the safety net."""
    return PollDecision(max(decided.interval, max_interval),
                        "push: WebSub subscription active; polled at poll.max_interval as "
                        "a safety net")


def push_shown(sub: Subscription | None, now: datetime) -> str:
    """The PUSH column of ``watcher feeds``."""
    if sub is None:
        return "-"
    if sub.active(now):
        assert sub.lease_end is not None
        renewing = ", renewing" if sub.requested_at is not None else ""
        return f"active until {sub.lease_end:%Y-%m-%d %H:%M} UTC{renewing}"
    if sub.state == "denied":
        return sub.last_error or "denied by the hub"
    if sub.state == "failed":
        return f"failed x{sub.failures}: {sub.last_error}"
    shown = {"new": "hub offered, subscribing", "requested": "awaiting the hub's verification",
             "expired": "lease expired, resubscribing", "leaving": "unsubscribing",
             "active": "lease expired"}
    return shown[sub.state]

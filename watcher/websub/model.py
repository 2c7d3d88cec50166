"""A WebSub subscription as the index keeps it, and the hub a poll found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# new: a hub is offered, nothing asked yet; requested: subscribe sent, not yet verified;
# active: verified, pushes expected until lease_end; denied: the hub refused; failed: the
# request or its verification failed (retried with backoff); expired: the lease ended
# unrenewed; leaving: unsubscribe to send (or sent), the row goes once it is verified.
SubscriptionState = Literal["new", "requested", "active", "denied", "failed", "expired",
                            "leaving"]
CALLBACK_PATH = "/websub/"


@dataclass(frozen=True)
class HubOffer:
    """What a feed's response said: where to subscribe, and to which topic URL."""

    hub: str
    topic: str


@dataclass(frozen=True)
class Subscription:
    feed: str
    hub: str
    topic: str
    callback_id: str  # the unguessable last part of the callback URL
    callback: str  # the whole URL the hub was (or will be) given
    secret: str = field(repr=False)  # hub.secret: never logged, never shown
    state: SubscriptionState = "new"
    requested_at: datetime | None = None  # a request awaits the hub's verification
    verified_at: datetime | None = None
    lease_end: datetime | None = None
    failures: int = 0
    next_attempt: datetime | None = None
    last_error: str | None = None
    last_push: datetime | None = None
    pushes: int = 0  # valid pushes received
    poll_requests: int = 0  # pushes and lost leases: each asks the daemon for a poll
    polls_taken: int = 0  # poll_requests already answered by a poll

    def active(self, now: datetime) -> bool:
        """Pushes are expected now: verified, and the lease has not run out."""
        return (self.state == "active" and self.lease_end is not None
                and self.lease_end > now)


def callback_url(public_url: str, callback_id: str) -> str:
    return f"{public_url.rstrip('/')}{CALLBACK_PATH}{callback_id}"

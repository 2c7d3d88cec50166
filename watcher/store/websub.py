"""``store.websub``: WebSub subscriptions (``websub_subscriptions``), shared by the web
process (what hubs tell us) and the daemon (what we ask hubs, and the polls pushes ask for).

The two processes never overwrite each other's news: the web process's writes are
targeted updates guarded by what the hub must match (callback id, topic, a request awaiting
verification); the daemon's are compare-and-set on the state it read (``change``), so a
verification that lands between its read and its write wins, and the daemon looks again
on its next round.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update

from watcher.store.schema import websub_subscriptions as subs
from watcher.websub.model import HubOffer, Subscription

_FIELDS = tuple(f.name for f in fields(Subscription))
# What the daemon compares before it writes: the columns the web process may change.
_GUARDED = ("state", "requested_at", "lease_end", "callback_id")


def _subscription(row: Any) -> Subscription:
    return Subscription(**{name: row._mapping[name] for name in _FIELDS})


class WebSubStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading ---------------------------------------------------------------------------

    def get(self, feed: str) -> Subscription | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subs).where(subs.c.feed == feed)).first()
        return None if row is None else _subscription(row)

    def all(self) -> list[Subscription]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(subs).order_by(subs.c.feed)).all()
        return [_subscription(row) for row in rows]

    def by_callback(self, callback_id: str) -> Subscription | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subs).where(subs.c.callback_id == callback_id)).first()
        return None if row is None else _subscription(row)

    def poll_requests(self) -> dict[str, int]:
        """Feeds with pushes (or lost leases) no poll has answered yet: feed -> requests."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(subs.c.feed, subs.c.poll_requests).where(
                subs.c.poll_requests > subs.c.polls_taken)).all()
        return {row.feed: row.poll_requests for row in rows}

    # -- the poller's side -----------------------------------------------------------------

    def offered(self, feed: str, offer: HubOffer, fresh: Subscription) -> None:
        """A poll found ``offer``: start with ``fresh`` (a new callback id and secret) when
        the feed had no subscription, was leaving, or moved to another hub or topic."""
        with self.engine.begin() as conn:
            row = conn.execute(select(subs.c.hub, subs.c.topic, subs.c.state).where(
                subs.c.feed == feed)).first()
            if row is not None and (row.hub, row.topic) == (offer.hub, offer.topic) \
                    and row.state != "leaving":
                return
            values = {name: getattr(fresh, name) for name in _FIELDS}
            if row is None:
                conn.execute(subs.insert().values(**values))
            else:
                conn.execute(update(subs).where(subs.c.feed == feed).values(**values))

    def withdrawn(self, feed: str) -> None:
        """A poll found no hub any more: the daemon unsubscribes."""
        with self.engine.begin() as conn:
            conn.execute(update(subs).where(subs.c.feed == feed, subs.c.state != "leaving")
                         .values(state="leaving", requested_at=None))

    def take_poll_requests(self, feed: str, requests: int) -> None:
        """A poll starts now for the requests up to ``requests``; later ones ask again."""
        with self.engine.begin() as conn:
            conn.execute(update(subs).where(subs.c.feed == feed,
                                            subs.c.polls_taken < requests)
                         .values(polls_taken=requests))

    # -- the web process's side (what hubs tell us) ----------------------------------------

    def verified(self, callback_id: str, mode: str, topic: str, lease_end: datetime | None,
                 now: datetime) -> bool:
        """The hub asks whether we want ``mode`` of ``topic``: True (and recorded) only for
        a request of ours awaiting exactly that verification."""
        awaited = [subs.c.callback_id == callback_id, subs.c.topic == topic,
                   subs.c.requested_at.is_not(None)]
        with self.engine.begin() as conn:
            if mode == "unsubscribe":
                done = conn.execute(delete(subs).where(*awaited, subs.c.state == "leaving"))
            elif mode == "subscribe" and lease_end is not None:
                done = conn.execute(update(subs).where(*awaited, subs.c.state != "leaving")
                                    .values(state="active", requested_at=None,
                                            verified_at=now, lease_end=lease_end, failures=0,
                                            next_attempt=None, last_error=None))
            else:
                return False
        return done.rowcount == 1

    def denied(self, callback_id: str, topic: str, reason: str, retry_at: datetime) -> bool:
        """The hub refused (or ended) the subscription; polling resumes its own pace."""
        with self.engine.begin() as conn:
            done = conn.execute(update(subs).where(
                subs.c.callback_id == callback_id, subs.c.topic == topic,
                subs.c.state != "leaving").values(
                    state="denied", requested_at=None, lease_end=None, last_error=reason,
                    next_attempt=retry_at, poll_requests=subs.c.poll_requests + 1))
        return done.rowcount == 1

    def pushed(self, callback_id: str, now: datetime) -> bool:
        """A valid push: the daemon polls the feed at its next tick."""
        with self.engine.begin() as conn:
            done = conn.execute(update(subs).where(subs.c.callback_id == callback_id).values(
                last_push=now, pushes=subs.c.pushes + 1,
                poll_requests=subs.c.poll_requests + 1))
        return done.rowcount == 1

    # -- the daemon's side (what we ask hubs) ----------------------------------------------

    def change(self, read: Subscription, **values: Any) -> bool:
        """Write ``values`` unless the web process changed the row since ``read``."""
        where = [subs.c.feed == read.feed]
        for name in _GUARDED:
            column, was = subs.c[name], getattr(read, name)
            where.append(column.is_(None) if was is None else column == was)
        with self.engine.begin() as conn:
            done = conn.execute(update(subs).where(*where).values(**values))
        return done.rowcount == 1

    def ask_for_poll(self, feed: str) -> None:
        """Pushes stopped (the lease ran out): poll soon, at the feed's own pace again."""
        with self.engine.begin() as conn:
            conn.execute(update(subs).where(subs.c.feed == feed)
                         .values(poll_requests=subs.c.poll_requests + 1))

    def forget(self, read: Subscription) -> bool:
        where = [subs.c.feed == read.feed, subs.c.state == read.state,
                 subs.c.callback_id == read.callback_id]
        with self.engine.begin() as conn:
            return conn.execute(delete(subs).where(*where)).rowcount == 1

"""The poller's side of WebSub: after each poll, record the hub the feed offers (or no
longer offers) and say whether pushes are expected, so the feed is polled only as a
safety net meanwhile (``lease.pushed_interval``)."""

from __future__ import annotations

import secrets
from datetime import datetime

from watcher.config import Config, FeedConfig
from watcher.store import Store
from watcher.websub.model import HubOffer, Subscription, callback_url

CALLBACK_ID_BYTES = 24  # unguessable: the callback URL is the only thing a forger must know
SECRET_BYTES = 32


def public_url(config: Config) -> str | None:
    """Where hubs reach us; None: WebSub is off."""
    return config.http.public_url if config.http is not None else None


def pushes_wanted(config: Config, feed: FeedConfig) -> bool:
    return feed.enabled and feed.websub and public_url(config) is not None


def fresh_subscription(feed: str, offer: HubOffer, base_url: str) -> Subscription:
    """A subscription not yet asked for, with its own callback id and secret."""
    callback_id = secrets.token_urlsafe(CALLBACK_ID_BYTES)
    return Subscription(feed=feed, hub=offer.hub, topic=offer.topic, callback_id=callback_id,
                        callback=callback_url(base_url, callback_id),
                        secret=secrets.token_hex(SECRET_BYTES))


class FeedPush:
    """What the pipeline asks after a poll; nothing at all while WebSub is off."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store

    def after_poll(self, feed: FeedConfig, polled_ok: bool, offer: HubOffer | None,
                   now: datetime) -> bool:
        """Record the offer a successful poll found; True while pushes are expected."""
        base_url = public_url(self.config)
        if base_url is None or not pushes_wanted(self.config, feed):
            return False
        known = self.store.websub.get(feed.name)
        if polled_ok and offer is not None and (
                known is None or known.state == "leaving"
                or (known.hub, known.topic) != (offer.hub, offer.topic)):
            self.store.websub.offered(feed.name, offer,
                                      fresh_subscription(feed.name, offer, base_url))
            known = self.store.websub.get(feed.name)
        elif polled_ok and offer is None and known is not None and known.state != "leaving":
            self.store.websub.withdrawn(feed.name)
            return False
        return known is not None and known.active(now)

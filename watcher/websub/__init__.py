"""WebSub push (W3C Recommendation): a hub tells us when a feed changes, so it is polled
at once instead of on its schedule. Only with ``http.public_url`` set (docs/feeds.md).

- ``model``: the subscription as plain frozen data, the hub a poll found.
- ``discovery``: which hub and topic a feed offers (Link headers first, then the document).
- ``lease``: pure decisions: what a subscription needs next (subscribe, renew, give up,
  unsubscribe), when to renew, how long to back off; the polling interval while pushed.
- ``signature``: the X-Hub-Signature check (HMAC of the raw body, constant-time).
- ``callback``: the web process's ``/websub/<id>`` routes: verification of intent, denials,
  content distribution (a valid push asks the daemon for a poll of the feed).
- ``subscriber``: the daemon's round over the subscriptions: requests to hubs through the
  guarded client.

The subscriptions live in the index (``store.websub``), the one thing both processes share.
This package file imports nothing, so the store may import ``model`` without a cycle.
"""

"""The daemon's side of WebSub: each round, every subscription gets what it needs next
(``lease.next_step``): a subscription request, a renewal, an unsubscription, or the
bookkeeping of a request the hub never verified or a lease that ran out.

Requests to hubs go through the watcher's one guarded client (the SSRF guard and its
timeouts); a hub's 307/308 is followed hop by hop like any redirect. A request only asks:
the hub answers ``202 Accepted`` and then verifies our intent on the callback (the web
process, ``callback.py``), so the row is marked "awaiting verification" before it is sent
(a hub may verify before it even answers).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import httpx

from watcher.clock import Clock
from watcher.config import Config, NetworkConfig
from watcher.errors import WatcherError
from watcher.store import Store
from watcher.websub.lease import LEASE_ASKED, Step, Wanted, next_step, retry_delay
from watcher.websub.model import HubOffer, Subscription, callback_url
from watcher.websub.offers import fresh_subscription, public_url, pushes_wanted

log = logging.getLogger("watcher.websub")

ERROR_BODY_CHARS = 200  # of a hub's refusal, kept as the subscription's last error
_READ_AT_MOST = 4096  # bytes of a hub's answer read; it is only shown, never parsed


class Subscriber:
    def __init__(self, store: Store, client: httpx.AsyncClient, network: NetworkConfig, *,
                 clock: Clock) -> None:
        self.store = store
        self.client = client
        self.network = network
        self.clock = clock

    async def round(self, config: Config) -> None:
        """One pass over every subscription; one that fails never stops the others."""
        base = public_url(config)
        feeds = {feed.name: feed for feed in config.feeds}
        for sub in self.store.websub.all():
            feed = feeds.get(sub.feed)
            wanted = Wanted(feed is not None and pushes_wanted(config, feed),
                            callback_url(base, sub.callback_id) if base else None)
            step = next_step(sub, wanted, self.clock())
            if step is None:
                continue
            try:
                await self._take(step, sub, base)
            except WatcherError as exc:
                log.error("websub feed=%s %s: %s", sub.feed, step, exc)

    async def _take(self, step: Step, sub: Subscription, base: str | None) -> None:
        now = self.clock()
        websub = self.store.websub
        if step == "subscribe":
            await self._subscribe(sub, now)
        elif step == "unsubscribe":
            if websub.change(sub, state="leaving", requested_at=now):
                error = await self._request(sub, "unsubscribe")
                # Best effort: a hub that cannot be told keeps pushing until the lease
                # ends, and a push to a forgotten callback is answered 410 Gone.
                log.info("websub feed=%s unsubscribe at %s: %s", sub.feed, sub.hub,
                         error or "requested")
        elif step == "unverified":
            self._failed(sub, now, "the hub did not verify the request")
        elif step == "expire":
            if websub.change(sub, state="expired"):
                websub.ask_for_poll(sub.feed)
                log.warning("websub feed=%s: the lease ended unrenewed; polling resumes",
                            sub.feed)
        elif step == "forget":
            websub.forget(sub)
        elif step == "new_callback" and base is not None:
            fresh = fresh_subscription(sub.feed, _offer(sub), base)
            if websub.change(sub, callback_id=fresh.callback_id, callback=fresh.callback,
                             secret=fresh.secret, state="new", requested_at=None,
                             verified_at=None, lease_end=None, failures=0, next_attempt=None,
                             last_error=None) and sub.active(now):
                websub.ask_for_poll(sub.feed)

    async def _subscribe(self, sub: Subscription, now: datetime) -> None:
        state = "active" if sub.state == "active" else "requested"  # a renewal stays active
        if not self.store.websub.change(sub, state=state, requested_at=now):
            return  # the hub told the web process something meanwhile: next round
        error = await self._request(sub, "subscribe")
        if error is None:
            log.info("websub feed=%s subscription %s at %s", sub.feed,
                     "renewal requested" if state == "active" else "requested", sub.hub)
            return
        current = self.store.websub.get(sub.feed)
        if current is not None and current.requested_at == now:
            self._failed(current, now, error)

    def _failed(self, sub: Subscription, now: datetime, error: str) -> None:
        failures = sub.failures + 1
        if self.store.websub.change(
                sub, requested_at=None, failures=failures, last_error=error,
                next_attempt=now + retry_delay(failures),
                state=sub.state if sub.state == "active" else "failed"):
            log.warning("websub feed=%s: %s (attempt %d; retried with backoff)", sub.feed,
                        error, failures)

    async def _request(self, sub: Subscription, mode: str) -> str | None:
        """Ask the hub; None when it accepted (2xx), else why not."""
        form = {"hub.mode": mode, "hub.topic": sub.topic, "hub.callback": sub.callback}
        if mode == "subscribe":
            form["hub.secret"] = sub.secret
            form["hub.lease_seconds"] = str(int(LEASE_ASKED.total_seconds()))
        url = sub.hub
        try:
            async with asyncio.timeout(self.network.total_timeout):
                for _hop in range(self.network.max_redirects + 1):
                    status, location, text = await self._post(url, form)
                    if status in (307, 308) and location:
                        url = str(httpx.URL(url).join(location))
                        continue
                    if 200 <= status < 300:
                        return None
                    return f"the hub answered HTTP {status}: {text[:ERROR_BODY_CHARS]}"
                return f"the hub redirected more than {self.network.max_redirects} times"
        except TimeoutError:
            return f"the hub did not answer within {self.network.total_timeout:g}s"
        except (httpx.HTTPError, WatcherError, OSError) as exc:
            return f"cannot reach the hub: {exc or type(exc).__name__}"

    async def _post(self, url: str, form: dict[str, str]) -> tuple[int, str, str]:
        async with self.client.stream("POST", url, data=form) as response:
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= _READ_AT_MOST:
                    break
            text = " ".join(body[:_READ_AT_MOST].decode("utf-8", "replace").split())
            return response.status_code, response.headers.get("location", ""), text


def _offer(sub: Subscription) -> HubOffer:
    return HubOffer(sub.hub, sub.topic)

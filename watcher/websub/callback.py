"""``/websub/<callback id>`` in the web process: what hubs tell us (WebSub sections 5.3,
5.2 and 8).

- ``GET`` with ``hub.mode=subscribe|unsubscribe``: verification of intent. The challenge is
  echoed only for a request of ours awaiting exactly that mode and topic; anything else is
  404, as the spec asks of a subscriber that does not agree.
- ``GET`` with ``hub.mode=denied``: the hub refused; recorded and shown by ``watcher feeds``.
- ``POST``: content distribution. The body is read up to ``network.max_feed_bytes``; it
  counts only with a valid ``X-Hub-Signature`` (HMAC with the subscription's secret). A
  missing or wrong signature is still answered 2xx, as the spec allows, so a forger learns
  nothing, and changes nothing. An unknown callback is 410 Gone (the hub may drop it).

A valid push does not hand the body to anyone: it asks the daemon for a poll of the feed
(``store.websub.pushed``), which its next tick starts (docs/feeds.md says why).

These routes sit under ``open_prefixes``: hubs carry no bearer token; the unguessable
callback id, the topic check and the signature are the access control.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from watcher.clock import Clock, system_clock
from watcher.config import Config
from watcher.store import Store
from watcher.websub.lease import AFTER_DENIAL
from watcher.websub.model import CALLBACK_PATH
from watcher.websub.offers import public_url
from watcher.websub.signature import signature_valid

log = logging.getLogger("watcher.websub")

PUSHES = Counter("watcher_websub_pushes", "WebSub content distributions received, by "
                 "outcome (accepted, no_signature, bad_signature, unknown_callback, "
                 "too_large).", ["outcome"], registry=None)
VERIFICATIONS = Counter("watcher_websub_verifications", "WebSub requests of hubs to "
                        "confirm or deny a subscription, by outcome (confirmed, refused, "
                        "denied).", ["outcome"], registry=None)
COLLECTORS = (PUSHES, VERIFICATIONS)
MAX_LEASE_SECONDS = 10 * 365 * 86400  # a larger hub.lease_seconds is not a lease
OPEN_PREFIX = CALLBACK_PATH


def routes(store: Store, config: Callable[[], Config], *,
           clock: Clock = system_clock) -> list[BaseRoute]:
    """The callback endpoint; it answers 404 to everything while WebSub is off."""

    async def callback(request: Request) -> Response:
        if public_url(config()) is None:
            return PlainTextResponse("not found\n", status_code=404)
        callback_id = request.path_params["callback_id"]
        if request.method == "GET":
            return await run_in_threadpool(_verify, store, callback_id,
                                           dict(request.query_params), clock)
        return await _distribute(store, callback_id, request, config().network.max_feed_bytes,
                                 clock)

    return [Route(f"{CALLBACK_PATH}{{callback_id}}", callback, methods=["GET", "POST"])]


def _verify(store: Store, callback_id: str, params: dict[str, str], clock: Clock) -> Response:
    mode, topic = params.get("hub.mode", ""), params.get("hub.topic", "")
    now = clock()
    if mode == "denied":
        reason = " ".join(params.get("hub.reason", "").split())[:500]
        said = f"denied by the hub: {reason or 'no reason given'}"
        if store.websub.denied(callback_id, topic, said, now + AFTER_DENIAL):
            VERIFICATIONS.labels(outcome="denied").inc()
            log.warning("websub: the hub denied the subscription to %s: %s", topic,
                        reason or "no reason given")
            return PlainTextResponse("ok\n")
        return _refused()
    challenge = params.get("hub.challenge")
    lease = _lease_seconds(params.get("hub.lease_seconds"))
    lease_end = now + lease if lease is not None else None
    if (mode not in ("subscribe", "unsubscribe") or not challenge
            or not store.websub.verified(callback_id, mode, topic, lease_end, now)):
        return _refused()
    VERIFICATIONS.labels(outcome="confirmed").inc()
    log.info("websub: %s of %s confirmed%s", mode, topic,
             f" until {lease_end:%Y-%m-%d %H:%M} UTC" if lease_end else "")
    return PlainTextResponse(challenge)


def _refused() -> Response:
    VERIFICATIONS.labels(outcome="refused").inc()
    return PlainTextResponse("not found\n", status_code=404)


def _lease_seconds(text: str | None) -> timedelta | None:
    if text is None or not text.strip().isdigit():
        return None
    seconds = int(text.strip())
    return timedelta(seconds=seconds) if 0 < seconds <= MAX_LEASE_SECONDS else None


async def _distribute(store: Store, callback_id: str, request: Request, cap: int,
                      clock: Clock) -> Response:
    sub = await run_in_threadpool(store.websub.by_callback, callback_id)
    if sub is None or sub.state == "leaving":
        PUSHES.labels(outcome="unknown_callback").inc()
        return PlainTextResponse("no such subscription\n", status_code=410)
    body = await _read_capped(request, cap)
    if body is None:
        PUSHES.labels(outcome="too_large").inc()
        log.warning("websub feed=%s: a push over network.max_feed_bytes was refused",
                    sub.feed)
        return PlainTextResponse("too large\n", status_code=413)
    header = request.headers.get("x-hub-signature")
    if not signature_valid(header, body, sub.secret):
        outcome = "no_signature" if not header else "bad_signature"
        PUSHES.labels(outcome=outcome).inc()
        log.warning("websub feed=%s: a push with %s was ignored", sub.feed,
                    "no signature" if not header else "a wrong signature")
        return PlainTextResponse("accepted\n", status_code=202)
    await run_in_threadpool(store.websub.pushed, callback_id, clock())
    PUSHES.labels(outcome="accepted").inc()
    log.info("websub feed=%s: push received (%d bytes); the feed is polled now", sub.feed,
             len(body))
    return PlainTextResponse("accepted\n", status_code=202)


async def _read_capped(request: Request, cap: int) -> bytes | None:
    """The raw body, or None past ``cap`` bytes (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            return None
    return bytes(body)

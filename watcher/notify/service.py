"""The delivery service: what the scheduler and the CLI call.

    on_stored(filed, now)       after each poll: immediate alerts (throttled per rule)
    run_digest(name, now)       at each digest's cron time: build, fix, enqueue, deliver
    deliver_pending(now)        every minute: retries, held alerts whose window has passed
    preview(name, now)          render what ``run_digest`` would send; changes nothing

The outbox (``watcher.store.outbox``) is the truth: a run is fixed before anything is sent,
and a delivery is marked sent only after its channel accepted it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from watcher.clock import Clock, system_clock
from watcher.config import Config, DigestConfig
from watcher.digest import (
    BuildSpec,
    Digest,
    Rendered,
    build_digest,
    digest_from_json,
    digest_to_json,
    render_all,
)
from watcher.digest.present import plural
from watcher.errors import PermanentDeliveryError, TransientDeliveryError, WatcherError
from watcher.notify.base import Channel
from watcher.notify.message import Outgoing, outgoing
from watcher.notify.registry import make_channel
from watcher.notify.timing import RetryPolicy, latest_slot
from watcher.store.boilerplate import BoilerplateStore
from watcher.store.outbox import Delivery, DeliveryStatus, NewRun, Outbox, Run
from watcher.types import Filed

log = logging.getLogger(__name__)

FIRST_RUN_WINDOW = timedelta(hours=24)  # a digest's first run covers the last day
ALERT_LIST = 5  # articles listed in one alert message; the rest are counted


class RuleLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def alert(self) -> str: ...
    @property
    def digests(self) -> tuple[str, ...] | None: ...
    @property
    def channels(self) -> tuple[str, ...]: ...
    @property
    def enabled(self) -> bool: ...


class RuleSetLike(Protocol):
    @property
    def rules(self) -> Sequence[RuleLike]: ...


class HasOutbox(Protocol):
    """The store as the delivery service needs it (``watcher.store.Store``)."""

    @property
    def outbox(self) -> Outbox: ...
    @property
    def boilerplate(self) -> BoilerplateStore: ...


@dataclass(frozen=True)
class DeliveryState:
    channel: str
    state: DeliveryStatus
    attempts: int
    error: str | None


@dataclass(frozen=True)
class DigestRun:
    key: str
    created: bool  # False: this slot was already built (nothing new), or it was skipped
    items: int
    skipped: str | None = None  # why nothing was enqueued
    deliveries: tuple[DeliveryState, ...] = ()


class DeliveryService:
    def __init__(self, config: Config, store: HasOutbox, client: httpx.AsyncClient,
                 rules: Callable[[], RuleSetLike], *, retry: RetryPolicy | None = None,
                 rng: random.Random | None = None, lock: asyncio.Lock | None = None,
                 clock: Clock = system_clock) -> None:
        self.config = config
        self.outbox = store.outbox
        self.boilerplate = store.boilerplate
        self.client = client
        self.rules = rules
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        self._channels: dict[str, Channel] = {
            c.name: make_channel(c, client, clock=clock) for c in config.channels}
        # One delivery pass at a time per process: the scheduler's minute tick and a digest
        # run must not both pick up the same due row (the claim also guards across processes).
        # A reload's new service is given its predecessor's lock.
        self._lock = lock or asyncio.Lock()
        self._immediate: tuple[RuleSetLike, dict[str, tuple[str, ...]]] | None = None

    # -- digests --------------------------------------------------------------------------

    def digest_config(self, name: str | None) -> DigestConfig:
        if name is None:
            if not self.config.digests:
                raise WatcherError("no digests are configured")
            return self.config.digests[0]
        for digest in self.config.digests:
            if digest.name == name:
                return digest
        known = ", ".join(d.name for d in self.config.digests) or "none"
        raise WatcherError(f"no digest named '{name}' (configured: {known})")

    def digest_rules(self, digest: DigestConfig) -> tuple[str, ...]:
        """The rule set's enabled rules this digest takes, in rule-set order."""
        return tuple(r.name for r in self.rules().rules
                     if r.enabled and (digest.rules is None or r.name in digest.rules)
                     and (r.digests is None or digest.name in r.digests))

    def build(self, name: str | None, now: datetime) -> Digest:
        """The digest that would be sent now (reads the index, writes nothing)."""
        digest = self.digest_config(name)
        since = self.outbox.last_cutoff("digest", digest.name) or now - FIRST_RUN_WINDOW
        rule_order = self.digest_rules(digest)
        candidates = self.outbox.candidates(since, now, rule_order,
                                            exclude_alerted=not digest.include_alerted)
        # The sites' boilerplate as ingestion learned it, so folding ignores appeals too.
        settings = self.config.extract
        boilerplate = {site: self.boilerplate.known(site, settings.boilerplate_min_articles,
                                                    now - settings.boilerplate_window)
                       for site in {c.site for c in candidates}}
        spec = BuildSpec(name=digest.name, timezone=digest.timezone, since=since, until=now,
                         rule_order=rule_order)
        return build_digest(spec, candidates, notices=self.outbox.pending_notices(),
                            boilerplate=boilerplate)

    def preview(self, name: str | None, now: datetime) -> Rendered:
        return render_all(self.build(name, now))

    async def run_digest(self, name: str, now: datetime, *, force: bool = False) -> DigestRun:
        """Build, fix and deliver the digest of the slot ``now`` falls in.

        Idempotent per slot: a second call for the same slot builds nothing and only
        delivers what is still due. ``force`` makes an extra run at ``now`` (its items: what
        matched since the last run).
        """
        digest_config = self.digest_config(name)
        slot = None if force else latest_slot(digest_config.schedule,
                                              digest_config.timezone, now)
        key = (f"digest:{digest_config.name}@{(slot or now).astimezone(UTC).isoformat()}"
               + ("" if slot else "/manual"))
        existing = self.outbox.find_run(key)
        if existing is None:
            digest = self.build(digest_config.name, now)
            skipped = self._skip_reason(digest_config, digest)
            if skipped:
                log.info("digest %s: not sent: %s", digest_config.name, skipped)
                return DigestRun(key, created=False, items=digest.item_count, skipped=skipped)
            existing = self.outbox.create_run(NewRun(
                key=key, kind="digest", name=digest_config.name, since=digest.since,
                cutoff=now, created=now, item_count=digest.item_count,
                payload=digest_to_json(digest), channels=digest_config.channels),
                notices=digest.notices)
            created = existing is not None
            existing = existing or self.outbox.find_run(key)
            assert existing is not None
            log.info("digest %s: fixed run %s: %d items, %d notices, channels %s",
                     digest_config.name, key, digest.item_count, len(digest.notices),
                     ", ".join(digest_config.channels))
        else:
            created = False
        await self.deliver_pending(now)
        states = tuple(DeliveryState(d.channel, d.state, d.attempts, d.last_error)
                       for d in self.outbox.deliveries(run_id=existing.id))
        return DigestRun(key, created=created, items=existing.item_count, deliveries=states)

    @staticmethod
    def _skip_reason(config: DigestConfig, digest: Digest) -> str | None:
        if not config.channels:
            return "no channels configured for this digest"
        if digest.item_count == 0 and not digest.notices:
            return None if config.send_empty else "nothing matched (send_empty is off)"
        if 0 < digest.item_count < config.min_items and not digest.notices:
            # Not sent and not cut off: these items carry over into the next run.
            return (f"{plural(digest.item_count, 'item')}, fewer than min_items "
                    f"{config.min_items}")
        return None

    # -- immediate alerts -----------------------------------------------------------------

    async def on_stored(self, stored: Sequence[Filed], now: datetime) -> None:
        self.hold_alerts(stored, now)
        await self.deliver_pending(now)

    def hold_alerts(self, stored: Sequence[Filed], now: datetime) -> None:
        """Hold the articles of immediate rules for their next alert. In a cluster the
        workers only hold them; the one scheduler makes and sends the alerts."""
        immediate = self._immediate_rules()
        if not immediate:
            return
        # Gathered from the matches, not asked of every immediate rule: thousands of topic
        # rules, each article matching a hundred of them, would make that a product.
        matched: dict[str, list[int]] = defaultdict(list)
        for filed in stored:
            for rule in filed.rules:
                if rule in immediate:
                    matched[rule].append(filed.number)
        if matched:
            self.outbox.hold_alert_articles(
                {rule: matched[rule] for rule in immediate if rule in matched}, now)

    def _immediate_rules(self) -> dict[str, tuple[str, ...]]:
        """Enabled immediate rules and their channels (the rule's, else the alert default),
        in rule-set order; worked out once per rule set."""
        rules = self.rules()
        if self._immediate is None or self._immediate[0] is not rules:
            self._immediate = (rules, {
                r.name: r.channels or self.config.alerts.channels for r in rules.rules
                if r.enabled and r.alert == "immediate"})
        return self._immediate[1]

    def _flush_alerts(self, now: datetime) -> None:
        """Turn held articles into one alert run per rule whose throttle window has passed."""
        immediate = self._immediate_rules()
        held = self.outbox.held_alerts()
        last_sent = self.outbox.alerts_last_sent(held)  # asked once, not once a rule
        for rule, numbers in held.items():
            channels = immediate.get(rule)
            if not channels:
                why = "no longer an immediate rule" if channels is None else "has no channels"
                log.warning("alerts for rule %s dropped to the digest: %s", rule, why)
                self.outbox.release_held(rule, numbers)
                continue
            last = last_sent.get(rule)
            if last is not None and now - last < self.config.alerts.throttle:
                continue
            self._enqueue_alert(rule, numbers, channels, now)

    def _enqueue_alert(self, rule: str, numbers: list[int], channels: tuple[str, ...],
                       now: datetime) -> None:
        candidates = self.outbox.articles_for_rule(rule, numbers)
        candidates.sort(key=lambda c: (c.when, c.number), reverse=True)
        listed, rest = candidates[:ALERT_LIST], candidates[ALERT_LIST:]
        # The alert shows the rule alone; the article's other rules still get the digest.
        listed = [replace(c, rules=(rule,)) for c in listed]
        timezone = self.config.digests[0].timezone if self.config.digests else "UTC"
        spec = BuildSpec(name=rule, timezone=timezone, since=now, until=now,
                         rule_order=(rule,), kind="alert")
        digest = build_digest(spec, listed, more=len(rest))
        run = self.outbox.create_run(
            NewRun(key=f"alert:{rule}@{now.astimezone(UTC).isoformat()}", kind="alert",
                   name=rule, since=now, cutoff=now, created=now,
                   item_count=digest.item_count, payload=digest_to_json(digest),
                   channels=channels),
            alert_listed=[c.number for c in listed], alert_counted=[c.number for c in rest])
        if run is not None:
            log.info("alert %s: %d listed, %d counted, channels %s", rule, len(listed),
                     len(rest), ", ".join(channels))

    # -- delivering -----------------------------------------------------------------------

    async def deliver_pending(self, now: datetime) -> None:
        async with self._lock:
            self._flush_alerts(now)
            due = self.outbox.due(now, self.retry.lease)
            messages: dict[int, Outgoing] = {}
            claimed: list[Delivery] = []
            unrenderable: dict[int, str] = {}
            for delivery in due:
                if self.outbox.claim(delivery, now):
                    claimed.append(delivery)
                    if delivery.run_id not in messages and delivery.run_id not in unrenderable:
                        try:
                            messages[delivery.run_id] = _message(self.outbox.run(delivery.run_id))
                        except Exception as exc:  # any: one broken run must not stop the rest
                            log.exception("run %d cannot be rendered", delivery.run_id)
                            unrenderable[delivery.run_id] = f"cannot be rendered: {exc!r}"[:500]
            for delivery in claimed:
                if delivery.run_id in unrenderable:
                    self.outbox.mark_failed(delivery.id, now, unrenderable[delivery.run_id])
            await asyncio.gather(*(self._deliver(d, messages[d.run_id], now) for d in claimed
                                   if d.run_id in messages))

    async def _deliver(self, delivery: Delivery, message: Outgoing, now: datetime) -> None:
        attempt = delivery.attempts + 1
        channel = self._channels.get(delivery.channel)
        where = f"{message.key} -> {delivery.channel}"
        if channel is None:
            error = f"channel '{delivery.channel}' is no longer configured"
            log.error("delivery %s failed: %s", where, error)
            self.outbox.mark_failed(delivery.id, now, error)
            return
        try:
            sent_id = await channel.send(
                message, parts_done=delivery.parts_done,
                mark_part=lambda n: self.outbox.mark_part(delivery.id, n))
        except PermanentDeliveryError as exc:
            log.error("delivery %s failed for good (attempt %d): %s", where, attempt, exc)
            self.outbox.mark_failed(delivery.id, now, str(exc))
        except TransientDeliveryError as exc:
            self._retry_or_fail(delivery, now, where, str(exc), exc.retry_after)
        except Exception as exc:  # a bug in a channel must not strand the row in "sending"
            log.exception("delivery %s: unexpected error", where)
            self._retry_or_fail(delivery, now, where, f"internal error: {exc!r}", None)
        else:
            if message.note:
                # Shown by ``watcher outbox`` first, so a cut column still says it.
                sent_id = f"{message.note}; {sent_id}"
            log.info("delivered %s (attempt %d): %s", where, attempt, sent_id)
            self.outbox.mark_sent(delivery.id, now, sent_id)

    def _retry_or_fail(self, delivery: Delivery, now: datetime, where: str, error: str,
                       retry_after: float | None) -> None:
        attempt = delivery.attempts + 1
        if attempt >= self.retry.max_attempts:
            error = f"gave up after {attempt} attempts: {error}"
            log.error("delivery %s failed: %s", where, error)
            self.outbox.mark_failed(delivery.id, now, error)
            return
        wait = self.retry.delay(attempt, self.rng, retry_after)
        log.warning("delivery %s: attempt %d failed, retry in %.0fs: %s", where, attempt,
                    wait.total_seconds(), error)
        self.outbox.mark_retry(delivery.id, now, now + wait, error)


def _message(run: Run) -> Outgoing:
    payload: dict[str, Any] = run.payload
    return outgoing(run.key, digest_from_json(payload), run.created)

"""The daemon that ticks. APScheduler only ticks; the store says which feeds are due.

Jobs: ``tick`` (every few seconds: start polls of due feeds, never two of one feed at once),
``reload`` (notice edits to watcher.yaml and rules.yaml: a good edit takes effect on the next
poll, a bad one is logged and the last good version keeps running), one cron job per
digest, ``deliver`` (retry the outbox) and ``maintenance`` (``Runtime.upkeep``: forget old
unmatched text and the sites' memory outside its window).
SIGTERM/SIGINT: stop taking work, let in-flight polls finish their writes, exit 0.

What the jobs run on is assembled by ``watcher.runtime``; this module only decides when.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from watcher.clock import Clock, system_clock
from watcher.config import Config, FeedConfig
from watcher.pipeline import PollReport
from watcher.rules import RuleSet
from watcher.runtime import Runtime, Service, ServiceGroup

log = logging.getLogger("watcher.daemon")

TICK_SECONDS = 5
RELOAD_SECONDS = 2
DELIVER_SECONDS = 30
WEBSUB_SECONDS = 30  # how often WebSub subscriptions are looked after
UPKEEP_SECONDS = 3600  # how often old text and old site memory are forgotten
# The first upkeep comes soon after the start, after the first polls, rather than an
# interval later: a daemon restarted more often than hourly would otherwise never run one.
FIRST_UPKEEP_SECONDS = 600
SHUTDOWN_GRACE_SECONDS = 20


class Daemon:
    def __init__(self, runtime: Runtime, *, services: Sequence[Service] = (),
                 tick_seconds: float = TICK_SECONDS,
                 reload_seconds: float = RELOAD_SECONDS,
                 first_upkeep_seconds: float = FIRST_UPKEEP_SECONDS) -> None:
        self.runtime = runtime
        self.services = tuple(services)
        self.tick_seconds = tick_seconds
        self.reload_seconds = reload_seconds
        self.first_upkeep_seconds = first_upkeep_seconds
        self.in_flight: dict[str, asyncio.Task[PollReport | None]] = {}
        self.scheduler = AsyncIOScheduler(timezone="UTC")

    async def run(self) -> None:
        """Tick until ``stop()``; then let in-flight polls finish and stop the services."""
        self._schedule_jobs()
        self.scheduler.start()
        services = ServiceGroup(self.services)
        try:
            await services.start(self.runtime)
            log.info("watcher running: %d feeds, %d rules, %d digests",
                     len(self.runtime.config.feeds), len(self.runtime.rules().rules),
                     len(self.runtime.config.digests))
            await self.tick()
            services.up()  # once the first polls have started
            await self.runtime.stopping.wait()
        finally:
            await self._shutdown(services)

    def stop(self) -> None:
        if not self.runtime.stopping.is_set():
            log.info("stopping: finishing the work in flight")
            self.runtime.stopping.set()

    def _schedule_jobs(self) -> None:
        add = self.scheduler.add_job
        add(self.tick, IntervalTrigger(seconds=self.tick_seconds), id="tick",
            max_instances=1, coalesce=True)
        add(self.reload, IntervalTrigger(seconds=self.reload_seconds), id="reload",
            max_instances=1, coalesce=True)
        add(self.deliver, IntervalTrigger(seconds=DELIVER_SECONDS), id="deliver",
            max_instances=1, coalesce=True)
        # APScheduler runs on the machine's time; the runtime's clock says what is old.
        first_upkeep = datetime.now(UTC) + timedelta(seconds=self.first_upkeep_seconds)
        add(self.maintenance, IntervalTrigger(seconds=UPKEEP_SECONDS), id="maintenance",
            max_instances=1, coalesce=True, next_run_time=first_upkeep)
        add(self.keep_subscriptions, IntervalTrigger(seconds=WEBSUB_SECONDS), id="websub",
            max_instances=1, coalesce=True)
        self._schedule_digests()

    def _schedule_digests(self) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest:"):
                job.remove()
        for digest in self.runtime.config.digests:
            trigger = CronTrigger.from_crontab(digest.schedule, timezone=digest.timezone)
            self.scheduler.add_job(self.send_digest, trigger, args=[digest.name],
                                   id=f"digest:{digest.name}", max_instances=1,
                                   coalesce=True, misfire_grace_time=3600)

    async def tick(self) -> None:
        if self.runtime.stopping.is_set():
            return
        now = self.runtime.clock()
        states = self.runtime.store.feed_states()
        # Feeds a WebSub hub pushed (or whose lease ran out) are polled now, whatever
        # their schedule; a push that arrives while its feed is polled asks again.
        pushed = self.runtime.store.websub.poll_requests()
        for feed in self.runtime.config.feeds:
            state = states.get(feed.name)
            if (not feed.enabled or state is None or feed.name in self.in_flight
                    or not (state.is_due(now)
                            or (feed.name in pushed and state.status != "gone"))):
                continue
            if feed.name in pushed:
                self.runtime.store.websub.take_poll_requests(feed.name, pushed[feed.name])
            task = asyncio.create_task(self._poll(feed), name=f"poll:{feed.name}")
            self.in_flight[feed.name] = task
            task.add_done_callback(self._forget_poll)

    def _forget_poll(self, task: asyncio.Task[PollReport | None]) -> None:
        name = task.get_name().removeprefix("poll:")
        if self.in_flight.get(name) is task:
            del self.in_flight[name]

    async def _poll(self, feed: FeedConfig) -> PollReport | None:
        report = await self.runtime.poll(feed)
        if report is not None and report.stored:
            try:
                await self.runtime.alert(report.stored)
            except Exception:
                log.exception("immediate alerts for feed=%s failed; the outbox retries",
                              feed.name)
        return report

    async def reload(self) -> None:
        reloaded = await self.runtime.take_up_edits()
        if reloaded is not None and reloaded.digests_changed:
            self._schedule_digests()

    async def deliver(self) -> None:
        await self.runtime.deliver_pending()

    async def send_digest(self, name: str) -> None:
        try:
            await self.runtime.send_digest(name)
        except Exception:
            log.exception("digest %s failed; its deliveries stay in the outbox", name)

    async def keep_subscriptions(self) -> None:
        try:
            await self.runtime.keep_subscriptions()
        except Exception:
            log.exception("websub: looking after the subscriptions failed; next round retries")

    async def maintenance(self) -> None:
        await self.runtime.upkeep()

    async def _shutdown(self, services: ServiceGroup) -> None:
        self.scheduler.shutdown(wait=False)
        tasks = list(self.in_flight.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await services.stop()
        log.info("stopped")


async def run_daemon(config: Config, rules: RuleSet, *,
                     clock: Clock = system_clock, services: Sequence[Service] = ()) -> None:
    """``watcher run``: the daemon until SIGTERM or SIGINT."""
    async with Runtime.open(config, rules, clock=clock) as runtime:
        daemon = Daemon(runtime, services=services)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, daemon.stop)
        try:
            await daemon.run()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

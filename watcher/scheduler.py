"""The daemon. APScheduler only ticks; the store says which feeds are due.

Jobs: ``tick`` (every few seconds: start polls of due feeds, never two of one feed at once),
``reload`` (notice edits to watcher.yaml and rules.yaml: a good edit takes effect on the next
article, a bad one is logged and the last good version keeps running), one cron job per
digest, ``deliver`` (retry the outbox) and ``maintenance`` (forget old unmatched text).
SIGTERM/SIGINT: stop taking work, let in-flight polls finish their writes, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from watcher.config import Config, FeedConfig, check_config
from watcher.errors import Problem, StoreError
from watcher.fetch import Fetcher, build_client
from watcher.hostlimit import HostLimiter
from watcher.lifecycle import settle
from watcher.notify.service import DeliveryService
from watcher.pipeline import Pipeline, PollReport, utcnow
from watcher.rules import RuleSet, check_rules
from watcher.store import Store
from watcher.store.lock import state_lock
from watcher.workers import WorkerPool

log = logging.getLogger("watcher.daemon")

TICK_SECONDS = 5
RELOAD_SECONDS = 2
DELIVER_SECONDS = 30
SHUTDOWN_GRACE_SECONDS = 20


def validate(config_path: Path) -> tuple[Config | None, RuleSet | None, list[Problem]]:
    """Both files checked together, every problem reported (``watcher check``)."""
    config, problems = check_config(config_path)
    if config is None:
        return None, None, problems
    rules, rule_problems = check_rules(
        config.rules_path, digests=[d.name for d in config.digests],
        channels=[c.name for c in config.channels])
    return config, rules, problems + rule_problems


def settle_in_memory() -> None:
    """Keep long-lived objects (a compiled rule set) out of every future GC pass.

    A rule set of 10,000 rules is hundreds of thousands of objects that live until the next
    reload; scanning them on every collection would slow matching (docs/rules.md, Speed).
    Unfreeze first so the previous rule set's cycles can still be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class LiveRules:
    """The rules in force; replaced only by a version of rules.yaml that checks clean."""

    def __init__(self, config: Config, rules: RuleSet) -> None:
        self.config = config
        self.rules = rules
        self._stamp = _stamp(config.rules_path)
        settle_in_memory()

    def __call__(self) -> RuleSet:
        return self.rules

    async def reload_if_changed(self, config: Config) -> bool:
        stamp = _stamp(config.rules_path)
        if stamp == self._stamp and config.rules_path == self.config.rules_path:
            return False
        self._stamp, self.config = stamp, config
        # In a thread: reading and compiling thousands of rules takes seconds, which on the
        # event loop would hold up every fetch in flight. Matching goes on with the rules in
        # force.
        rules, problems = await asyncio.to_thread(
            check_rules, config.rules_path, digests=[d.name for d in config.digests],
            channels=[c.name for c in config.channels])
        if rules is None or problems:
            log.error("rules.yaml has errors; keeping the last good rules:\n%s",
                      "\n".join(str(p) for p in problems))
            return False
        self.rules = rules
        settle_in_memory()
        log.info("rules reloaded: %d rules", len(rules.rules))
        return True


def _stamp(path: Path) -> tuple[float, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime, info.st_size


@dataclass(frozen=True)
class CycleSummary:
    reports: tuple[PollReport, ...]

    def render(self) -> str:
        ok = [r for r in self.reports if r.status != "error"]
        failed = [r for r in self.reports if r.status == "error"]
        per_rule: Counter[str] = Counter()
        for report in self.reports:
            per_rule.update(report.matches)
        lines = [
            f"feeds: {len(ok)} ok, {len(failed)} failed",
            f"new entries: {sum(r.new_entries for r in self.reports)}",
            f"articles stored: {sum(len(r.stored) for r in self.reports)}",
            f"articles matched: {sum(r.matched for r in self.reports)}",
        ]
        if per_rule:
            lines.append("matches per rule:")
            lines.extend(f"  {rule}: {count}" for rule, count in sorted(per_rule.items()))
        for report in failed:
            lines.append(f"failed: {report.feed}: {report.error}")
        return "\n".join(lines)


class Runtime:
    """The adapters a running watcher needs, built once and closed together."""

    def __init__(self, config: Config, rules: LiveRules, store: Store,
                 client: httpx.AsyncClient, pool: WorkerPool) -> None:
        self.config = config
        self.rules = rules
        self.store = store
        self.client = client
        self.pool = pool
        limiter = HostLimiter(config.network.per_host_concurrency,
                              config.network.per_host_min_gap)
        self.pipeline = Pipeline(config, store, Fetcher(client, config.network, limiter),
                                 pool, rules)
        self.delivery = DeliveryService(config, store, client, rules)

    @classmethod
    @asynccontextmanager
    async def open(cls, config: Config, rules: RuleSet) -> AsyncIterator[Runtime]:
        with state_lock(config.state_dir):
            async with cls._open_locked(config, rules) as runtime:
                yield runtime

    @classmethod
    @asynccontextmanager
    async def _open_locked(cls, config: Config, rules: RuleSet) -> AsyncIterator[Runtime]:
        store = Store.open(config)
        removed, restored = store.reconcile_files()
        if removed or restored:
            log.warning("start-up: removed %d orphan files, restored %d missing files",
                        removed, restored)
        store.save_feed_states(settle([f for f in config.feeds if f.enabled],
                                      store.feed_states()))
        client = build_client(config.network)
        pool = WorkerPool(config.extract.workers or None)
        try:
            yield cls(config, LiveRules(config, rules), store, client, pool)
        finally:
            pool.close()
            await client.aclose()
            store.close()

    def apply_config(self, config: Config) -> None:
        if config.network != self.config.network or config.state_dir != self.config.state_dir:
            log.warning("network and state_dir changes take effect after a restart")
        self.config = config
        self.pipeline.config = config
        self.delivery.config = config
        self.store.save_feed_states(settle([f for f in config.feeds if f.enabled],
                                           self.store.feed_states()))

    async def poll(self, feed: FeedConfig) -> PollReport:
        """One feed's poll; whatever goes wrong stays with that feed."""
        try:
            return await self.pipeline.poll(feed)
        except StoreError as exc:
            # The feed's state did not advance: the next poll redoes the same work.
            log.error("poll feed=%s: %s; will retry", feed.name, exc)
            return PollReport(feed=feed.name, status="error", error=str(exc))
        except Exception as exc:
            log.exception("poll feed=%s crashed; will retry", feed.name)
            return PollReport(feed=feed.name, status="error", error=f"internal error: {exc!r}")

    async def poll_all(self, feeds: Sequence[FeedConfig]) -> CycleSummary:
        gate = asyncio.Semaphore(self.config.poll.concurrency)

        async def one(feed: FeedConfig) -> PollReport:
            async with gate:
                return await self.poll(feed)

        reports = await asyncio.gather(*(one(feed) for feed in feeds))
        stored = [s for report in reports for s in report.stored]
        if stored:
            await self.delivery.on_stored(stored, utcnow())
        return CycleSummary(tuple(reports))


async def run_once(config: Config, rules: RuleSet) -> CycleSummary:
    async with Runtime.open(config, rules) as runtime:
        gone = {name for name, state in runtime.store.feed_states().items()
                if state.status == "gone"}
        feeds = [f for f in config.feeds if f.enabled and f.name not in gone]
        summary = await runtime.poll_all(feeds)
        await runtime.delivery.deliver_pending(utcnow())
        runtime.store.purge_text(utcnow() - config.keep_text)
        return summary


class Daemon:
    def __init__(self, runtime: Runtime, config_path: Path) -> None:
        self.runtime = runtime
        self.config_path = config_path
        self.config_stamp = _stamp(config_path)
        self.in_flight: dict[str, asyncio.Task[PollReport | None]] = {}
        self.stopping = asyncio.Event()
        self.gate = asyncio.Semaphore(runtime.config.poll.concurrency)
        self.scheduler = AsyncIOScheduler(timezone="UTC")

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        self._schedule_jobs()
        self.scheduler.start()
        log.info("watcher running: %d feeds, %d rules, %d digests",
                 len(self.runtime.config.feeds), len(self.runtime.rules().rules),
                 len(self.runtime.config.digests))
        await self.tick()
        await self.stopping.wait()
        await self._shutdown()

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stopping: finishing the work in flight")
            self.stopping.set()
            self.runtime.pipeline.stopping.set()

    def _schedule_jobs(self) -> None:
        add = self.scheduler.add_job
        add(self.tick, IntervalTrigger(seconds=TICK_SECONDS), id="tick", max_instances=1,
            coalesce=True)
        add(self.reload, IntervalTrigger(seconds=RELOAD_SECONDS), id="reload",
            max_instances=1, coalesce=True)
        add(self.deliver, IntervalTrigger(seconds=DELIVER_SECONDS), id="deliver",
            max_instances=1, coalesce=True)
        add(self.maintenance, IntervalTrigger(hours=1), id="maintenance", max_instances=1,
            coalesce=True)
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
        if self.stopping.is_set():
            return
        now = utcnow()
        states = self.runtime.store.feed_states()
        for feed in self.runtime.config.feeds:
            state = states.get(feed.name)
            if (not feed.enabled or state is None or feed.name in self.in_flight
                    or not state.is_due(now)):
                continue
            task = asyncio.create_task(self._poll(feed), name=f"poll:{feed.name}")
            self.in_flight[feed.name] = task
            task.add_done_callback(self._forget_poll)

    def _forget_poll(self, task: asyncio.Task[PollReport | None]) -> None:
        name = task.get_name().removeprefix("poll:")
        if self.in_flight.get(name) is task:
            del self.in_flight[name]

    async def _poll(self, feed: FeedConfig) -> PollReport | None:
        async with self.gate:
            if self.stopping.is_set():
                return None
            report = await self.runtime.poll(feed)
        if report.stored:
            try:
                await self.runtime.delivery.on_stored(list(report.stored), utcnow())
            except Exception:
                log.exception("immediate alerts for feed=%s failed; the outbox retries",
                              feed.name)
        return report

    async def reload(self) -> None:
        stamp = _stamp(self.config_path)
        if stamp != self.config_stamp:
            self.config_stamp = stamp
            config, problems = check_config(self.config_path)
            if config is None or problems:
                log.error("watcher.yaml has errors; keeping the running config:\n%s",
                          "\n".join(str(p) for p in problems))
            else:
                self.runtime.apply_config(config)
                self._schedule_digests()
                log.info("config reloaded: %d feeds", len(config.feeds))
        await self.runtime.rules.reload_if_changed(self.runtime.config)

    async def deliver(self) -> None:
        await self.runtime.delivery.deliver_pending(utcnow())

    async def send_digest(self, name: str) -> None:
        try:
            await self.runtime.delivery.run_digest(name, utcnow())
        except Exception:
            log.exception("digest %s failed; its deliveries stay in the outbox", name)

    async def maintenance(self) -> None:
        purged = self.runtime.store.purge_text(utcnow() - self.runtime.config.keep_text)
        if purged:
            log.info("forgot the text of %d old unmatched articles", purged)

    async def _shutdown(self) -> None:
        self.scheduler.shutdown(wait=False)
        tasks = list(self.in_flight.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        log.info("stopped")


async def run_daemon(config_path: Path, config: Config, rules: RuleSet) -> None:
    async with Runtime.open(config, rules) as runtime:
        await Daemon(runtime, config_path).run()

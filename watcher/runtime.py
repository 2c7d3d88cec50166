"""The one place a running watcher is assembled, and reassembled when watcher.yaml changes.

    async with Runtime.open(config, rules, clock=system_clock) as runtime:
        report = await runtime.poll(feed)
        await runtime.apply_config(edited)   # the config-dependent parts, swapped in one step

``Runtime`` holds what lives as long as the process (the store, the rules in force, the
clock, the stop signal) and the ``Parts`` built from one version of the config: HTTP
client, host limiter, fetcher, worker pool, pipeline, channels and delivery service, and
the gate on feeds polled at once. A reload builds a new ``Parts`` (reusing the client,
limiter, pool and gate when their settings did not change) and replaces the old one in a
single assignment; work already started finishes on the parts it started with, and a
replaced client or pool is closed once nothing uses it.

Settings in ``RESTART_SETTINGS`` cannot change under a running process (the index is open,
the article files and the state lock live in ``state_dir``); an edit to one is logged once
per reload and the running value is kept.

Both ways of running as a daemon take up edits the same way (``take_up_edits``) and run
the same services beside them (``ServiceGroup``: the web pages, systemd's notifications):
the single process that ticks (``watcher.scheduler``) and a cluster member
(``watcher.cluster.run``). ``run --once`` is ``run_once`` below.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import NamedTuple, Protocol

import httpx

from watcher.clock import Clock, system_clock
from watcher.committer import Committer
from watcher.config import Config, FeedConfig, check_config
from watcher.errors import StoreError
from watcher.fetch import Fetcher, build_client
from watcher.hostlimit import HostLimiter
from watcher.lifecycle import settle
from watcher.live_rules import LiveRules, file_stamp
from watcher.notify.service import DeliveryService
from watcher.pipeline import Pipeline, PollReport, site_memory_batcher
from watcher.progress import Progress
from watcher.rules import RuleSet
from watcher.store import Store
from watcher.store.lock import state_lock
from watcher.types import Filed
from watcher.websub.subscriber import Subscriber
from watcher.workers import WorkerPool

log = logging.getLogger("watcher.daemon")

# How old an article file must be before a cluster member's start-up clean-up may take it
# for an orphan: younger, another member may not have committed its row yet.
SHARED_FILES_GRACE = timedelta(minutes=10)

# Config fields a running process keeps until it restarts.
RESTART_SETTINGS = ("state_dir", "index", "log_level", "cluster")


class Service(Protocol):
    """Something that runs beside the daemon (the web server, say): started once the
    runtime is open and the daemon's jobs are scheduled, stopped before the runtime closes.
    It reads ``runtime.config`` and ``runtime.parts`` when it needs them, so it always sees
    the config in force."""

    async def start(self, runtime: Runtime) -> None: ...

    async def stop(self) -> None: ...


class ServiceGroup:
    """The services beside a daemon: started in order, told once the daemon is up (a
    service that tells a supervisor so, systemd's READY, has ``after_first_tick``), stopped
    in reverse order; one that fails to stop does not keep the others running."""

    def __init__(self, services: Sequence[Service]) -> None:
        self.services = tuple(services)
        self.started: list[Service] = []

    async def start(self, runtime: Runtime) -> None:
        for service in self.services:
            await service.start(runtime)
            self.started.append(service)

    def up(self) -> None:
        for service in self.started:
            after_first_tick = getattr(service, "after_first_tick", None)
            if after_first_tick is not None:
                after_first_tick()

    async def stop(self) -> None:
        while self.started:
            service = self.started.pop()
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)


@dataclass(frozen=True, eq=False)
class Parts:
    """Everything built from one version of the config; replaced whole on a reload."""

    config: Config
    client: httpx.AsyncClient
    limiter: HostLimiter
    fetcher: Fetcher
    pool: WorkerPool
    pipeline: Pipeline
    delivery: DeliveryService
    gate: asyncio.Semaphore  # feeds polled at once (poll.concurrency)

    def resources(self) -> tuple[httpx.AsyncClient | WorkerPool, ...]:
        """What must be closed once no parts in use hold it."""
        return self.client, self.pool


@dataclass(frozen=True)
class Reload:
    """What ``Runtime.apply_config`` did."""

    digests_changed: bool
    needs_restart: tuple[str, ...]  # settings edited that take effect after a restart


@dataclass(frozen=True)
class CycleSummary:
    """The reports of one ``run --once`` (its text is ``watcher.cli.summary``)."""

    reports: tuple[PollReport, ...]


def keep_restart_settings(edited: Config, running: Config) -> tuple[Config, tuple[str, ...]]:
    """``edited`` with the running values of the settings only a restart may change, and
    the names of those the edit tried to change."""
    changed = tuple(name for name in RESTART_SETTINGS
                    if getattr(edited, name) != getattr(running, name))
    kept = replace(edited, **{name: getattr(running, name) for name in changed})
    return kept, changed


class Runtime:
    """The store, the rules in force, the clock, and the parts built from the config."""

    def __init__(self, store: Store, rules: LiveRules, config: Config, *,
                 clock: Clock = system_clock) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock
        self.stopping = asyncio.Event()  # SIGTERM: finish in-flight writes, start nothing
        # Shared by every delivery service a reload builds: one delivery pass at a time.
        self._delivery_lock = asyncio.Lock()
        self._open: dict[int, httpx.AsyncClient | WorkerPool] = {}
        self._users: Counter[Parts] = Counter()
        # One for the runtime's life: every pipeline a reload builds commits through it.
        self.committer = Committer(store, clock)
        self.site_memory = site_memory_batcher(store)
        self._parts = self._build(config, previous=None)
        self._config_stamp = file_stamp(config.path)
        # Rounds and cluster jobs may take up an edit at the same moment: one reload.
        self._taking_up_edits = asyncio.Lock()

    # -- assembling ------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def open(cls, config: Config, rules: RuleSet, *, clock: Clock = system_clock,
                   files_shared: bool = False) -> AsyncIterator[Runtime]:
        """The state folder locked, the index opened and reconciled with the article files,
        the configured feeds registered, and every part built; all closed on exit.
        ``files_shared``: other processes write article files too (a cluster), so the
        newest are spared by the clean-up (their rows may not be committed yet)."""
        with state_lock(config.state_dir), Store.open(config) as store:
            removed, restored = store.reconcile_files(
                written_before=clock() - SHARED_FILES_GRACE if files_shared else None)
            if removed or restored:
                log.warning("start-up: removed %d orphan files, restored %d missing files",
                            removed, restored)
            _register_feeds(store, config)
            async with cls.assemble(config, rules, store, clock=clock) as runtime:
                yield runtime

    @classmethod
    @asynccontextmanager
    async def assemble(cls, config: Config, rules: RuleSet, store: Store, *,
                       clock: Clock = system_clock) -> AsyncIterator[Runtime]:
        """A runtime on an open ``store`` (which the caller closes); its parts closed on
        exit."""
        runtime = cls(store, LiveRules(config, rules), config, clock=clock)
        try:
            yield runtime
        finally:
            await runtime.committer.aclose()
            await runtime._close(everything=True)

    def _build(self, config: Config, previous: Parts | None) -> Parts:
        network = config.network
        if previous is not None and previous.config.network == network:
            client = previous.client
        else:
            client = build_client(network)
        if previous is not None and (
                previous.limiter.per_host_concurrency, previous.limiter.min_gap_seconds) == (
                network.per_host_concurrency, network.per_host_min_gap):
            limiter = previous.limiter  # keeps each host's place in its queue
        else:
            limiter = HostLimiter(network.per_host_concurrency, network.per_host_min_gap)
        if previous is not None and previous.config.extract.workers == config.extract.workers:
            pool = previous.pool
        else:
            pool = WorkerPool(config.extract.workers or None)
        if previous is not None and previous.config.poll.concurrency == config.poll.concurrency:
            gate = previous.gate
        else:
            gate = asyncio.Semaphore(config.poll.concurrency)
        fetcher = Fetcher(client, network, limiter, clock=self.clock)
        parts = Parts(
            config=config, client=client, limiter=limiter, fetcher=fetcher, pool=pool,
            pipeline=Pipeline(config, self.store, fetcher, pool, self.rules, clock=self.clock,
                              stopping=self.stopping, committer=self.committer,
                              site_memory=self.site_memory),
            delivery=DeliveryService(config, self.store, client, self.rules,
                                     lock=self._delivery_lock, clock=self.clock),
            gate=gate)
        for resource in parts.resources():
            self._open.setdefault(id(resource), resource)
        return parts

    # -- the parts in force ----------------------------------------------------------------

    @property
    def parts(self) -> Parts:
        return self._parts

    @property
    def config(self) -> Config:
        return self._parts.config

    @asynccontextmanager
    async def using(self) -> AsyncIterator[Parts]:
        """The parts in force now, kept open until the caller is done with them even if a
        reload replaces them meanwhile."""
        parts = self._parts
        self._users[parts] += 1
        try:
            yield parts
        finally:
            self._users[parts] -= 1
            if not self._users[parts]:
                del self._users[parts]
                await self._close()

    async def apply_config(self, config: Config) -> Reload:
        """Make an edited (and checked) config the one in force, in one step."""
        running = self._parts.config
        config, needs_restart = keep_restart_settings(config, running)
        for name in needs_restart:
            log.warning("%s changed in %s: this setting needs a restart to take effect "
                        "(still using %s)", name, config.path.name, getattr(running, name))
        _register_feeds(self.store, config)
        self._parts = self._build(config, previous=self._parts)
        await self._close()
        return Reload(digests_changed=config.digests != running.digests,
                      needs_restart=needs_restart)

    async def take_up_edits(self) -> Reload | None:
        """Make an edited watcher.yaml the config in force if it checks clean (a bad edit
        is logged and the running config kept), then take up edited rules likewise.
        Returns what the config's reload did; None when it was not edited or was bad."""
        async with self._taking_up_edits:
            return await self._take_up_edits()

    async def _take_up_edits(self) -> Reload | None:
        reloaded = None
        path = self._parts.config.path
        stamp = file_stamp(path)
        if stamp != self._config_stamp:
            config, problems = check_config(path)
            if config is None or problems:
                log.error("%s has errors; keeping the running config:\n%s", path.name,
                          "\n".join(str(p) for p in problems))
            else:
                # Raises when the index cannot take the feeds now; the edit is then taken
                # up on a later call, since the stamp is only recorded once it is in force.
                reloaded = await self.apply_config(config)
                log.info("config reloaded: %d feeds", len(config.feeds))
            self._config_stamp = stamp
        await self.rules.reload_if_changed(self.config)
        return reloaded

    async def _close(self, *, everything: bool = False) -> None:
        """Close the clients and pools that neither the parts in force nor any in use hold."""
        wanted = set() if everything else {
            id(resource) for parts in (self._parts, *self._users)
            for resource in parts.resources()}
        for key in [key for key in self._open if key not in wanted]:
            await self._open.pop(key).aclose()

    # -- the work --------------------------------------------------------------------------

    @asynccontextmanager
    async def _gated(self) -> AsyncIterator[Parts]:
        """The parts in force, with a place under their poll gate. A poll that waited on a
        gate a reload replaced waits again on the new one, so a new limit also holds for
        the polls queued before it."""
        while True:
            gate = self._parts.gate
            async with gate:
                if gate is self._parts.gate:
                    async with self.using() as parts:
                        yield parts
                    return

    async def poll(self, feed: FeedConfig, *, entries_here: bool = True) -> PollReport | None:
        """One feed's poll, within the limit on feeds polled at once; None when stopping
        before it started. Whatever goes wrong stays with that feed. ``entries_here``:
        see ``Pipeline.poll``."""
        async with self._gated() as parts:
            if self.stopping.is_set():
                return None
            try:
                return await parts.pipeline.poll(feed, entries_here=entries_here)
            except StoreError as exc:
                # The feed's state did not advance: the next poll redoes the same work.
                log.error("poll feed=%s: %s; will retry", feed.name, exc)
                return PollReport(feed=feed.name, status="error", error=str(exc))
            except Exception as exc:
                log.exception("poll feed=%s crashed; will retry", feed.name)
                return PollReport(feed=feed.name, status="error",
                                  error=f"internal error: {exc!r}")

    async def poll_all(self, feeds: Sequence[FeedConfig]) -> CycleSummary:
        """Every feed once; one round of immediate alerts for all that was stored."""
        with Progress("feeds polled", len(feeds)) as progress:
            found = await asyncio.gather(*(self._poll_counted(feed, progress)
                                           for feed in feeds))
        reports = tuple(report for report in found if report is not None)
        stored = [s for report in reports for s in report.stored]
        if stored:
            await self.alert(stored)
        return CycleSummary(reports)

    async def _poll_counted(self, feed: FeedConfig, progress: Progress) -> PollReport | None:
        report = await self.poll(feed)
        progress.advance()
        return report

    async def alert(self, stored: Sequence[Filed]) -> None:
        async with self.using() as parts:
            await parts.delivery.on_stored(stored, self.clock())

    async def deliver_pending(self) -> None:
        async with self.using() as parts:
            await parts.delivery.deliver_pending(self.clock())

    async def send_digest(self, name: str) -> None:
        async with self.using() as parts:
            await parts.delivery.run_digest(name, self.clock())

    async def keep_subscriptions(self) -> None:
        """WebSub: subscribe, renew, unsubscribe as each subscription needs (websub/)."""
        async with self.using() as parts:
            await Subscriber(self.store, parts.client, parts.config.network,
                             clock=self.clock).round(parts.config)

    async def upkeep(self) -> Upkeep:
        """Forget what nothing reads any more: the text of unmatched articles older than
        ``keep_text``, and the sites' memory older than ``extract.boilerplate_window``,
        which no lookup reaches past. In a thread: a big index takes a while to scan."""
        now, config = self.clock(), self.config

        def forget() -> Upkeep:
            return Upkeep(self.store.purge_text(now - config.keep_text),
                          self.store.boilerplate.prune(now - config.extract.boilerplate_window,
                                                       stop_when=self.stopping.is_set))

        try:
            done = await asyncio.to_thread(forget)
        except Exception:
            log.exception("upkeep failed; the next one tries again")
            return Upkeep(0, 0)
        if done.texts_forgotten or done.sightings_pruned:
            log.info("upkeep: forgot the text of %d old unmatched articles, %d old rows of "
                     "the sites' memory", *done)
        return done

    def polled_feeds(self) -> list[FeedConfig]:
        """The enabled feeds that have not gone away for good."""
        gone = {name for name, state in self.store.feed_states().items()
                if state.status == "gone"}
        return [f for f in _enabled(self.config.feeds) if f.name not in gone]


class Upkeep(NamedTuple):
    texts_forgotten: int
    sightings_pruned: int  # rows of the sites' memory (sightings and lengths)


def _enabled(feeds: Sequence[FeedConfig]) -> list[FeedConfig]:
    return [f for f in feeds if f.enabled]


def _register_feeds(store: Store, config: Config) -> None:
    """The index follows the config: new feeds start afresh, a changed URL starts over."""
    store.save_feed_states(settle(_enabled(config.feeds), store.feed_states()))


async def run_once(config: Config, rules: RuleSet, *,
                   clock: Clock = system_clock) -> CycleSummary:
    """``watcher run --once``: every feed polled once, the outbox delivered, old text
    forgotten."""
    async with Runtime.open(config, rules, clock=clock) as runtime:
        summary = await runtime.poll_all(runtime.polled_feeds())
        await runtime.deliver_pending()
        await runtime.upkeep()
        return summary

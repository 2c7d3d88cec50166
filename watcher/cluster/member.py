"""One ``watcher run`` process in a cluster: it works jobs, and may be the scheduler.

Every member runs a procrastinate worker on both queues. A member with the default role
also competes for the scheduler role (``leader.Leadership``); the one that holds it, each
round: puts the jobs of dead workers back (``stalled``), defers a poll for every due feed,
does the once-per-cluster duties (outbox delivery, digests) through ``ClusterWork``, and
now and then deletes old finished jobs (``retention``).
``--role worker`` members never schedule.

What the work is (polling a feed, processing one entry) is the runtime's: this module only
decides who does it and when, so it is tested with a stand-in ``ClusterWork``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import procrastinate

from watcher.cluster.leader import Leadership
from watcher.cluster.queue import (
    QUEUES,
    conninfo,
    defer_entries,
    defer_poll,
    make_app,
    requeue_lost_entries,
)
from watcher.cluster.retention import PURGE_EVERY, purge_finished_jobs
from watcher.cluster.stalled import recover_stalled_jobs
from watcher.config import ClusterConfig

log = logging.getLogger(__name__)

Role = Literal["all", "worker"]
ROUND_SECONDS = 5.0
HEARTBEAT_SECONDS = 5.0


class ClusterWork(Protocol):
    async def poll(self, feed: str) -> Sequence[int]:
        """Poll ``feed`` if it is still due (a second queued poll finds it is not) and
        return the row ids of its pending entries, whose work becomes entry jobs."""
        ...

    async def process_entry(self, entry_row_id: int) -> None:
        """Fetch, extract, match and store one pending entry; nothing if it is done."""
        ...

    def due_feeds(self) -> Sequence[str]:
        """The enabled feeds whose poll time has come."""
        ...

    async def scheduler_round(self) -> None:
        """What one process in the cluster does: deliver the outbox, run due digests."""
        ...

    def forgotten_entries(self) -> Sequence[int]:
        """Row ids of pending entries whose jobs were lost, to be queued again."""
        ...

    async def refresh(self) -> None:
        """Every member, every round: take up an edited watcher.yaml and rules.yaml."""
        ...


class ClusterMember:
    def __init__(self, index_url: str, work: ClusterWork, *, role: Role = "all",
                 concurrency: int = 8, round_seconds: float = ROUND_SECONDS,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 settings: ClusterConfig | None = None) -> None:
        self.index_url = index_url
        self.work = work
        self.role = role
        self.concurrency = concurrency
        self.round_seconds = round_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.settings = settings or ClusterConfig()
        self.stall_seconds = self.settings.stall_timeout.total_seconds()
        self.app = make_app(index_url, poll=self._poll, entry=work.process_entry)
        self._purged_at: float | None = None  # monotonic; None: not yet by this process

    async def run(self, stopping: asyncio.Event,
                  up: Callable[[], None] | None = None) -> None:
        """Work (and schedule) until ``stopping`` is set; jobs in hand are finished first.
        ``up`` is called once the worker runs and the first round is done."""
        async with self.app.open_async():
            worker = asyncio.create_task(self.app.run_worker_async(
                queues=list(QUEUES), concurrency=self.concurrency,
                install_signal_handlers=False, listen_notify=True,
                update_heartbeat_interval=self.heartbeat_seconds,
                stalled_worker_timeout=self.stall_seconds), name="cluster-worker")
            scheduling = asyncio.create_task(self._rounds(stopping, up), name="cluster-rounds")
            try:
                await _first_of(stopping, worker)
            finally:
                scheduling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await scheduling
                # procrastinate's worker stops taking jobs and lets running ones finish.
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    async def _poll(self, feed: str) -> None:
        await defer_entries(self.app, await self.work.poll(feed))

    async def _rounds(self, stopping: asyncio.Event, up: Callable[[], None] | None) -> None:
        """Each round: take up edits; then, unless a worker only, schedule if this
        process holds (or gets) the scheduler role."""
        leadership = Leadership(conninfo(self.index_url)) if self.role == "all" else None
        try:
            while not stopping.is_set():
                try:
                    await self.work.refresh()
                    if leadership is not None and await leadership.try_acquire():
                        await self.scheduling_round(self.app)
                except Exception:
                    log.exception("cluster round failed; trying again next round")
                if up is not None:
                    up()
                    up = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.round_seconds)
        finally:
            if leadership is not None:
                await leadership.release()

    async def scheduling_round(self, app: procrastinate.App) -> int:
        """One round of the scheduler's duties; returns how many polls it deferred."""
        await recover_stalled_jobs(app, seconds_since_heartbeat=self.stall_seconds)
        deferred = 0
        for feed in self.work.due_feeds():
            deferred += await defer_poll(app, feed)
        await self.work.scheduler_round()
        if again := await requeue_lost_entries(app, self.work.forgotten_entries()):
            log.warning("%d entries whose jobs were lost are queued again", again)
        now = time.monotonic()
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY.total_seconds():
            await purge_finished_jobs(app, keep_done=self.settings.keep_done_jobs,
                                      keep_failed=self.settings.keep_failed_jobs)
            self._purged_at = now
        return deferred


async def _first_of(stopping: asyncio.Event, worker: asyncio.Task[None]) -> None:
    """Until stopping is set, or the worker ends by itself (its error is raised)."""
    waiter = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({waiter, worker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if worker.done() and not worker.cancelled():
        worker.result()

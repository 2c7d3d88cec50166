"""The cluster's work done by the runtime: ``ClusterWork`` over the pipeline and delivery.

Each piece is the same code a single process runs; only who calls it changes: a poll job
polls one feed and hands its entries to entry jobs, an entry job stores one article (and
holds it for its immediate alerts), and the scheduler's round makes and sends the alerts,
delivers the outbox and runs each digest once per scheduled slot (the outbox's run key
makes a second run of a slot, by another scheduler, build nothing; a delivery is claimed
by one process before it is sent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from watcher.config import FeedConfig
from watcher.errors import FeedNotInConfig, WatcherError
from watcher.notify.timing import latest_slot
from watcher.runtime import SHARED_FILES_GRACE, Runtime, Upkeep

log = logging.getLogger(__name__)

# A slot missed by longer than this is skipped, as the single daemon's scheduler skips it
# (a scheduler that took over catches the slot its predecessor died in).
MISFIRE_GRACE = timedelta(hours=1)


# How often the scheduler sweeps the article files for what a vanished process left.
SWEEP_EVERY = timedelta(hours=1)
# How often it forgets old text and old site memory (``Runtime.upkeep``), as the single
# daemon's maintenance job does.
UPKEEP_EVERY = timedelta(hours=1)
# How often it looks after the WebSub subscriptions (as the single daemon's job does).
WEBSUB_EVERY = timedelta(seconds=30)
# An entry a poll registered but nobody attempted for this long lost its job (the index
# went away between the poll's commit and its deferring the jobs, or the queue was
# emptied); the scheduler hands such entries out again, every ENTRIES_SWEEP_EVERY, rather
# than leave them to the feed's next poll, which may be hours away.
FORGOTTEN_AFTER = timedelta(minutes=10)
ENTRIES_SWEEP_EVERY = timedelta(minutes=5)


class RuntimeWork:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._slots_done: dict[str, datetime] = {}
        self._last_done: dict[str, datetime] = {}  # duty -> when it last ran
        self.upkeeping: asyncio.Task[Upkeep] | None = None  # the upkeep under way, if any

    async def poll(self, feed: str) -> Sequence[int]:
        config = await self._feed_config(feed)
        if config is None or not config.enabled:
            return []
        state = self.runtime.store.feed_state(feed)
        # A WebSub push (or a lost lease) asks for a poll whatever the schedule says.
        requested = self.runtime.store.websub.poll_requests().get(feed)
        if state is None or state.is_due(self.runtime.clock()) or requested:
            if requested:
                self.runtime.store.websub.take_poll_requests(feed, requested)
            await self.runtime.poll(config, entries_here=False)
        # Not due: a queued second poll finds the first did it. Either way the feed's
        # pending entries get jobs, also those of a poll killed before it deferred them
        # (an entry's lock and queueing lock keep a second copy harmless).
        return [item.row_id for item in self.runtime.store.pending_entries(feed)]

    async def process_entry(self, entry_row_id: int) -> None:
        try:
            await self._process_entry(entry_row_id)
        except FeedNotInConfig:
            # Deferred by a member that took up an edit adding the feed before this one did:
            # done here and now, or the entry would wait for the feed's next poll.
            await self.runtime.take_up_edits()
            try:
                await self._process_entry(entry_row_id)
            except FeedNotInConfig as exc:
                log.warning("entry %d left pending: %s", entry_row_id, exc)

    async def _process_entry(self, entry_row_id: int) -> None:
        async with self.runtime.using() as parts:
            stored = await parts.pipeline.process_entry_by_id(entry_row_id)
            if stored is not None:
                # Only held here: alerts are made and sent by the scheduler's round, so two
                # workers never make two alerts of the same articles.
                parts.delivery.hold_alerts([stored], self.runtime.clock())

    async def _feed_config(self, feed: str) -> FeedConfig | None:
        """The feed as this member's config has it, after taking up an edit of watcher.yaml
        that the scheduler may have seen first (which is how it came to name the feed)."""
        found = self.runtime.config.feed(feed)
        if found is None:
            await self.runtime.take_up_edits()
            found = self.runtime.config.feed(feed)
        return found

    def due_feeds(self) -> Sequence[str]:
        now = self.runtime.clock()
        states = self.runtime.store.feed_states()
        pushed = self.runtime.store.websub.poll_requests()
        return [feed.name for feed in self.runtime.polled_feeds()
                if (state := states.get(feed.name)) is not None
                and (state.is_due(now) or feed.name in pushed)]

    def forgotten_entries(self) -> Sequence[int]:
        """Entries whose jobs were lost (see FORGOTTEN_AFTER), at most every
        ENTRIES_SWEEP_EVERY (none between sweeps)."""
        now = self.runtime.clock()
        if not self._due("entries", ENTRIES_SWEEP_EVERY, now):
            return []
        return self.runtime.store.unattempted_entries(now - FORGOTTEN_AFTER)

    def _due(self, duty: str, every: timedelta, now: datetime) -> bool:
        """Whether ``duty``, run at most ``every``, runs now (and if so, it counts as run)."""
        last = self._last_done.get(duty)
        if last is not None and now - last < every:
            return False
        self._last_done[duty] = now
        return True

    async def refresh(self) -> None:
        await self.runtime.take_up_edits()

    async def scheduler_round(self) -> None:
        now = self.runtime.clock()
        for digest in self.runtime.config.digests:
            slot = latest_slot(digest.schedule, digest.timezone, now)
            if slot is None or self._slots_done.get(digest.name) == slot:
                continue
            if now - slot > MISFIRE_GRACE:
                self._slots_done[digest.name] = slot
                continue
            try:
                await self.runtime.send_digest(digest.name)
                self._slots_done[digest.name] = slot
            except Exception:
                log.exception("digest %s failed; its deliveries stay in the outbox",
                              digest.name)
        await self.runtime.deliver_pending()
        if self._due("websub", WEBSUB_EVERY, now):
            try:
                await self.runtime.keep_subscriptions()
            except Exception:
                log.exception("websub: looking after the subscriptions failed; next round "
                              "retries")
        if self._due("files", SWEEP_EVERY, now):
            await self._sweep_files(now)
        # Beside the rounds, not in one: a big index's first upkeep takes minutes, and the
        # rounds defer the polls.
        if (self.upkeeping is None or self.upkeeping.done()) and self._due(
                "upkeep", UPKEEP_EVERY, now):
            self.upkeeping = asyncio.create_task(self.runtime.upkeep(), name="upkeep")

    async def _sweep_files(self, now: datetime) -> None:
        """A member killed between writing a batch's files and committing it leaves files
        no row names; a member's start-up spares new files (another may be about to commit
        them), so without a sweep they would stay until a restart. Only files older than
        the grace go; a row whose file is missing gets it back."""
        try:
            removed, restored = await asyncio.to_thread(
                self.runtime.store.reconcile_files, written_before=now - SHARED_FILES_GRACE)
        except (OSError, WatcherError) as exc:
            log.warning("sweeping the article files failed: %s; trying again later", exc)
            return
        if removed or restored:
            log.warning("article files: removed %d left by a process that died before "
                        "committing, restored %d missing", removed, restored)

"""One poll of one feed: fetch, parse, keep what is new, fetch pages, extract, match, store.

The decisions are pure functions at the top (what the poll's outcome is, what an article's
text is, whether a redirect chain is a permanent move); ``Pipeline`` wires the adapters
(fetcher, worker pool, store, rules) around them. Every failure of a feed or page becomes a
value recorded on the feed or the entry; nothing here raises past ``Pipeline.poll`` except
a store failure, which must stop the feed's state from advancing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from watcher import metrics
from watcher.batching import Batcher
from watcher.clock import Clock
from watcher.committer import Committer
from watcher.config import Config, FeedConfig
from watcher.entrywork import (
    RULES,
    EntryFacts,
    PageReading,
    RuleSource,
    compile_rules,
    finish_entry,
    read_page,
)
from watcher.errors import (
    ExtractError,
    FeedNotInConfig,
    FetchError,
    ParseError,
    StoreError,
    WatcherError,
)
from watcher.extract import assess_text, remove_boilerplate
from watcher.feeds import parse_feed
from watcher.feeds.sitemap import SitemapDocument, parse_sitemap
from watcher.feeds.sitemap_poll import poll_sitemap
from watcher.fetch import Fetcher, parse_max_age, parse_retry_after, redirect_kind
from watcher.lifecycle import FeedState, PollOutcome, advance, initial_state
from watcher.polling import HISTORY
from watcher.rules import RuleSet
from watcher.store import PendingEntry, Store
from watcher.store.boilerplate import Observation
from watcher.store.ready import Outcome
from watcher.types import (
    FeedEntry,
    Filed,
    HttpResult,
    ParsedFeed,
    TextSource,
)
from watcher.urls import canonical_url, site_of, url_hash
from watcher.websub.discovery import hub_offer
from watcher.websub.offers import FeedPush
from watcher.workers import WorkerPool

log = logging.getLogger("watcher.poll")

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml, "
               "application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
FEED_PARSE_TIMEOUT = 15.0  # seconds; feedparser has quadratic regexes on crafted input
ENTRIES_IN_PARALLEL = 4  # pages fetched/extracted at once per feed (hosts limit further)
# Finishing an entry goes to the workers ahead of reading new pages: it frees the entry's
# place for the next page, so pages are fetched as places free up rather than in bursts
# (watcher/gates.py).
FINISHING = 1
# The sightings of articles read at about the same time are recorded, and their
# boilerplate looked up, in one transaction: the first waits this long for company.
SITE_MEMORY_LINGER = 0.05  # seconds
SITE_MEMORY_BATCH = 64

SiteMemory = Batcher[Observation, tuple[frozenset[str], int | None]]


def site_memory_batcher(store: Store) -> SiteMemory:
    return Batcher(store.boilerplate.observe_articles, batch_size=SITE_MEMORY_BATCH,
                   linger=SITE_MEMORY_LINGER, name="watcher-site-memory")


# ---------------------------------------------------------------------------------------------
# Pure decisions


def success_outcome(result: HttpResult, parsed: ParsedFeed | None,
                    now: datetime) -> PollOutcome:
    return PollOutcome(
        kind="not_modified" if parsed is None else "ok",
        http_status=result.status,
        max_age=_max_age(result.headers),
        retry_after=parse_retry_after(result.headers.get("retry-after"), now),
        ttl=parsed.ttl if parsed else None,
        # A 302/307 anywhere in the chain means the feed has not really moved.
        moved_to=result.url if redirect_kind(result.redirects) == "permanent" else None,
        etag=result.etag, last_modified=result.last_modified,
        title=parsed.title if parsed else None,
        hub=hub_offer(result.headers, parsed, result.url) if parsed else None)


def _max_age(headers: Mapping[str, str]) -> float | None:
    """Seconds the response stays fresh: Cache-Control max-age, else Expires minus Date."""
    max_age = parse_max_age(headers.get("cache-control", ""))
    if max_age is not None or "expires" not in headers or "date" not in headers:
        return max_age
    try:
        sent = parsedate_to_datetime(headers["date"])
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    # An Expires that is not a date means "already expired" (RFC 9111): no hint.
    return parse_retry_after(headers["expires"], sent) or None


def failure_outcome(error: WatcherError) -> PollOutcome:
    status = error.status if isinstance(error, FetchError) else None
    retry_after = error.retry_after if isinstance(error, FetchError) else None
    return PollOutcome(kind="error", error=str(error) or type(error).__name__,
                       http_status=status, retry_after=retry_after)


def entry_key(feed: str, entry: FeedEntry) -> str:
    """The canonical URL that dedupes an entry; an entry without a link is its own key."""
    return canonical_url(entry.url) if entry.url else f"urn:watcher:{feed}:{entry.entry_id}"


# ---------------------------------------------------------------------------------------------
# The adapter


@dataclass(frozen=True)
class PollReport:
    feed: str
    status: str  # ok, not_modified, error
    error: str | None = None
    new_entries: int = 0
    stored: tuple[Filed, ...] = ()
    matches: Mapping[str, int] = field(default_factory=dict)  # rule -> articles matched
    elapsed_ms: float = 0.0

    @property
    def matched(self) -> int:
        return sum(1 for s in self.stored if s.rules)


class Pipeline:
    def __init__(self, config: Config, store: Store, fetcher: Fetcher, pool: WorkerPool,
                 rules: Callable[[], RuleSet], *, clock: Clock,
                 random_fraction: Callable[[], float] = random.random,
                 stopping: asyncio.Event | None = None,
                 committer: Committer | None = None,
                 site_memory: SiteMemory | None = None) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self.pool = pool
        self.rules = rules
        self.clock = clock
        self.random_fraction = random_fraction
        self.push = FeedPush(config, store)
        # Set on SIGTERM: finish in-flight writes, start none. Shared by the pipelines a
        # reload builds, so one signal reaches all of them.
        self.stopping = stopping or asyncio.Event()
        # One per runtime, shared by the pipelines a reload builds: one writer, one batch.
        self.committer = committer or Committer(store, clock)
        # Likewise: one batch of sightings a transaction, whichever pipeline asked.
        self.site_memory = site_memory or site_memory_batcher(store)

    async def poll(self, feed: FeedConfig, *, entries_here: bool = True) -> PollReport:
        """Poll ``feed`` and register its new entries; work them here too, unless
        ``entries_here`` is False (in a cluster each becomes a job: ``process_entry_by_id``).
        """
        started = time.perf_counter()
        state = self.store.feed_state(feed.name)
        if state is None:
            self.store.save_feed_states([initial_state(feed)])
            state = self.store.feed_state(feed.name)
            assert state is not None
        outcome, new = await self._poll_feed(feed, state)
        # A StoreError (disk full) propagates from here without advancing the feed's state,
        # so the next poll retries the same work.
        # The feed's title as just parsed: a new feed's state has none before this poll ends.
        polled = replace(state, title=outcome.title or state.title)
        stored = await self._process_pending(feed, polled) if entries_here else []
        counts = Counter(rule for s in stored for rule in s.rules)
        outcome = replace(outcome, new_entries=new, stored=len(stored),
                          matched=sum(1 for s in stored if s.rules))
        now = self.clock()
        history = (self.store.entry_times(feed.name, now - HISTORY) if feed.adaptive else ())
        pushed = self.push.after_poll(feed, outcome.kind == "ok", outcome.hub, now)
        updated = advance(state, outcome, feed, self.config.poll, now, self.random_fraction(),
                          history, pushed=pushed)
        self.store.save_feed_state(updated)
        if updated.notice and not updated.notice_sent and (
                updated.notice != state.notice or state.notice_sent):
            # Told once here and once in the next digest (which marks it sent).
            log.warning("notice feed=%s: %s", feed.name, updated.notice)
        elapsed = (time.perf_counter() - started) * 1000
        report = PollReport(feed=feed.name, status=outcome.kind, error=outcome.error,
                            new_entries=new, stored=tuple(stored), matches=dict(counts),
                            elapsed_ms=elapsed)
        metrics.record_poll(report.status, len(stored), counts)
        log.info("poll feed=%s status=%s new=%d stored=%d matched=%d ms=%.0f%s",
                 feed.name, report.status, new, len(stored), report.matched, elapsed,
                 f" error={outcome.error!r}" if outcome.error else "")
        return report

    async def _poll_feed(self, feed: FeedConfig, state: FeedState) -> tuple[PollOutcome, int]:
        max_bytes = self.config.network.max_feed_bytes
        try:
            if feed.kind == "sitemap":
                result, maybe = await poll_sitemap(
                    self.fetcher, self._parse_sitemap, state.url, max_bytes=max_bytes,
                    etag=state.etag, last_modified=state.last_modified)
                if maybe is None:
                    return success_outcome(result, None, self.clock()), 0
                parsed = maybe
            else:
                result = await self.fetcher.get(
                    state.url, max_bytes=max_bytes, etag=state.etag,
                    last_modified=state.last_modified, accept=FEED_ACCEPT)
                if result.not_modified:
                    return success_outcome(result, None, self.clock()), 0
                parsed = await self.pool.run(parse_feed, result.content, dict(result.headers),
                                             result.url, timeout=FEED_PARSE_TIMEOUT)
        except (FetchError, ParseError) as exc:
            return failure_outcome(exc), 0
        except TimeoutError:
            return failure_outcome(ParseError(
                f"feed parsing took longer than {FEED_PARSE_TIMEOUT:.0f}s; gave up")), 0
        except WatcherError as exc:
            return failure_outcome(exc), 0
        found = [(entry, entry_key(feed.name, entry))
                 for entry in parsed.entries[: self.config.poll.max_entries]]
        new = self.store.register_entries(feed.name, found, self.clock())
        return success_outcome(result, parsed, self.clock()), new

    async def _parse_sitemap(self, result: HttpResult) -> SitemapDocument:
        return await self.pool.run(parse_sitemap, result.content, result.url,
                                   self.config.network.max_feed_bytes,
                                   timeout=FEED_PARSE_TIMEOUT)

    async def _process_pending(self, feed: FeedConfig, polled: FeedState) -> list[Filed]:
        pending = self.store.pending_entries(feed.name)
        gate = asyncio.Semaphore(ENTRIES_IN_PARALLEL)

        async def one(item: PendingEntry) -> Filed | None:
            if self.stopping.is_set():
                return None  # stays pending; the next run picks it up
            return await self._work_entry(feed, item, polled, gate)

        results = await asyncio.gather(*(one(item) for item in pending),
                                       return_exceptions=True)
        stored: list[Filed] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result  # a StoreError: the feed's state must not advance
            if result is not None:
                stored.append(result)
        return stored

    async def process_entry_by_id(self, entry_row_id: int) -> Filed | None:
        """One registered entry's work, as a cluster's entry job does it; nothing when the
        entry is no longer pending (done by an earlier attempt). Raises FeedNotInConfig
        when its feed is not in this config, which leaves the entry pending."""
        found = self.store.pending_entry(entry_row_id)
        if found is None:
            return None
        item, state = found
        feed = self.config.feed(item.feed)
        if feed is None:
            raise FeedNotInConfig(item.feed)
        return await self._work_entry(feed, item, state)

    async def _work_entry(self, feed: FeedConfig, item: PendingEntry, polled: FeedState,
                          gate: asyncio.Semaphore | None = None) -> Filed | None:
        """The entry worked (under ``gate``) and its outcome committed (in a batch, after
        the gate is let go); an entry whose work failed counts an attempt (given up after
        ``max_attempts``). Only a StoreError escapes."""
        try:
            async with gate or contextlib.nullcontext():
                if self.stopping.is_set():
                    return None
                outcome = await self._entry_outcome(feed, item, polled)
        except StoreError:
            raise
        except Exception as exc:
            log.error("entry feed=%s url=%s failed: %r", feed.name, item.entry.url, exc)
            outcome = Outcome(item.row_id, None)
        stored = await self.committer.store(outcome)
        if stored is None and outcome.ready is not None:
            log.debug("entry feed=%s url=%s: already stored under another entry",
                      feed.name, outcome.ready.article.url)
        return stored

    async def _entry_outcome(self, feed: FeedConfig, item: PendingEntry,
                             polled: FeedState) -> Outcome:
        entry = item.entry
        final_url, canonical = entry.url, item.canonical_url
        reading: PageReading | None = None
        try:
            if not entry.url:
                raise ExtractError("the entry has no link")
            result = await self.fetcher.get(entry.url, max_bytes=self.config.network.max_page_bytes,
                                            accept=PAGE_ACCEPT)
            final_url, canonical = result.url, canonical_url(result.url)
            with metrics.EXTRACTION_SECONDS.time():
                reading = await self.pool.run(read_page, result.content, result.url,
                                              result.headers.get("content-type"), self.clock(),
                                              timeout=self.config.extract.timeout)
        except (FetchError, ExtractError) as exc:
            log.info("page feed=%s url=%s: %s; using the feed's text", feed.name, entry.url, exc)
        except TimeoutError:
            log.warning("page feed=%s url=%s: extraction timed out; using the feed's text",
                        feed.name, entry.url)
        except WatcherError as exc:
            log.warning("page feed=%s url=%s: %s; using the feed's text", feed.name, entry.url,
                        exc)
        now = self.clock()
        paragraphs, source = await self._clean_text(reading, final_url, canonical, now)
        facts = EntryFacts(
            entry=entry, feed=feed.name, feed_title=polled.title, feed_url=polled.url,
            page=reading.page if reading else None, paragraphs=paragraphs,
            text_source=source, final_url=final_url, canonical=canonical, fetched=now,
            store_all=self.config.store == "all")
        await self._share_rules()
        finished = await self.pool.run(finish_entry, facts, timeout=self.config.extract.timeout,
                                       priority=FINISHING)
        metrics.MATCH_SECONDS.observe(finished.match_seconds)
        return Outcome(item.row_id, finished.ready)

    async def _share_rules(self) -> None:
        """The workers match with the rules in force: a reload's new rules are sent (and
        compiled there) before the next entry needs them."""
        rules = self.rules()
        source = self.pool.sharing(RULES)
        if not isinstance(source, RuleSource) or source.rules is not rules.rules:
            await self.pool.share(RULES, RuleSource(rules.rules), compile_rules)

    async def _clean_text(self, reading: PageReading | None, url: str, canonical: str,
                          now: datetime) -> tuple[tuple[str, ...] | None, TextSource]:
        """Drop the site's learned boilerplate, then judge whether the text looks complete.
        (The site's memory is in the index: asked in a batch, in a thread.)"""
        if reading is None or not reading.page.paragraphs:
            return None, "feed"
        page, prints = reading.page, reading.fingerprints
        settings = self.config.extract
        # Recording before looking up means the article that completes the count is
        # already cleaned; a new site's first articles keep their text.
        known, typical = await self.site_memory.submit(Observation(
            site_of(url), url_hash(canonical), frozenset(f for f in prints if f is not None),
            now, settings.boilerplate_min_articles, settings.boilerplate_window,
            lambda known: sum(map(len, remove_boilerplate(page.paragraphs, known, prints)))))
        paragraphs = remove_boilerplate(page.paragraphs, known, prints)
        if not paragraphs:
            return None, "feed"
        return paragraphs, assess_text(replace(page, paragraphs=paragraphs), typical)

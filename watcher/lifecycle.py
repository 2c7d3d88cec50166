"""What a poll's outcome means for a feed: next poll, backoff, moves, failing, gone.

Pure: ``advance(state, outcome, ...)`` returns the feed's new state; the store persists it
and the scheduler only asks the store what is due. The interval is fixed or, with
``interval: auto``, learned from the feed's entry times (``watcher.polling``). Follows
feed-reader practice: honour Retry-After, Cache-Control max-age, Expires and RSS <ttl>
(they can only slow us down), back off
exponentially with jitter on failures, tell the user once when a feed starts failing,
recovers, moves permanently (301/308, after the new URL answered) or is gone (410).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from watcher.config import FeedConfig, PollConfig
from watcher.polling import PollDecision, decide_interval
from watcher.types import FeedState as FeedState
from watcher.types import FeedStatus
from watcher.websub.lease import pushed_interval
from watcher.websub.model import HubOffer

# The longest a server's caching hints may stretch our interval: a feed must not go quiet
# for days because of an over-eager max-age.
MAX_HINTED_INTERVAL = timedelta(hours=12)


@dataclass(frozen=True)
class PollOutcome:
    """What one poll found; built by the pipeline from the fetch and parse results."""

    kind: Literal["ok", "not_modified", "error"]
    error: str | None = None
    http_status: int | None = None
    retry_after: float | None = None  # seconds, from Retry-After
    max_age: float | None = None  # seconds, from Cache-Control
    ttl: timedelta | None = None  # RSS <ttl>
    moved_to: str | None = None  # every redirect hop was permanent and the target answered
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None
    new_entries: int = 0
    stored: int = 0
    matched: int = 0
    hub: HubOffer | None = None  # the WebSub hub the feed offers (watcher/websub)


def initial_state(feed: FeedConfig) -> FeedState:
    return FeedState(name=feed.name, config_url=feed.url, url=feed.url)


def reconcile_with_config(state: FeedState, feed: FeedConfig) -> FeedState:
    """The config's URL changed: the user's edit wins over a remembered move or failure."""
    if state.config_url == feed.url:
        return state
    return replace(initial_state(feed), title=state.title, polls=state.polls,
                   entries_seen=state.entries_seen, articles_stored=state.articles_stored,
                   matches=state.matches)


def settle(configured: Iterable[FeedConfig], known: Mapping[str, FeedState]
           ) -> list[FeedState]:
    """The states to save so that the index follows the config: a new feed starts afresh,
    a feed whose URL the user changed too (``reconcile_with_config``); others are left."""
    changed = []
    for feed in configured:
        state = known.get(feed.name)
        fresh = initial_state(feed) if state is None else reconcile_with_config(state, feed)
        if fresh is not state:
            changed.append(fresh)
    return changed


def polling_interval(interval: timedelta, outcome: PollOutcome) -> timedelta:
    """The decided interval, raised (never lowered) by the server's caching hints and a
    Retry-After that came with a success."""
    hints = [timedelta(seconds=outcome.max_age) if outcome.max_age else None, outcome.ttl,
             timedelta(seconds=outcome.retry_after) if outcome.retry_after else None]
    hinted = max((h for h in hints if h), default=timedelta(0))
    return max(interval, min(hinted, MAX_HINTED_INTERVAL))


def backoff_delay(feed: FeedConfig, poll: PollConfig, failures: int,
                  retry_after: float | None) -> timedelta:
    """Exponential backoff from the feed's interval, capped; Retry-After wins when longer."""
    exponent = min(max(failures - 1, 0), 16)
    delay = min(feed.interval * (1 << exponent), poll.max_backoff)
    if retry_after is not None:
        delay = max(delay, min(timedelta(seconds=retry_after), poll.max_backoff))
    return delay


def with_jitter(delay: timedelta, jitter: float, random_fraction: float) -> timedelta:
    """Spread polls out so feeds of one host are not hit in lockstep."""
    return delay * (1 + jitter * random_fraction)


def advance(state: FeedState, outcome: PollOutcome, feed: FeedConfig, poll: PollConfig,
            now: datetime, random_fraction: float, history: Sequence[datetime] = (), *,
            pushed: bool = False) -> FeedState:
    """The feed's state after a poll. ``random_fraction`` in [0, 1) drives the jitter;
    ``history`` is the feed's recent entry times (for ``interval: auto``); ``pushed``: a
    WebSub hub pushes its changes, so polling is only the safety net."""
    counted = replace(state, last_poll=now, polls=state.polls + 1,
                      entries_seen=state.entries_seen + outcome.new_entries,
                      articles_stored=state.articles_stored + outcome.stored,
                      matches=state.matches + outcome.matched)
    if outcome.kind == "error":
        return _after_failure(counted, outcome, feed, poll, now, random_fraction)
    decision = decide_interval(feed, poll, history, now)
    decided = (pushed_interval(decision, poll.max_interval) if pushed else decision).interval
    return _after_success(counted, outcome, feed, poll, now, random_fraction, decided)


def _after_success(state: FeedState, outcome: PollOutcome, feed: FeedConfig, poll: PollConfig,
                   now: datetime, random_fraction: float, decided: timedelta) -> FeedState:
    notice, notice_sent = state.notice, state.notice_sent
    if state.status == "failing":
        notice, notice_sent = f"feed {feed.name} recovered", False
    url = state.url
    if outcome.moved_to and outcome.moved_to != state.url:
        url = outcome.moved_to
        notice = (f"feed {feed.name} moved permanently to {url} "
                  f"(update {feed.url} in the config)")
        notice_sent = False
    interval = polling_interval(decided, outcome)
    changed = outcome.kind == "ok"
    return replace(
        state, url=url, status="ok", last_success=now, consecutive_failures=0,
        etag=outcome.etag if changed else state.etag,
        last_modified=outcome.last_modified if changed else state.last_modified,
        title=outcome.title or state.title,
        not_modified=state.not_modified + (0 if changed else 1),
        next_poll=now + with_jitter(interval, poll.jitter, random_fraction),
        notice=notice, notice_sent=notice_sent)


def _after_failure(state: FeedState, outcome: PollOutcome, feed: FeedConfig, poll: PollConfig,
                   now: datetime, random_fraction: float) -> FeedState:
    failures = state.consecutive_failures + 1
    reason = outcome.error or "unknown error"
    if outcome.http_status == 410:
        return replace(state, status="gone", consecutive_failures=failures, last_error=reason,
                       last_error_at=now, next_poll=None,
                       notice=f"feed {feed.name} is gone (HTTP 410); polling stopped",
                       notice_sent=False)
    status: FeedStatus = state.status
    notice, notice_sent = state.notice, state.notice_sent
    if failures >= poll.failing_after and state.status != "failing":
        status = "failing"
        notice = f"feed {feed.name} is failing ({failures} polls in a row): {reason}"
        notice_sent = False
    elif state.status == "new":
        status = "new"
    delay = backoff_delay(feed, poll, failures, outcome.retry_after)
    return replace(state, status=status, consecutive_failures=failures, last_error=reason,
                   last_error_at=now, next_poll=now + with_jitter(delay, poll.jitter,
                                                                  random_fraction),
                   notice=notice, notice_sent=notice_sent)


def interval_in_force(state: FeedState, decision: PollDecision, poll: PollConfig
                      ) -> PollDecision:
    """What ``watcher feeds`` shows: the decided interval, or what the last poll's outcome
    made of it (backoff, the server's hints), read from the schedule it left behind."""
    if state.status == "gone":
        return PollDecision(timedelta(0), "stopped: the feed is gone (HTTP 410)")
    if state.consecutive_failures:
        return PollDecision(_scheduled_gap(state) or decision.interval,
                            f"backoff after {state.consecutive_failures} failed polls")
    gap = _scheduled_gap(state)
    if gap is not None and gap > decision.interval * (1 + poll.jitter) + timedelta(seconds=1):
        return PollDecision(gap, f"{decision.reason}; raised by the server's caching hints "
                                 "or Retry-After")
    return decision


def _scheduled_gap(state: FeedState) -> timedelta | None:
    if state.last_poll is None or state.next_poll is None:
        return None
    return state.next_poll - state.last_poll

"""``interval: auto``: the pure decision, run on a fake clock over simulated weeks of feeds
publishing at known rates (seeded Poisson processes), through ``lifecycle.advance``."""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher.config import FeedConfig, PollConfig
from watcher.lifecycle import (
    FeedState,
    PollOutcome,
    advance,
    initial_state,
    interval_in_force,
)
from watcher.polling import decide_interval, publication_rate
from watcher.store import Store
from watcher.types import FeedEntry

START = datetime(2026, 11, 1, tzinfo=UTC)
POLL = PollConfig(adaptive=True, jitter=0.0)  # 15m base, 5m..6h
AUTO = FeedConfig(name="f", url="https://example.org/feed", interval=POLL.interval,
                  adaptive=True)


def poisson(rng: random.Random, per_hour: float, start: datetime, end: datetime
            ) -> Iterator[datetime]:
    t = start
    while True:
        t += timedelta(hours=rng.expovariate(per_hour))
        if t >= end:
            return
        yield t


class FakeFeed:
    """A feed on a fake clock: polled whenever ``advance`` says, its history is what the
    polls found (as the store keeps it)."""

    def __init__(self, published: list[datetime], outcome: PollOutcome | None = None) -> None:
        self.published = sorted(published)
        self.outcome = outcome or PollOutcome(kind="ok")
        self.state: FeedState = initial_state(AUTO)
        self.now = START
        self.polls: list[tuple[datetime, timedelta]] = []  # (poll time, interval chosen)

    def run_until(self, end: datetime) -> None:
        while self.now < end:
            seen = bisect.bisect_right(self.published, self.now)
            history = self.published[max(0, seen - 500):seen]
            self.state = advance(self.state, self.outcome, AUTO, POLL, self.now, 0.0, history)
            assert self.state.next_poll is not None
            self.polls.append((self.now, self.state.next_poll - self.now))
            self.now = self.state.next_poll

    def interval_at(self, moment: datetime) -> timedelta:
        return [interval for at, interval in self.polls if at <= moment][-1]


@pytest.mark.parametrize(("per_hour", "expected_minutes"), [
    (60.0, 5),             # once a minute: sqrt(1m x 15m) = 3.9m, held at min_interval 5m
    (4.0, 15),             # once per poll.interval: polled every poll.interval
    (0.25, 60),            # every 4 hours: sqrt(240m x 15m) = 60m
    (1 / 24, 146.97),      # daily: sqrt(1440 x 15) = 147m
    (1 / (24 * 7), 360),   # weekly: sqrt(10080 x 15) = 389m, held at max_interval 6h
])
def test_steady_feeds_settle_on_the_square_root_interval_over_weeks(
        per_hour: float, expected_minutes: float) -> None:
    rng = random.Random(7)
    days = 21 if per_hour <= 1 else 3  # busy feeds settle within hours
    feed = FakeFeed(list(poisson(rng, per_hour, START - timedelta(days=7),
                                 START + timedelta(days=days))))
    feed.run_until(START + timedelta(days=days))
    settled = [i.total_seconds() / 60 for at, i in feed.polls
               if at >= START + timedelta(days=days / 3)]
    settled.sort()
    median = settled[len(settled) // 2]
    assert expected_minutes * 0.6 <= median <= expected_minutes * 1.5, median
    assert all(POLL.min_interval <= i <= POLL.max_interval for _, i in feed.polls)


def test_breaking_news_is_caught_within_two_polls() -> None:
    rng = random.Random(3)
    burst_start = START + timedelta(days=14, hours=9, minutes=7)
    quiet = list(poisson(rng, 1 / 24, START - timedelta(days=7), burst_start))
    burst = list(poisson(rng, 60, burst_start, burst_start + timedelta(hours=6)))
    feed = FakeFeed(quiet + burst)
    feed.run_until(burst_start + timedelta(hours=6))
    before = feed.interval_at(burst_start)
    assert before >= timedelta(hours=1)  # a daily feed, polled rarely
    after = [interval for at, interval in feed.polls if at > burst_start]
    # The poll under way when it starts may see too little; the next one catches it.
    assert after[1] <= timedelta(minutes=10)
    assert all(interval <= timedelta(minutes=10) for interval in after[1:])


def test_a_feed_that_goes_quiet_is_polled_less_within_two_days() -> None:
    rng = random.Random(5)
    stop = START + timedelta(days=3)
    feed = FakeFeed(list(poisson(rng, 30, START - timedelta(days=2), stop))
                    + list(poisson(rng, 1 / 24, stop, stop + timedelta(days=7))))
    feed.run_until(stop + timedelta(days=4))
    assert feed.interval_at(stop - timedelta(minutes=1)) <= timedelta(minutes=8)  # ~5.5m
    assert feed.interval_at(stop + timedelta(days=2)) >= timedelta(hours=1)


def test_caching_hints_and_retry_after_are_never_undercut() -> None:
    rng = random.Random(1)
    busy = list(poisson(rng, 60, START - timedelta(days=2), START + timedelta(days=2)))
    for hint in (PollOutcome(kind="ok", max_age=3600.0),
                 PollOutcome(kind="not_modified", retry_after=1800.0),
                 PollOutcome(kind="ok", ttl=timedelta(minutes=45))):
        feed = FakeFeed(busy, hint)
        feed.run_until(START + timedelta(days=1))
        floor = max(timedelta(seconds=hint.max_age or 0),
                    timedelta(seconds=hint.retry_after or 0), hint.ttl or timedelta(0))
        assert min(interval for _, interval in feed.polls) == floor


def test_decisions_say_why() -> None:
    fixed = replace(AUTO, adaptive=False, interval=timedelta(minutes=5))
    assert decide_interval(fixed, POLL, [], START).reason == "fixed in the config"
    fresh = decide_interval(AUTO, POLL, [], START)
    assert (fresh.interval, fresh.reason) == (
        timedelta(minutes=15), "auto: no entries seen yet, poll.interval until it publishes")
    sparse = decide_interval(AUTO, POLL, [START - timedelta(days=3)], START)
    assert sparse.interval == POLL.max_interval and "fewer than 3" in sparse.reason
    minutes = [START - timedelta(minutes=n) for n in range(120)]
    busy = decide_interval(AUTO, POLL, minutes, START)
    assert busy.interval == POLL.min_interval
    assert re.fullmatch(r"auto: 6\d entries/hour over the last 2 hours \(poll.min_interval\)",
                        busy.reason)
    rate = publication_rate(minutes, START)
    assert rate is not None and 55 < rate[0] < 65


def test_interval_in_force_reads_hints_and_backoff_from_the_schedule() -> None:
    decision = decide_interval(AUTO, POLL, [], START)
    state = replace(initial_state(AUTO), status="ok", last_poll=START,
                    next_poll=START + timedelta(hours=2))
    assert "raised by the server's caching hints" in interval_in_force(
        state, decision, POLL).reason
    failing = replace(state, consecutive_failures=3)
    assert interval_in_force(failing, decision, POLL).reason == "backoff after 3 failed polls"
    on_time = replace(state, next_poll=START + timedelta(minutes=15))
    assert interval_in_force(on_time, decision, POLL) == decision


def test_the_store_hands_over_entry_times_earliest_of_published_and_seen(tmp_path: Path
                                                                        ) -> None:
    def entry(n: int, published: datetime | None) -> tuple[FeedEntry, str]:
        return (FeedEntry(entry_id=f"e{n}", url=f"https://x.example/{n}", title="t",
                          summary="", content="", published=published),
                f"https://x.example/{n}")

    store = Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}", tmp_path / "articles")
    with store:
        store.register_entries("f", [entry(1, START - timedelta(hours=5)),
                                     entry(2, None),
                                     entry(3, START + timedelta(days=3))],  # a future date
                               START)
        store.register_entries("g", [entry(4, START)], START)
        times = store.entry_times("f", START - timedelta(days=14))
    assert sorted(times) == [START - timedelta(hours=5), START, START]

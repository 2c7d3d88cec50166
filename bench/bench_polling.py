"""Adaptive polling against fixed polling: ``python bench/bench_polling.py [--feeds 500]``.

A simulated day for FEEDS feeds whose publishing rates run from one a minute to one a week
(log-uniform; each feed publishes as a Poisson process), a share of them (``--changing``)
changing rate at noon by a factor of ten up or down. Each feed has a week of history
before the day starts, as a real feed lists its recent entries on the first poll.

Both strategies run the real decision code (``watcher.lifecycle.advance`` with
``interval: auto`` or a fixed interval, jitter included) on a fake clock:

- fixed: every feed every ``--fixed`` minutes (the old default, 15);
- auto: ``interval: auto`` with ``poll.interval`` = the same 15 minutes and the shipped
  ``min_interval``/``max_interval``; the history the decision sees is what the store would
  hold: the entries a feed listed at each poll (at most ``max_entries``, newest first).

Printed per strategy: requests spent in the day, and the median and p90 delay from an
entry's publication to the poll that finds it (the time it is stored, fetching aside), over
all entries and over the busiest fifth of the feeds. The goal: ``auto`` halves the median
delay of the busiest fifth and spends no more requests in total than fixed polling.
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import statistics
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watcher.config import FeedConfig, PollConfig  # noqa: E402
from watcher.lifecycle import PollOutcome, advance, initial_state  # noqa: E402

START = datetime(2026, 12, 1, tzinfo=UTC)
DAY = 24 * 3600.0
WEEK = 7 * DAY
MAX_ENTRIES = 100  # entries a feed lists (PollConfig.max_entries' default)
STORE_LIMIT = 500  # entry times the store hands the decision


@dataclass(frozen=True)
class SimFeed:
    rate: float  # entries per second during the day (mean over it)
    times: list[float]  # publication times, seconds from START (negative: history)


def make_feeds(count: int, changing: float, seed: int) -> list[SimFeed]:
    rng = random.Random(seed)
    low, high = math.log(1 / WEEK), math.log(1 / 60)
    feeds = []
    for _ in range(count):
        rate = math.exp(rng.uniform(low, high))
        after = rate * (10 if rng.random() < 0.5 else 0.1) if rng.random() < changing else rate
        # Poisson before noon at one rate, after it at the other (memoryless, so exact).
        times = _poisson(rng, rate, -WEEK, DAY / 2) + _poisson(rng, after, DAY / 2, 1.5 * DAY)
        in_day = sum(1 for x in times if 0 <= x < DAY)
        feeds.append(SimFeed(rate=in_day / DAY, times=times))
    return feeds


def _poisson(rng: random.Random, rate: float, start: float, end: float) -> list[float]:
    times = []
    t = start + rng.expovariate(rate)
    while t < end:
        times.append(t)
        t += rng.expovariate(rate)
    return times


def simulate(feed: SimFeed, config: FeedConfig, poll: PollConfig, rng: random.Random
             ) -> tuple[int, list[float]]:
    """Requests in the day and each day-entry's delay (seconds) from publication to poll;
    an entry no poll listed (more than ``MAX_ENTRIES`` came after it) counts as infinite."""
    state = initial_state(config)
    now = rng.uniform(0, poll.interval.total_seconds())
    known: list[float] = []  # publication times the store holds (what polls listed)
    last_seen = -math.inf
    requests = 0
    delays: list[float] = []
    pending_from = bisect.bisect_left(feed.times, 0.0)
    while now < DAY or (pending_from < len(feed.times) and feed.times[pending_from] < DAY):
        listed_end = bisect.bisect_right(feed.times, now)
        listed = feed.times[max(0, listed_end - MAX_ENTRIES):listed_end]
        fresh = [t for t in listed if t > last_seen]
        known.extend(fresh)
        if listed:
            last_seen = listed[-1]
        if now < DAY:
            requests += 1
        while pending_from < listed_end:
            published = feed.times[pending_from]
            if 0 <= published < DAY:
                # Pushed out of the feed's last MAX_ENTRIES before a poll saw it: missed.
                missed = pending_from < listed_end - MAX_ENTRIES
                delays.append(math.inf if missed else now - published)
            pending_from += 1
        stamp = START + timedelta(seconds=now)
        history = ([START + timedelta(seconds=t) for t in known[-STORE_LIMIT:]]
                   if config.adaptive else [])
        outcome = PollOutcome(kind="ok" if fresh else "not_modified", new_entries=len(fresh))
        state = advance(state, outcome, config, poll, stamp, rng.random(), history)
        assert state.next_poll is not None
        now = (state.next_poll - START).total_seconds()
        if now > 2 * DAY:
            break
    return requests, delays


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def run(feeds: list[SimFeed], poll: PollConfig, adaptive: bool, seed: int
        ) -> tuple[int, list[list[float]]]:
    rng = random.Random(seed)
    config = FeedConfig(name="f", url="https://x.example/feed", interval=poll.interval,
                        adaptive=adaptive)
    total = 0
    per_feed = []
    for feed in feeds:
        requests, delays = simulate(feed, config, poll, rng)
        total += requests
        per_feed.append(delays)
    return total, per_feed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--changing", type=float, default=0.2,
                        help="share of feeds whose rate changes tenfold at noon")
    parser.add_argument("--fixed", type=float, default=15, help="fixed interval, minutes")
    parser.add_argument("--min-interval", type=float, default=None,
                        help="poll.min_interval for auto, minutes (default: the shipped one)")
    parser.add_argument("--max-interval", type=float, default=None,
                        help="poll.max_interval for auto, minutes (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    feeds = make_feeds(args.feeds, args.changing, args.seed)
    base = PollConfig(interval=timedelta(minutes=args.fixed))
    if args.min_interval:
        base = replace(base, min_interval=timedelta(minutes=args.min_interval))
    if args.max_interval:
        base = replace(base, max_interval=timedelta(minutes=args.max_interval))
    busiest = sorted(range(len(feeds)), key=lambda i: feeds[i].rate, reverse=True)
    busiest = busiest[: max(1, len(feeds) // 5)]
    entries = sum(1 for f in feeds for t in f.times if 0 <= t < DAY)
    print(f"{len(feeds)} feeds, {entries} entries in the day, "
          f"{sum(1 for f in feeds if f.rate > 0)} feeds publishing in it; "
          f"busiest fifth: {len(busiest)} feeds, "
          f"{sum(1 for i in busiest for t in feeds[i].times if 0 <= t < DAY)} entries")
    print(f"{'strategy':<22}{'requests':>10}{'median':>10}{'p90':>10}"
          f"{'top-5th median':>16}{'top-5th p90':>13}{'missed':>8}")
    results = {}
    for label, poll, adaptive in (
            (f"fixed {args.fixed:g} min", base, False),
            ("auto", replace(base, adaptive=True), True)):
        requests, per_feed = run(feeds, poll, adaptive, args.seed)
        every = [d for delays in per_feed for d in delays]
        top = [d for i in busiest for d in per_feed[i]]
        results[label] = (requests, statistics.median(every) if every else 0.0,
                          statistics.median(top) if top else 0.0)
        print(f"{label:<22}{requests:>10}{statistics.median(every) / 60 if every else 0:>9.1f}m"
              f"{percentile(every, 0.9) / 60:>9.1f}m"
              f"{(statistics.median(top) if top else 0) / 60:>15.1f}m"
              f"{percentile(top, 0.9) / 60:>12.1f}m"
              f"{sum(1 for d in every if d == math.inf):>8}")
    (fixed_requests, _, fixed_top), (auto_requests, _, auto_top) = results.values()
    print(f"auto / fixed: requests {auto_requests / fixed_requests:.2f}, "
          f"top-5th median delay {auto_top / fixed_top if fixed_top else 0:.2f} "
          "(goal: requests <= 1.00, delay <= 0.50)")


if __name__ == "__main__":
    main()

"""How often to poll a feed with ``interval: auto``: a pure decision over what it published.

Input: the times of the feed's recent entries (each entry's publication date, or when we
first saw it if that is earlier or the feed gives none: our own observation), the clock
and the ``poll`` settings. Output: an interval and a sentence saying why.

The publication rate is estimated on three time scales, and the shortest one with enough
evidence wins, so a feed that changes pace is followed at once:

- the last two hours, when they hold at least ``MIN_EVIDENCE`` entries (breaking news: a
  poll that finds a burst shortens the next interval right away);
- the last two days;
- the last fortnight.

A quiet recent window also caps the rate the longer ones may claim (a window of W hours
with k entries allows at most (k + ``MIN_EVIDENCE``) / W), so a feed that stops publishing
is polled less within hours, not only once its old entries age out.

Each rate is an exponentially decayed count (time constant one hour, one day, one week),
corrected for a history shorter than that (a feed first polled an hour ago that lists a
hundred entries from that hour publishes fast, not slowly).

The interval is the geometric mean of the feed's mean gap between entries and
``poll.interval``: a feed publishing once per ``poll.interval`` is polled every
``poll.interval``, one publishing a hundred times as often ten times as often, one
publishing a hundred times as rarely ten times as rarely. Polling in proportion to the
square root of the rate is what minimises the mean delay from publication to poll for a
given number of requests (the delay of a feed is half its interval, weighted by the
entries it publishes); polling in plain proportion to the rate would spend most requests
on the few busiest feeds. The result is kept between ``poll.min_interval`` and
``poll.max_interval``; server caching hints and Retry-After can only lengthen it
(``watcher.lifecycle``). ``bench/bench_polling.py`` measures it against fixed polling.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher.config import FeedConfig, PollConfig

__all__ = ["HISTORY", "MIN_EVIDENCE", "PollDecision", "decide_interval", "publication_rate"]

HISTORY = timedelta(days=14)  # how far back the store is asked for entry times
MIN_EVIDENCE = 3  # entries a time scale needs before its rate is trusted
# (window the evidence is counted in, time constant of the decayed rate, label)
_SCALES = (
    (timedelta(hours=2), timedelta(hours=1), "the last 2 hours"),
    (timedelta(days=2), timedelta(days=1), "the last 2 days"),
    (HISTORY, timedelta(days=7), "the last 14 days"),
)


@dataclass(frozen=True)
class PollDecision:
    interval: timedelta
    reason: str


def publication_rate(times: Sequence[datetime], now: datetime
                     ) -> tuple[float, str] | None:
    """Entries per hour on the shortest time scale with enough evidence, and its label.

    None when even the longest scale holds fewer than ``MIN_EVIDENCE`` entries.
    """
    ages = sorted(max((now - t).total_seconds(), 0.0) / 3600 for t in times)
    ages = ages[: bisect.bisect_right(ages, HISTORY.total_seconds() / 3600)]
    if not ages:
        return None
    known_for = ages[-1]  # hours of history we have for this feed
    ceiling = math.inf  # what the quieter recent windows allow the rate to be
    for window, constant, label in _SCALES:
        window_h = window.total_seconds() / 3600
        tau = constant.total_seconds() / 3600
        inside = ages[: bisect.bisect_right(ages, window_h)]
        if len(inside) < MIN_EVIDENCE:
            if known_for >= window_h:
                ceiling = min(ceiling, (len(inside) + MIN_EVIDENCE) / window_h)
            continue
        decayed = sum(math.exp(-age / tau) for age in inside)
        # The expected decayed count of a steady rate over the span we have seen.
        span = min(max(known_for, 1 / 60), window_h)
        return min(decayed / (tau * (1 - math.exp(-span / tau))), ceiling), label
    return None


def decide_interval(feed: FeedConfig, poll: PollConfig, times: Sequence[datetime],
                    now: datetime) -> PollDecision:
    """The interval before caching hints: fixed, or learned for ``interval: auto``."""
    if not feed.adaptive:
        return PollDecision(feed.interval, "fixed in the config")
    found = publication_rate(times, now)
    if found is None:
        if not times:
            return PollDecision(_bounded(poll.interval, poll),
                                "auto: no entries seen yet, poll.interval until it publishes")
        return PollDecision(poll.max_interval,
                            f"auto: fewer than {MIN_EVIDENCE} entries in 14 days")
    rate, label = found
    gap = timedelta(hours=1 / rate)
    learned = timedelta(seconds=math.sqrt(gap.total_seconds() * poll.interval.total_seconds()))
    interval = _bounded(learned, poll)
    bound = (" (poll.min_interval)" if interval > learned else
             " (poll.max_interval)" if interval < learned else "")
    return PollDecision(interval, f"auto: {_per_day(rate)} over {label}{bound}")


def _bounded(interval: timedelta, poll: PollConfig) -> timedelta:
    return min(max(interval, poll.min_interval), poll.max_interval)


def _per_day(rate_per_hour: float) -> str:
    if rate_per_hour >= 1:
        return f"{rate_per_hour:.0f} entries/hour"
    return f"{rate_per_hour * 24:.1f} entries/day"

"""What the daemon counts for ``/metrics`` (prometheus-client, Prometheus naming).

The counters and histograms here are filled by the pipeline as it works; the gauges that
describe the index (outbox states, each feed's last success) are read from it at scrape
time by ``web.metrics_view.IndexCollector``. None of them is registered globally: the web
app registers them in its own registry, so tests and benchmarks can make as many as they like.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from watcher import __version__

# Page extraction runs in a worker process: from milliseconds to the time limit (20 s).
_EXTRACT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
# Matching one article against every rule: microseconds for most, more for long pages.
_MATCH_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                  0.25, 1.0)

POLLS = Counter("watcher_polls", "Feed polls, by outcome (ok, not_modified, error).",
                ["outcome"], registry=None)
ARTICLES_STORED = Counter("watcher_articles_stored", "Articles stored in the index.",
                          registry=None)
EXTRACTION_SECONDS = Histogram("watcher_extraction_seconds",
                               "Time to extract one article page (worker round trip).",
                               buckets=_EXTRACT_BUCKETS, registry=None)
MATCH_SECONDS = Histogram("watcher_match_seconds", "Time to match one article against "
                          "every rule.", buckets=_MATCH_BUCKETS, registry=None)
BUILD_INFO = Gauge("watcher_build_info", "Always 1; the labels say which watcher runs.",
                   ["version", "python"], registry=None)
BUILD_INFO.labels(version=__version__, python=platform.python_version()).set(1)


class RuleMatches(Collector):
    """``watcher_matches_total{rule}``: articles matched per rule, as they were stored.

    Counted in a plain dict and read at scrape time: a labelled prometheus-client counter
    takes a lock on every increment, and with thousands of topic rules a poll's articles
    match thousands of them; these additions ran on the daemon's own process, the one that
    commits every article. The samples are a labelled counter's own (``_total`` and
    ``_created``). Only the daemon's event loop adds; a scrape reads a copy.
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._created: dict[str, float] = {}

    def add(self, matches: Mapping[str, int]) -> None:
        counts = self._counts
        for rule, count in matches.items():
            before = counts.get(rule)
            if before is None:
                self._created[rule] = time.time()
                before = 0
            counts[rule] = before + count

    def collect(self) -> Iterable[Metric]:
        counts, created = dict(self._counts), dict(self._created)
        family = CounterMetricFamily("watcher_matches", "Articles matched, per rule, as they "
                                     "were stored.", labels=["rule"])
        for rule, count in counts.items():
            family.add_metric([rule], count, created=created[rule])
        yield family


MATCHES = RuleMatches()


def process_collectors() -> Iterable[Collector]:
    """Every metric this process fills in as it works."""
    return (POLLS, ARTICLES_STORED, MATCHES, EXTRACTION_SECONDS, MATCH_SECONDS, BUILD_INFO)


def record_poll(outcome: str, stored: int, matches: Mapping[str, int]) -> None:
    """One finished poll: its outcome, the articles it stored, their matches per rule."""
    POLLS.labels(outcome=outcome).inc()
    ARTICLES_STORED.inc(stored)
    MATCHES.add(matches)

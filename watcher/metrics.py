"""What the daemon counts for ``/metrics`` (prometheus-client, Prometheus naming).

The counters and histograms here are filled by the pipeline as it works; the gauges that
describe the index (outbox states, each feed's last success) are read from it at scrape
time by ``web.metrics_view.IndexCollector``. None of them is registered globally: the web
app registers them in its own registry, so tests and benchmarks can make as many as they like.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge, Histogram
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
MATCHES = Counter("watcher_matches", "Articles matched, per rule, as they were stored.",
                  ["rule"], registry=None)
EXTRACTION_SECONDS = Histogram("watcher_extraction_seconds",
                               "Time to extract one article page (worker round trip).",
                               buckets=_EXTRACT_BUCKETS, registry=None)
MATCH_SECONDS = Histogram("watcher_match_seconds", "Time to match one article against "
                          "every rule.", buckets=_MATCH_BUCKETS, registry=None)
BUILD_INFO = Gauge("watcher_build_info", "Always 1; the labels say which watcher runs.",
                   ["version", "python"], registry=None)
BUILD_INFO.labels(version=__version__, python=platform.python_version()).set(1)


def process_collectors() -> Iterable[Collector]:
    """Every metric this process fills in as it works."""
    return (POLLS, ARTICLES_STORED, MATCHES, EXTRACTION_SECONDS, MATCH_SECONDS, BUILD_INFO)


# Each rule's child of MATCHES, looked up once: ``labels`` takes a lock and checks its
# arguments on every call, and a poll of ten thousand matching rules made that many calls.
_MATCHES_OF_RULE: dict[str, Counter] = {}


def record_poll(outcome: str, stored: int, matches: Mapping[str, int]) -> None:
    """One finished poll: its outcome, the articles it stored, their matches per rule."""
    POLLS.labels(outcome=outcome).inc()
    ARTICLES_STORED.inc(stored)
    for rule, count in matches.items():
        counter = _MATCHES_OF_RULE.get(rule)
        if counter is None:
            counter = _MATCHES_OF_RULE[rule] = MATCHES.labels(rule=rule)
        counter.inc(count)

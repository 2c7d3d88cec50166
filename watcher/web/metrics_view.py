"""``/metrics``: the process's own counters (``watcher.metrics``) and gauges read from the
index at scrape time (outbox states, each feed's last success), in Prometheus text."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from watcher import metrics
from watcher.store import Store
from watcher.store.reading import Reading

DELIVERY_STATES = ("pending", "sending", "sent", "failed")


class IndexCollector(Collector):
    """Gauges that describe the index as it is now."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reading = Reading(store.engine)

    def collect(self) -> Iterator[Metric]:
        counts = self.reading.delivery_counts()
        outbox = GaugeMetricFamily("watcher_outbox_deliveries",
                                   "Outbox deliveries by state (pending, sending, sent, "
                                   "failed).", labels=["state"])
        for state in sorted({*DELIVERY_STATES, *counts}):
            outbox.add_metric([state], counts.get(state, 0))
        yield outbox
        last = GaugeMetricFamily("watcher_feed_last_success_timestamp_seconds",
                                 "When each feed was last polled successfully (Unix time).",
                                 labels=["feed"])
        for name, feed in sorted(self.store.feed_states().items()):
            if feed.last_success is not None:
                last.add_metric([name], feed.last_success.timestamp())
        yield last
        stored = GaugeMetricFamily("watcher_index_articles", "Articles in the index.")
        stored.add_metric([], self.store.article_count())
        yield stored


def process_exposition() -> bytes:
    """This process's counters and histograms in Prometheus text."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in metrics.process_collectors():
        registry.register(collector)
    return generate_latest(registry)


def index_registry(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(IndexCollector(store))
    return registry


def exposition(index: CollectorRegistry, process_metrics: Callable[[], bytes]) -> bytes:
    """The daemon's counters (from wherever they are kept) followed by the index's gauges;
    the two never share a metric name, so the texts join as they are."""
    return process_metrics() + generate_latest(index)

"""``watcher_matches_total{rule}`` is counted in a plain dict (``metrics.RuleMatches``) but
exposed exactly as the labelled prometheus-client counter it replaced."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, generate_latest

from watcher.metrics import RuleMatches


def _exposed(collector: object) -> str:
    registry = CollectorRegistry()
    registry.register(collector)  # type: ignore[arg-type]
    # the _created samples hold the time each rule first matched: the same lines, other times
    return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 T", generate_latest(registry).decode())


def test_the_same_samples_as_a_labelled_counter() -> None:
    polls = [{"mi6-defect": 2, "élection \"quoted\"": 1}, {}, {"mi6-defect": 3, "b": 1}]
    counter = Counter("watcher_matches", "Articles matched, per rule, as they were stored.",
                      ["rule"], registry=None)
    counted = RuleMatches()
    for matches in polls:
        for rule, count in matches.items():
            counter.labels(rule=rule).inc(count)
        counted.add(matches)
    assert _exposed(counted) == _exposed(counter)
    assert 'watcher_matches_total{rule="mi6-defect"} 5.0' in _exposed(counted)


def test_nothing_matched_yet_exposes_only_the_family() -> None:
    assert _exposed(RuleMatches()) == _exposed(Counter(
        "watcher_matches", "Articles matched, per rule, as they were stored.", ["rule"],
        registry=None))

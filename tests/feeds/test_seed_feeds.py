"""Real-looking feeds for the seed story, parsed against golden files.

``tests/data/feeds/seed/<name>`` is served with the headers in ``FEEDS``; the expected
``ParsedFeed`` is ``<name>.expected.json`` beside it. After a deliberate change in output,
rewrite the golden files with ``WATCHER_UPDATE_GOLDEN=1 pytest tests/feeds`` and review the
diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from watcher.feeds import parse_feed
from watcher.types import ParsedFeed

SEED = Path(__file__).parent.parent / "data" / "feeds" / "seed"

# file -> (feed URL, response headers as the real sites send them)
FEEDS = {
    "independent-world.rss": (
        "https://www.independent.co.uk/news/world/rss",
        {"Content-Type": "application/rss+xml; charset=utf-8"},
    ),
    "guardian-world.atom": (
        "https://www.theguardian.com/world/rss.atom",
        {"Content-Type": "application/atom+xml"},
    ),
    "aljazeera-rdf.rdf": (
        "https://www.aljazeera.com/xml/rss/all.xml",
        {"content-type": "text/xml"},  # no charset: RFC 3023 would say US-ASCII; browsers don't
    ),
    "lemonde-windows-1252.rss": (
        "https://www.lemonde.fr/international/rss_full.xml",
        {"Content-Type": "text/xml; charset=ISO-8859-1"},
    ),
}


def as_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [as_json(v) for v in value]
    return value


def parse_seed(name: str) -> ParsedFeed:
    url, headers = FEEDS[name]
    return parse_feed((SEED / name).read_bytes(), headers, url)


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_seed_feed_matches_golden(name: str) -> None:
    actual = as_json(parse_seed(name))
    golden = SEED / f"{name}.expected.json"
    if os.environ.get("WATCHER_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert actual == json.loads(golden.read_text())


def test_independent_feed_carries_the_seed_article() -> None:
    feed = parse_seed("independent-world.rss")
    first = feed.entries[0]
    assert first.title.startswith("‘Their secrets will be safe with us’: MI6 spy boss")
    assert "our door is always open." in first.content
    assert first.content.count("\n") == 3  # three paragraphs and a caption
    assert feed.ttl == timedelta(minutes=5)


def test_windows_1252_feed_has_no_mojibake() -> None:
    entry = parse_seed("lemonde-windows-1252.rss").entries[0]
    assert entry.title == "Le chef du MI6 appelle les Russes à « rejoindre » le Royaume-Uni"
    assert entry.summary == "Richard Moore, depuis Prague : “notre porte est toujours ouverte” …"

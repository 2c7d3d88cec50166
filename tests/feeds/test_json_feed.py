"""JSON Feed 1.0/1.1 through parse_feed, into the same types as RSS and Atom."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.data import DATA
from watcher.errors import ParseError
from watcher.feeds import parse_feed

URL = "https://gazette.example.org/feed.json"
JSON_TYPE = {"Content-Type": "application/feed+json"}


def read(name: str) -> bytes:
    return (DATA / "feeds" / name).read_bytes()


def test_json_feed_1_1_becomes_feed_entries() -> None:
    feed = parse_feed(read("jsonfeed-1.1.json"), JSON_TYPE, URL)
    assert feed.title == "Harbour Gazette"
    assert feed.site_url == "https://gazette.example.org/"
    assert [e.entry_id for e in feed.entries] == ["https://gazette.example.org/2026/12/ferry", "2"]
    first, second = feed.entries
    assert first.url == "https://gazette.example.org/2026/12/ferry"  # relative, resolved
    assert first.title == "Night ferry resumes after storm"
    assert first.content == "The night ferry sailed again on Friday.\nCrews had waited three days."
    assert first.summary == "Service back after three days"
    assert first.published == datetime(2026, 12, 4, 20, 30, tzinfo=UTC)
    assert first.author == "Ann Reeve"
    assert second.content == "Stalls moved into the old hall.\nTraders welcomed the roof."
    assert second.published == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # date_modified
    assert feed.warning is None


def test_json_feed_1_0_numbers_authors_and_bad_items() -> None:
    # Served as plain JSON, or with no type at all: recognised by its first character.
    for headers in ({"Content-Type": "application/json"}, {}):
        feed = parse_feed(read("jsonfeed-1.0.json"), headers, "https://old.example.net/f")
        first = feed.entries[0]
        assert first.entry_id == "17" and first.author == "Solo Writer"
        assert first.published == datetime(2020, 1, 2, 8, 4, 5, tzinfo=UTC)
        assert feed.entries[1].entry_id.startswith("sha256:")  # known by its title
        assert feed.warning is not None and "1 item(s)" in feed.warning


@pytest.mark.parametrize(("doc", "message"), [
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "line 1, column"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"title": "x", "items": []}', "not a JSON Feed"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', '"items" is not a list'),
    (b'{"version": "https://jsonfeed.org/version/1", "items": ["a", 3]}', "no item"),
    (b"{" + b'"a":[' * 100_000, "malformed JSON Feed"),
])
def test_broken_json_feeds_get_a_clear_error(doc: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_feed(doc, JSON_TYPE, URL)


def test_json_feed_advertised_by_a_page_is_named() -> None:
    page = (b'<html><head><link rel="alternate" type="application/feed+json" href="/feed.json">'
            b"</head><body></body></html>")
    with pytest.raises(ParseError, match=r"advertises: https://gazette\.example\.org/feed\.json"):
        parse_feed(page, {"Content-Type": "text/html"}, "https://gazette.example.org/")


def test_json_feed_in_latin1_is_decoded_by_the_shared_sniffer() -> None:
    doc = ('{"version": "https://jsonfeed.org/version/1.1", "items": '
           '[{"id": "1", "title": "Café"}]}').encode("latin-1")
    feed = parse_feed(doc, {"Content-Type": "application/feed+json; charset=iso-8859-1"}, URL)
    assert feed.entries[0].title == "Café"


def test_implausible_dates_are_not_dates() -> None:
    # As for RSS and Atom: 1970 from a broken feed is no date; date_modified is next.
    doc = (b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", '
           b'"date_published": "1970-01-01T00:00:00Z", '
           b'"date_modified": "2026-12-03T08:00:00Z"}]}')
    assert parse_feed(doc, JSON_TYPE, URL).entries[0].published == datetime(
        2026, 12, 3, 8, 0, tzinfo=UTC)

"""The pipeline's pure decisions: outcomes, dedupe keys, where an article's text comes from."""

from __future__ import annotations

from datetime import UTC, datetime

from watcher.entrywork import build_article, feed_text, outlet_name
from watcher.errors import FetchError, ParseError
from watcher.pipeline import entry_key, failure_outcome, success_outcome
from watcher.types import ExtractedPage, FeedEntry, HttpResult, ParsedFeed, Redirect

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
ENTRY = FeedEntry(entry_id="g1", url="https://www.example.org/a?utm_source=rss#top",
                  title="Feed title", summary="Feed summary.",
                  content="First paragraph.\nSecond paragraph.", published=NOW, author="Feed")


def result(redirects: tuple[Redirect, ...] = (), status: int = 200,
           headers: dict[str, str] | None = None) -> HttpResult:
    return HttpResult(requested_url="https://a.example/feed", url="https://b.example/feed",
                      status=status, headers=headers or {}, content=b"", redirects=redirects)


def test_only_an_all_permanent_chain_is_a_move() -> None:
    parsed = ParsedFeed(title="T", site_url="", entries=())
    permanent = (Redirect(301, "https://a.example/feed", "https://b.example/feed"),)
    mixed = (*permanent, Redirect(302, "https://b.example/feed", "https://c.example/feed"))
    assert success_outcome(result(permanent), parsed, NOW).moved_to == "https://b.example/feed"
    assert success_outcome(result(mixed), parsed, NOW).moved_to is None
    assert success_outcome(result(), parsed, NOW).moved_to is None


def test_success_outcome_reads_caching_hints() -> None:
    outcome = success_outcome(
        result(headers={"cache-control": "public, max-age=1800", "etag": '"x"'}), None, NOW)
    assert (outcome.kind, outcome.max_age, outcome.etag) == ("not_modified", 1800.0, '"x"')
    # Expires counts from the response's Date; Retry-After on a success is kept too.
    expires = success_outcome(result(headers={
        "date": "Mon, 23 Nov 2026 07:00:00 GMT", "expires": "Mon, 23 Nov 2026 07:20:00 GMT",
        "retry-after": "600"}), None, NOW)
    assert (expires.max_age, expires.retry_after) == (1200.0, 600.0)
    garbage = success_outcome(result(headers={"date": "x", "expires": "0"}), None, NOW)
    assert (garbage.max_age, garbage.retry_after) == (None, None)


def test_failure_outcome_keeps_status_and_retry_after() -> None:
    outcome = failure_outcome(FetchError("HTTP 429", status=429, retry_after=60.0))
    assert (outcome.kind, outcome.http_status, outcome.retry_after) == ("error", 429, 60.0)
    assert failure_outcome(ParseError("no entries")).error == "no entries"


def test_entry_key_is_the_canonical_url_or_the_entry_itself() -> None:
    assert entry_key("f", ENTRY) == "https://www.example.org/a"
    linkless = FeedEntry(entry_id="x1", url="", title="t", summary="", content="",
                         published=None)
    assert entry_key("f", linkless) == "urn:watcher:f:x1"


def test_feed_text_prefers_content_and_keeps_a_distinct_summary() -> None:
    assert feed_text(ENTRY) == ("Feed summary.", ("First paragraph.", "Second paragraph."))
    only_summary = FeedEntry(entry_id="x", url="", title="t", summary="Just this.",
                             content="", published=None)
    assert feed_text(only_summary) == ("", ("Just this.",))


def test_page_metadata_wins_and_a_missing_page_falls_back_to_the_feed() -> None:
    page = ExtractedPage(title="Page title", description="Standfirst.",
                         paragraphs=("Body.",), published=None, author="")
    article = build_article(entry=ENTRY, feed="f", page=page, paragraphs=("Body.",),
                            final_url="https://www.example.org/a", canonical="c",
                            text_source="page", language="en", now=NOW)
    assert (article.title, article.description, article.paragraphs) == (
        "Page title", "Standfirst.", ("Body.",))
    assert (article.published, article.author, article.site) == (NOW, "Feed", "example.org")

    fallback = build_article(entry=ENTRY, feed="f", page=None, paragraphs=None,
                             final_url="https://www.example.org/a", canonical="c",
                             text_source="page", language=None, now=NOW)
    assert fallback.text_source == "feed"
    assert (fallback.title, fallback.paragraphs) == (
        "Feed title", ("First paragraph.", "Second paragraph."))


def test_the_outlet_is_the_pages_name_else_its_own_feeds_title_else_the_host() -> None:
    named = ExtractedPage(title="t", description="", paragraphs=("Body.",),
                          site_name="Daily\nPlanet")
    unnamed = ExtractedPage(title="t", description="", paragraphs=("Body.",))
    article_url = "https://news.planet.example/2026/storm"
    own_feed = "https://feeds.planet.example/world.rss"
    assert outlet_name(named, "Planet: World", own_feed, article_url) == "Daily Planet"
    assert outlet_name(unnamed, "Planet: World", own_feed, article_url) == "Planet: World"
    assert outlet_name(None, "Planet: World", own_feed, article_url) == "Planet: World"
    # an aggregator's feed titles the aggregator, not the outlet it links to
    aggregator = "https://news.aggregator.example/rss?q=storm"
    assert outlet_name(unnamed, "Storm - Aggregator", aggregator, article_url) == \
        "news.planet.example"
    # no name at all, or a "name" that is a paragraph: the host
    assert outlet_name(unnamed, "", own_feed, article_url) == "news.planet.example"
    rambling = ExtractedPage(title="t", description="", paragraphs=("Body.",),
                             site_name="word " * 40)
    assert outlet_name(rambling, "", "", article_url) == "news.planet.example"


def test_the_article_records_its_date_source_and_outlet() -> None:
    page = ExtractedPage(title="Page title", description="", paragraphs=("Body.",),
                         site_name="Example News")
    article = build_article(entry=ENTRY, feed="f", page=page, paragraphs=("Body.",),
                            final_url="https://www.example.org/a", canonical="c",
                            text_source="page", language="en", now=NOW,
                            feed_title="Example: all", feed_url="https://example.org/rss")
    assert (article.published_source, article.site_name) == ("feed", "Example News")
    fallback = build_article(entry=ENTRY, feed="f", page=None, paragraphs=None,
                             final_url="https://www.example.org/a", canonical="c",
                             text_source="page", language=None, now=NOW,
                             feed_title="Example: all", feed_url="https://example.org/rss")
    assert fallback.site_name == "Example: all" and fallback.outlet == "Example: all"

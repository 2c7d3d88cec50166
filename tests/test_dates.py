"""watcher/dates.py: which claimed publication date to believe (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.dates import (
    EARLIEST,
    SOURCE_ORDER,
    DateClaim,
    as_utc,
    first_plausible,
    plausible,
    publication_time,
    url_date,
)
from watcher.extract.metadata import date_claims, parse_datetime

FETCHED = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("value", "ok"), [
    (YEAR_ONE, False),
    (datetime(1900, 1, 1, tzinfo=UTC), False),
    (datetime(1970, 1, 1, tzinfo=UTC), False),  # the Unix epoch: a feed that had no date
    (datetime(1989, 12, 31, 23, 59, tzinfo=UTC), False),
    (EARLIEST, True),
    (FETCHED + timedelta(hours=23), True),  # a time zone ahead, a skewed clock
    (FETCHED + timedelta(days=1, seconds=1), False),
    (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), False),
])
def test_the_plausible_window(value: datetime, ok: bool) -> None:
    assert plausible(value, FETCHED) is ok


def test_the_future_is_unbounded_until_the_fetch_time_is_known() -> None:
    assert plausible(datetime(9999, 12, 31, tzinfo=UTC))
    assert not plausible(datetime(9999, 12, 31, tzinfo=UTC), FETCHED)


def test_the_best_plausible_source_wins_and_is_recorded() -> None:
    claims = [DateClaim("url", datetime(2019, 11, 19, tzinfo=UTC)),
              DateClaim("json-ld", YEAR_ONE),
              DateClaim("feed", datetime(2019, 11, 19, 14, 5, tzinfo=UTC)),
              DateClaim("htmldate", datetime(2019, 11, 18, tzinfo=UTC))]
    assert publication_time(claims, FETCHED) == DateClaim(
        "feed", datetime(2019, 11, 19, 14, 5, tzinfo=UTC))
    assert publication_time(claims[:2], FETCHED).source == "url"
    assert publication_time([claims[1]], FETCHED) == DateClaim("fetched", FETCHED)
    assert publication_time([], FETCHED) == DateClaim("fetched", FETCHED)


def test_within_one_source_the_earlier_claim_wins() -> None:
    first = datetime(2020, 1, 1, tzinfo=UTC)
    claims = [DateClaim("json-ld", YEAR_ONE), DateClaim("json-ld", first),
              DateClaim("json-ld", datetime(2021, 1, 1, tzinfo=UTC))]
    assert publication_time(claims, FETCHED) == DateClaim("json-ld", first)


def test_sources_rank_as_the_issue_orders_them() -> None:
    assert SOURCE_ORDER == ("meta", "json-ld", "opengraph", "feed", "url", "htmldate",
                            "fetched")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://eu.usatoday.com/story/news/politics/2019/11/19/impeachment/4236655002/",
     datetime(2019, 11, 19, tzinfo=UTC)),
    ("https://example.org/2019-11-19/story", datetime(2019, 11, 19, tzinfo=UTC)),
    ("https://example.org/news/20191119/story", datetime(2019, 11, 19, tzinfo=UTC)),
    ("https://example.org/2019/1/5/story", datetime(2019, 1, 5, tzinfo=UTC)),
    ("https://example.org/2019/02/30/story", None),  # no such day
    ("https://example.org/2019/13/01/story", None),
    ("https://example.org/a/30279001.html", None),  # an id, not a date
    ("https://example.org/news/12345678/x", None),
    ("not a url", None),
])
def test_the_date_in_a_url(url: str, expected: datetime | None) -> None:
    assert url_date(url) == expected


def test_metadata_collects_every_claim_best_first_and_year_one_is_not_published() -> None:
    meta = {"og:published_time": "2019-11-19T10:00:00Z", "date": "2019-11-20"}
    ld = [{"datePublished": "0001-01-01T00:00:00Z"},
          {"datePublished": "0001-01-01T00:00:00+05:00"},  # not expressible in UTC
          {"dateCreated": "2019-11-18T08:00:00-0500"}]
    claims = date_claims(meta, ld)
    assert [c.source for c in claims] == ["json-ld", "json-ld", "opengraph", "opengraph"]
    assert claims[1].value == datetime(2019, 11, 18, 13, 0, tzinfo=UTC)
    assert first_plausible(c.value for c in claims) == datetime(2019, 11, 18, 13, 0, tzinfo=UTC)


offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes)))


@given(st.datetimes(timezones=st.none() | offsets))
def test_any_datetime_is_judged_without_raising(value: datetime) -> None:
    """datetime.min/max, naive or aware at any offset: judged, never an OverflowError."""
    moment = as_utc(value)
    assert moment is None or moment.tzinfo is UTC
    chosen = publication_time([DateClaim("json-ld", value)], FETCHED)
    assert EARLIEST <= chosen.value <= FETCHED + timedelta(days=1)
    assert chosen.value.tzinfo is UTC
    assert parse_datetime(value.isoformat()) in (None, moment)


@given(st.datetimes(timezones=st.none() | offsets), st.datetimes(timezones=offsets))
def test_any_fetch_time_and_claim_give_a_sane_date(claim: datetime, fetched: datetime) -> None:
    chosen = publication_time([DateClaim("feed", claim)], fetched)
    assert chosen.source in ("feed", "fetched")
    if chosen.source == "feed":
        assert plausible(chosen.value, fetched)


def _feed(date: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
            f"<title>x</title><link>https://example.org/x</link>{date}</item></channel></rss>"
            ).encode()


@pytest.mark.parametrize(("dates", "expected"), [
    ("<pubDate>Mon, 01 Jan 1900 00:00:00 GMT</pubDate>", None),
    ("<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>", None),
    # An implausible published date falls back to the entry's updated date.
    ("<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>"
     "<atom:updated xmlns:atom='http://www.w3.org/2005/Atom'>2019-11-19T14:05:00Z"
     "</atom:updated>", datetime(2019, 11, 19, 14, 5, tzinfo=UTC)),
    # The future is judged against the fetch time, by build_article.
    ("<pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate>",
     datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
])
def test_feed_entries_drop_dates_from_before_the_web(dates: str,
                                                     expected: datetime | None) -> None:
    from watcher.feeds import parse_feed

    entry = parse_feed(_feed(dates), {}, "https://example.org/rss").entries[0]
    assert entry.published == expected


def test_build_article_walks_the_chain_and_records_the_winner() -> None:
    from watcher.entrywork import build_article
    from watcher.types import ExtractedPage, FeedEntry

    def article(page_dates: tuple[DateClaim, ...], feed: datetime | None, url: str) -> Any:
        entry = FeedEntry(entry_id="e", url=url, title="t", summary="s", content="",
                          published=feed)
        page = ExtractedPage(title="t", description="", paragraphs=("Body.",),
                             dates=page_dates)
        return build_article(entry=entry, feed="f", page=page, paragraphs=("Body.",),
                             final_url=url, canonical=url, text_source="page",
                             language="en", now=FETCHED)

    year_one = (DateClaim("json-ld", YEAR_ONE),)
    dated_url = "https://example.org/2019/11/20/story/"
    found = article(year_one, datetime(9999, 1, 1, tzinfo=UTC), dated_url)
    assert (found.published, found.published_source) == (datetime(2019, 11, 20, tzinfo=UTC),
                                                          "url")
    found = article(year_one, datetime(2019, 11, 19, 14, 5, tzinfo=UTC), dated_url)
    assert (found.published, found.published_source) == (
        datetime(2019, 11, 19, 14, 5, tzinfo=UTC), "feed")
    found = article(year_one, None, "https://example.org/story/")
    assert (found.published, found.published_source) == (FETCHED, "fetched")
    good = (DateClaim("json-ld", datetime(2019, 11, 19, 9, tzinfo=UTC)),)
    assert article(good, None, dated_url).published_source == "json-ld"

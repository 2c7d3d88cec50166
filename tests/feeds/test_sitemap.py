"""Sitemaps as feeds: parsing (pure) and polling through the real Fetcher and a local server."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from tests.support.hostile import loopback_resolver
from tests.support.newsroom import BASE_TIME, Item, news_sitemap, sitemap_index
from tests.support.servers import LocalHTTPServer
from watcher.config import NetworkConfig
from watcher.errors import ParseError, ResponseTooLargeError
from watcher.feeds.sitemap import MAX_SITEMAP_URLS, SitemapDocument, parse_sitemap
from watcher.feeds.sitemap_poll import MAX_DEPTH, poll_sitemap
from watcher.fetch import Fetcher, build_client
from watcher.types import HttpResult

URL = "https://news.example.com/sitemap-news.xml"
CAP = 1024 * 1024
SM = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def plain(urls: str) -> bytes:
    return f'<?xml version="1.0"?><urlset {SM}>{urls}</urlset>'.encode()


def test_news_sitemap_gives_title_date_and_language_newest_first() -> None:
    doc = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
 <url><loc>/2026/12/04/older</loc><news:news><news:publication><news:name>Gazette</news:name>
  <news:language>de</news:language></news:publication>
  <news:publication_date>2026-12-04T08:00:00+01:00</news:publication_date>
  <news:title>Fähre f&#228;hrt  wieder</news:title></news:news></url>
 <url><loc>https://news.example.com/2026/12/05/newer</loc><news:news><news:publication>
  <news:name>Gazette</news:name><news:language>de</news:language></news:publication>
  <news:publication_date>2026-12-05</news:publication_date>
  <news:title>Markt zieht um</news:title></news:news></url>
</urlset>""".encode()
    document = parse_sitemap(doc, URL, CAP)
    assert document.children == () and document.feed is not None
    newer, older = document.feed.entries
    assert newer.url == "https://news.example.com/2026/12/05/newer"
    assert newer.published == datetime(2026, 12, 5, tzinfo=UTC)
    assert older.url == "https://news.example.com/2026/12/04/older"  # relative, resolved
    assert (older.title, older.language) == ("Fähre fährt wieder", "de")
    assert older.published == datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
    assert older.entry_id == older.url


def test_plain_sitemap_uses_lastmod_and_undated_urls_come_last() -> None:
    document = parse_sitemap(plain(
        "<url><loc>https://s.example/undated</loc></url>"
        "<url><loc>https://s.example/a</loc><lastmod>2026-01-02</lastmod></url>"
        "<url><loc>https://s.example/b</loc><lastmod>2026-03-04T05:06:07Z</lastmod></url>"
        "<url><loc>javascript:alert(1)</loc></url>"
        "<url><loc>https://s.example/a</loc></url>"), URL, CAP)
    assert document.feed is not None
    assert [e.url for e in document.feed.entries] == [
        "https://s.example/b", "https://s.example/a", "https://s.example/undated"]


def test_index_lists_children_newest_first_and_robots_names_sitemaps() -> None:
    index = (f'<sitemapindex {SM}><sitemap><loc>/old.xml</loc><lastmod>2025-01-01</lastmod>'
             '</sitemap><sitemap><loc>/new.xml</loc><lastmod>2026-01-01</lastmod></sitemap>'
             '</sitemapindex>').encode()
    assert parse_sitemap(index, URL, CAP).children == (
        "https://news.example.com/new.xml", "https://news.example.com/old.xml")
    robots = b"User-agent: *\nDisallow: /x\nSitemap: /news.xml\nsitemap: https://o.example/s.xml\n"
    assert parse_sitemap(robots, "https://news.example.com/robots.txt", CAP).children == (
        "https://news.example.com/news.xml", "https://o.example/s.xml")


def test_gzip_sitemap_is_inflated() -> None:
    document = parse_sitemap(gzip.compress(plain("<url><loc>https://s.example/z</loc></url>")),
                             URL, CAP)
    assert document.feed is not None and document.feed.entries[0].url == "https://s.example/z"


BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
                   for n in range(1, 10))
        + b"]><urlset><url><loc>https://s.example/&lol9;</loc></url></urlset>")


@pytest.mark.parametrize(("doc", "message"), [
    (BOMB, "DOCTYPE declaration; refused"),
    (b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><urlset/>', "DOCTYPE"),
    (gzip.compress(b" " * (CAP + 10), mtime=0), "inflates past"),
    (b"\x1f\x8bnot gzip at all", "broken gzip"),
    (b"<urlset><url><loc>https://s.example/</loc></url>", "malformed sitemap: line 1"),
    (b"<rss><channel/></rss>", "not a sitemap: <rss>"),
    (b"   ", "empty"),
], ids=["billion-laughs", "external-entity", "gzip-bomb", "not-gzip", "truncated", "rss",
        "empty"])
def test_hostile_or_broken_sitemaps_get_a_clear_error(doc: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_sitemap(doc, URL, CAP)


def test_more_urls_than_the_protocol_allows_is_refused() -> None:
    urls = "".join(f"<url><loc>https://s.example/{n}</loc></url>"
                   for n in range(MAX_SITEMAP_URLS + 1))
    with pytest.raises(ParseError, match="more than 50,000 URLs"):
        parse_sitemap(plain(urls), URL, 64 * CAP)


def test_robots_without_a_sitemap_line() -> None:
    with pytest.raises(ParseError, match="names no sitemap"):
        parse_sitemap(b"User-agent: *\n", "https://s.example/robots.txt", CAP)


# --- polling through the real Fetcher -------------------------------------------------------

NETWORK = NetworkConfig(allow=("127.0.0.1",), connect_timeout=2.0, read_timeout=5.0,
                        total_timeout=20.0)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with build_client(NETWORK, resolver=loopback_resolver()) as client:
        yield Fetcher(client, NETWORK)


async def parse_here(result: HttpResult) -> SitemapDocument:
    return parse_sitemap(result.content, result.url, CAP)


def items(prefix: str, count: int) -> list[Item]:
    return [Item(guid=f"{prefix}{n}", path=f"/{prefix}/{n}", title=f"{prefix} story {n}",
                 summary="", published=BASE_TIME) for n in range(count)]


async def test_index_is_followed_and_the_root_polled_conditionally(
        server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.reset()
    server.route("/robots.txt", f"Sitemap: {server.url('/index.xml')}\n")
    server.route("/index.xml", sitemap_index(["/news-a.xml", "/news-b.xml", "/broken.xml"],
                                             server), content_type="application/xml")
    server.route("/news-a.xml", news_sitemap(items("a", 3), server))
    server.route("/news-b.xml", news_sitemap(items("b", 2), server))
    server.route("/broken.xml", "<urlset><url>")

    root, feed = await poll_sitemap(fetcher, parse_here, server.url("/robots.txt"),
                                    max_bytes=CAP)
    assert feed is not None and len(feed.entries) == 5
    assert feed.warning is not None and "broken.xml: malformed sitemap" in feed.warning
    etag = root.headers["etag"]
    again, unchanged = await poll_sitemap(fetcher, parse_here, server.url("/robots.txt"),
                                          max_bytes=CAP, etag=etag)
    assert again.not_modified and unchanged is None


async def test_index_loop_and_depth_are_bounded(
        server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.reset()
    server.route("/loop.xml", sitemap_index(["/loop.xml", "/other.xml"], server))
    server.route("/other.xml", sitemap_index(["/loop.xml"], server))
    with pytest.raises(ParseError, match="sitemap index loop"):
        await poll_sitemap(fetcher, parse_here, server.url("/loop.xml"), max_bytes=CAP)
    assert server.hits("/loop.xml") == 1 and server.hits("/other.xml") == 1

    for level in range(MAX_DEPTH + 2):
        server.route(f"/deep{level}.xml", sitemap_index([f"/deep{level + 1}.xml"], server))
    with pytest.raises(ParseError, match=f"deeper than {MAX_DEPTH} levels"):
        await poll_sitemap(fetcher, parse_here, server.url("/deep0.xml"), max_bytes=CAP)


async def test_a_hundred_megabyte_sitemap_is_stopped_at_the_cap(
        server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.reset()
    huge = b'<?xml version="1.0"?><urlset>' + b" " * (100 * 1024 * 1024) + b"</urlset>"
    server.route("/huge.xml", huge, content_type="application/xml")
    with pytest.raises(ResponseTooLargeError):
        await poll_sitemap(fetcher, parse_here, server.url("/huge.xml"), max_bytes=CAP)
    # As a child of an index, it is named and the good sibling still read.
    server.route("/index.xml", sitemap_index(["/huge.xml", "/ok.xml"], server))
    server.route("/ok.xml", news_sitemap(items("ok", 1), server))
    _, feed = await poll_sitemap(fetcher, parse_here, server.url("/index.xml"), max_bytes=CAP)
    assert feed is not None and [e.title for e in feed.entries] == ["ok story 0"]
    assert feed.warning is not None and "huge.xml" in feed.warning

"""Finding a site's feed from an address a person has: a feed, a home page or an article.

The order, first that yields wins:

1. the URL itself, when it is a feed (RSS, Atom, RDF or JSON Feed);
2. the feeds the page advertises with ``<link rel="alternate">`` (RSS, Atom, JSON Feed),
   each fetched and parsed so only working ones are offered;
3. well-known paths on the site (``WELL_KNOWN_PATHS``), the first that parses;
4. a Google News sitemap named in the site's robots.txt (entries with titles), as a
   ``type: sitemap`` feed.

Everything goes through the project's Fetcher (SSRF guard, size caps, redirects) and the
same parsers the poller uses; ``describe`` (pure) turns a parsed feed into what the user is
shown. Each step's failures are kept as notes, so "nothing found" can say what was tried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from watcher.charset import content_type_parts, decode
from watcher.errors import ParseError, WatcherError
from watcher.feeds.links import FEED_LINK_TYPES, feed_links
from watcher.feeds.parse import parse_feed
from watcher.feeds.sitemap import SitemapDocument, parse_sitemap, sitemaps_in_robots
from watcher.feeds.sitemap_poll import Getter, poll_sitemap
from watcher.types import HttpResult, ParsedFeed

__all__ = ["WELL_KNOWN_PATHS", "Candidate", "Discovery", "describe", "discover"]

WELL_KNOWN_PATHS = ("/feed", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/rss",
                    "/feed.json", "/feeds/posts/default")
DISCOVERY_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
                    "text/html;q=0.9, application/xml;q=0.9, */*;q=0.5")
FeedType = Literal["rss", "atom", "json", "feed", "sitemap"]


@dataclass(frozen=True)
class Candidate:
    url: str
    kind: FeedType
    title: str
    entries: int
    newest: datetime | None
    how: str  # "the URL itself", "advertised by the page", ...

    @property
    def config_type(self) -> Literal["feed", "sitemap"]:
        return "sitemap" if self.kind == "sitemap" else "feed"


@dataclass(frozen=True)
class Discovery:
    candidates: tuple[Candidate, ...]
    notes: tuple[str, ...] = field(default=())  # what was tried and failed


def describe(url: str, parsed: ParsedFeed, kind: FeedType, how: str) -> Candidate:
    dates = [entry.published for entry in parsed.entries if entry.published]
    return Candidate(url=url, kind=kind, title=parsed.title, entries=len(parsed.entries),
                     newest=max(dates) if dates else None, how=how)


def _kind_of(result: HttpResult, text: str) -> FeedType:
    mime, _ = content_type_parts(result.headers.get("content-type"))
    if mime in FEED_LINK_TYPES:
        return FEED_LINK_TYPES[mime]  # type: ignore[return-value]
    start = text.lstrip()[:400]
    if start.startswith("{"):
        return "json"
    return "atom" if "<feed" in start else "rss" if "<rss" in start else "feed"


async def discover(fetcher: Getter, url: str, *, max_bytes: int) -> Discovery:
    notes: list[str] = []
    page = await fetcher.get(url, max_bytes=max_bytes, accept=DISCOVERY_ACCEPT)
    itself = _as_feed(page, "the URL itself", notes)
    if itself is not None:
        return Discovery((itself,), tuple(notes))

    mime, _ = content_type_parts(page.headers.get("content-type"))
    text = decode(page.content, page.headers.get("content-type"),
                  html=mime.endswith("html")).text
    advertised: list[Candidate] = []
    for link in feed_links(text, page.url):
        found = await _try(fetcher, link, "advertised by the page", max_bytes, notes)
        if found is not None and found.url not in {c.url for c in advertised}:
            advertised.append(found)
    if advertised:
        return Discovery(tuple(advertised), tuple(notes))

    root = _site_root(page.url)
    for path in WELL_KNOWN_PATHS:
        found = await _try(fetcher, root + path, "a well-known path", max_bytes, notes)
        if found is not None:
            return Discovery((found,), tuple(notes))

    sitemaps = await _news_sitemaps(fetcher, root, max_bytes, notes)
    return Discovery(tuple(sitemaps), tuple(notes))


def _as_feed(result: HttpResult, how: str, notes: list[str]) -> Candidate | None:
    text = result.content[:2000].decode("utf-8", "replace")
    try:
        if "<urlset" in text or "<sitemapindex" in text:  # a sitemap given directly
            document = parse_sitemap(result.content, result.url, len(result.content))
            if document.feed is not None:
                return describe(result.url, document.feed, "sitemap", how)
        parsed = parse_feed(result.content, result.headers, result.url)
    except ParseError as exc:
        notes.append(f"{result.url}: {exc}")
        return None
    return describe(result.url, parsed, _kind_of(result, text), how)


async def _try(fetcher: Getter, url: str, how: str, max_bytes: int,
               notes: list[str]) -> Candidate | None:
    try:
        result = await fetcher.get(url, max_bytes=max_bytes, accept=DISCOVERY_ACCEPT)
    except WatcherError as exc:
        notes.append(f"{url}: {exc}")
        return None
    return _as_feed(result, how, notes)


def _site_root(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


async def _news_sitemaps(fetcher: Getter, root: str, max_bytes: int,
                         notes: list[str]) -> list[Candidate]:
    robots_url = root + "/robots.txt"
    try:
        robots = await fetcher.get(robots_url, max_bytes=max_bytes, accept="text/plain")
    except WatcherError as exc:
        notes.append(f"{robots_url}: {exc}")
        return []
    listed = sitemaps_in_robots(robots.content.decode("utf-8", "replace"), robots.url)
    if not listed:
        notes.append(f"{robots_url}: names no sitemap")

    async def parse(result: HttpResult) -> SitemapDocument:
        return parse_sitemap(result.content, result.url, max_bytes)

    found: list[Candidate] = []
    for sitemap_url in listed:
        try:
            _, parsed = await poll_sitemap(fetcher, parse, sitemap_url, max_bytes=max_bytes)
        except WatcherError as exc:
            notes.append(f"{sitemap_url}: {exc}")
            continue
        if parsed is None or not any(entry.title for entry in parsed.entries):
            notes.append(f"{sitemap_url}: not a news sitemap (no titled entries)")
            continue
        found.append(describe(sitemap_url, parsed, "sitemap", "a news sitemap in robots.txt"))
    return found

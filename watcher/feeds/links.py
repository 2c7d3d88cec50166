"""The feeds an HTML page advertises with ``<link rel="alternate">``."""

from __future__ import annotations

import lxml.etree
import lxml.html

from watcher.errors import ParseError
from watcher.urls import is_http_url, resolve

__all__ = ["FEED_LINK_TYPES", "feed_links", "html_instead_of_feed", "not_a_feed"]

# What a page's <link rel="alternate" type=...> may name for a feed, and the feed's kind.
FEED_LINK_TYPES = {"application/rss+xml": "rss", "application/atom+xml": "atom",
                   "application/feed+json": "json", "application/json": "json"}



def feed_links(text: str, url: str) -> list[str]:
    """Absolute URLs of the RSS/Atom/JSON feeds a page advertises, in page order, no repeats."""
    if "<link" not in text.lower():
        return []
    parser = lxml.html.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True)
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (ValueError, lxml.etree.ParserError):
        return []
    base = url
    for element in root.iter("base"):
        href = element.get("href")
        if href:
            base = resolve(url, href)
            break
    found: list[str] = []
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rels and kind in FEED_LINK_TYPES and href:
            absolute = resolve(base, href)
            if is_http_url(absolute) and absolute not in found:
                found.append(absolute)
    return found


def not_a_feed(text: str, url: str, mime: str, root: str) -> ParseError:
    if mime in ("text/html", "application/xhtml+xml") or feed_links(text, url):
        return ParseError(html_instead_of_feed(text, url))
    named = f"<{root}>" if root else "no root element"
    return ParseError(f"not a feed: {named}, where RSS, Atom, RDF or JSON Feed was expected")


def html_instead_of_feed(text: str, url: str) -> str:
    links = feed_links(text, url)
    if links:
        return f"an HTML page, not a feed; the page advertises: {', '.join(links)}"
    return "an HTML page, not a feed, and it advertises no RSS, Atom or JSON feed"

"""Feed bytes and response headers -> ``ParsedFeed``: the one place feedparser is seen.

``parse_feed`` is pure and deterministic (no clock, no network, no files), and a module-level
function, so it can run in a worker process under a time limit.

What it does before feedparser sees the document, and why:

1. Decode the bytes ourselves, the way browsers do (``watcher.charset``, shared with page
   extraction). feedparser follows RFC 3023 instead (``text/xml`` without a charset means
   US-ASCII), which disagrees with every browser and with what publishers test against.
2. Refuse an HTML page with a ``ParseError`` that names the feeds it advertises, and any
   other document whose root element is not a feed's (feedparser would walk it all first).
3. Remove the DOCTYPE declaration with its internal subset (nothing to expand, nothing
   external to load) and cap the text of author-like elements (``watcher.feeds.prolog``).
4. Hand feedparser UTF-8 bytes in a stream (never a string: it would treat one as a URL or a
   path) with a ``Content-Type`` that says so, and ``Content-Location`` = the feed URL, so
   relative links resolve against it.

Then feedparser's dictionaries are converted to our frozen types at once; nothing of them
leaves this module.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import replace

from watcher.charset import content_type_parts, decode
from watcher.errors import ParseError
from watcher.feeds.entries import bozo_reason, feedparser_entries, plain, text_field, ttl
from watcher.feeds.jsonfeed import looks_like_json_feed, parse_json_feed
from watcher.feeds.links import html_instead_of_feed, not_a_feed
from watcher.feeds.prolog import make_safe, scan_prolog
from watcher.types import ParsedFeed
from watcher.urls import is_http_url, resolve

__all__ = ["parse_feed"]


def parse_feed(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """Parse one fetched feed. Raises ``ParseError`` when no entries can be had from it.

    ``headers`` are the response headers (any case); ``url`` is the feed's final URL, the
    base for relative links. A malformed feed that still yields entries is returned with
    ``warning`` saying what was wrong.
    """
    if not content.strip():
        raise ParseError("empty response body: no feed")
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type", "")
    mime, _ = content_type_parts(content_type)
    decoded = decode(content, content_type, html=mime.endswith("html"))
    text, notes = decoded.text, list(decoded.notes)
    base = resolve(url, lowered["content-location"]) if "content-location" in lowered else url
    if looks_like_json_feed(text, mime):
        return _with_notes(parse_json_feed(text, base), notes)
    prolog = scan_prolog(text)
    if prolog.is_html:
        raise ParseError(html_instead_of_feed(text, url))
    if prolog.root and not prolog.is_feed:
        # feedparser would still walk every element before giving up: a large
        # non-feed document would hold a worker for nothing.
        raise not_a_feed(text, url, mime, prolog.root)
    text, more_notes = make_safe(text, prolog)
    notes += more_notes

    fp_headers = {"content-type": "application/xml; charset=utf-8", "content-location": base}
    if "content-language" in lowered:
        fp_headers["content-language"] = lowered["content-language"]
    # Imported here: feeds are parsed in the worker processes, whose fork server preloads
    # it (workers.DEFAULT_PRELOAD); the daemon, which only hands this function over, need
    # not import it.
    import feedparser

    try:
        result = feedparser.parse(io.BytesIO(text.encode("utf-8")), response_headers=fp_headers)
    except Exception as exc:  # feedparser is a large parser of hostile input: name the failure
        raise ParseError(f"feed parser failed: {type(exc).__name__}: {exc}") from exc

    entries = feedparser_entries(result.get("entries") or [], base)
    if not entries and not result.get("version"):
        raise not_a_feed(text, url, mime, prolog.root)
    if result.get("bozo") and not entries:
        raise ParseError(f"malformed feed, no entries could be read: {bozo_reason(result)}")
    if result.get("bozo"):
        notes.append(f"malformed feed, read leniently: {bozo_reason(result)}")

    feed = dict(result.get("feed") or {})
    site = text_field(feed, "link")
    hubs, self_url = _websub_links(feed.get("links"), base)
    return ParsedFeed(
        title=plain(feed, "title"),
        site_url=resolve(base, site) if site else "",
        entries=entries,
        ttl=ttl(feed.get("ttl")),
        warning="; ".join(notes) or None,
        hubs=hubs,
        self_url=self_url,
    )


def _websub_links(links: object, base: str) -> tuple[tuple[str, ...], str]:
    """Atom's ``<link rel="hub|self">`` and RSS's ``<atom:link>`` (feedparser lists both
    under the feed's ``links``)."""
    hubs: list[str] = []
    self_url = ""
    for link in links if isinstance(links, list) else ():
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            continue
        rels = str(link.get("rel", "")).lower().split()
        href = resolve(base, link["href"].strip())
        if "hub" in rels and is_http_url(href) and href not in hubs:
            hubs.append(href)
        if "self" in rels and is_http_url(href) and not self_url:
            self_url = href
    return tuple(hubs), self_url




def _with_notes(feed: ParsedFeed, notes: list[str]) -> ParsedFeed:
    if not notes:
        return feed
    return replace(feed, warning="; ".join([*notes, *filter(None, [feed.warning])]))

"""Sitemaps as feeds, for sites without one: bytes -> entries or an index's children.

A Google News sitemap (``<news:news>``) gives each URL a title, a publication date and a
language; a plain sitemap gives ``<lastmod>`` at best. Either becomes a ``ParsedFeed``
whose entries are ordered newest first, so the poll's ``max_entries`` keeps the fresh ones.
A sitemap index becomes the list of its children, newest first; following them is the
poller's business (``watcher.feeds.sitemap_poll``), since it means fetching.

Hostile input: the document is read by lxml's incremental parser with entities never
resolved, no DTD loaded and no network; any DOCTYPE is refused outright (no sitemap has
one, and it is how entity bombs arrive). A gzip-compressed sitemap is inflated up to the
same byte cap as the download, so a compression bomb stops there. The protocol's own
limit of 50,000 URLs per file is enforced.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import lxml.etree

from watcher.dates import first_plausible
from watcher.errors import ParseError
from watcher.feeds.entries import collapse, utc_from_iso
from watcher.types import FeedEntry, ParsedFeed
from watcher.urls import is_http_url, resolve

__all__ = ["MAX_SITEMAP_URLS", "SitemapDocument", "is_robots_txt", "parse_sitemap",
           "sitemaps_in_robots"]

MAX_SITEMAP_URLS = 50_000  # the sitemaps.org protocol's limit per file
_GZIP_MAGIC = b"\x1f\x8b"
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SitemapDocument:
    """One fetched sitemap: a ``urlset`` gives ``feed``; an index gives ``children``."""

    feed: ParsedFeed | None = None
    children: tuple[str, ...] = ()  # child sitemaps' URLs, newest first


def is_robots_txt(url: str) -> bool:
    return urlsplit(url).path == "/robots.txt"


def sitemaps_in_robots(text: str, url: str) -> tuple[str, ...]:
    """The ``Sitemap:`` lines of a robots.txt, as absolute http(s) URLs, in order."""
    found: list[str] = []
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "sitemap" and value.strip():
            absolute = resolve(url, value.strip())
            if is_http_url(absolute) and absolute not in found:
                found.append(absolute)
    return tuple(found)


def parse_sitemap(content: bytes, url: str, max_bytes: int) -> SitemapDocument:
    """Parse one sitemap, sitemap index or robots.txt. Raises ``ParseError``."""
    if content.startswith(_GZIP_MAGIC):
        content = _inflate(content, max_bytes)
    if is_robots_txt(url):
        children = sitemaps_in_robots(content.decode("utf-8", "replace"), url)
        if not children:
            raise ParseError("robots.txt names no sitemap (no 'Sitemap:' line)")
        return SitemapDocument(children=children)
    if not content.strip():
        raise ParseError("empty response body: no sitemap")
    if _DOCTYPE.search(content[:4096]):
        raise ParseError("sitemap has a DOCTYPE declaration; refused (entities are never "
                         "expanded, and no sitemap needs one)")
    try:
        return _read(content, url)
    except lxml.etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise ParseError(f"malformed sitemap: line {line}, column {column}: {exc.msg}") from None


def _inflate(content: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(content, max_bytes + 1)
    except zlib.error as exc:
        raise ParseError(f"broken gzip sitemap: {exc}") from None
    if len(data) > max_bytes:
        raise ParseError(f"gzip sitemap inflates past {max_bytes:,} bytes; refused")
    return data


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _read(content: bytes, url: str) -> SitemapDocument:
    events = lxml.etree.iterparse(
        io.BytesIO(content), events=("start", "end"), resolve_entities=False,
        no_network=True, load_dtd=False, huge_tree=False, remove_comments=True,
        remove_pis=True)
    root = ""
    entries: dict[str, tuple[datetime, FeedEntry]] = {}
    children: dict[str, datetime] = {}
    count = 0
    for event, element in events:
        name = _local(element.tag)
        if event == "start":
            if not root:
                root = name
                if root not in ("urlset", "sitemapindex"):
                    raise ParseError(f"not a sitemap: <{root}>, where <urlset> or "
                                     "<sitemapindex> was expected")
            continue
        if name not in ("url", "sitemap") or element.getparent() is None:
            continue
        count += 1
        if count > MAX_SITEMAP_URLS:
            raise ParseError(f"sitemap lists more than {MAX_SITEMAP_URLS:,} URLs, the "
                             "protocol's limit; refused")
        fields = _fields(element)
        element.clear(keep_tail=False)
        loc = resolve(url, fields.get("loc", "")) if fields.get("loc") else ""
        if not is_http_url(loc):
            continue
        when = first_plausible((utc_from_iso(fields.get("publication_date")),
                                utc_from_iso(fields.get("lastmod"))))
        if name == "sitemap":
            children.setdefault(loc, when or _OLDEST)
        elif loc not in entries:
            entries[loc] = (when or _OLDEST, FeedEntry(
                entry_id=loc, url=loc, title=collapse(fields.get("title", "")), summary="",
                content="", published=when, language=fields.get("language", "").strip()))
    if root == "sitemapindex":
        ordered = sorted(children.items(), key=lambda item: item[1], reverse=True)
        return SitemapDocument(children=tuple(loc for loc, _ in ordered))
    ranked = sorted(entries.values(), key=lambda item: item[0], reverse=True)
    return SitemapDocument(feed=ParsedFeed(title="", site_url="",
                                           entries=tuple(entry for _, entry in ranked)))


def _fields(element: lxml.etree._Element) -> dict[str, str]:
    """The text of a ``<url>``'s descendants by local name (``news:title`` -> ``title``)."""
    fields: dict[str, str] = {}
    for child in element.iter():
        if child is element:
            continue
        text = child.text or ""
        if text.strip():
            fields.setdefault(_local(child.tag), text.strip())
    return fields

"""One poll of a ``type: sitemap`` feed: the root by conditional GET, an index's children
followed breadth-first to a bounded depth, their URLs merged into one ``ParsedFeed``.

The I/O edge of ``watcher.feeds.sitemap``: fetching goes through the project's Fetcher
(SSRF guard, size caps, redirects) and parsing through the caller's ``parse`` (the worker
pool, under a time limit). Bounds, so a hostile or huge site cannot hold a poll:
``MAX_DEPTH`` levels of index below the root, ``MAX_CHILD_SITEMAPS`` child fetches per
poll (the newest first, by the index's ``<lastmod>``), and a sitemap already read in this
poll is never read again (an index that lists itself or its parent). A child that fails
is named in the feed's warning and the others are still read; only when nothing at all
could be read is the poll a failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

from watcher.errors import ParseError, WatcherError
from watcher.feeds.sitemap import SitemapDocument
from watcher.types import FeedEntry, HttpResult, ParsedFeed

__all__ = ["MAX_CHILD_SITEMAPS", "MAX_DEPTH", "SITEMAP_ACCEPT", "poll_sitemap"]

MAX_DEPTH = 3
MAX_CHILD_SITEMAPS = 20
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, */*;q=0.5"


class Getter(Protocol):
    async def get(self, url: str, *, max_bytes: int, etag: str | None = None,
                  last_modified: str | None = None, accept: str | None = None
                  ) -> HttpResult: ...


ParseSitemap = Callable[[HttpResult], Awaitable[SitemapDocument]]


async def poll_sitemap(fetcher: Getter, parse: ParseSitemap, url: str, *, max_bytes: int,
                       etag: str | None = None, last_modified: str | None = None
                       ) -> tuple[HttpResult, ParsedFeed | None]:
    """The root's response and the merged feed (None when the root was not modified).

    Raises what the root's fetch or parse raises, or ``ParseError`` when no sitemap below
    the root could be read.
    """
    root = await fetcher.get(url, max_bytes=max_bytes, etag=etag,
                             last_modified=last_modified, accept=SITEMAP_ACCEPT)
    if root.not_modified:
        return root, None
    document = await parse(root)
    seen = {url, root.url}
    entries: dict[str, FeedEntry] = {}
    notes: list[str] = []
    _merge(document, entries)
    level = list(document.children)
    depth = 0
    fetched = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            notes.append(f"sitemap indexes nested deeper than {MAX_DEPTH} levels; "
                         f"{len(level)} not read")
            break
        following: list[str] = []
        for child in level:
            if child in seen:
                notes.append(f"sitemap index loop: {child} was already read; skipped")
                continue
            if fetched >= MAX_CHILD_SITEMAPS:
                notes.append(f"more than {MAX_CHILD_SITEMAPS} child sitemaps; the oldest "
                             "were not read")
                following = []
                break
            seen.add(child)
            fetched += 1
            try:
                result = await fetcher.get(child, max_bytes=max_bytes, accept=SITEMAP_ACCEPT)
                seen.add(result.url)
                child_document = await parse(result)
            except TimeoutError:
                notes.append(f"{child}: parsing took too long; skipped")
                continue
            except WatcherError as exc:
                notes.append(f"{child}: {exc}")
                continue
            _merge(child_document, entries)
            following.extend(c for c in child_document.children if c not in following)
        level = following
    if not entries and document.children and notes:
        raise ParseError("no sitemap could be read: " + "; ".join(_unique(notes)))
    ranked = sorted(entries.values(), key=_newest_first)
    return root, ParsedFeed(title="", site_url="", entries=tuple(ranked),
                            warning="; ".join(_unique(notes)) or None)


def _merge(document: SitemapDocument, entries: dict[str, FeedEntry]) -> None:
    if document.feed is None:
        return
    for entry in document.feed.entries:
        known = entries.get(entry.entry_id)
        if known is None or (entry.published and not known.published):
            entries[entry.entry_id] = entry if known is None else replace(
                known, published=entry.published)


def _newest_first(entry: FeedEntry) -> tuple[bool, float]:
    stamp = entry.published.timestamp() if entry.published else 0.0
    return (entry.published is None, -stamp)


def _unique(notes: list[str]) -> list[str]:
    return list(dict.fromkeys(notes))

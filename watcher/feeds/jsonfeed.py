"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) -> ``ParsedFeed``.

feedparser reads only XML, so JSON Feed is read here into the same types as RSS and Atom:
``content_html`` and ``summary`` become plain paragraphs as feedparser's HTML does, an
item's ``id`` is its entry id (1.0 allowed numbers; they are written out as text), dates
are RFC 3339. An item that is not an object, or has neither id nor url, is skipped with a
note; a document that is not a JSON Feed at all is a ``ParseError``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from watcher.dates import first_plausible
from watcher.errors import ParseError
from watcher.feeds.entries import collapse, html_paragraphs, utc_from_iso
from watcher.types import FeedEntry, ParsedFeed
from watcher.urls import is_http_url, resolve

__all__ = ["JSON_FEED_TYPES", "looks_like_json_feed", "parse_json_feed"]

JSON_FEED_TYPES = frozenset({"application/feed+json", "application/json"})
_VERSION_PREFIX = "https://jsonfeed.org/version/"


def looks_like_json_feed(text: str, mime: str) -> bool:
    """A JSON document where a feed is expected: by its type or by its first character."""
    return mime in JSON_FEED_TYPES or text.lstrip("\ufeff \t\r\n").startswith("{")


def parse_json_feed(text: str, url: str) -> ParsedFeed:
    """Parse a decoded JSON Feed; ``url`` is the base for relative links."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = (f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
                 if isinstance(exc, json.JSONDecodeError) else "nested too deeply")
        raise ParseError(f"malformed JSON Feed: {where}") from None
    if not isinstance(document, dict):
        raise ParseError("not a JSON Feed: the document is not a JSON object")
    version = document.get("version")
    if not (isinstance(version, str) and version.startswith(_VERSION_PREFIX)):
        raise ParseError("not a JSON Feed: no \"version\": \"https://jsonfeed.org/version/1.1\"")
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError("malformed JSON Feed: \"items\" is not a list")
    notes: list[str] = []
    if version.removeprefix(_VERSION_PREFIX) not in ("1", "1.1"):
        notes.append(f"unknown JSON Feed version {version!r}, read as 1.1")
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    skipped = 0
    for item in items:
        entry = _entry(item, url) if isinstance(item, dict) else None
        if entry is None:
            skipped += 1
        elif entry.entry_id not in seen:
            seen.add(entry.entry_id)
            entries.append(entry)
    if skipped:
        notes.append(f"{skipped} item(s) without an id or url skipped")
    if not entries and items:
        raise ParseError("malformed JSON Feed: no item could be read")
    home = _string(document, "home_page_url")
    return ParsedFeed(
        title=collapse(_string(document, "title")),
        site_url=resolve(url, home) if home and is_http_url(resolve(url, home)) else "",
        entries=tuple(entries),
        warning="; ".join(notes) or None,
        hubs=_hubs(document.get("hubs"), url),
        self_url=_http_or_empty(url, _string(document, "feed_url")),
    )


def _hubs(hubs: object, base: str) -> tuple[str, ...]:
    """``hubs``: ``[{"type": "WebSub", "url": ...}]``; other types are other protocols."""
    found: list[str] = []
    for hub in hubs if isinstance(hubs, list) else ():
        if isinstance(hub, dict) and _string(hub, "type").lower() == "websub":
            url = _http_or_empty(base, _string(hub, "url"))
            if url and url not in found:
                found.append(url)
    return tuple(found)


def _http_or_empty(base: str, link: str) -> str:
    url = resolve(base, link) if link else ""
    return url if is_http_url(url) else ""


def _entry(item: Mapping[str, Any], base: str) -> FeedEntry | None:
    raw_id = item.get("id")
    entry_id = str(raw_id).strip() if isinstance(raw_id, (str, int)) else ""
    link = _string(item, "url") or _string(item, "external_url")
    url = resolve(base, link) if link else ""
    if not is_http_url(url):
        url = ""
    entry_id = entry_id or url
    title = collapse(_string(item, "title"))
    published = first_plausible((utc_from_iso(item.get("date_published")),
                                 utc_from_iso(item.get("date_modified"))))
    if not entry_id:
        if not title:
            return None
        digest = hashlib.sha256(f"{title}\x1f{published}".encode()).hexdigest()
        entry_id = f"sha256:{digest[:32]}"
    html_content = _string(item, "content_html")
    content = ("\n".join(html_paragraphs(html_content)) if html_content
               else "\n".join(filter(None, map(collapse, _string(item, "content_text")
                                               .splitlines()))))
    return FeedEntry(
        entry_id=entry_id,
        url=url,
        title=title,
        summary=" ".join(html_paragraphs(_string(item, "summary"))),
        content=content,
        published=published,
        author=_author(item),
    )


def _string(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value.strip() if isinstance(value, str) else ""


def _author(item: Mapping[str, Any]) -> str:
    # 1.1 has "authors", a list; 1.0 had "author", one object.
    candidates = item.get("authors")
    if not isinstance(candidates, list):
        candidates = [item.get("author")]
    for author in candidates:
        if isinstance(author, dict) and _string(author, "name"):
            return collapse(_string(author, "name"))
    return ""

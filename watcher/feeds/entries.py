"""feedparser's dictionaries -> our frozen ``FeedEntry``; HTML fragments -> plain paragraphs."""

from __future__ import annotations

import hashlib
import html
import xml.sax
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from watcher.dates import first_plausible
from watcher.types import FeedEntry
from watcher.urls import is_http_url, resolve

__all__ = ["bozo_reason", "collapse", "feedparser_entries", "html_paragraphs", "plain",
           "text_field", "ttl", "utc_from_iso", "utc_from_struct"]

# A sane RSS <ttl> is minutes to a day; a year is already absurd, more is garbage.
_MAX_TTL_MINUTES = 366 * 24 * 60



def bozo_reason(result: Mapping[str, Any]) -> str:
    exc = result.get("bozo_exception")
    if isinstance(exc, xml.sax.SAXParseException):
        return f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}: {exc.getMessage()}"
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown reason"


def feedparser_entries(raw: Iterable[Mapping[str, Any]], base: str) -> tuple[FeedEntry, ...]:
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for item in raw:
        entry = _entry(item, base)
        if entry.entry_id not in seen:  # a feed listing one item twice gives it once
            seen.add(entry.entry_id)
            entries.append(entry)
    return tuple(entries)


def _entry(fp_item: Mapping[str, Any], base: str) -> FeedEntry:
    # A plain copy: FeedParserDict answers a missing "updated*" with "published*" (and a
    # DeprecationWarning), which would blur the fallback below.
    item = dict(fp_item)
    title = plain(item, "title")
    link = text_field(item, "link")
    url = resolve(base, link) if link else ""
    if not is_http_url(url):
        url = ""  # javascript:, mailto:, data: ... are nothing we may fetch or show
    # 1900, 1970 and 9999 come from broken feeds: not dates (build_article bounds the future).
    published = first_plausible((utc_from_struct(item.get("published_parsed")),
                                 utc_from_struct(item.get("updated_parsed"))))
    entry_id = text_field(item, "id") or url
    if not entry_id:
        # Neither guid nor link: the item is known by what it says and when.
        stamp = text_field(item, "published") or text_field(item, "updated")
        digest = hashlib.sha256(f"{title}\x1f{stamp}".encode()).hexdigest()
        entry_id = f"sha256:{digest[:32]}"
    detail = item.get("author_detail")
    author = text_field(detail, "name") if isinstance(detail, Mapping) else ""
    return FeedEntry(
        entry_id=entry_id,
        url=url,
        title=title,
        summary=plain(item, "summary"),
        content=_content(item.get("content")),
        published=published,
        author=collapse(html.unescape(author or text_field(item, "author"))),
    )


def text_field(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value.strip() if isinstance(value, str) else ""


def plain(mapping: Mapping[str, Any], key: str) -> str:
    """A title or summary as one line of plain text, whatever markup it came in."""
    value = text_field(mapping, key)
    detail = mapping.get(f"{key}_detail")
    kind = detail.get("type", "") if isinstance(detail, Mapping) else ""
    if "html" in str(kind):
        return " ".join(html_paragraphs(value))
    # Plain text: feedparser has decoded the XML once; feeds that escape twice ("&amp;#8217;")
    # are common enough to decode again.
    return collapse(html.unescape(value))


def _content(raw: Any) -> str:
    """The entry's full content as plain text, one paragraph per line."""
    if not isinstance(raw, list):
        return ""
    for part in raw:
        if not isinstance(part, Mapping):
            continue
        value = part.get("value")
        if not isinstance(value, str) or not value.strip():
            continue
        if "html" in str(part.get("type", "")):
            return "\n".join(html_paragraphs(value))
        lines = (collapse(line) for line in value.splitlines())
        return "\n".join(line for line in lines if line)
    return ""


def utc_from_struct(parsed: Any) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC ``struct_time``) -> aware UTC datetime."""
    if parsed is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in parsed[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def utc_from_iso(raw: Any) -> datetime | None:
    """An RFC 3339 / W3C datetime (``2026-12-04``, ``...T10:00:00+01:00``) in UTC, or None.

    Without an offset the time is taken as UTC: both formats require one, and UTC is the
    least surprising guess.
    """
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)


def ttl(raw: Any) -> timedelta | None:
    try:
        minutes = int(str(raw).strip())
    except ValueError:
        return None
    return timedelta(minutes=minutes) if 0 < minutes <= _MAX_TTL_MINUTES else None


def collapse(text: str) -> str:
    return " ".join(text.split())


# --- HTML -> paragraphs ---------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
        "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title"})


class _TextCollector(HTMLParser):
    """Text of an HTML fragment, a line break at every block boundary."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_paragraphs(fragment: str) -> list[str]:
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    lines = (collapse(line) for line in "".join(collector.parts).split("\n"))
    return [line for line in lines if line]

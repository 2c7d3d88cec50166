"""What every channel's renderer shares: counts in words, the subject, times in the digest's
time zone, which links may be followed, and the guard that keeps one item that cannot be
rendered from taking the whole message down. Pure (apart from logging what it left out).

``render.py`` (text, HTML) and ``slack.py`` both build on this module and not on each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from watcher.dates import as_utc
from watcher.digest.model import Digest, DigestItem, Version

log = logging.getLogger("watcher.digest")

TIME_FORMAT = "%a %d %b %Y %H:%M %Z"
Channel = Literal["text", "html", "slack"]
T = TypeVar("T")


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return f"{n} {word[:-1]}ies"
    return f"{n} {word}es" if word.endswith(("s", "ch", "sh", "x")) else f"{n} {word}s"


def subject(digest: Digest) -> str:
    """``[watcher] morning: 7 articles, 3 rules``: the articles listed and the rules they
    matched. Built from config names and counts only."""
    name = " ".join(digest.name.split())
    if digest.kind == "alert":
        more = f" (+{digest.more} more)" if digest.more else ""
        return f"[watcher] alert {name}: {plural(digest.item_count, 'article')}{more}"
    # Rules that matched, not sections: an item sits in its first rule's section only.
    rules = len({rule for s in digest.sections for i in s.items for rule in i.rules})
    head = f"[watcher] {name}: {plural(digest.item_count, 'article')}, {plural(rules, 'rule')}"
    if digest.notices:
        head += f", {plural(len(digest.notices), 'feed notice')}"
    return head


def local_time(value: datetime, timezone: str) -> str:
    """``value`` in the digest's time zone; in UTC when it cannot be expressed there (the
    first or last days of the calendar), so a stray date never stops a message."""
    moment = as_utc(value)
    if moment is None:
        return value.isoformat()
    try:
        return moment.astimezone(ZoneInfo(timezone)).strftime(TIME_FORMAT)
    except (OverflowError, ValueError, LookupError):
        return moment.strftime(TIME_FORMAT)


def safe_url(url: str) -> str | None:
    """The URL when it is http(s); anything else (javascript:, data:) is never linked."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def also_text(item: DigestItem) -> str:
    parts = list(item.also)
    if item.versions:
        parts.append(plural(item.versions, "other version"))
    return ", ".join(parts)


MAX_VERSIONS = 5  # other versions listed under an item; the rest are "and N more"


def shown_versions(item: DigestItem) -> tuple[tuple[Version, ...], int]:
    """The folded versions listed under ``item`` (newest first) and how many are not."""
    return item.others[:MAX_VERSIONS], max(0, len(item.others) - MAX_VERSIONS)


def version_meta(version: Version, timezone: str) -> str:
    return f"{version.outlet} · {local_time(version.published, timezone)}"


def legacy_also(item: DigestItem) -> str:
    """What a digest fixed before versions were kept says about its folded articles."""
    return "" if item.others else also_text(item)


def item_meta(item: DigestItem, timezone: str) -> str:
    meta = [item.outlet, local_time(item.published, timezone)]
    if item.partial:
        meta.append("partial text")
    return " · ".join(meta)


@dataclass(frozen=True)
class Omission:
    """An item left out of one channel's message because it could not be rendered."""

    channel: Channel
    number: int
    reason: str

    def line(self) -> str:
        return f"[article {self.number} could not be shown in this message; it is in the log]"


def render_each(items: Iterable[DigestItem], render_one: Callable[[DigestItem], T],
                channel: Channel, omitted: list[Omission]) -> Iterator[T | Omission]:
    """Each item rendered, or an ``Omission`` (also appended to ``omitted``) in its place.

    Any exception counts: whatever a feed put in one article, the other items and every
    other channel must still be delivered.
    """
    for item in items:
        try:
            yield render_one(item)
        except Exception as exc:  # any: see the docstring
            reason = f"{type(exc).__name__}: {exc}"[:300]
            log.error("article %s left out of the %s rendering: %s", item.number, channel,
                      reason)
            omission = Omission(channel, item.number, reason)
            omitted.append(omission)
            yield omission


def omission_note(omitted: Iterable[Omission]) -> str:
    """``left out: #12 (html, slack), #40 (text)`` for the outbox; "" when nothing was."""
    per_article: dict[int, list[str]] = {}
    for o in omitted:
        channels = per_article.setdefault(o.number, [])
        if o.channel not in channels:
            channels.append(o.channel)
    if not per_article:
        return ""
    return "left out: " + ", ".join(f"#{n} ({', '.join(c)})" for n, c in per_article.items())


__all__ = ["MAX_VERSIONS", "TIME_FORMAT", "Channel", "Omission", "also_text", "item_meta",
           "legacy_also", "local_time", "omission_note", "plural", "render_each", "safe_url",
           "shown_versions", "subject", "version_meta"]

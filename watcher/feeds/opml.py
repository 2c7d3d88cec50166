"""OPML 1.0/2.0 subscription lists -> feeds to add, and feeds -> OPML 2.0 (pure).

Reading: every ``<outline>`` with an ``xmlUrl`` is a feed (readers disagree on ``type``:
``rss``, ``atom``, ``RSS``, or none); the ``text`` (else ``title``) of the outlines it sits
in, and the slash-separated paths of its ``category`` attribute, become its tags. A file
is refused whole, with ``file:line: message``, when it is not well-formed, has a DOCTYPE
(entity bombs arrive that way, and OPML needs none), is not OPML, or has more than
``MAX_OUTLINES`` outlines: nothing of it is added.

Writing: OPML 2.0 as Miniflux, FreshRSS and Feedly read it: one level of folders (the
feed's first tag), every feed an ``outline type="rss"`` with ``text``, ``title`` and
``xmlUrl``, and all its tags in ``category`` so a second import restores them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import quoteattr

import lxml.etree

from watcher.errors import ConfigError, Problem
from watcher.urls import is_http_url

__all__ = ["MAX_OUTLINES", "ExportedFeed", "OpmlFeed", "names_for", "read_opml", "write_opml"]

MAX_OUTLINES = 10_000
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


@dataclass(frozen=True)
class OpmlFeed:
    title: str
    url: str
    tags: tuple[str, ...] = ()
    line: int = 0  # where the outline is in the file read


def _problem(source: str, line: int, message: str) -> ConfigError:
    return ConfigError([Problem(source, line, 0, message)])


def read_opml(content: bytes, source: str) -> tuple[OpmlFeed, ...]:
    """The feeds of an OPML file, in file order. Raises ``ConfigError`` (file:line)."""
    head = _DOCTYPE.search(content[:4096])
    if head:
        line = content[: head.start()].count(b"\n") + 1
        raise _problem(source, line, "OPML with a DOCTYPE declaration refused (entities are "
                                     "never expanded, and OPML needs none)")
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                  huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        root = lxml.etree.fromstring(content, parser=parser)
    except lxml.etree.XMLSyntaxError as exc:
        raise ConfigError([Problem(source, exc.position[0] or 1, exc.position[1],
                                   f"not well-formed XML: {exc.msg}")]) from None
    if not isinstance(root.tag, str) or root.tag.lower() != "opml":
        raise _problem(source, root.sourceline or 1, f"not OPML: the root element is "
                                                     f"<{root.tag}>, where <opml> was expected")
    body = root.find("body")
    if body is None:
        raise _problem(source, root.sourceline or 1, "OPML without a <body>")
    count = sum(1 for _ in body.iter("outline"))
    if count > MAX_OUTLINES:
        raise _problem(source, body.sourceline or 1,
                       f"{count:,} outlines, more than the {MAX_OUTLINES:,} accepted; refused")
    feeds: list[OpmlFeed] = []
    _walk(body, (), source, feeds)
    return tuple(feeds)


def _walk(parent: lxml.etree._Element, folders: tuple[str, ...], source: str,
          feeds: list[OpmlFeed]) -> None:
    for outline in parent.iterchildren("outline"):
        label = " ".join((outline.get("text") or outline.get("title") or "").split())
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            _walk(outline, (*folders, label) if label else folders, source, feeds)
            continue
        if not is_http_url(url):
            raise _problem(source, outline.sourceline or 0,
                           f"xmlUrl '{url}' is not an http(s) URL")
        tags = [*folders, *_categories(outline.get("category") or "")]
        feeds.append(OpmlFeed(title=label or url, url=url, tags=tuple(dict.fromkeys(tags)),
                              line=outline.sourceline or 0))


def _categories(value: str) -> list[str]:
    """``"/News/World,/Tech"`` -> ``["News", "World", "Tech"]`` (OPML 2.0's ``category``)."""
    found: list[str] = []
    for path in value.split(","):
        found += [" ".join(part.split()) for part in path.split("/") if part.strip()]
    return found


@dataclass(frozen=True)
class ExportedFeed:
    title: str
    url: str
    tags: tuple[str, ...] = ()


def write_opml(feeds: Iterable[ExportedFeed], title: str, now: datetime) -> str:
    """OPML 2.0 text: untagged feeds at the top, the rest in a folder named by their first
    tag, in first-seen order."""
    folders: dict[str, list[ExportedFeed]] = {}
    loose: list[ExportedFeed] = []
    for feed in feeds:
        (folders.setdefault(feed.tags[0], []) if feed.tags else loose).append(feed)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             f"    <title>{_text(title)}</title>",
             f"    <dateCreated>{format_datetime(now)}</dateCreated>", "  </head>", "  <body>"]
    lines += [_feed_line(feed, "    ") for feed in loose]
    for folder, members in folders.items():
        lines.append(f"    <outline text={quoteattr(folder)} title={quoteattr(folder)}>")
        lines += [_feed_line(feed, "      ") for feed in members]
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _feed_line(feed: ExportedFeed, indent: str) -> str:
    category = ",".join(f"/{tag.replace('/', ' ')}" for tag in feed.tags)
    extra = f" category={quoteattr(category)}" if category else ""
    return (f'{indent}<outline type="rss" text={quoteattr(feed.title)} '
            f"title={quoteattr(feed.title)} xmlUrl={quoteattr(feed.url)}{extra}/>")


def _text(value: str) -> str:
    return quoteattr(value)[1:-1]


def names_for(titles: Sequence[str], taken: Iterable[str]) -> list[str]:
    """A config name for each title: a lower-case slug, made unique against ``taken``."""
    used = set(taken)
    names: list[str] = []
    for title in titles:
        slug = re.sub(r"[\W_]+", "-", title.lower()).strip("-")[:60].strip("-") or "feed"
        name, n = slug, 2
        while name in used:
            name, n = f"{slug}-{n}", n + 1
        used.add(name)
        names.append(name)
    return names

"""``/rules/NAME.atom``: a rule's newest stories as an Atom 1.0 feed (RFC 4287), so any feed
reader can follow a watch. Built with ElementTree, which escapes every text it is given."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote
from xml.etree import ElementTree

from watcher.web.model import StoryItem

ATOM = "http://www.w3.org/2005/Atom"


def rule_feed(rule: str, items: Sequence[StoryItem], *, base_url: str,
              now: datetime | None = None) -> bytes:
    """The feed document. ``base_url``: where the pages are reached (no trailing slash)."""
    ElementTree.register_namespace("", ATOM)
    path = quote(rule, safe="")
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", f"{base_url}/rules/{path}.atom")
    _text(feed, "title", f"watcher: {rule}")
    updated = max((i.when for i in items), default=now or datetime.now(UTC))
    _text(feed, "updated", updated.astimezone(UTC).isoformat())
    _link(feed, f"{base_url}/rules/{path}.atom", "self")
    _link(feed, f"{base_url}/?rule={path}", "alternate")
    author = ElementTree.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "watcher")
    for item in items:
        entry = ElementTree.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", f"{base_url}/articles/{item.number}")
        _text(entry, "title", item.title)
        _text(entry, "updated", item.when.astimezone(UTC).isoformat())
        _link(entry, item.url or f"{base_url}/articles/{item.number}", "alternate")
        _link(entry, f"{base_url}/articles/{item.number}", "related")
        _text(entry, "summary", item.snippet.text)
        source = ElementTree.SubElement(entry, f"{{{ATOM}}}category")
        source.set("term", item.site)
    body: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def _text(parent: ElementTree.Element, name: str, value: str) -> None:
    ElementTree.SubElement(parent, f"{{{ATOM}}}{name}").text = _xml_safe(value)


def _link(parent: ElementTree.Element, href: str, rel: str) -> None:
    link = ElementTree.SubElement(parent, f"{{{ATOM}}}link")
    link.set("href", href)
    link.set("rel", rel)


def _xml_safe(text: str) -> str:
    """Drop the characters XML 1.0 cannot carry at all (control characters from a feed)."""
    return "".join(c for c in text if c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff"))

"""The digest as data: what was selected, folded and fixed, before any rendering.

A ``Digest`` is built once (pure, in ``build.py``), stored as JSON in the outbox so that its
items never change afterwards, and rendered per channel (``render.py``, ``slack.py``).
Every datetime is timezone-aware UTC; rendering converts to the digest's timezone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from watcher.rules.snippet import Snippet
from watcher.types import Candidate, FeedNotice

DigestKind = Literal["digest", "alert"]


@dataclass(frozen=True)
class Version:
    """Another article folded into an item's story: another outlet's report, or an update."""

    number: int
    url: str
    title: str
    outlet: str
    published: datetime


@dataclass(frozen=True)
class DigestItem:
    number: int
    url: str
    title: str
    outlet: str
    published: datetime
    snippet: Snippet
    rules: tuple[str, ...]  # every rule it matched; the first is the section it sits in
    partial: bool = False
    also: tuple[str, ...] = ()  # other outlets carrying the same story (folded items)
    folded: tuple[int, ...] = ()  # article numbers folded into this item
    versions: int = 0  # folded articles from the lead's own outlet (updated versions)
    others: tuple[Version, ...] = ()  # every folded article, newest first

    @property
    def other_rules(self) -> tuple[str, ...]:
        """The rules it matched besides the one whose section it sits in."""
        return self.rules[1:]


@dataclass(frozen=True)
class DigestSection:
    rule: str
    items: tuple[DigestItem, ...]


@dataclass(frozen=True)
class Digest:
    kind: DigestKind
    name: str  # digest name, or the rule name for an alert
    timezone: str
    generated: datetime  # the cutoff: items matched up to this time
    since: datetime
    sections: tuple[DigestSection, ...]
    notices: tuple[FeedNotice, ...] = ()
    more: int = 0  # alerts: further matches in the throttle window, counted not listed
    dropped: int = 0  # digests: candidates left out, resting only on boilerplate (recheck.py)

    @property
    def item_count(self) -> int:
        return sum(len(s.items) for s in self.sections)


# --- JSON round trip: the outbox stores the fixed digest, so its items never change ---------

def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def digest_to_json(digest: Digest) -> dict[str, Any]:
    return {
        "kind": digest.kind, "name": digest.name, "timezone": digest.timezone,
        "generated": digest.generated.isoformat(), "since": digest.since.isoformat(),
        "more": digest.more, "dropped": digest.dropped,
        "notices": [[n.feed, n.message] for n in digest.notices],
        "sections": [{"rule": s.rule, "items": [_item_to_json(i) for i in s.items]}
                     for s in digest.sections],
    }


def _item_to_json(item: DigestItem) -> dict[str, Any]:
    return {
        "number": item.number, "url": item.url, "title": item.title, "outlet": item.outlet,
        "published": item.published.isoformat(), "rules": list(item.rules),
        "partial": item.partial, "also": list(item.also), "folded": list(item.folded),
        "versions": item.versions,
        "others": [{"number": v.number, "url": v.url, "title": v.title, "outlet": v.outlet,
                    "published": v.published.isoformat()} for v in item.others],
        # "marks" is the key stored since the first release; "field" came later.
        "snippet": {"field": item.snippet.field, "text": item.snippet.text,
                    "marks": [list(m) for m in item.snippet.spans]},
    }


def digest_from_json(data: dict[str, Any]) -> Digest:
    return Digest(
        kind=data["kind"], name=data["name"], timezone=data["timezone"],
        generated=_dt(data["generated"]), since=_dt(data["since"]), more=int(data["more"]),
        dropped=int(data.get("dropped", 0)),
        notices=tuple(FeedNotice(f, m) for f, m in data["notices"]),
        sections=tuple(DigestSection(s["rule"], tuple(_item_from_json(i) for i in s["items"]))
                       for s in data["sections"]),
    )


def _item_from_json(data: dict[str, Any]) -> DigestItem:
    snippet = data["snippet"]
    return DigestItem(
        number=int(data["number"]), url=data["url"], title=data["title"], outlet=data["outlet"],
        published=_dt(data["published"]), rules=tuple(data["rules"]),
        partial=bool(data["partial"]), also=tuple(data["also"]),
        folded=tuple(int(n) for n in data["folded"]), versions=int(data.get("versions", 0)),
        others=tuple(Version(int(v["number"]), v["url"], v["title"], v["outlet"],
                             _dt(v["published"])) for v in data.get("others", ())),
        snippet=Snippet(snippet.get("field", ""), snippet["text"],
                        tuple((int(a), int(b)) for a, b in snippet["marks"])),
    )


__all__ = ["Candidate", "Digest", "DigestItem", "DigestKind", "DigestSection", "FeedNotice",
           "Version", "digest_from_json", "digest_to_json"]

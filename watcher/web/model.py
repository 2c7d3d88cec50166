"""What the pages and the JSON API show, as plain data: story items of the latest matches,
an article's fields with their hits marked, explanations, feed rows. Pure functions; the
HTML templates and the API both render these, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.config import FeedConfig
from watcher.digest import BuildSpec, Candidate, build_digest
from watcher.digest.folding import FoldMemory
from watcher.digest.present import safe_url
from watcher.rules import Explanation, Snippet
from watcher.types import Article, FeedState, Hit, StoredArticle
from watcher.websub.lease import push_shown
from watcher.websub.model import Subscription

Parts = list[tuple[str, bool]]  # text pieces, each with whether it is highlighted


@dataclass(frozen=True)
class StoryItem:
    """One story on the front page: its newest article leads, copies are "also"."""

    number: int
    title: str
    url: str | None  # None unless http(s): nothing else is ever linked
    site: str
    feed: str
    when: datetime
    rules: tuple[str, ...]
    snippet: Snippet
    also: tuple[str, ...]
    folded: tuple[int, ...]

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "title": self.title, "url": self.url,
                "site": self.site, "feed": self.feed, "when": self.when.isoformat(),
                "rules": list(self.rules), "snippet": snippet_json(self.snippet),
                "also": list(self.also), "folded": list(self.folded)}


def story_items(found: Sequence[StoredArticle], rule_order: Sequence[str],
                boilerplate: Mapping[str, frozenset[str]] | None = None,
                memory: FoldMemory | None = None) -> list[StoryItem]:
    """``found`` folded into stories as a digest folds them, newest first (``memory``:
    what earlier pages' folds worked out, ``FoldMemory``)."""
    order = list(dict.fromkeys([*rule_order, *(m.rule for s in found for m in s.matches)]))
    rank = {name: i for i, name in enumerate(order)}
    candidates = [Candidate(
        number=s.number, url=a.url, title=a.title, site=a.site, feed=a.feed,
        published=a.published, fetched=a.fetched, text_source=a.text_source,
        description=a.description, body=a.body,
        rules=tuple(sorted((m.rule for m in s.matches), key=rank.__getitem__)),
        hits=tuple(dict.fromkeys((h.field, h.start, h.end, h.term)
                                 for m in s.matches for h in m.hits)))
        for s in found for a in [s.article]]
    if not candidates:
        return []
    now = max(c.fetched for c in candidates)
    spec = BuildSpec(name="web", timezone="UTC", since=now, until=now, rule_order=tuple(order))
    digest = build_digest(spec, candidates, boilerplate=boilerplate, fold_memory=memory)
    feeds = {s.number: s.article.feed for s in found}
    items = [StoryItem(number=i.number, title=i.title, url=safe_url(i.url), site=i.outlet,
                       feed=feeds[i.number], when=i.published, rules=i.rules,
                       snippet=i.snippet, also=i.also, folded=i.folded)
             for section in digest.sections for i in section.items]
    items.sort(key=lambda i: (i.when, i.number), reverse=True)
    return items


def snippet_json(found: Snippet) -> dict[str, Any]:
    return {"field": found.field, "text": found.text, "marks": [list(s) for s in found.spans]}


def marked(text: str, spans: Iterable[tuple[int, int]]) -> Parts:
    """``text`` cut into pieces at ``spans`` (overlapping or not, in any order)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(0, a), min(len(text), b)) for a, b in spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return Snippet("", text, tuple(merged)).parts()


@dataclass(frozen=True)
class MarkedArticle:
    """An article's fields with every hit highlighted; the body one list per paragraph."""

    title: Parts
    summary: Parts
    body: list[Parts]


def mark_article(article: Article, hits: Iterable[Hit]) -> MarkedArticle:
    by_field: dict[str, list[tuple[int, int]]] = {}
    for hit in hits:
        by_field.setdefault(hit.field, []).append((hit.start, hit.end))
    paragraphs: list[Parts] = []
    offset = 0
    body_spans = by_field.get("body", [])
    for paragraph in article.paragraphs:
        end = offset + len(paragraph)
        inside = [(a - offset, b - offset) for a, b in body_spans if a < end and b > offset]
        paragraphs.append(marked(paragraph, inside))
        offset = end + 1  # the line break between paragraphs
    return MarkedArticle(title=marked(article.title, by_field.get("title", [])),
                         summary=marked(article.description, by_field.get("summary", [])),
                         body=paragraphs)


def explanation_json(part: Explanation, article: Article | None = None) -> dict[str, Any]:
    texts = {"title": article.title, "summary": article.description, "body": article.body,
             "url": article.url, "author": article.author} if article else {}
    return {"text": part.text, "kind": part.kind, "matched": part.matched, "note": part.note,
            "hits": [{"field": h.field, "start": h.start, "end": h.end,
                      "found": texts.get(h.field, "")[h.start:h.end]} for h in part.hits[:20]],
            "children": [explanation_json(c, article) for c in part.children]}


@dataclass(frozen=True)
class FeedRow:
    name: str
    url: str
    status: str
    failures: int
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    next_poll: datetime | None
    polls: int
    entries: int
    stored: int
    matched: int
    push: str  # WebSub, as the PUSH column of ``watcher feeds`` shows it

    def as_json(self) -> dict[str, Any]:
        return {name: (value.isoformat() if isinstance(value, datetime) else value)
                for name, value in self.__dict__.items()}


def feed_rows(feeds: Sequence[FeedConfig], states: Mapping[str, FeedState],
              pushes: Mapping[str, Subscription], now: datetime) -> list[FeedRow]:
    """The configured feeds, failing ones first (most failures first), then by name;
    ``pushes``: the WebSub subscriptions by feed."""
    rows = []
    for feed in feeds:
        state = states.get(feed.name)
        push = push_shown(pushes.get(feed.name), now)
        if state is None:
            rows.append(FeedRow(feed.name, feed.url, "new" if feed.enabled else "disabled",
                                0, None, None, None, None, 0, 0, 0, 0, push))
            continue
        status = state.status if feed.enabled else "disabled"
        rows.append(FeedRow(
            name=feed.name, url=state.url, status=status,
            failures=state.consecutive_failures, last_success=state.last_success,
            last_error=state.last_error if state.consecutive_failures else None,
            last_error_at=state.last_error_at, next_poll=state.next_poll, polls=state.polls,
            entries=state.entries_seen, stored=state.articles_stored, matched=state.matches,
            push=push))
    rows.sort(key=lambda r: (r.failures == 0 and r.status != "gone", -r.failures, r.name))
    return rows


def last_days(today: datetime, days: int) -> list[str]:
    """ISO dates of the last ``days`` days (UTC), oldest first, ending today."""
    day = today.astimezone(UTC).date()
    return [(day - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]

"""Building a digest from matched articles: select, fold, group by rule, order. Pure.

The outbox reads the candidates (``store/outbox.py``) and fixes the result; nothing here
touches the clock, the index or the network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.digest.folding import FOLD_THRESHOLD, FoldMemory, FoldText, fold_groups
from watcher.digest.model import (
    Candidate,
    Digest,
    DigestItem,
    DigestKind,
    DigestSection,
    FeedNotice,
    Version,
)
from watcher.digest.recheck import drop_boilerplate_matches
from watcher.rules.snippet import Snippet, best_snippet, snippet
from watcher.textsafe import flatten, one_line
from watcher.types import Article, Hit


@dataclass(frozen=True)
class BuildSpec:
    """What to build: the digest's identity and its window."""

    name: str
    timezone: str
    since: datetime
    until: datetime
    rule_order: tuple[str, ...]  # the rule set's order; decides "first rule" and sections
    kind: DigestKind = "digest"
    fold_threshold: float = FOLD_THRESHOLD


def build_digest(spec: BuildSpec, candidates: Sequence[Candidate], *,
                 notices: Sequence[FeedNotice] = (),
                 boilerplate: Mapping[str, frozenset[str]] | None = None,
                 more: int = 0, fold_memory: FoldMemory | None = None) -> Digest:
    """Fold candidates into stories, group by first rule, newest first.

    ``boilerplate``: per site, the paragraph fingerprints ingestion learned as the site's
    boilerplate (``BoilerplateStore.known``) by now; folding ignores those paragraphs, and a
    candidate whose every hit lies in them is left out and counted (``digest.recheck``).
    """
    rank = {name: i for i, name in enumerate(spec.rule_order)}
    wanted = [c for c in candidates if any(r in rank for r in c.rules)]
    dropped = 0
    if boilerplate is not None:
        wanted, dropped = drop_boilerplate_matches(wanted, boilerplate)
    # Newest first; the article number breaks ties so the order is deterministic.
    wanted.sort(key=lambda c: (c.when, c.number), reverse=True)
    groups = fold_groups([_fold_text(c) for c in wanted], boilerplate=boilerplate,
                         threshold=spec.fold_threshold, memory=fold_memory)
    by_number = {c.number: c for c in wanted}
    items = [_item([by_number[n] for n in group], rank) for group in groups]
    # Grouped in one pass: a set of thousands of rules would make asking each rule a product.
    by_first_rule: dict[str, list[DigestItem]] = {}
    for item in items:
        by_first_rule.setdefault(item.rules[0], []).append(item)
    sections = [DigestSection(rule, tuple(by_first_rule[rule]))
                for rule in spec.rule_order if rule in by_first_rule]
    return Digest(kind=spec.kind, name=spec.name, timezone=spec.timezone,
                  generated=spec.until, since=spec.since, sections=tuple(sections),
                  notices=tuple(FeedNotice(one_line(n.feed), one_line(n.message))
                                for n in notices), more=more, dropped=dropped)


def _fold_text(c: Candidate) -> FoldText:
    return FoldText(c.number, c.site, "\n".join(p for p in (c.title, c.description, c.body) if p),
                    title=c.title, published=c.when)


def _item(story: list[Candidate], rank: dict[str, int]) -> DigestItem:
    """One story: the newest article leads; every other one is listed as a version."""
    story = sorted(story, key=lambda c: (c.when, c.number), reverse=True)
    lead = story[0]
    rules = sorted({r for c in story for r in c.rules if r in rank}, key=rank.__getitem__)
    # Outlets are told apart by host (one site may name itself two ways), shown by name.
    also: dict[str, str] = {}
    for c in story[1:]:
        if c.site != lead.site:
            also.setdefault(c.site, one_line(c.outlet))
    return DigestItem(
        number=lead.number, url=one_line(lead.url),
        title=one_line(lead.title) or one_line(lead.url),
        outlet=one_line(lead.outlet), published=lead.when,
        snippet=item_snippet(lead, rules[0]), rules=tuple(rules),
        partial=lead.text_source == "partial", also=tuple(also.values()),
        folded=tuple(c.number for c in story[1:]),
        versions=sum(1 for c in story[1:] if c.site == lead.site),
        others=tuple(Version(c.number, one_line(c.url), one_line(c.title) or one_line(c.url),
                             one_line(c.outlet), c.when) for c in story[1:]),
    )


MAX_SNIPPET = 280  # characters of the hit sentence; a longer one is cut around the hits


def item_snippet(c: Candidate, rule: str | None = None) -> Snippet:
    """The sentence a digest shows for ``c`` under ``rule``'s section: ``rules.best_snippet``
    (body, else summary, else title) on the candidate's text with that rule's hits (all its
    hits when ``rule`` is None or the article did not match it itself); the first line of
    the standfirst (else the body) when no hit is in those fields, unmarked.

    ``best_snippet`` skips hits whose offsets no longer fit their field (the text changed
    since the match), so a stale body hit cannot hide a valid title hit.
    """
    article = _as_article(c)
    hits = c.hits_of(rule) if rule in c.rules else c.hits
    found = best_snippet(article, [Hit(*hit) for hit in hits], max_chars=MAX_SNIPPET)
    if found is not None:
        return found
    fallback = (article.description or article.body).split("\n", 1)[0]
    return snippet(fallback, (), field="summary" if article.description else "body",
                   max_chars=MAX_SNIPPET)


def _as_article(c: Candidate) -> Article:
    """The candidate as the ``Article`` the rules' snippet functions take, its text with
    control characters made spaces (same length: the hit offsets stay valid)."""
    return Article(url=c.url, canonical_url=c.url, feed=c.feed, site=c.site,
                   title=flatten(c.title), description=flatten(c.description),
                   paragraphs=tuple(flatten(c.body).split("\n")), fetched=c.fetched,
                   published=c.published, text_source=c.text_source)

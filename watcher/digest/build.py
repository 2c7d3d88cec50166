"""Building a digest from matched articles: select, fold, group by rule, order. Pure.

The outbox reads the candidates (``store/outbox.py``) and fixes the result; nothing here
touches the clock, the index or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.digest.folding import FOLD_THRESHOLD, FoldText, fold_groups
from watcher.digest.model import (
    Candidate,
    Digest,
    DigestItem,
    DigestKind,
    DigestSection,
    FeedNotice,
)
from watcher.digest.snippet import best_snippet


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
                 notices: Sequence[FeedNotice] = (), history: Sequence[FoldText] = (),
                 more: int = 0) -> Digest:
    """Fold candidates into stories, group by first rule, newest first.

    ``history``: other recent articles of the same sites, only to learn boilerplate.
    """
    rank = {name: i for i, name in enumerate(spec.rule_order)}
    wanted = [c for c in candidates if any(r in rank for r in c.rules)]
    # Newest first; the article number breaks ties so the order is deterministic.
    wanted.sort(key=lambda c: (c.when, c.number), reverse=True)
    groups = fold_groups([_fold_text(c) for c in wanted], history=history,
                         threshold=spec.fold_threshold)
    by_number = {c.number: c for c in wanted}
    items = [_item([by_number[n] for n in group], rank) for group in groups]
    sections: list[DigestSection] = []
    for rule in spec.rule_order:
        in_rule = tuple(i for i in items if i.rules[0] == rule)
        if in_rule:
            sections.append(DigestSection(rule, in_rule))
    return Digest(kind=spec.kind, name=spec.name, timezone=spec.timezone,
                  generated=spec.until, since=spec.since, sections=tuple(sections),
                  notices=tuple(FeedNotice(one_line(n.feed), one_line(n.message))
                                for n in notices), more=more)


def one_line(text: str) -> str:
    """Feed text for a one-line slot (title, outlet): every run of white space, CR and LF
    included, becomes one space, so nothing from a feed can start a new line or header."""
    return " ".join(text.split())


def _fold_text(c: Candidate) -> FoldText:
    return FoldText(c.number, c.site, "\n".join(p for p in (c.title, c.description, c.body) if p))


def _item(story: list[Candidate], rank: dict[str, int]) -> DigestItem:
    """One story: the newest article leads; the others become "also: outlet"."""
    lead = story[0]
    rules = sorted({r for c in story for r in c.rules if r in rank}, key=rank.__getitem__)
    fields = {"title": lead.title, "description": lead.description,
              "summary": lead.description, "body": lead.body}
    also: list[str] = []
    for c in story[1:]:
        if c.site != lead.site and c.site not in also:
            also.append(c.site)
    return DigestItem(
        number=lead.number, url=lead.url, title=one_line(lead.title) or lead.url,
        outlet=one_line(lead.site), published=lead.when,
        snippet=best_snippet(fields, lead.hits), rules=tuple(rules),
        partial=lead.text_source == "partial", also=tuple(also),
        folded=tuple(c.number for c in story[1:]),
        versions=sum(1 for c in story[1:] if c.site == lead.site),
    )

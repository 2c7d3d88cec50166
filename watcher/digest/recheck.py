"""Matches that rest only on boilerplate learned after they were recorded.

A site's appeal or newsletter box is only known as boilerplate once ingestion has seen it
on ``extract.boilerplate_min_articles`` pages of the site; the site's first pages are
stored, and matched, with it. A rule on a word that only the appeal carries matches those
first pages. When a digest is built, each candidate's hits are checked again, rule by rule,
against the boilerplate known *then*: a rule whose every hit lies in a body paragraph now
known as the site's boilerplate is taken off the article, an article with no rule left is
left out, and the digest says how many matches went.

Immediate alerts are sent when the article is stored and are judged by what was known then
(docs/digests.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from watcher.extract.boilerplate import paragraph_fingerprint
from watcher.types import Candidate

HitTuple = tuple[str, int, int, str]  # (field, start, end, term), as a Candidate holds hits
Span = tuple[int, int, str | None]  # a body line's start and end offsets and fingerprint


def rests_on_boilerplate(hits: Sequence[HitTuple], spans: Sequence[Span],
                         known: frozenset[str]) -> bool:
    """Whether every hit lies inside a body line (``spans``) whose fingerprint is in
    ``known``. A hit in the title, standfirst, URL or author, or one whose offsets no longer
    fit the body (the text changed since the match), is the article's own."""
    if not hits or not known:
        return False
    for field, start, end, _term in hits:
        if field != "body":
            return False
        fingerprint = next((f for s, e, f in spans if s <= start and end <= e), None)
        if fingerprint is None or fingerprint not in known:
            return False
    return True


def recheck(candidate: Candidate, known: frozenset[str]) -> tuple[Candidate | None, int]:
    """``candidate`` without the rules whose matches rest only on ``known`` boilerplate
    (None when no rule is left), and how many of its matches went. Candidates read without
    per-rule hits are judged on all their hits at once."""
    if not known:
        return candidate, 0
    spans = body_spans(candidate.body)
    per_rule = candidate.rule_hits or tuple((rule, candidate.hits) for rule in candidate.rules)
    gone = {rule for rule, hits in per_rule if rests_on_boilerplate(hits, spans, known)}
    if not gone:
        return candidate, 0
    rules = tuple(r for r in candidate.rules if r not in gone)
    if not rules:
        return None, len(gone)
    kept = tuple((rule, hits) for rule, hits in candidate.rule_hits if rule not in gone)
    hits = tuple(dict.fromkeys(hit for _, rule_hits in kept for hit in rule_hits))
    return replace(candidate, rules=rules, hits=hits, rule_hits=kept), len(gone)


def drop_boilerplate_matches(candidates: Sequence[Candidate],
                             boilerplate: Mapping[str, frozenset[str]]
                             ) -> tuple[list[Candidate], int]:
    """The candidates rechecked against their site's ``boilerplate``, those left with no
    rule dropped, and how many matches went."""
    kept: list[Candidate] = []
    dropped = 0
    for candidate in candidates:
        checked, gone = recheck(candidate, boilerplate.get(candidate.site, frozenset()))
        dropped += gone
        if checked is not None:
            kept.append(checked)
    return kept, dropped


def dropped_note(count: int) -> str:
    """The line a digest carries when it left matches out."""
    what = "1 match" if count == 1 else f"{count} matches"
    return (f"{what} left out: found only in site boilerplate (appeals, newsletter boxes) "
            "learned after they were recorded.")


def body_spans(body: str) -> list[Span]:
    """Each body line's (start, end) offsets and fingerprint."""
    spans: list[Span] = []
    start = 0
    for line in body.split("\n"):
        spans.append((start, start + len(line), paragraph_fingerprint(line)))
        start += len(line) + 1
    return spans

"""Matches that rest only on boilerplate learned after they were recorded.

A site's appeal or newsletter box is only known as boilerplate once ingestion has seen it
on ``extract.boilerplate_min_articles`` pages of the site; the site's first pages are
stored, and matched, with it. A rule on a word that only the appeal carries matches those
first pages. When a digest is built, each candidate's hits are checked again against the
boilerplate known *then*: a candidate whose every hit lies in a body paragraph now known
as its site's boilerplate is left out, and the digest says how many were.

Immediate alerts are sent when the article is stored and are judged by what was known then
(docs/digests.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from watcher.types import Candidate
from watcher.extract.boilerplate import paragraph_fingerprint


def rests_on_boilerplate(candidate: Candidate, known: frozenset[str]) -> bool:
    """Whether every hit of ``candidate`` (all its rules) lies inside a body paragraph whose
    fingerprint is in ``known``. A hit in the title, standfirst, URL or author, or one whose
    offsets no longer fit the body (the text changed since the match), keeps it."""
    if not known or not candidate.hits:
        return False
    spans = _paragraph_spans(candidate.body)
    for field, start, end, _term in candidate.hits:
        if field != "body":
            return False
        fingerprint = next((f for s, e, f in spans if s <= start and end <= e), None)
        if fingerprint is None or fingerprint not in known:
            return False
    return True


def drop_boilerplate_matches(candidates: Sequence[Candidate],
                             boilerplate: Mapping[str, frozenset[str]]
                             ) -> tuple[list[Candidate], int]:
    """The candidates that keep a hit outside known boilerplate, and how many were left out."""
    kept = [c for c in candidates
            if not rests_on_boilerplate(c, boilerplate.get(c.site, frozenset()))]
    return kept, len(candidates) - len(kept)


def dropped_note(count: int) -> str:
    """The line a digest carries when it left candidates out."""
    what = "1 match" if count == 1 else f"{count} matches"
    return (f"{what} left out: found only in site boilerplate (appeals, newsletter boxes) "
            "learned after they were recorded.")


def _paragraph_spans(body: str) -> list[tuple[int, int, str | None]]:
    """Each body line's (start, end) offsets and fingerprint."""
    spans = []
    start = 0
    for line in body.split("\n"):
        spans.append((start, start + len(line), paragraph_fingerprint(line)))
        start += len(line) + 1
    return spans

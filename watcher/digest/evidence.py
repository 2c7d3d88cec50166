"""The evidence that two articles report one event, each piece a plain function.

Folding (``watcher.digest.folding``) weighs them; they are kept apart here so each can be
tested and explained on its own. What each one answers:

- **shared text** (``overlap``): how many word 3-shingles the two share, their Jaccard, and
  the *share of each article* the shared text covers. A wire copy or an update covers most
  of the smaller article; a quote or a background paragraph covers a small part of each.
- **one passage or many** (``passages``): shared text that is one long run (a quoted
  statement, a wire background paragraph, a site's appeal) says nothing about the event;
  two write-ups of one event share many scattered runs.
- **rare words and names in common** (``rare_overlap``): the words two reports of one event
  cannot avoid (names of people, places, organisations, unusual terms), weighted by how rare
  they are in English (wordfreq), counted *outside* the long shared passages so a shared
  quote cannot supply them.
- **titles** (``headline_in_lead``): how many of one article's rare headline words
  (stemmed) the other's title and lead carry; the more, the less the rest has to share.
- **time apart** (``hours_apart``).

Which values decide, and why, is in docs/digests.md (measured by bench/bench_folding.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

SHINGLE_WORDS = 3
# A run of this many consecutive shared shingles (about 14 words) is a copied passage: a
# quoted statement, a wire paragraph or a site's appeal, not two write-ups meeting by chance.
PASSAGE_SHINGLES = 12
# Words this common in English (wordfreq's Zipf scale: 5 is once per 100,000 words, e.g.
# "people", "monday") weigh nothing; rarer words weigh more, up to RARE_CEILING for words
# wordfreq has never seen (most names, and every word of a language it is not asked about).
COMMON_ZIPF = 5.0
RARE_CEILING = COMMON_ZIPF
STEM_CHARS = 6  # titles: "investigating" and "investigation" are one word; crude, language-free

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """NFKC-normalised, case-folded ``\\w+`` tokens."""
    return [w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", text))]


def shingle_list(tokens: Sequence[str], k: int = SHINGLE_WORDS) -> list[str]:
    """The word k-shingles of ``tokens`` in text order (one per position)."""
    if len(tokens) < k:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i:i + k]) for i in range(len(tokens) - k + 1)]


@lru_cache(maxsize=200_000)
def rarity(word: str) -> float:
    """How much sharing ``word`` says: 0 for common English words, up to ``RARE_CEILING``."""
    if len(word) < 2:
        return 0.0
    # Imported here: wordfreq and its English table would otherwise load at every
    # command's start-up; only building a digest needs them.
    from wordfreq import zipf_frequency

    return max(0.0, COMMON_ZIPF - zipf_frequency(word, "en"))


def rare_weights(tokens: Sequence[str]) -> dict[str, float]:
    """Each distinct word of ``tokens`` that is rarer than common English, by its weight."""
    out: dict[str, float] = {}
    for word in set(tokens):
        weight = rarity(word)
        if weight > 0:
            out[word] = weight
    return out


def weighted_jaccard(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Sum of the shared words' weights over the weights of all words of either (both
    mappings give a word the same weight)."""
    shared = sum(weight for word, weight in a.items() if word in b)
    total = sum(a.values()) + sum(b.values()) - shared
    return shared / total if total else 0.0


@dataclass(frozen=True)
class Overlap:
    shared: int  # shingles in common
    jaccard: float
    coverage: float  # the larger of the two shares: shared / the smaller article's shingles


def overlap(a: frozenset[str], b: frozenset[str]) -> Overlap:
    shared = len(a & b)
    union = len(a) + len(b) - shared
    smaller = min(len(a), len(b))
    return Overlap(shared, shared / union if union else 0.0,
                   shared / smaller if smaller else 0.0)


@dataclass(frozen=True)
class Passages:
    longest: int  # shingles in the longest run of consecutive shared shingles
    in_passages: int  # shared shingles inside runs of at least PASSAGE_SHINGLES
    outside: tuple[str, ...]  # the article's words outside those runs, in order


def passages(tokens: Sequence[str], shingle_order: Sequence[str],
             other: frozenset[str]) -> Passages:
    """The runs of consecutive shingles of one article that are also in ``other``.

    ``shingle_order``: ``shingle_list(tokens)``. The words covered by a run of at least
    ``PASSAGE_SHINGLES`` shared shingles are left out of ``outside``.
    """
    copied = [False] * len(tokens)
    longest = in_passages = 0
    i, n = 0, len(shingle_order)
    while i < n:
        if shingle_order[i] not in other:
            i += 1
            continue
        j = i
        while j < n and shingle_order[j] in other:
            j += 1
        run = j - i
        longest = max(longest, run)
        if run >= PASSAGE_SHINGLES:
            in_passages += run
            for position in range(i, min(len(tokens), j + SHINGLE_WORDS - 1)):
                copied[position] = True
        i = j
    if not in_passages:
        return Passages(longest, 0, tuple(tokens))
    outside = tuple(word for word, gone in zip(tokens, copied, strict=True) if not gone)
    return Passages(longest, in_passages, outside)


@lru_cache(maxsize=4096)
def stems(tokens: tuple[str, ...]) -> Mapping[str, float]:
    """The rare words of ``tokens``, cut to their first ``STEM_CHARS`` characters, by the
    weight of their rarest form. Cached: a flood of copies has one lead over and over."""
    out: dict[str, float] = {}
    for word in tokens:
        weight = rarity(word)
        if weight > 0:
            stem = word[:STEM_CHARS]
            out[stem] = max(weight, out.get(stem, 0.0))
    return out


def headline_in_lead(title: Mapping[str, float], lead: Mapping[str, float]) -> int:
    """How many of a title's rare words (``stems``) the other article's lead carries (the
    lead starts with its own title, so two titles' words in common count too). Two reports
    of one event rarely share a headline's wording, but each one's lead names what the other
    one's headline does."""
    return len(title.keys() & lead.keys())


def hours_apart(a: datetime | None, b: datetime | None) -> float | None:
    """Hours between two times, None when either is unknown."""
    if a is None or b is None:
        return None
    return abs((a - b).total_seconds()) / 3600

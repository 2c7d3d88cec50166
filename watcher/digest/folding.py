"""One item per story: fold updated versions and wire copies of one article together.

Each article becomes a set of word 3-shingles (NFKC, case-folded ``\\w+`` tokens) over its
title, standfirst and body, minus the site's boilerplate paragraphs (a paragraph that recurs
in ``BOILERPLATE_MIN_ARTICLES`` distinct articles of one site: appeals, newsletter boxes).
Two articles are one story when the Jaccard similarity of their sets reaches
``FOLD_THRESHOLD`` and they share at least ``MIN_SHARED`` shingles: the threshold is low
(long rewrites of one story share little), so on short texts (feed summaries) a common
phrase such as "the MI6 chief said" alone would pass it.

datasketch's MinHash LSH proposes the candidate pairs, so a large window stays near
linear; each proposal is then checked with the exact Jaccard of the two sets, so the
MinHash estimation error (about ±0.03 at 128 permutations) never decides a fold.

The threshold and its measurement on real articles are in docs/digests.md.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

SHINGLE_WORDS = 3
FOLD_THRESHOLD = 0.06  # exact Jaccard of word 3-shingle sets; see docs/digests.md
BOILERPLATE_MIN_ARTICLES = 3
MIN_SHINGLES = 8  # texts shorter than this never fold: too little evidence
MIN_SHARED = 12  # shingles two articles must share to fold, whatever their Jaccard
NUM_PERM = 128
# LSH only proposes pairs; it is set well below the fold threshold so that a pair at the
# threshold is proposed with near certainty, and the exact check decides.
LSH_THRESHOLD = FOLD_THRESHOLD / 2

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class FoldText:
    """What folding looks at for one article."""

    key: int  # article number
    site: str
    text: str  # title, description and body, one paragraph per line


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", text))]


def paragraph_key(paragraph: str) -> str:
    """A fingerprint of a paragraph that ignores case, punctuation and spacing."""
    return hashlib.blake2b(" ".join(words(paragraph)).encode(), digest_size=8).hexdigest()


def site_boilerplate(texts: Iterable[FoldText],
                     min_articles: int = BOILERPLATE_MIN_ARTICLES) -> dict[str, set[str]]:
    """Per site, the paragraph fingerprints found in at least ``min_articles`` articles."""
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for t in texts:
        for paragraph in t.text.split("\n"):
            if paragraph.strip():
                seen[(t.site, paragraph_key(paragraph))].add(t.key)
    out: dict[str, set[str]] = defaultdict(set)
    for (site, key), articles in seen.items():
        if len(articles) >= min_articles:
            out[site].add(key)
    return dict(out)


def shingles(text: str, boilerplate: set[str] | frozenset[str] = frozenset(),
             k: int = SHINGLE_WORDS) -> frozenset[str]:
    kept = [p for p in text.split("\n") if p.strip() and paragraph_key(p) not in boilerplate]
    tokens = words("\n".join(kept))
    if len(tokens) < k:
        return frozenset([" ".join(tokens)]) if tokens else frozenset()
    return frozenset(" ".join(tokens[i:i + k]) for i in range(len(tokens) - k + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def same_story(a: frozenset[str], b: frozenset[str],
               threshold: float = FOLD_THRESHOLD) -> bool:
    return len(a & b) >= MIN_SHARED and jaccard(a, b) >= threshold


def fold_groups(texts: Sequence[FoldText], *, history: Sequence[FoldText] = (),
                threshold: float = FOLD_THRESHOLD) -> list[list[int]]:
    """Partition ``texts`` (by key) into stories; groups keep the input order.

    ``history`` is other recent articles of the same sites, used only to recognise
    boilerplate (so that two distinct articles sharing a site's appeal do not fold).
    """
    boilerplate = site_boilerplate([*texts, *history])
    sets = {t.key: shingles(t.text, boilerplate.get(t.site, set())) for t in texts}
    parent = {t.key: t.key for t in texts}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    # The earlier (newer) article of a pair stays the root, so it leads its story.
    position = {t.key: i for i, t in enumerate(texts)}
    for a, b in candidate_pairs(sets):
        if same_story(sets[a], sets[b], threshold):
            ra, rb = sorted((root(a), root(b)), key=position.__getitem__)
            if ra != rb:
                parent[rb] = ra
    groups: dict[int, list[int]] = {}
    for t in texts:
        groups.setdefault(root(t.key), []).append(t.key)
    return list(groups.values())


def candidate_pairs(sets: Mapping[int, frozenset[str]]) -> list[tuple[int, int]]:
    usable = {k: s for k, s in sets.items() if len(s) >= MIN_SHINGLES}
    if len(usable) < 2:
        return []
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    hashes: dict[int, MinHash] = {}
    for key, items in usable.items():
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([s.encode("utf-8") for s in sorted(items)])
        hashes[key] = m
        lsh.insert(key, m)
    pairs: set[tuple[int, int]] = set()
    for key, m in hashes.items():
        for other in lsh.query(m):
            if other != key:
                pairs.add((min(key, other), max(key, other)))
    return sorted(pairs)
